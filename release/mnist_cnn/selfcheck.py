"""Students' self-checks for the MNIST CNN lesson: fast, readable, nothing hidden.

This file is released with the assignment (``release/mnist_cnn/selfcheck.py``)
and imported by the notebook's visible check cells. It knows only what the
lesson's text states: each layer's type and configuration and the total
parameter counts (with Keras' defaults it relies on: strides, dilation, bias).
It never trains, and it imports only NumPy, the standard library and, to
display its table, IPython; a check takes well under a second.
The grader's own layer tables (``graders.architecture``, which the hidden
tests call) align and read layers with the same code, so students and graders
see a model the same way; this file carries its own copy, as it runs where
the grading kit is not installed.

``check_model(model, "cnn")`` shows a per-layer table of the student's model
against the lesson's (HTML in JupyterLab, plain text elsewhere), highlights the
first difference with a hint and raises ``AssertionError`` naming it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import zip_longest
from typing import TypeVar

INPUT_SHAPE = (28, 28, 1)
SHOWN = ("filters", "units", "kernel_size", "pool_size", "activation", "padding")  # what the tables show
CONFIG_KEYS = (*SHOWN, "strides", "dilation_rate", "use_bias")  # also compared: Keras' defaults
NESTED = ("Sequential", "Functional", "Model")
COLUMNS = ("#", "lesson", "your model", "output shape", "params", "check")
# TensorFlow functions that Keras 3 saves under their own names, with the built-in activation each one equals
# (same definition, same default axis): ``tf.nn.softmax`` is saved as "softmax_v2".
TF_ACTIVATIONS = {"softmax_v2": "softmax", "log_softmax_v2": "log_softmax", "swish": "silu"}
Typed = TypeVar("Typed")  # anything with a ``type`` (a layer's class name)


@dataclass(frozen=True)
class Layer:
    """A layer as the lesson describes it, or as found in a model."""

    type: str
    config: tuple[tuple[str, object], ...] = ()
    output_shape: tuple | None = None  # found layers only
    params: int | None = None  # found layers only

    def setting(self, key: str) -> object:
        """The value of one configuration key (None if the layer has none)."""
        return dict(self.config).get(key)

    def describe(self, keys: tuple[str, ...] = SHOWN) -> str:
        """``Conv2D(32 filters, kernel 3×3, activation=relu, padding=valid)``: the settings in ``keys``."""
        parts = []
        for key, value in self.config:
            if key not in keys:
                continue
            if key in ("filters", "units"):
                parts.append(f"{value} {key}")
            elif key in ("kernel_size", "pool_size") and isinstance(value, tuple):
                parts.append(f"{key.split('_')[0]} {'×'.join(map(str, value))}")
            else:
                parts.append(f"{key}={value}")
        return f"{self.type}({', '.join(parts)})" if parts else self.type


def _lesson(*rows: tuple) -> tuple[Layer, ...]:
    return tuple(Layer(kind, tuple(config.items())) for kind, config in rows)


def _conv(filters: int) -> tuple:
    return "Conv2D", {"filters": filters, "kernel_size": (3, 3), "activation": "relu", "padding": "valid",
                      "strides": (1, 1), "dilation_rate": (1, 1), "use_bias": True}


def _dense(units: int, activation: str) -> tuple:
    return "Dense", {"units": units, "activation": activation, "use_bias": True}


POOL = ("MaxPooling2D", {"pool_size": (2, 2), "padding": "valid", "strides": (2, 2)})

# The tables of the lesson's text, and the totals it states.
LESSON: dict[str, tuple[str, tuple[Layer, ...], int]] = {
    "cnn": ("model", _lesson(_conv(32), POOL, _conv(64), POOL, _conv(128), ("Flatten", {}),
                             _dense(10, "softmax")), 104_202),
    "dense": ("dense_model", _lesson(("Flatten", {}), _dense(512, "relu"), _dense(256, "relu"),
                                     _dense(128, "relu"), _dense(10, "softmax")), 567_434),
}


def align(expected: Sequence[Typed], found: Sequence[Typed]) -> list[tuple[Typed | None, Typed | None]]:
    """Pair two layer lists by their types with ``difflib``: a missing or extra layer is a gap (None), not a shift."""
    pairs: list[tuple[Typed | None, Typed | None]] = []
    matcher = SequenceMatcher(a=[item.type for item in expected], b=[item.type for item in found], autojunk=False)
    for _tag, a0, a1, b0, b1 in matcher.get_opcodes():
        pairs.extend(zip_longest(expected[a0:a1], found[b0:b1]))
    return pairs


def _normalized(key: str, value: object) -> object:
    """Keras accepts ``3`` for ``(3, 3)``, lists for tuples, ``tf.nn.softmax`` for ``"softmax"``: compare one form."""
    if key in ("kernel_size", "pool_size", "strides", "dilation_rate") and isinstance(value, int) \
            and not isinstance(value, bool):
        return (value, value)
    if key == "activation" and isinstance(value, dict) and value.get("class_name") == "function":
        name = value.get("config")  # a function Keras has no name for, e.g. tf.nn.softmax ("softmax_v2")
        return TF_ACTIVATIONS.get(name, name) if isinstance(name, str) else None
    return tuple(value) if isinstance(value, list) else value


def output_shape(layer) -> tuple | None:
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None


def found_layers(model) -> tuple[Layer, ...]:
    """The model's layers (InputLayer excluded) with the settings the lesson talks about."""
    if not getattr(model, "built", True) or not model.layers or output_shape(model.layers[-1]) is None:
        try:
            model.build((None, *INPUT_SHAPE))  # a Sequential model without an Input
        except Exception as error:  # noqa: BLE001 (whatever Keras raises, the student needs one sentence)
            raise AssertionError(f"the model could not be built on (28, 28, 1) images: {type(error).__name__}: "
                                 f"{str(error).splitlines()[0] if str(error) else ''}") from None
    layers = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        try:
            config = layer.get_config()
        except Exception:  # noqa: BLE001 (a custom layer: compared by its type only)
            config = {}
        values = {key: _normalized(key, config[key]) for key in CONFIG_KEYS if key in config}
        settings = tuple((key, value) for key, value in values.items() if isinstance(value, (int, str, tuple)))
        try:
            params = layer.count_params()
        except ValueError:  # an unbuilt layer
            params = 0
        layers.append(Layer(type(layer).__name__, settings, output_shape(layer), params))
    return tuple(layers)


