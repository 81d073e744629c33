"""The checks behind the notebook's hidden tests: plain asserts, readable failures.

Each check raises ``AssertionError`` with a message that says what was
expected, without giving away an answer the lesson does not state.
"""

from __future__ import annotations

import itertools

import numpy as np

from graders import reference
from graders.architecture import compare_model, describe_model
from graders.data import load_provisioned
from graders.export import kind_of

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
    """A preprocessed array is a NumPy array of shape (count, 28, 28, 1) and dtype float32."""
    assert isinstance(found, np.ndarray), (
        f"{name} should be a NumPy array, found {kind_of(found)}: convert it with np.asarray({name})")
    expected_shape = (count, *reference.INPUT_SHAPE)
    assert found.shape == expected_shape, f"{name} should have shape {expected_shape}, found {found.shape}"
    assert found.dtype == np.float32, f"{name} should be float32, found {found.dtype}"


def pixel_values(name: str, found, count: int) -> np.ndarray:
    """The values of a preprocessed array, in the lesson's shape (count, 28, 28, 1), as float64.

    Whatever held them (a NumPy array of any dtype, a TensorFlow tensor, a
    list) and however they were laid out, as long as there is one 28 × 28
    image per label: container, dtype and shape are ``check_shape_and_dtype``'s
    to judge, so one slip never fails two checks.

    Raises:
        AssertionError: the values cannot be read as numbers, or there are
            not ``count`` images' worth of them.
    """
    try:
        values = np.asarray(found, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{name} should hold the preprocessed images, found {kind_of(found)}") from None
    expected_shape = (count, *reference.INPUT_SHAPE)
    assert values.size == np.prod(expected_shape), (
        f"{name} holds {values.size:,} values, expected {count:,} images of 28 × 28 pixels: re-run the data cell, "
        "then preprocess once")
    return values.reshape(expected_shape)


def _tolerance(found) -> float:
    """How far a right value may be from the reference: float32's rounding, or a coarser dtype's (float16, bfloat16):
    the dtype is ``check_shape_and_dtype``'s to judge."""
    try:
        dtype = np.asarray(found[:1] if isinstance(found, (list, tuple)) else found).dtype
    except (TypeError, ValueError):
        return 1e-6
    if dtype.kind == "f":
        return max(1e-6, float(np.finfo(dtype).eps))
    return 1e-2 if dtype.kind == "V" and dtype.itemsize <= 2 else 1e-6  # bfloat16 (ml_dtypes): NumPy has no finfo


def check_preprocessed(name: str, found, raw_images: np.ndarray) -> None:
    """One preprocessed array's values equal the reference preprocessing of its raw images."""
    values = pixel_values(name, found, len(raw_images))
    low, high = float(values.min()), float(values.max())
    assert 0.0 <= low and high <= 1.0, (
        f"{name} should be scaled to [0, 1], found values from {low:g} to {high:g}; divide by 255"
    )
    expected = reference.preprocess(raw_images)
    assert np.allclose(values, expected, atol=_tolerance(found)), (
        f"{name} is scaled to [0, 1] but does not hold the right values: reshape, "
        "convert to float32 and divide by 255, keeping the images in their order"
    )


def check_preprocessing(train_images, test_images) -> None:
    """Both preprocessed arrays hold the reference preprocessing's values of the grader's data."""
    (raw_train, _), (raw_test, _) = load_provisioned()
    check_preprocessed("train_images", train_images, raw_train)
    check_preprocessed("test_images", test_images, raw_test)


def in_student_format(raw_images: np.ndarray, student_images) -> np.ndarray:
    """The grader's raw images in the input format the student's model was trained on.

    When ``student_images`` (the student's preprocessed test images, any
    array-like) hold one image per raw image and are an affine map
    ``a * pixel + b`` of the raw pixels, as after the lesson's scaling or a
    forgotten one, the same map is applied to the grader's copy, in the
    student's shape (a missing channel axis stays missing); otherwise the
    reference preprocessing is used. Only the two numbers ``a`` and ``b`` and
    the shape come from the student's array, so a model is always measured on
    the grader's own images and labels, and a preprocessing mistake costs the
    preprocessing points only.
    """
    expected = reference.preprocess(raw_images)
    try:
        found = np.asarray(student_images, dtype=np.float64)
    except (TypeError, ValueError):
        return expected
    if found.size != expected.size or found.ndim < 2 or found.shape[0] != len(raw_images):
        return expected
    pixels = raw_images.astype(np.float64).ravel()
    found = found.ravel()
    if not np.all(np.isfinite(found)) or np.ptp(pixels) == 0:
        return expected
    slope, intercept = np.polyfit(pixels, found, 1)
    mapped = slope * pixels + intercept
    if np.max(np.abs(mapped - found)) > 1e-5 * max(1.0, float(np.max(np.abs(found)))):
        return expected
    return mapped.reshape(np.shape(student_images)).astype(np.float32)


def predictions_on_test_set(model, test_images=None) -> tuple[np.ndarray, np.ndarray]:
    """``model``'s outputs on the grader's own test images, and the grader's labels.

    ``test_images``, the student's preprocessed array, only selects the input
    format (see ``in_student_format``); its values are never used.
    """
    _, (raw_test, test_labels) = load_provisioned()
    inputs = in_student_format(raw_test, test_images)
    try:
        return np.asarray(model.predict(inputs, batch_size=PREDICT_BATCH, verbose=0)), test_labels
    except Exception:  # noqa: BLE001 (the model does not take the student's test layout: the lesson's, same values)
        layout = (len(raw_test), *reference.INPUT_SHAPE)
        if inputs.shape == layout:
            raise
        return np.asarray(model.predict(inputs.reshape(layout), batch_size=PREDICT_BATCH, verbose=0)), test_labels


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


def answers_of(model=None, dense_model=None) -> dict[str, int]:
    """The autograded answers as read off the student's own models (those that can be read off a model).

    ``q_pool_output_size``, ``q_conv_blocks`` (from ``model``) and
    ``q_param_difference`` (from both) as a student reads them off their own
    ``model.summary()``: a right reading of a wrong model earns the answer's
    point (the architecture checks already charge for the model).
    """
    answers: dict[str, int] = {}
    try:
        cnn = describe_model(model) if hasattr(model, "layers") else None
        dense = describe_model(dense_model) if cnn is not None and hasattr(dense_model, "layers") else None
    except Exception:  # noqa: BLE001 (a model that cannot be read gives no answer of its own)
        return answers
    if cnn:
        pools = [layer for layer in cnn if layer.type == "MaxPooling2D" and len(layer.output_shape or ()) == 4]
        if pools and isinstance(pools[0].output_shape[1], int):
            answers["q_pool_output_size"] = pools[0].output_shape[1]
        pairs = itertools.pairwise(layer.type for layer in cnn)
        answers["q_conv_blocks"] = sum(pair == ("Conv2D", "MaxPooling2D") for pair in pairs)
    if cnn is not None and dense is not None:
        answers["q_param_difference"] = sum(layer.params for layer in dense) - sum(layer.params for layer in cnn)
    return answers


def check_answer(question: str, answer, model=None, dense_model=None) -> None:
    """An autograded "To the student" answer equals the reference answer, or the value the student's own
    models give (see ``answers_of``; pass them for the questions read off a summary)."""
    expected = reference.ANSWERS[question]
    if isinstance(expected, str):
        assert isinstance(answer, str), f"{question} should be a string, found {type(answer).__name__}"
        assert answer.strip().lower() == expected, f"{question} = {answer!r} is not the right answer"
    else:
        assert isinstance(answer, (int, np.integer)) and not isinstance(answer, bool), (
            f"{question} should be a whole number, found {answer!r}"
        )
        own = answers_of(model, dense_model).get(question) if model is not None else None
        assert answer == expected or (own is not None and answer == own), (
            f"{question} = {answer!r} is not the right answer"
        )


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
