"""The MNIST lesson's reference values, for its tests, benchmarks and self-check, read from its reference record.

The grader does not read this module: the notebook's hidden tests name the
values of ``grading/mnist_cnn.reference.json``, which ``graders reference
mnist_cnn`` records from the instructor solution
(``source/mnist_cnn/mnist_cnn.ipynb``) over seeds. Nothing here is written
twice: the layer tables, answers and thresholds come from that record;
``tests/test_reference.py`` rebuilds the solution's models and answers from
the notebook and checks the record against them.
"""

from __future__ import annotations

from graders.architecture import LayerSpec, total_params
from graders.lessons.mnist_cnn import ASSIGNMENT, COURSE_ROOT
from graders.reference.record import read_record, record_path

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
RECORD = read_record(record_path(COURSE_ROOT, ASSIGNMENT), f"{ASSIGNMENT}.ipynb", ASSIGNMENT)


def _layers(name: str) -> tuple[LayerSpec, ...]:
    return tuple(LayerSpec(layer["type"], tuple(layer["output_shape"]), layer["params"], layer["activation"],
                           layer["padding"]) for layer in RECORD.as_recorded("models", name)["layers"])


CNN_LAYERS: tuple[LayerSpec, ...] = _layers("model")
DENSE_LAYERS: tuple[LayerSpec, ...] = _layers("dense_model")
ARCHITECTURES: dict[str, tuple[LayerSpec, ...]] = {"cnn": CNN_LAYERS, "dense": DENSE_LAYERS}
CNN_PARAMS = total_params(CNN_LAYERS)  # 104,202
DENSE_PARAMS = total_params(DENSE_LAYERS)  # 567,434

# The autograded "To the student" questions and the solution's answers, as recorded.
QUESTIONS = ("q_pool_output_size", "q_pool_params", "q_flatten_params", "q_conv_blocks", "q_dense_activation",
             "q_param_difference")
ANSWERS: dict[str, int | str] = {question: RECORD.as_recorded("values", question) for question in QUESTIONS}

# The recorded figure behind each model's accuracy check (its notebook variable).
ACCURACY_FIGURES = {"cnn": "test_acc", "dense": "dense_test_acc"}


def data_sets() -> dict[str, dict]:
    """The record's data sets by key: each with its files, seeds, and the figures' spreads and thresholds."""
    return RECORD.data_sets


def preprocess(images):
    """The lesson's preprocessing: (N, 28, 28, 1), float32, scaled to [0, 1]."""
    return images.reshape((len(images), *INPUT_SHAPE)).astype("float32") / 255