@dataclass
class Row:
    """One aligned row: the lesson's layer, the student's, and what differs."""

    expected: Layer | None
    found: Layer | None
    differences: list[str]

    def hint(self) -> str:
        """What to change in this row, in one phrase."""
        if self.found is not None and self.found.type in NESTED:
            return "build the layers directly in this model, not inside another model"
        if self.found is None:
            return f"add a {self.expected.describe()} layer here"
        if self.expected is None:
            return f"remove this {self.found.type} layer: the lesson's network has no layer here"
        if "type" in self.differences:
            return f"use a {self.expected.describe()} layer here, not a {self.found.type}"
        key = self.differences[0]
        wanted = self.expected.setting(key)
        if key == "padding":
            return f'use padding="{wanted}" (the default): the lesson\'s layers shrink the image'
        if key in ("kernel_size", "pool_size", "strides", "dilation_rate"):
            default = " (the default)" if key in ("strides", "dilation_rate") else ""
            return f"use {key}={wanted[0]}{default}"
        if key in ("filters", "units"):
            return f"use {wanted} {key}"
        if key == "use_bias":
            return "keep use_bias=True (the default)"
        return f'use {key}="{wanted}"'


def _differences(expected: Layer | None, found: Layer | None) -> list[str]:
    if expected is None or found is None:
        return ["layer"]
    if expected.type != found.type:
        return ["type"]
    return [key for key, value in expected.config if found.setting(key) != value]


