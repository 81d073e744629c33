"""Compare a Keras 3 model with a reference architecture, layer by layer.

Layers are aligned with ``difflib`` on their types (``graders.selfcheck.align``,
shared with the students' self-checks), so a missing or extra
layer shows up as a gap in the table instead of shifting every later row (the
mistake of checkers that ``zip`` the two lists).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graders.reference import LayerSpec, total_params
from graders.selfcheck import align, found_layers

FIELDS = ("type", "output_shape", "params", "activation", "padding")


def describe_model(model) -> tuple[LayerSpec, ...]:
    """The model's layers (InputLayer excluded) as ``LayerSpec`` rows."""
    return tuple(LayerSpec(layer.type, layer.output_shape, layer.params, layer.setting("activation"),
                           layer.setting("padding")) for layer in found_layers(model))


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


def compare_model(model, expected: tuple[LayerSpec, ...]) -> Comparison:
    """Compare a Keras model with a reference architecture."""
    return compare_layers(expected, describe_model(model))
