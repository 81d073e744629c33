"""Checks of the MNIST CNN assignment, run by the grader on the exported objects.

One test per autograded cell of the notebook, named by its grade_id; its
points are that cell's. Each test does what the cell's visible and hidden
tests do, with the same functions of ``graders.checks``. Tests marked
``hidden`` show their output to students only after the due date.
"""

import pytest

from graders import checks
from graders.data import load_provisioned

hidden = pytest.mark.hidden
READ_OFF_THE_MODELS = ("q_pool_output_size", "q_conv_blocks", "q_param_difference")  # as the notebook's cells pass


def check_io_shapes(model, name: str) -> None:
    assert tuple(model.inputs[0].shape) == (None, 28, 28, 1), (
        f"{name} should take inputs of shape (None, 28, 28, 1), found {tuple(model.inputs[0].shape)}")
    assert tuple(model.outputs[0].shape) == (None, 10), (
        f"{name} should output shape (None, 10), found {tuple(model.outputs[0].shape)}")


def test_preprocess_shapes(exports):
    (train, _), (test, _) = load_provisioned()
    checks.check_shape_and_dtype("train_images", exports.get("train_images"), len(train))
    checks.check_shape_and_dtype("test_images", exports.get("test_images"), len(test))


@hidden
def test_preprocess_values(exports):
    checks.check_preprocessing(exports.get("train_images"), exports.get("test_images"))


def test_cnn_shapes(exports):
    check_io_shapes(exports.get("model"), "model")


@hidden
def test_cnn_architecture(exports):
    checks.check_architecture(exports.get("model"), "cnn")


@hidden
@pytest.mark.parametrize("question", ["q_pool_output_size", "q_pool_params", "q_flatten_params", "q_conv_blocks",
                                      "q_dense_activation", "q_param_difference"])
def test_q(exports, question):
    own_models = {"model": exports.models.get("model"), "dense_model": exports.models.get("dense_model")} \
        if question in READ_OFF_THE_MODELS else {}
    checks.check_answer(question, exports.get(question), **own_models)


@hidden
def test_cnn_accuracy(exports):
    checks.check_accuracy(exports.get("model"), "cnn", exports.arrays.get("test_images"))


def test_dense_shapes(exports):
    check_io_shapes(exports.get("dense_model"), "dense_model")


@hidden
def test_dense_architecture(exports):
    checks.check_architecture(exports.get("dense_model"), "dense")


@hidden
def test_dense_accuracy(exports):
    checks.check_accuracy(exports.get("dense_model"), "dense", exports.arrays.get("test_images"))


@hidden
def test_q_accuracy_difference(exports):
    answer = exports.get("q_accuracy_difference")
    assert isinstance(answer, float), "q_accuracy_difference should be a float"
    checks.check_accuracy_difference(answer, exports.get("model"), exports.get("dense_model"),
                                     exports.arrays.get("test_images"))
