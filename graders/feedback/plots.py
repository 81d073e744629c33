"""Figures for students' feedback, as base64 PNGs: the training curves and the confusion matrix."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def png_base64(figure) -> str:
    """The figure as a base64 PNG (and closed)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def training_curves(histories: dict[str, dict[str, list[float | None]]]) -> str | None:
    """Loss and accuracy per epoch of each model the notebook trained; None if it recorded none."""
    curves = {name: logs for name, logs in histories.items() if logs.get("loss") or logs.get("accuracy")}
    if not curves:
        return None
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(9, 3.2))
    for name, logs in curves.items():
        label = name
        for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
            values = [float("nan") if value is None else value for value in logs.get(metric) or []]  # None: NaN
            axes.plot(range(1, len(values) + 1), values, marker="o", label=label)
    loss_axes.set(xlabel="epoch", ylabel="training loss", title="Training loss (from model.fit's history)")
    accuracy_axes.set(xlabel="epoch", ylabel="training accuracy", title="Training accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.legend()
        axes.grid(alpha=0.3)
    return png_base64(figure)


def confusion_figure(matrix: list[list[int]], title: str, classes: Sequence[str] = ()):
    """A confusion matrix as a matplotlib figure: true class down, predicted class across, counts in the cells;
    the ticks show ``classes`` (one name per row, label 0 first; predicted names rotated so that ten names like
    "T-shirt/top" stay readable), or the classes' numbers without one name per row."""
    named = len(classes) == len(matrix)
    figure, axes = plt.subplots(figsize=(6.2, 5.6) if named else (5, 4.4))
    image = axes.imshow(matrix, cmap="Blues")
    peak = max(max(row) for row in matrix) or 1
    for true, row in enumerate(matrix):
        for predicted, count in enumerate(row):
            if count:
                axes.text(predicted, true, str(count), ha="center", va="center", fontsize=7,
                          color="white" if count > peak / 2 else "black")
    ticks = range(len(matrix))
    axes.set(xlabel="predicted class", ylabel="true class", title=title, xticks=ticks, yticks=ticks)
    if named:
        axes.set_xticklabels(classes, rotation=45, ha="right", rotation_mode="anchor", fontsize=8)
        axes.set_yticklabels(classes, fontsize=8)
    figure.colorbar(image, ax=axes, fraction=0.046)
    return figure


def confusion_matrix(matrix: list[list[int]], title: str, classes: Sequence[str] = ()) -> str:
    """The confusion matrix of ``confusion_figure`` as a base64 PNG."""
    return png_base64(confusion_figure(matrix, title, classes))
