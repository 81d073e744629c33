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
        (lambda x: x.reshape((-1, 28, 28, 1)).astype("float64") / 255, "should be float32, found float64"),
        (lambda x: x.astype("float32") / 255, "should have shape (4000, 28, 28, 1), found (4000, 28, 28)"),
        (lambda x: x.reshape((-1, 28, 28, 1)).astype("float32") / 256, "not the right values"),
        (lambda x: x[::-1].reshape((-1, 28, 28, 1)).astype("float32") / 255, "keeping the images in their order"),
        (lambda x: x.tolist(), "should be a NumPy array, found list"),
    ],
    ids=["no-scaling", "float64", "no-channel", "divided-by-256", "reordered", "list"],
)
def test_preprocessing_mistakes_say_what_was_expected(raw, mistake, message):
    (train, _), (test, _) = raw
    with pytest.raises(AssertionError, match="train_images") as error:
        checks.check_preprocessing(mistake(train), reference.preprocess(test))
    assert message in str(error.value)


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


def test_a_trained_small_model_passes_and_the_check_returns_nothing(provisioned):
    import keras

    keras.utils.set_random_seed(0)
    (train, labels), _ = load_npz(provisioned)
    model = sequential(dense_layers((64,)))
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    model.fit(reference.preprocess(train), labels, epochs=3, batch_size=64, verbose=0)
    # None matters: nbgrader reads a number left as a test cell's last value as partial credit.
    assert checks.check_accuracy(model, "dense", reference.preprocess(load_npz(provisioned)[1][0])) is None


def test_accuracy_difference_is_checked_against_the_graders_measurement(provisioned):
    cnn, dense = sequential(dense_layers((8,))), sequential(dense_layers((4,)))
    measured = checks.accuracy_on_test_set(cnn) - checks.accuracy_on_test_set(dense)
    checks.check_accuracy_difference(measured + 0.001, cnn, dense)
    with pytest.raises(AssertionError, match="not the CNN's test accuracy minus"):
        checks.check_accuracy_difference(measured + 0.05, cnn, dense)
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
