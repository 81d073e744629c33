"""What students' feedback plots are made of, measured in the grader from the exports.

The training curves are the ``History`` the notebook's ``model.fit`` returned;
the confusion matrix is the exported convnet's predictions on the grader's own
test images. Neither plays any part in a score.
"""

from __future__ import annotations

import numpy as np

from graders.checks import predictions_on_test_set
from graders.export import Exports
from graders.reference import NUM_CLASSES


def confusion_matrix(model, test_images=None) -> list[list[int]]:
    """Counts of (true digit, predicted digit) over the grader's test images."""
    probabilities, labels = predictions_on_test_set(model, test_images)
    if probabilities.shape != (len(labels), NUM_CLASSES):
        raise ValueError(f"the model's predictions have shape {probabilities.shape}, not ({len(labels)}, 10)")
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=int)
    np.add.at(matrix, (labels.astype(int), np.argmax(probabilities, axis=-1)), 1)
    return matrix.tolist()


def feedback_data(exports: Exports) -> dict:
    """Gradescope ``extra_data``: training curves and the convnet's confusion matrix, when there are any."""
    data: dict = {"training_history": exports.histories}
    model = exports.models.get("model")
    if model is not None:
        try:
            data["confusion_matrix"] = {"model": confusion_matrix(model, exports.arrays.get("test_images"))}
        except Exception as error:  # noqa: BLE001 (a broken model only loses its plot)
            data["confusion_matrix_problem"] = f"{type(error).__name__}: {str(error)[:200]}"
    return data
