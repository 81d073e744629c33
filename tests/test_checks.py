"""The general checks (``graders.checks``), and the MNIST lesson's hidden tests that call them, on the real sample.

The lesson's hidden tests are run as the checker runs them: the code of the
source notebook's test cell (its hidden part), on the student's objects.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, cnn_layers, dense_layers, sequential

from graders import checks
from graders.course.cells import test_cells as source_test_cells
from graders.course.datasets import load_npz
from graders.lessons.mnist_cnn import SOURCE_NOTEBOOK, reference
from graders.reference.record import ENVIRONMENT, record_path


def hidden_tests(grade_id: str) -> str:
    """The hidden part of one test cell of the lesson's source notebook."""
    import nbformat

    code = source_test_cells(nbformat.read(SOURCE_NOTEBOOK, as_version=4))[grade_id].code
    return code.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS", 1)[0]


@pytest.fixture(autouse=True)
def reference_record(monkeypatch, provisioned):
    """The lesson's reference record, as the engine hands it to the checker (``GRADERS_REFERENCE``), and the
    sample it was measured on (``MNIST_NPZ``)."""
    monkeypatch.setenv(ENVIRONMENT, str(record_path(ROOT, "mnist_cnn")))


def threshold(model: str) -> float:
    """The recorded accuracy threshold of the lesson's ``model`` ("cnn", "dense") on the sample."""
    return checks.threshold(reference.ACCURACY_FIGURES[model])


def run_hidden(grade_id: str, **names) -> None:
    """Run a test cell's hidden tests on ``names`` (the student's objects); raises what the tests raise."""
    exec(hidden_tests(grade_id), {"__name__": "__main__", **names})  # noqa: S102 (the instructor's own test code)


@pytest.fixture
def raw(provisioned):
    return load_npz(provisioned)


def preprocessing(train, test) -> None:
    run_hidden("test_preprocess_values", train_images=train, test_images=test)


def test_reference_preprocessing_passes(raw):
    (train, _), (test, _) = raw
    preprocessing(reference.preprocess(train), reference.preprocess(test))


@pytest.mark.parametrize(
    "mistake, message",
    [
        (lambda x: x.reshape((-1, 28, 28, 1)).astype("float32"), "should lie in [0, 1], found values from 0 to 255"),
        (lambda x: x.reshape((-1, 28, 28, 1)).astype("float32") / 256, "does not hold the right values"),
        (lambda x: x[::-1].reshape((-1, 28, 28, 1)).astype("float32") / 255, "keeping the images in their order"),
        (lambda x: x[:100].reshape((-1, 28, 28, 1)).astype("float32") / 255, "expected 3,136,000 (shape (4000, 28"),
    ],
    ids=["no-scaling", "divided-by-256", "reordered", "too-few"],
)
def test_value_mistakes_fail_the_values_check_saying_what_was_expected(raw, mistake, message):
    (train, _), (test, _) = raw
    with pytest.raises(AssertionError, match="train_images") as error:
        preprocessing(mistake(train), reference.preprocess(test))
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
def test_right_values_in_the_wrong_container_cost_the_array_check_only(raw, slip, message):
    (train, _), (test, _) = raw
    preprocessing(slip(train), reference.preprocess(test))  # the values check passes
    with pytest.raises(AssertionError, match="train_images") as error:
        checks.check_array("train_images", slip(train), (len(train), 28, 28, 1), "float32")
    assert message in str(error.value)


def test_an_exported_array_like_is_named_by_its_type_in_the_kernel(raw):
    from graders.grade.export import ArrayLike

    (train, _), (test, _) = raw
    exported = ArrayLike(reference.preprocess(train), "tensorflow.python.framework.ops.EagerTensor")
    preprocessing(exported, reference.preprocess(test))
    with pytest.raises(AssertionError, match=r"found a TensorFlow tensor \(EagerTensor\): convert it"):
        checks.check_array("train_images", exported, (len(train), 28, 28, 1), "float32")
    assert checks.kind_of(ArrayLike(np.zeros(1), "builtins.memoryview")) == "a memoryview"
    assert checks.kind_of(None) == "None"


def test_test_images_are_checked_too(raw):
    (train, _), (test, _) = raw
    with pytest.raises(AssertionError, match=r"test_images should lie in \[0, 1\]"):
        preprocessing(reference.preprocess(train), test.reshape((-1, 28, 28, 1)).astype("float32"))


