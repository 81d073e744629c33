"""The checks behind the notebook's hidden tests: plain asserts, readable failures.

Each check raises ``AssertionError`` with a message that says what was
expected, without giving away an answer the lesson does not state.
"""

from __future__ import annotations

import numpy as np

from graders import reference
from graders.architecture import compare_model
from graders.data import load_provisioned

PREDICT_BATCH = 1024


def check_architecture(model, name: str) -> None:
    """``model`` has the lesson's ``name`` ("cnn" or "dense") architecture, layer by layer."""
    label = {"cnn": "CNN `model`", "dense": "`dense_model`"}[name]
    assert model is not None and hasattr(model, "layers"), f"{label} is not a Keras model"
    comparison = compare_model(model, reference.ARCHITECTURES[name])
    assert comparison.matches, (
        f"{label} differs from the lesson's network: {comparison.summary()}\n\n{comparison.table()}"
    )


def check_shape_and_dtype(name: str, found, count: int) -> None:
    """A preprocessed array is (count, 28, 28, 1) float32."""
    assert isinstance(found, np.ndarray), f"{name} should be a NumPy array, found {type(found).__name__}"
    expected_shape = (count, *reference.INPUT_SHAPE)
    assert found.shape == expected_shape, f"{name} should have shape {expected_shape}, found {found.shape}"
    assert found.dtype == np.float32, f"{name} should be float32, found {found.dtype}"


def check_preprocessed(name: str, found, raw_images: np.ndarray) -> None:
    """One preprocessed array equals the reference preprocessing of its raw images."""
    check_shape_and_dtype(name, found, len(raw_images))
    low, high = float(found.min()), float(found.max())
    assert 0.0 <= low and high <= 1.0, (
        f"{name} should be scaled to [0, 1], found values from {low:g} to {high:g}; divide by 255"
    )
    expected = reference.preprocess(raw_images)
    assert np.allclose(found, expected, atol=1e-6), (
        f"{name} has the right shape, type and range but not the right values: reshape, "
        "convert to float32 and divide by 255, keeping the images in their order"
    )


def check_preprocessing(train_images, test_images) -> None:
    """Both preprocessed arrays match the reference preprocessing of the grader's data."""
    (raw_train, _), (raw_test, _) = load_provisioned()
    check_preprocessed("train_images", train_images, raw_train)
    check_preprocessed("test_images", test_images, raw_test)


def in_student_format(raw_images: np.ndarray, student_images) -> np.ndarray:
    """The grader's raw images in the input format the student's model was trained on.

    When ``student_images`` (the student's preprocessed test images) are an
    affine map ``a * pixel + b`` of the raw pixels, as after the lesson's
    scaling or a forgotten one, the same map is applied to the grader's copy;
    otherwise the reference preprocessing is used. Only the two numbers ``a``
    and ``b`` come from the student's array, so a model is always measured on
    the grader's own images and labels, and a preprocessing mistake costs the
    preprocessing points only.
    """
    expected = reference.preprocess(raw_images)
    if not isinstance(student_images, np.ndarray) or student_images.shape != expected.shape:
        return expected
    pixels = raw_images.astype(np.float64).ravel()
    found = student_images.astype(np.float64).ravel()
    if not np.all(np.isfinite(found)) or np.ptp(pixels) == 0:
        return expected
    slope, intercept = np.polyfit(pixels, found, 1)
    mapped = slope * pixels + intercept
    if np.max(np.abs(mapped - found)) > 1e-5 * max(1.0, float(np.max(np.abs(found)))):
        return expected
    return mapped.reshape(expected.shape).astype(np.float32)


def predictions_on_test_set(model, test_images=None) -> tuple[np.ndarray, np.ndarray]:
    """``model``'s outputs on the grader's own test images, and the grader's labels.

    ``test_images``, the student's preprocessed array, only selects the input
    format (see ``in_student_format``); its values are never used.
    """
    _, (raw_test, test_labels) = load_provisioned()
    inputs = in_student_format(raw_test, test_images)
    return np.asarray(model.predict(inputs, batch_size=PREDICT_BATCH, verbose=0)), test_labels


def accuracy_on_test_set(model, test_images=None) -> float:
    """Accuracy of ``model`` on the grader's own test images and labels."""
    probabilities, test_labels = predictions_on_test_set(model, test_images)
    return float(np.mean(np.argmax(probabilities, axis=-1) == test_labels))


def check_accuracy(model, name: str, test_images=None) -> None:
    """The trained ``name`` model reaches the profile's minimum test accuracy.

    Returns nothing: nbgrader would read a number left as a test cell's
    last value as partial credit.
    """
    (train_images, _), _ = load_provisioned()
    profile = reference.profile_for(len(train_images))
    minimum = profile.min_accuracy[name]
    accuracy = accuracy_on_test_set(model, test_images)
    assert accuracy >= minimum, (
        f"the trained {name} model reaches {accuracy:.3f} accuracy on the held-out test images; "
        f"at least {minimum:.2f} is expected ({profile.name} data profile). Check the preprocessing "
        "and the architecture, and that the training cell ran"
    )


def check_answer(question: str, answer) -> None:
    """An autograded "To the student" answer equals the reference answer."""
    expected = reference.ANSWERS[question]
    if isinstance(expected, str):
        assert isinstance(answer, str), f"{question} should be a string, found {type(answer).__name__}"
        assert answer.strip().lower() == expected, f"{question} = {answer!r} is not the right answer"
    else:
        assert isinstance(answer, (int, np.integer)) and not isinstance(answer, bool), (
            f"{question} should be a whole number, found {answer!r}"
        )
        assert answer == expected, f"{question} = {answer!r} is not the right answer"


def check_accuracy_difference(answer, cnn_model, dense_model, test_images=None) -> None:
    """``q_accuracy_difference`` is the CNN's test accuracy minus the dense network's."""
    assert isinstance(answer, (float, int, np.floating)) and not isinstance(answer, bool), (
        f"q_accuracy_difference should be a number, found {answer!r}"
    )
    measured = accuracy_on_test_set(cnn_model, test_images) - accuracy_on_test_set(dense_model, test_images)
    tolerance = reference.ACCURACY_DIFFERENCE_TOLERANCE
    assert abs(answer - measured) <= tolerance, (
        f"q_accuracy_difference = {answer:.4f} is not the CNN's test accuracy minus the dense "
        f"network's as measured on the held-out test images (tolerance {tolerance}); compute it "
        "from test_acc and dense_test_acc"
    )
