"""Figures for students' feedback, as base64 PNGs: the training curves and the confusion matrix."""

from __future__ import annotations

import base64
import io

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


def confusion_matrix(matrix: list[list[int]], title: str) -> str:
    """A confusion matrix: true class down, predicted class across, counts in the cells."""
    figure, axes = plt.subplots(figsize=(5, 4.4))
    image = axes.imshow(matrix, cmap="Blues")
    peak = max(max(row) for row in matrix) or 1
    for true, row in enumerate(matrix):
        for predicted, count in enumerate(row):
            if count:
                axes.text(predicted, true, str(count), ha="center", va="center", fontsize=7,
                          color="white" if count > peak / 2 else "black")
    axes.set(xlabel="predicted class", ylabel="true class", title=title, xticks=range(len(matrix)),
             yticks=range(len(matrix)))
    figure.colorbar(image, ax=axes, fraction=0.046)
    return png_base64(figure)