def test_missing_data_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    with pytest.raises(AssertionError, match="the grader's data is not provisioned: MNIST_NPZ is not set"):
        preprocessing(None, None)
    monkeypatch.setenv("MNIST_NPZ", str(tmp_path / "nope.npz"))
    with pytest.raises(AssertionError, match="nope.npz cannot be read"):
        preprocessing(None, None)


QUESTIONS = {name.removeprefix("test_"): name for name in ("test_q_pool_output_size", "test_q_pool_params",
                                                             "test_q_flatten_params", "test_q_conv_blocks",
                                                             "test_q_dense_activation", "test_q_param_difference")}


@pytest.mark.parametrize("question", sorted(reference.ANSWERS))
def test_right_answers_pass_and_wrong_ones_do_not_reveal_the_answer(question):
    expected = reference.ANSWERS[question]
    run_hidden(QUESTIONS[question], **{question: expected})
    wrong = "relu" if isinstance(expected, str) else expected + 1
    with pytest.raises(AssertionError) as error:
        run_hidden(QUESTIONS[question], **{question: wrong})
    assert f"{question} = {wrong!r} is not the right answer" == str(error.value)
    assert repr(expected) not in str(error.value)


def test_answers_accept_numpy_ints_and_any_case_but_not_bools_or_strings_for_numbers():
    run_hidden("test_q_pool_output_size", q_pool_output_size=np.int64(13))
    run_hidden("test_q_dense_activation", q_dense_activation=" Softmax ")
    with pytest.raises(AssertionError, match="should be a whole number"):
        run_hidden("test_q_pool_params", q_pool_params=False)
    with pytest.raises(AssertionError, match="should be a whole number"):
        run_hidden("test_q_conv_blocks", q_conv_blocks="2")
    with pytest.raises(AssertionError, match="should be a string"):
        run_hidden("test_q_dense_activation", q_dense_activation=None)
    checks.check_answer("ratio", 0.5, 0.5)  # other values: compared as they are
    with pytest.raises(AssertionError, match="ratio = 0.25 is not the right answer"):
        checks.check_answer("ratio", 0.25, 0.5)


def test_answers_read_off_the_students_own_models_earn_their_point():
    """Error carried forward: a right reading of a wrong model is a right answer; the model's checks charge."""
    same = sequential(cnn_layers(padding="same"))  # first pooling output 14 x 14; 2 blocks; other parameter counts
    dense = sequential(dense_layers((256, 256, 128)))
    own = {"q_pool_output_size": 14, "q_conv_blocks": 2,
           "q_param_difference": dense.count_params() - same.count_params()}
    for question, answer in own.items():
        run_hidden(QUESTIONS[question], **{question: answer}, model=same, dense_model=dense)
        run_hidden(QUESTIONS[question], **{question: reference.ANSWERS[question]}, model=same, dense_model=dense)
        with pytest.raises(AssertionError, match="is not the right answer"):
            run_hidden(QUESTIONS[question], **{question: answer + 1}, model=same, dense_model=dense)
    with pytest.raises(AssertionError, match="is not the right answer"):
        run_hidden("test_q_pool_output_size", q_pool_output_size=14)  # without the model, only the lesson's value
    assert checks.layer_table(None) == () and checks.layer_table("not a model") == ()


def accuracy_by_hand(model, provisioned) -> float:
    """Test accuracy computed here, without the checks' code: the lesson's preprocessing, argmax, mean."""
    _, (test, labels) = load_npz(provisioned)
    predictions = model.predict(test.reshape((-1, 28, 28, 1)).astype("float32") / 255, verbose=0)
    return float(np.mean(np.argmax(predictions, axis=1) == labels))


def test_untrained_model_fails_the_accuracy_check_with_its_measured_accuracy(provisioned):
    with pytest.raises(AssertionError, match=rf"reaches 0\.\d+ accuracy .* at least {threshold('dense'):.3f} is "):
        run_hidden("test_dense_accuracy", dense_model=sequential(dense_layers((16,))), test_images=None)


