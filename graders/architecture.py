"""A Keras model's layers as a table, compared with the table a lesson states, layer by layer.

General for any Keras lesson: the expected table is an argument (the
instructor writes it in a hidden test, see ``graders.checks.check_layers``).
Layers are aligned with ``difflib`` on their types, so a missing or extra
layer shows up as a gap in the table instead of shifting every later row (the
mistake of checkers that ``zip`` the two lists). A lesson's released
self-check module may carry the same reading code (``align``, the
normalisation of Keras' settings): it runs where this package is not
installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from itertools import zip_longest
from typing import TypeVar

FIELDS = ("type", "output_shape", "params", "activation", "padding")
CONFIG_KEYS = ("filters", "units", "kernel_size", "pool_size", "activation", "padding", "strides",
               "dilation_rate", "use_bias")
# TensorFlow functions that Keras 3 saves under their own names, with the built-in activation each one equals
# (same definition, same default axis): ``tf.nn.softmax`` is saved as "softmax_v2".
TF_ACTIVATIONS = {"softmax_v2": "softmax", "log_softmax_v2": "log_softmax", "swish": "silu"}
Typed = TypeVar("Typed")  # anything with a ``type`` (a layer's class name)


@dataclass(frozen=True)
class LayerSpec:
    """One row of a layer table (InputLayer excluded): what the checks compare.

    ``output_shape`` is Keras' (batch axis None); ``params`` the layer's
    parameter count; ``activation`` and ``padding`` as Keras names them
    (None for layers without one).
    """

    type: str
    output_shape: tuple[int | None, ...]
    params: int
    activation: str | None = None
    padding: str | None = None

    def describe(self) -> str:
        """One-line description for failure tables."""
        extra = [f"act={self.activation}" if self.activation else "", f"pad={self.padding}" if self.padding else ""]
        details = " ".join(part for part in extra if part)
        shape = str(self.output_shape).replace(" ", "")
        return f"{self.type} {shape} {self.params:,}p {details}".rstrip()


def total_params(layers: Sequence[LayerSpec]) -> int:
    """Total parameter count of a layer table."""
    return sum(layer.params for layer in layers)


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


def describe_model(model, input_shape: tuple | None = None) -> tuple[LayerSpec, ...]:
    """The model's layers (InputLayer excluded) as ``LayerSpec`` rows.

    A model that was never built (a ``Sequential`` without an ``Input``) is
    built on ``input_shape`` (one example's shape, no batch axis) first.

    Raises:
        AssertionError: the model has no layers' shapes and cannot be built
            on ``input_shape`` (or none is given), in one sentence for the
            student.
    """
    if not getattr(model, "built", True) or not model.layers or output_shape(model.layers[-1]) is None:
        if input_shape is None:
            raise AssertionError("the model was never built: start it with keras.Input(shape=...)")
        try:
            model.build((None, *input_shape))
        except Exception as error:  # noqa: BLE001 (whatever Keras raises, the student needs one sentence)
            first = str(error).splitlines()[0] if str(error) else ""
            raise AssertionError(f"the model could not be built on {tuple(input_shape)} inputs: "
                                 f"{type(error).__name__}: {first}") from None
    rows = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        try:
            config = layer.get_config()
        except Exception:  # noqa: BLE001 (a custom layer: compared by its type only)
            config = {}
        values = {key: _normalized(key, config[key]) for key in CONFIG_KEYS if key in config}
        try:
            params = layer.count_params()
        except ValueError:  # an unbuilt layer
            params = 0
        activation, padding = values.get("activation"), values.get("padding")
        rows.append(LayerSpec(type(layer).__name__, output_shape(layer), params,
                              activation if isinstance(activation, str) else None,
                              padding if isinstance(padding, str) else None))
    return tuple(rows)


def type_in_words(type_name: str) -> str:
    """A type's module-qualified name in words: "a TensorFlow tensor (EagerTensor)", "a list", "Series (from
    pandas)". The graders name the types of a student's exported values with it too."""
    module, _, name = type_name.rpartition(".")
    if module.startswith("tensorflow"):
        return f"a TensorFlow tensor ({name})"
    return f"a {name}" if module == "builtins" else f"{name} (from {module.split('.')[0]})"



@dataclass
class Row:
    """One aligned row: expected and found layer (either may be missing)."""

    expected: LayerSpec | None
    found: LayerSpec | None
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


@dataclass
class Comparison:
    """The aligned table of a model against a reference architecture."""

    rows: list[Row]
    expected_params: int
    found_params: int

    @property
    def first_difference(self) -> tuple[int, Row] | None:
        for number, row in enumerate(self.rows, start=1):
            if not row.ok:
                return number, row
        return None

    @property
    def matches(self) -> bool:
        return self.first_difference is None and self.expected_params == self.found_params

    def table(self) -> str:
        """Plain-text table, expected against found, differences marked."""
        lines = [f"{'#':>2}  {'expected':<42} {'found':<42} check"]
        for number, row in enumerate(self.rows, start=1):
            expected = row.expected.describe() if row.expected else "(no layer)"
            found = row.found.describe() if row.found else "(no layer)"
            status = "ok" if row.ok else "DIFFERS: " + ", ".join(row.differences)
            lines.append(f"{number:>2}  {expected:<42} {found:<42} {status}")
        lines.append(f"    total params: expected {self.expected_params:,}, found {self.found_params:,}")
        return "\n".join(lines)

    def summary(self) -> str:
        """One sentence naming the first difference."""
        first = self.first_difference
        if first is None:
            if self.expected_params != self.found_params:
                return (f"the layers match but the total parameter count differs: "
                        f"expected {self.expected_params:,}, found {self.found_params:,}")
            return "the architecture matches"
        number, row = first
        if row.found is None:
            return f"layer {number}: a {row.expected.type} layer is missing"
        if row.expected is None:
            return f"layer {number}: extra {row.found.type} layer that the lesson's network does not have"
        parts = []
        for name in row.differences:
            parts.append(f"{name.replace('_', ' ')} expected {getattr(row.expected, name)!r}, "
                         f"found {getattr(row.found, name)!r}")
        return f"layer {number} ({row.expected.type}): " + "; ".join(parts)


def _differences(expected: LayerSpec | None, found: LayerSpec | None) -> list[str]:
    if expected is None:
        return ["extra layer"]
    if found is None:
        return ["missing layer"]
    return [name for name in FIELDS if getattr(expected, name) != getattr(found, name)]


def compare_layers(expected: tuple[LayerSpec, ...], found: tuple[LayerSpec, ...]) -> Comparison:
    """Align ``found`` with ``expected`` and mark every difference."""
    rows = [Row(exp, got, _differences(exp, got)) for exp, got in align(expected, found)]
    return Comparison(rows, total_params(expected), sum(s.params for s in found))


def compare_model(model, expected: tuple[LayerSpec, ...], input_shape: tuple | None = None) -> Comparison:
    """Compare a Keras model with a reference architecture (``input_shape``: see ``describe_model``)."""
    return compare_layers(expected, describe_model(model, input_shape))