@dataclass
class ModelCheck:
    """A model compared with the lesson's network; displays as a table."""

    name: str
    rows: list[Row]
    expected_params: int
    found_params: int

    @property
    def first(self) -> tuple[int, Row] | None:
        return next(((number, row) for number, row in enumerate(self.rows, 1) if row.differences), None)

    @property
    def ok(self) -> bool:
        return self.first is None and self.expected_params == self.found_params

    def summary(self) -> str:
        first = self.first
        if first is not None:
            number, row = first
            what = ("a layer is missing" if row.found is None else "an extra layer" if row.expected is None
                    else ", ".join(row.differences) + " differs")
            return f"{self.name}: layer {number}: {what}; hint: {row.hint()}"
        if self.found_params != self.expected_params:
            return (f"{self.name}: the layers match the lesson but the model has {self.found_params:,} parameters, "
                    f"not {self.expected_params:,}; hint: check the input shape, (28, 28, 1)")
        return f"{self.name} matches the lesson's network ({self.found_params:,} parameters)"

    def _cells(self, number: int, row: Row) -> list[str]:
        found, expected = row.found, row.expected
        same_type = expected is not None and found is not None and expected.type == found.type
        # the lesson's shown settings, and any that differ from it
        keys = tuple(key for key, _ in expected.config if key in SHOWN or key in row.differences) \
            if same_type else SHOWN
        return [str(number), expected.describe() if expected else "(no layer)",
                found.describe(keys) if found else "(no layer)",
                str(found.output_shape).replace(" ", "") if found and found.output_shape else "",
                f"{found.params:,}" if found and found.params is not None else "",
                "ok" if not row.differences else row.hint()]

    def __str__(self) -> str:
        lines = [list(COLUMNS)] + [self._cells(n, row) for n, row in enumerate(self.rows, 1)]
        widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
        first = self.first[0] if self.first else None
        text = []
        for index, line in enumerate(lines):
            mark = ">>" if index and index == first else "  "
            text.append(mark + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        text.append(f"  total parameters: lesson {self.expected_params:,}, your model {self.found_params:,}")
        text.append(("  " if self.ok else "  first difference: ") + self.summary())
        return "\n".join(text)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        first = self.first[0] if self.first else None
        left = ' style="text-align:left"'  # JupyterLab right-aligns table cells
        head = "".join(f"<th{left}>{column}</th>" for column in COLUMNS)
        body = []
        for number, row in enumerate(self.rows, 1):
            css = "selfcheck-first" if number == first else "selfcheck-differs" if row.differences else "selfcheck-ok"
            style = {"selfcheck-first": "background:#fdd;font-weight:bold",
                     "selfcheck-differs": "background:#fee", "selfcheck-ok": ""}[css]
            cells = "".join(f"<td{left}>{html.escape(cell)}</td>" for cell in self._cells(number, row))
            body.append(f'<tr class="{css}" style="{style}">{cells}</tr>')
        params_ok = self.found_params == self.expected_params
        body.append(f'<tr class="selfcheck-total"><td></td><td{left}>{self.expected_params:,} parameters</td>'
                    f'<td{left}>{self.found_params:,} parameters</td><td></td><td></td>'
                    f'<td{left}>{"ok" if params_ok else "total differs"}</td></tr>')
        verdict = "✔ " if self.ok else "✘ first difference: "
        color = "#060" if self.ok else "#a00"
        return (f'<div class="selfcheck-result"><table class="selfcheck"><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table>'
                f'<p style="color:{color}"><b>{verdict}</b>{html.escape(self.summary())}</p></div>')


def compare(model, lesson: str) -> ModelCheck:
    """The student's model aligned with the lesson's ``lesson`` ("cnn" or "dense") network."""
    name, expected, total = LESSON[lesson]
    found = found_layers(model)
    rows = [Row(ours, theirs, _differences(ours, theirs)) for ours, theirs in align(expected, found)]
    return ModelCheck(name, rows, total, sum(layer.params or 0 for layer in found))


def _show(result) -> None:
    try:
        from IPython.display import display
    except ImportError:
        print(result)
    else:
        display(result)


def check_model(model, lesson: str) -> ModelCheck:
    """Show the per-layer table; raise ``AssertionError`` naming the first difference."""
    name = LESSON[lesson][0]
    assert hasattr(model, "layers") and hasattr(model, "count_params"), (
        f"{name} should be a Keras model, found {type(model).__name__}: run the cell that builds it")
    result = compare(model, lesson)
    _show(result)
    assert result.ok, result.summary()
    return result


def type_in_words(type_name: str) -> str:
    """A type's module-qualified name in words: "a TensorFlow tensor (EagerTensor)", "a list", "Series (from
    pandas)". The graders name the types of a student's exported values with it too."""
    module, _, name = type_name.rpartition(".")
    if module.startswith("tensorflow"):
        return f"a TensorFlow tensor ({name})"
    return f"a {name}" if module == "builtins" else f"{name} (from {module.split('.')[0]})"


def _kind(value) -> str:
    return type_in_words(f"{type(value).__module__}.{type(value).__qualname__}")


def _array_problem(name: str, images, count: int) -> str | None:
    import numpy as np

    if not isinstance(images, np.ndarray):
        how = f"{name}.numpy()" if type(images).__module__.startswith("tensorflow") else f"np.asarray({name})"
        return f"{name} should be a NumPy array, found {_kind(images)}: convert it with {name} = {how}"
    if images.shape == (count, *INPUT_SHAPE):
        return None
    if images.shape == (count, 28, 28):
        return f"{name} has shape {images.shape}: add the channel axis with .reshape((len({name}), 28, 28, 1))"
    if images.shape == (count, 784):
        return f"{name} has shape {images.shape}: it is flattened; reshape it to ({count}, 28, 28, 1)"
    if images.size == count * 784:
        return f"{name} has shape {images.shape}: reshape it to ({count}, 28, 28, 1), one image per row"
    return (f"{name} has shape {images.shape}, expected ({count}, 28, 28, 1): re-run the data cell, then "
            "preprocess once")


def check_shapes(train_images, test_images, train_labels, test_labels) -> None:
    """Both arrays are NumPy arrays of shape (N, 28, 28, 1) and dtype float32, one image per label."""
    for name, images, labels in (("train_images", train_images, train_labels),
                                 ("test_images", test_images, test_labels)):
        problem = _array_problem(name, images, len(labels))
        assert problem is None, problem
        assert str(images.dtype) == "float32", (
            f"{name} is {images.dtype}, expected float32: convert with .astype(\"float32\")"
            + (" (float64 takes twice the memory and is slower)" if str(images.dtype) == "float64" else ""))
    print("shapes and dtype look right: (N, 28, 28, 1) float32")


def check_scaling(train_images, test_images) -> None:
    """Pixel values are scaled once to [0, 1], whatever the array's type, dtype or shape (``check_shapes``
    judges those)."""
    import numpy as np

    for name, images in (("train_images", train_images), ("test_images", test_images)):
        try:
            values = np.asarray(images, dtype=np.float64)
        except (TypeError, ValueError):
            raise AssertionError(f"{name} should hold the images' pixel values, found {_kind(images)}") from None
        assert values.size, f"{name} is empty: re-run the data cell, then the preprocessing cell"
        low, high = float(values.min()), float(values.max())
        assert high <= 1.0, (
            f"{name} has values up to {high:g}: divide by 255 to scale the pixels to [0, 1]")
        assert low >= 0.0, f"{name} has values down to {low:g}: pixels should be in [0, 1]"
        assert high > 1 / 255 + 1e-6, (
            f"{name} has values only up to {high:g}: it was divided by 255 twice; re-run the data cell, "
            "then the preprocessing cell once")
    print("values are in [0, 1]")
