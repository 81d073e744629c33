"""What students' feedback plots are made of, measured in the grader from the objects brought across.

At the end of the notebook every Keras model and ``History`` of the
student's namespace is brought across: the training curves are each
``History`` that ``model.fit`` returned (named after the model it trained),
the confusion matrix is the first model's predictions on the grader's own
test images. Neither plays any part in a score.
"""

from __future__ import annotations

import math

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


def confusion_matrix(model, test_images=None) -> list[list[int]]:
    """Counts of (true class, predicted class) over the grader's test images."""
    from graders.checks import predictions_on_test_set

    probabilities, labels = predictions_on_test_set(model, test_images)
    classes = int(max(labels.max() + 1, 2))
    if probabilities.shape != (len(labels), classes):
        raise ValueError(f"the model's predictions have shape {probabilities.shape}, not ({len(labels)}, {classes})")
    matrix = np.zeros((classes, classes), dtype=int)
    np.add.at(matrix, (labels.astype(int), np.argmax(probabilities, axis=-1)), 1)
    return matrix.tolist()


def feedback_data(namespace: dict) -> dict:
    """Gradescope ``extra_data``: training curves and the first model's confusion matrix, when there are any."""
    import keras

    histories = {getattr(value, "graders_model_name", None) or name: curves_of(value)
                 for name, value in namespace.items() if isinstance(value, keras.callbacks.History)}
    data: dict = {"training_history": {name: curves for name, curves in histories.items() if curves}}
    models = [(name, value) for name, value in namespace.items() if isinstance(value, keras.Model)]
    if models:
        name, model = models[0]
        try:
            data["confusion_matrix"] = {name: confusion_matrix(model)}
        except Exception as error:  # noqa: BLE001 (a broken model only loses its plot)
            data["confusion_matrix_problem"] = f"{type(error).__name__}: {str(error)[:200]}"
    return data
