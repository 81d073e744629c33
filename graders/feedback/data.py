"""What students' feedback plots are made of, measured in the grader from the objects brought across.

At the end of the notebook every Keras model and ``History`` of the
student's namespace is brought across: the training curves are each
``History`` that ``model.fit`` returned (named after the model it trained),
the confusion matrix is the first model's predictions on the held-out arrays
the assignment's ``grading/ASSIGNMENT.toml`` names (``[feedback]``), when it
names some. Neither plays any part in a score.
"""

from __future__ import annotations

import math
import sys

import numpy as np

MAX_EPOCHS = 1000
MAX_METRICS = 10


def _finite(value) -> float | None:
    return float(value) if math.isfinite(value) else None  # NaN and infinity are not JSON: a gap in the curve


def curves_of(history) -> dict[str, list[float | None]]:
    """A ``History``'s numeric curves (metric -> one value per epoch), anything else dropped."""
    logs = getattr(history, "history", None)
    if not isinstance(logs, dict):
        return {}
    return {str(metric)[:40]: [_finite(v) for v in values[:MAX_EPOCHS]]
            for metric, values in list(logs.items())[:MAX_METRICS]
            if isinstance(values, list)
            and all(isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) for v in values)}


def confusion_matrix(model, images: np.ndarray, labels: np.ndarray) -> list[list[int]]:
    """Counts of (true class, predicted class) of ``model`` over held-out raw ``images`` and their ``labels``
    (the images in the model's input format as ``checks.model_inputs`` makes it, without a student's array)."""
    from graders.checks import model_inputs, predictions

    probabilities = predictions(model, model_inputs(images))
    labels = np.asarray(labels).astype(int).ravel()
    classes = int(max(labels.max() + 1, 2))
    if probabilities.shape != (len(labels), classes):
        raise ValueError(f"the model's predictions have shape {probabilities.shape}, not ({len(labels)}, {classes})")
    matrix = np.zeros((classes, classes), dtype=int)
    np.add.at(matrix, (labels, np.argmax(probabilities, axis=-1)), 1)
    return matrix.tolist()


def feedback_data(namespace: dict, held_out: dict | None = None) -> dict:
    """Gradescope ``extra_data``: training curves, and the first model's confusion matrix on ``held_out`` (a data
    file's variable and the names of its images and labels arrays, ``HeldOut``'s fields) when given."""
    keras = sys.modules.get("keras")
    if keras is None:  # nothing was rebuilt with Keras, so the namespace holds no model and no History
        return {"training_history": {}}
    histories = {getattr(value, "graders_model_name", None) or name: curves_of(value)
                 for name, value in namespace.items() if isinstance(value, keras.callbacks.History)}
    data: dict = {"training_history": {name: curves for name, curves in histories.items() if curves}}
    models = [(name, value) for name, value in namespace.items() if isinstance(value, keras.Model)]
    if models and held_out:
        from graders.checks import grader_data

        name, model = models[0]
        try:
            arrays = grader_data(held_out["variable"])
            data["confusion_matrix"] = {name: confusion_matrix(model, arrays[held_out["images"]],
                                                               arrays[held_out["labels"]])}
        except (Exception, AssertionError) as error:  # noqa: BLE001 (a broken model only loses its plot)
            data["confusion_matrix_problem"] = f"{type(error).__name__}: {str(error)[:200]}"
    return data