def test_a_trained_small_model_passes_and_its_untrained_copy_fails(provisioned):
    import keras

    keras.utils.set_random_seed(0)
    (train, labels), (test, _) = load_npz(provisioned)
    model = sequential(dense_layers((256,)))
    untrained = keras.models.clone_model(model)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    model.fit(reference.preprocess(train), labels, epochs=5, batch_size=64, verbose=0)
    assert accuracy_by_hand(model, provisioned) >= threshold("dense") > accuracy_by_hand(untrained, provisioned)
    run_hidden("test_dense_accuracy", dense_model=model, test_images=reference.preprocess(test))
    with pytest.raises(AssertionError, match=f"reaches {accuracy_by_hand(untrained, provisioned):.3f} accuracy"):
        run_hidden("test_dense_accuracy", dense_model=untrained, test_images=None)


def test_accuracy_difference_is_checked_against_the_graders_measurement(provisioned):
    cnn, dense = sequential(dense_layers((8,))), sequential(dense_layers((4,)))
    measured = accuracy_by_hand(cnn, provisioned) - accuracy_by_hand(dense, provisioned)
    objects = {"model": cnn, "dense_model": dense, "test_images": None}
    run_hidden("test_q_accuracy_difference", q_accuracy_difference=measured + 0.0015, **objects)
    with pytest.raises(AssertionError, match="is not the expected value .*minus the dense network's"):
        run_hidden("test_q_accuracy_difference", q_accuracy_difference=measured + 0.0025, **objects)
    with pytest.raises(AssertionError, match="should be a number"):
        run_hidden("test_q_accuracy_difference", q_accuracy_difference="0.02", **objects)


def test_a_data_size_without_a_threshold_names_the_sizes_that_have_one():
    with pytest.raises(AssertionError, match="no threshold for 123 training examples .*4,000, 60,000"):
        checks.threshold_for(123, {4_000: 0.85, 60_000: 0.95})
    assert checks.threshold_for(60_000, {4_000: 0.85, 60_000: 0.95}) == 0.95


def test_the_accuracy_checks_name_the_recorded_figures_and_write_no_number(provisioned):
    for model, grade_id in (("cnn", "test_cnn_accuracy"), ("dense", "test_dense_accuracy")):
        code = hidden_tests(grade_id)
        figure = reference.ACCURACY_FIGURES[model]
        assert f'minimum="{figure}"' in code and "0." not in code.replace("0.0", "")
        spread = checks.current_reference().figure(figure)
        assert 0.5 < threshold(model) == spread["at_least"] <= spread["worst_low"]


def test_accuracy_is_measured_in_the_input_format_the_model_was_trained_on(raw):
    _, (test, _) = raw
    scaled = reference.preprocess(test)
    unscaled = test.reshape((-1, 28, 28, 1)).astype("float32")
    centred = scaled * 2 - 1
    for student in (scaled, unscaled, centred):
        np.testing.assert_allclose(checks.model_inputs(test, student, scaled), student, atol=1e-5)
    # Anything that is not an affine map of the grader's pixels falls back to the lesson's preprocessing.
    shuffled = scaled[::-1]
    np.testing.assert_array_equal(checks.model_inputs(test, shuffled, scaled), scaled)
    np.testing.assert_array_equal(checks.model_inputs(test, scaled[:10], scaled), scaled)
    np.testing.assert_array_equal(checks.model_inputs(test, None, scaled), scaled)
    np.testing.assert_array_equal(checks.model_inputs(test), test.astype("float32") / 255)  # bytes, scaled


def test_no_channel_axis_and_no_scaling_is_measured_as_the_model_was_trained(raw):
    """Both preprocessing slips at once: the model saw (N, 28, 28) pixels in 0-255 (Keras adds the axis)."""
    _, (test, _) = raw
    student = test.astype("float32")  # neither reshaped nor scaled
    measured_on = checks.model_inputs(test, student)
    assert measured_on.shape == (len(test), 28, 28)
    np.testing.assert_allclose(measured_on, student, atol=1e-3)
    flattened = test.reshape((len(test), 784)).astype("float32") / 255
    np.testing.assert_allclose(checks.model_inputs(test, flattened), flattened, atol=1e-6)


def test_a_model_that_does_not_take_the_students_test_layout_is_measured_in_its_own(raw):
    """train_images right, test_images flattened: the convnet cannot take (N, 784); the same values, reshaped."""
    _, (test, labels) = raw
    model = sequential(cnn_layers())
    flattened = test.reshape((len(test), 784)).astype("float32") / 255
    assert checks.predictions(model, checks.model_inputs(test, flattened)).shape == (len(test), 10)
    assert 0.0 <= checks.accuracy(model, flattened, labels) <= 1.0
