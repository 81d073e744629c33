"""Checks for the hidden tests of any Keras lesson: plain asserts, readable failures, the lesson's values as arguments.

An instructor's test cell calls them with what the lesson expects; nothing
here knows a lesson. The expected values are either the instructor's
solution's, as ``graders reference`` recorded them (named: a model, a value,
a figure of the assignment's reference record), or written out::

    from graders import checks
    checks.check_layers(model, like="model")           # the solution's `model`, layer by layer
    checks.check_answer("q_pool_params", q_pool_params)  # the solution's value of q_pool_params
    data = checks.grader_data("DIGITS_NPZ")
    checks.check_accuracy(model, checks.model_inputs(data["x_test"], like=test_images), data["y_test"],
                          minimum="test_acc", name="the convnet")  # the solution's test_acc over seeds, at least
    checks.check_layers(model, [("Conv2D", (None, 26, 26, 32), 320, "relu", "valid"), ...],
                        name="model", input_shape=(28, 28, 1))   # or the table itself

Each check raises ``AssertionError`` with a message that says what was
expected, without giving away an answer the lesson does not state, and
returns nothing (nbgrader reads a number left as a test cell's value as
partial credit). The grader's data comes from a file the course provisions
(``grader_data``); a student's objects are the ones the engine brought across.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from graders.architecture import LayerSpec, compare_model, describe_model
from graders.grade.export import kind_of
from graders.reference.describe import json_form
from graders.reference.record import current_reference

PREDICT_BATCH = 1024
RECORDED = object()  # check_answer's default: the value the reference record holds for the question


def recorded(name: str):
    """The value ``name`` as the instructor's solution left it, from the assignment's reference record
    (``graders reference``): the same in every seed's run.

    Raises:
        AssertionError: there is no record, it is out of date, or it has no such value (the sentence says which).
    """
    return current_reference().value(name)


def threshold(figure: str, bound: str = "at_least") -> float:
    """The bound ``bound`` ("at_least" or "at_most") of the recorded ``figure`` (e.g. "test_acc") on the grader's
    data: the solution's spread over seeds, by ``graders.reference.record.THRESHOLD_RULE``.

    Raises:
        AssertionError: no record, no such figure, or none measured on this data (the sentence says which).
    """
    if bound not in ("at_least", "at_most"):
        raise TypeError(f'threshold: bound should be "at_least" or "at_most", not {bound!r}')
    return float(current_reference().figure(figure)[bound])


def reference_layers(like: str) -> tuple[tuple[LayerSpec, ...], tuple | None, list[dict]]:
    """The recorded model ``like``'s layer table, one example's input shape, and each layer's configuration
    (``graders reference``)."""
    model = current_reference().model(like)
    rows = tuple(LayerSpec(layer["type"], tuple(layer["output_shape"]) if layer["output_shape"] else None,
                           layer["params"], layer.get("activation"), layer.get("padding")) for layer in model["layers"])
    configs = [layer.get("config", {}) for layer in model["layers"]]
    return rows, tuple(model["input_shape"]) if model.get("input_shape") else None, configs


def _configuration_differences(model, configs: list[dict], input_shape: tuple | None) -> list[str]:
    """Settings of ``model``'s layers that differ from the recorded ones, layer by layer (same types and rows
    already checked): what the table cannot show, such as a Dropout's rate or a convolution's strides."""
    from graders.reference.describe import describe_layers

    found = describe_layers(model, input_shape)["layers"]
    differences = []
    for number, (expected, layer) in enumerate(zip(configs, found, strict=False), start=1):
        for key, value in expected.items():
            if layer["config"].get(key) != value:
                differences.append(f"layer {number} ({layer['type']}): {key} expected {value!r}, found "
                                   f"{layer['config'].get(key)!r}")
    return differences


@lru_cache(maxsize=4)
def _read_npz(path: str, mtime_ns: int, size: int) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def grader_data(variable: str) -> dict[str, np.ndarray]:
    """The arrays of the grader's data file named by the environment variable ``variable``.

    The file is an ``.npz`` (read without pickle, once per file version);
    ``graders`` sets ``variable`` to the grader's own copy (the assignment's
    ``grading/ASSIGNMENT.toml`` names it), and the course's
    ``nbgrader_config.py`` may set it for stock ``nbgrader autograde``.

    Raises:
        AssertionError: the variable is not set or names no readable file
            (the test cell fails with that sentence, and the instructor sees it).
    """
    path = os.environ.get(variable)
    if not path:
        raise AssertionError(f"the grader's data is not provisioned: {variable} is not set")
    try:
        stat = Path(path).stat()
        return _read_npz(path, stat.st_mtime_ns, stat.st_size)
    except (OSError, ValueError) as error:
        raise AssertionError(f"the grader's data file {variable}={path} cannot be read: {error}") from None


def _spec(row) -> LayerSpec:
    return row if isinstance(row, LayerSpec) else LayerSpec(*row)


def layer_table(model, input_shape: tuple | None = None) -> tuple[LayerSpec, ...]:
    """``model``'s layers as rows (type, output shape, params, activation, padding); ``()`` when ``model`` is not
    a Keras model or cannot be read: for answers a student reads off their own ``model.summary()``."""
    if not hasattr(model, "layers"):
        return ()
    try:
        return describe_model(model, input_shape)
    except Exception:  # noqa: BLE001 (a model that cannot be read has no table of its own)
        return ()


def check_layers(model, expected: Sequence | None = None, name: str = "model", input_shape: tuple | None = None,
                 like: str | None = None) -> None:
    """``model`` has the ``expected`` layers, row by row, and their total parameter count.

    ``expected``: rows of (type, output shape, params[, activation[, padding]])
    or ``LayerSpec``s, InputLayer excluded; or ``like``, the name of a model of
    the reference record (the solution's), whose input shape is also the
    default ``input_shape`` (one example's shape, which builds a model that
    has no ``Input``). The failure shows the aligned table, expected against
    found.
    """
    label = f"`{name}`"
    configs = None
    if like is not None:
        expected, recorded_shape, configs = reference_layers(like)
        input_shape = input_shape or recorded_shape
    if expected is None:
        raise TypeError("check_layers needs the expected rows, or like= the name of a recorded model")
    assert model is not None and hasattr(model, "layers"), f"{label} is not a Keras model"
    comparison = compare_model(model, tuple(map(_spec, expected)), input_shape)
    assert comparison.matches, (
        f"{label} differs from the lesson's network: {comparison.summary()}\n\n{comparison.table()}"
    )
    differences = _configuration_differences(model, configs, input_shape) if configs else []
    assert not differences, f"{label} differs from the lesson's network: {differences[0]}"


def check_array(name: str, found, shape: tuple, dtype: str) -> None:
    """``found`` is a NumPy array of ``shape`` and ``dtype`` (e.g. "float32")."""
    assert isinstance(found, np.ndarray), (
        f"{name} should be a NumPy array, found {kind_of(found)}: convert it with np.asarray({name})")
    assert found.shape == tuple(shape), f"{name} should have shape {tuple(shape)}, found {found.shape}"
    assert found.dtype == np.dtype(dtype), f"{name} should be {dtype}, found {found.dtype}"


def _tolerance(found) -> float:
    """How far a right value may be from the expected one: float32's rounding, or a coarser dtype's (float16,
    bfloat16): the dtype is ``check_array``'s to judge."""
    try:
        dtype = np.asarray(found[:1] if isinstance(found, (list, tuple)) else found).dtype
    except (TypeError, ValueError):
        return 1e-6
    if dtype.kind == "f":
        return max(1e-6, float(np.finfo(dtype).eps))
    return 1e-2 if dtype.kind == "V" and dtype.itemsize <= 2 else 1e-6  # bfloat16 (ml_dtypes): NumPy has no finfo


def check_values(name: str, found, expected: np.ndarray, low: float | None = None, high: float | None = None,
                 hint: str = "") -> None:
    """``found`` holds ``expected``'s values, whatever holds them (a NumPy array of any dtype, a tensor, a list)
    and however they are laid out, as long as there are as many: container, dtype and shape are ``check_array``'s
    to judge, so one slip never fails two checks.

    ``low``/``high``: the range the values must lie in (checked first, with
    its own message); ``hint``: how to get the values right, for the student.
    """
    try:
        values = np.asarray(found, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{name} should hold numbers, found {kind_of(found)}") from None
    expected = np.asarray(expected, dtype=np.float64)
    assert values.size == expected.size, (
        f"{name} holds {values.size:,} values, expected {expected.size:,} (shape {expected.shape}): re-run the cell "
        "that makes it, once")
    values = values.reshape(expected.shape)
    if values.size and (low is not None or high is not None):
        least, most = float(values.min()), float(values.max())
        within = (low is None or least >= low) and (high is None or most <= high)
        bounds = f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"
        assert within, f"{name} should lie in {bounds}, found values from {least:g} to {most:g}" + (
            f"; {hint}" if hint else "")
    assert np.allclose(values, expected, atol=_tolerance(found)), (
        f"{name} does not hold the right values" + (f": {hint}" if hint else ""))


def model_inputs(raw_images: np.ndarray, like=None, fallback=None) -> np.ndarray:
    """The grader's raw images in the input format a student's model was trained on.

    When ``like`` (the student's own preprocessed images, any array-like)
    holds one image per raw image and is an affine map ``a * pixel + b`` of
    the raw pixels (as after a lesson's scaling, or a forgotten one), the same
    map is applied to ``raw_images``, in ``like``'s shape; otherwise the
    result is ``fallback`` (the lesson's own preprocessing of ``raw_images``),
    or the raw pixels as float32, scaled to [0, 1] when they are bytes. Only
    the two numbers ``a`` and ``b`` and the shape come from the student, so a
    model is always measured on the grader's own images.
    """
    if fallback is None:
        fallback = raw_images.astype(np.float32) / (255 if raw_images.dtype == np.uint8 else 1)
    fallback = np.asarray(fallback, dtype=np.float32)
    try:
        found = np.asarray(like, dtype=np.float64)
    except (TypeError, ValueError):
        return fallback
    if like is None or found.size != raw_images.size or found.ndim < 2 or found.shape[0] != len(raw_images):
        return fallback
    pixels = raw_images.astype(np.float64).ravel()
    found = found.ravel()
    if not np.all(np.isfinite(found)) or np.ptp(pixels) == 0:
        return fallback
    slope, intercept = np.polyfit(pixels, found, 1)
    mapped = slope * pixels + intercept
    if np.max(np.abs(mapped - found)) > 1e-5 * max(1.0, float(np.max(np.abs(found)))):
        return fallback
    return mapped.reshape(np.shape(like)).astype(np.float32)


def predictions(model, images: np.ndarray) -> np.ndarray:
    """``model``'s outputs on ``images``; reshaped to the model's input shape when the layout alone differs
    (a model that takes flat vectors, images kept square), so the layout costs no accuracy points."""
    try:
        return np.asarray(model.predict(images, batch_size=PREDICT_BATCH, verbose=0))
    except Exception:  # noqa: BLE001 (the model does not take this layout: try its own, same values)
        shape = tuple(getattr(model.inputs[0], "shape", ())[1:]) if getattr(model, "inputs", None) else ()
        if not shape or None in shape or int(np.prod(shape)) * len(images) != images.size:
            raise
        layout = (len(images), *shape)
        return np.asarray(model.predict(images.reshape(layout), batch_size=PREDICT_BATCH, verbose=0))


def accuracy(model, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``images`` (already in the model's input format) whose most probable class is the label."""
    return float(np.mean(np.argmax(predictions(model, images), axis=-1) == np.asarray(labels)))


def check_accuracy(model, images: np.ndarray, labels: np.ndarray, minimum: float | str,
                   name: str = "model") -> None:
    """``model`` reaches ``minimum`` accuracy on the grader's held-out ``images`` (inputs) and ``labels``.

    ``minimum``: a share in [0, 1], or the name of a figure of the reference
    record (e.g. "test_acc"), whose ``at_least`` bound on the grader's data
    is used (``threshold``).
    """
    if isinstance(minimum, str):
        minimum = threshold(minimum)
    assert model is not None and hasattr(model, "predict"), f"`{name}` is not a Keras model"
    measured = accuracy(model, images, labels)
    assert measured >= minimum, (
        f"the trained {name} reaches {measured:.3f} accuracy on the grader's held-out test set; at least "
        f"{minimum:.3f} is expected. Check the preprocessing and the architecture, and that the training cell ran")


def threshold_for(count: int, thresholds: dict[int, float], what: str = "training examples") -> float:
    """The threshold for a data set of ``count`` examples (``thresholds``: size -> minimum).

    Raises:
        AssertionError: no threshold was set for that size: the test cell
            fails naming the sizes that have one, so the instructor adds it.
    """
    if count not in thresholds:
        known = ", ".join(f"{size:,}" for size in sorted(thresholds))
        raise AssertionError(f"no threshold for {count:,} {what} (thresholds exist for {known})")
    return thresholds[count]


def check_answer(question: str, answer, expected=RECORDED, *, also: Sequence = ()) -> None:
    """An answer equals ``expected`` (or one of ``also``: e.g. the value read off the student's own model).

    ``expected`` defaults to the value of the variable ``question`` in the
    reference record (``recorded(question)``: the solution's answer); ``also``
    is keyword-only, so the record is never skipped by accident. Whole numbers
    must be ints (NumPy's too, never bools); strings are compared without
    case or surrounding spaces; other values with ``==`` (tuples and lists
    alike).
    """
    if expected is RECORDED:
        expected = recorded(question)
    accepted = [json_form(value) for value in (expected, *also)]  # a recorded value's tuples are lists
    answer = json_form(answer)
    if isinstance(expected, str):
        assert isinstance(answer, str), f"{question} should be a string, found {type(answer).__name__}"
        assert answer.strip().lower() in {str(value).strip().lower() for value in accepted}, (
            f"{question} = {answer!r} is not the right answer")
        return
    if isinstance(expected, (int, np.integer)) and not isinstance(expected, bool):
        assert isinstance(answer, (int, np.integer)) and not isinstance(answer, bool), (
            f"{question} should be a whole number, found {answer!r}")
    assert any(answer == value for value in accepted), f"{question} = {answer!r} is not the right answer"


def check_close(question: str, answer, expected: float, tolerance: float, hint: str = "") -> None:
    """A numeric answer within ``tolerance`` of ``expected`` (e.g. the grader's own measurement)."""
    assert isinstance(answer, (float, int, np.floating, np.integer)) and not isinstance(answer, bool), (
        f"{question} should be a number, found {answer!r}")
    assert abs(float(answer) - float(expected)) <= tolerance, (
        f"{question} = {float(answer):.4f} is not the expected value (tolerance {tolerance})" + (
            f": {hint}" if hint else ""))
