"""Preprocessing, answer and accuracy checks on the real MNIST sample."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import dense_layers, sequential

from graders import checks, reference
from graders.data import load_npz


@pytest.fixture
def raw(provisioned):
    return load_npz(provisioned)


def test_reference_preprocessing_passes(raw):
    (train, _), (test, _) = raw
    checks.check_preprocessing(reference.preprocess(train), reference.preprocess(test))


@pytest.mark.parametrize(
    "mistake, message",
    [
        (lambda x: x.reshape((-1, 28, 28, 1)).astype("float32"), "scaled to [0, 1], found values from 0 to 255"),
        (lambda x: x.reshape((-1, 28, 28, 1)).astype("float32") / 256, "not hold the right values"),
        (lambda x: x[::-1].reshape((-1, 28, 28, 1)).astype("float32") / 255, "keeping the images in their order"),
        (lambda x: x[:100].reshape((-1, 28, 28, 1)).astype("float32") / 255, "expected 4,000 images"),
    ],
    ids=["no-scaling", "divided-by-256", "reordered", "too-few"],
)
def test_value_mistakes_fail_the_values_check_saying_what_was_expected(raw, mistake, message):
    (train, _), (test, _) = raw
    with pytest.raises(AssertionError, match="train_images") as error:
        checks.check_preprocessing(mistake(train), reference.preprocess(test))
    assert message in str(error.value)


def _tensor(x):
    import tensorflow as tf

    return tf.constant(reference.preprocess(x))


def _bfloat16_tensor(x):
    import tensorflow as tf

    return tf.cast(_tensor(x), tf.bfloat16)


@pytest.mark.parametrize(
    "slip, message",
    [
        (lambda x: reference.preprocess(x).astype("float64"), "should be float32, found float64"),
        (lambda x: x.astype("float32") / 255, "should have shape (4000, 28, 28, 1), found (4000, 28, 28)"),
        (lambda x: x.reshape((-1, 784)).astype("float32") / 255, "found (4000, 784)"),
        (lambda x: list(reference.preprocess(x)), "should be a NumPy array, found a list"),
        (_tensor, "should be a NumPy array, found a TensorFlow tensor (EagerTensor)"),
        (lambda x: reference.preprocess(x).astype("float16"), "should be float32, found float16"),
        (_bfloat16_tensor, "should be a NumPy array, found a TensorFlow tensor (EagerTensor)"),
    ],
    ids=["float64", "no-channel", "flattened", "list", "tensorflow-tensor", "float16", "bfloat16-tensor"],
)
def test_right_values_in_the_wrong_container_cost_the_shape_and_dtype_check_only(raw, slip, message):
    (train, _), (test, _) = raw
    checks.check_preprocessing(slip(train), reference.preprocess(test))  # the values check passes
    with pytest.raises(AssertionError, match="train_images") as error:
        checks.check_shape_and_dtype("train_images", slip(train), len(train))
    assert message in str(error.value)


def test_an_exported_array_like_is_named_by_its_type_in_the_kernel(raw):
    from graders.export import ArrayLike

    (train, _), _ = raw
    exported = ArrayLike(reference.preprocess(train), "tensorflow.python.framework.ops.EagerTensor")
    checks.check_preprocessed("train_images", exported, train)
    with pytest.raises(AssertionError, match=r"found a TensorFlow tensor \(EagerTensor\): convert it"):
        checks.check_shape_and_dtype("train_images", exported, len(train))
    assert checks.kind_of(ArrayLike(np.zeros(1), "builtins.memoryview")) == "a memoryview"
    assert checks.kind_of(None) == "None"


def test_test_images_are_checked_too(raw):
    (train, _), (test, _) = raw
    with pytest.raises(AssertionError, match="test_images should be scaled"):
        checks.check_preprocessing(reference.preprocess(train), test.reshape((-1, 28, 28, 1)).astype("float32"))


def test_missing_data_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    with pytest.raises(FileNotFoundError, match="set MNIST_NPZ"):
        checks.check_preprocessing(None, None)
    monkeypatch.setenv("MNIST_NPZ", str(tmp_path / "nope.npz"))
    with pytest.raises(FileNotFoundError, match="does not name a file"):
        checks.check_preprocessing(None, None)


@pytest.mark.parametrize("question", sorted(reference.ANSWERS))
def test_right_answers_pass_and_wrong_ones_do_not_reveal_the_answer(question):
    expected = reference.ANSWERS[question]
    checks.check_answer(question, expected)
    wrong = "relu" if isinstance(expected, str) else expected + 1
    with pytest.raises(AssertionError) as error:
        checks.check_answer(question, wrong)
    assert f"{question} = {wrong!r} is not the right answer" == str(error.value)
    assert repr(expected) not in str(error.value)


def test_answers_accept_numpy_ints_and_any_case_but_not_bools_or_strings_for_numbers():
    checks.check_answer("q_pool_output_size", np.int64(13))
    checks.check_answer("q_dense_activation", " Softmax ")
    with pytest.raises(AssertionError, match="should be a whole number"):
        checks.check_answer("q_pool_params", False)
    with pytest.raises(AssertionError, match="should be a whole number"):
        checks.check_answer("q_conv_blocks", "2")
    with pytest.raises(AssertionError, match="should be a string"):
        checks.check_answer("q_dense_activation", None)


def test_untrained_model_fails_the_accuracy_check_with_its_measured_accuracy(provisioned):
    with pytest.raises(AssertionError, match=r"reaches 0\.\d+ accuracy .* at least 0\.75 is expected \(sample"):
        checks.check_accuracy(sequential(dense_layers((16,))), "dense")


def accuracy_by_hand(model, provisioned) -> float:
    """Test accuracy computed here, without the checks' code: the lesson's preprocessing, argmax, mean."""
    _, (test, labels) = load_npz(provisioned)
    predictions = model.predict(test.reshape((-1, 28, 28, 1)).astype("float32") / 255, verbose=0)
    return float(np.mean(np.argmax(predictions, axis=1) == labels))


def test_a_trained_small_model_passes_and_its_untrained_copy_fails(provisioned):
    import keras

    keras.utils.set_random_seed(0)
    (train, labels), _ = load_npz(provisioned)
    model = sequential(dense_layers((64,)))
    untrained = keras.models.clone_model(model)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    model.fit(reference.preprocess(train), labels, epochs=3, batch_size=64, verbose=0)
    assert accuracy_by_hand(model, provisioned) >= 0.75 > accuracy_by_hand(untrained, provisioned)
    checks.check_accuracy(model, "dense", reference.preprocess(load_npz(provisioned)[1][0]))
    with pytest.raises(AssertionError, match=f"reaches {accuracy_by_hand(untrained, provisioned):.3f} accuracy"):
        checks.check_accuracy(untrained, "dense")


def test_accuracy_difference_is_checked_against_the_graders_measurement(provisioned):
    cnn, dense = sequential(dense_layers((8,))), sequential(dense_layers((4,)))
    measured = accuracy_by_hand(cnn, provisioned) - accuracy_by_hand(dense, provisioned)
    checks.check_accuracy_difference(measured + 0.0015, cnn, dense)
    with pytest.raises(AssertionError, match="not the CNN's test accuracy minus"):
        checks.check_accuracy_difference(measured + 0.0025, cnn, dense)
    with pytest.raises(AssertionError, match="should be a number"):
        checks.check_accuracy_difference("0.02", cnn, dense)


def test_unknown_data_size_has_no_profile():
    with pytest.raises(ValueError, match="no accuracy profile for 123 training images"):
        reference.profile_for(123)
    assert reference.profile_for(60_000).name == "full"


def test_accuracy_is_measured_in_the_input_format_the_model_was_trained_on(raw):
    _, (test, _) = raw
    scaled = reference.preprocess(test)
    unscaled = test.reshape((-1, 28, 28, 1)).astype("float32")
    centred = scaled * 2 - 1
    for student in (scaled, unscaled, centred):
        np.testing.assert_allclose(checks.in_student_format(test, student), student, atol=1e-5)
    # Anything that is not an affine map of the grader's pixels falls back to the reference.
    shuffled = scaled[::-1]
    np.testing.assert_array_equal(checks.in_student_format(test, shuffled), scaled)
    np.testing.assert_array_equal(checks.in_student_format(test, scaled[:10]), scaled)
    np.testing.assert_array_equal(checks.in_student_format(test, None), scaled)


def test_no_channel_axis_and_no_scaling_is_measured_as_the_model_was_trained(raw):
    """Both preprocessing slips at once: the model saw (N, 28, 28) pixels in 0-255 (Keras adds the axis)."""
    _, (test, _) = raw
    student = test.astype("float32")  # neither reshaped nor scaled
    measured_on = checks.in_student_format(test, student)
    assert measured_on.shape == (len(test), 28, 28)
    np.testing.assert_allclose(measured_on, student, atol=1e-3)
    flattened = test.reshape((len(test), 784)).astype("float32") / 255
    np.testing.assert_allclose(checks.in_student_format(test, flattened), flattened, atol=1e-6)


def test_a_model_that_does_not_take_the_students_test_layout_is_measured_in_the_lessons(provisioned):
    """train_images right, test_images flattened: the convnet cannot take (N, 784); the same values, reshaped."""
    from conftest import cnn_layers

    _, (test, _) = load_npz(provisioned)
    model = sequential(cnn_layers())
    flattened = test.reshape((len(test), 784)).astype("float32") / 255
    probabilities, labels = checks.predictions_on_test_set(model, flattened)
    assert probabilities.shape == (len(test), 10) and len(labels) == len(test)


def test_answers_read_off_the_students_own_models_earn_their_point():
    """Error carried forward: a right reading of a wrong model is a right answer; the model's checks charge."""
    from conftest import cnn_layers

    same = sequential(cnn_layers(padding="same"))  # first pooling output 14 x 14; 2 blocks; other parameter counts
    dense = sequential(dense_layers((256, 256, 128)))
    own = checks.answers_of(same, dense)
    assert own["q_pool_output_size"] == 14 and own["q_conv_blocks"] == 2
    assert own["q_param_difference"] == dense.count_params() - same.count_params()
    for question, answer in own.items():
        checks.check_answer(question, answer, model=same, dense_model=dense)
        checks.check_answer(question, reference.ANSWERS[question], model=same, dense_model=dense)
        with pytest.raises(AssertionError, match="is not the right answer"):
            checks.check_answer(question, answer + 1, model=same, dense_model=dense)
    with pytest.raises(AssertionError, match="is not the right answer"):
        checks.check_answer("q_pool_output_size", 14)  # without the models, only the lesson's value
    assert checks.answers_of(None, dense) == {} and checks.answers_of("not a model") == {}
