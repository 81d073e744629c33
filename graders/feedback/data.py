"""What students' feedback plots are made of, measured in the grader from the objects brought across.

At the end of the notebook every Keras model and ``History`` of the
student's namespace is brought across: the training curves are each
``History`` that ``model.fit`` returned (named after the model it trained),
the confusion matrix is the first model's predictions on the held-out arrays
the assignment's ``grading/ASSIGNMENT.toml`` names (``[feedback]``), when it
names some, with the names of their classes when known (``class_names``).
Neither plays any part in a score.
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


def class_names(held_out: dict, arrays: dict[str, np.ndarray]) -> list[str]:
    """The names of the held-out classes, label 0 first: ``held_out``'s ``classes`` (the settings'
    ``[feedback] classes``), else the data file's ``class_names`` array (1-D unicode, as ``graders data write``
    writes it), else none (``[]``: the plot numbers them).

    Raises:
        ValueError: the data file's ``class_names`` is not a 1-D array of strings.
    """
    if held_out.get("classes"):
        return [str(name) for name in held_out["classes"]]
    names = arrays.get("class_names")
    if names is None:
        return []
    if names.ndim != 1 or names.dtype.kind != "U":
        raise ValueError(f"the data file's class_names should be a 1-D array of strings, not {names.dtype} "
                         f"of shape {names.shape}")
    return names.tolist()


def confusion_matrix(model, images: np.ndarray, labels: np.ndarray, classes: int | None = None) -> list[list[int]]:
    """Counts of (true class, predicted class) of ``model`` over held-out raw ``images`` and their ``labels``
    (the images in the model's input format as ``checks.model_inputs`` makes it, without a student's array):
    ``classes`` × ``classes`` (the number of class names when known, else one more than the largest label).

    Raises:
        ValueError: a label is not below ``classes``, or the model does not
            predict one probability per class for each image.
    """
    from graders.checks import model_inputs, predictions

    labels = np.asarray(labels).astype(int).ravel()
    if classes is None:
        classes = int(max(labels.max() + 1, 2))
    elif labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"the held-out labels go from {labels.min()} to {labels.max()}, but {classes} classes are "
                         f"named (labels 0 to {classes - 1})")
    probabilities = predictions(model, model_inputs(images))
    if probabilities.shape != (len(labels), classes):
        raise ValueError(f"the model's predictions have shape {probabilities.shape}, not ({len(labels)}, {classes})")
    matrix = np.zeros((classes, classes), dtype=int)
    np.add.at(matrix, (labels, np.argmax(probabilities, axis=-1)), 1)
    return matrix.tolist()


def feedback_data(namespace: dict, held_out: dict | None = None) -> dict:
    """Gradescope ``extra_data``: training curves, and the first model's confusion matrix on ``held_out`` (a data
    file's variable, the names of its images and labels arrays and the classes' names, ``HeldOut``'s fields) when
    given, and its classes' names as ``confusion_matrix_classes`` when known (``class_names``)."""
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
            names = class_names(held_out, arrays)
            data["confusion_matrix"] = {name: confusion_matrix(model, arrays[held_out["images"]],
                                                               arrays[held_out["labels"]], len(names) or None)}
            if names:
                data["confusion_matrix_classes"] = names
        except (Exception, AssertionError) as error:  # noqa: BLE001 (a broken model only loses its plot)
            data["confusion_matrix_problem"] = f"{type(error).__name__}: {str(error)[:200]}"
    return data
