"""The reference values in graders/lessons/mnist_cnn/reference.py match the instructor solution."""

from __future__ import annotations

import keras
import nbformat
import numpy as np
import pytest
from conftest import ROOT
from keras import layers

from graders.architecture import describe_model
from graders.course.datasets import load_npz
from graders.lessons.mnist_cnn import reference
from graders.lessons.mnist_cnn.samples import solution_code

SOURCE = ROOT / "source" / "mnist_cnn" / "mnist_cnn.ipynb"


@pytest.fixture(scope="module")
def solution_namespace():
    """Run the instructor's model and answer solutions (no training) in one namespace."""
    solutions = solution_code(nbformat.read(SOURCE, as_version=4))
    namespace = {"keras": keras, "layers": layers, "np": np}
    for grade_id in ("cnn_model", "dense_model", *sorted(reference.ANSWERS)):
        exec(solutions[grade_id], namespace)  # noqa: S102 (the course's own solution)
    return namespace


def test_reference_cnn_is_the_solution_model(solution_namespace):
    assert describe_model(solution_namespace["model"]) == reference.CNN_LAYERS
    assert solution_namespace["model"].count_params() == reference.CNN_PARAMS == 104_202


def test_reference_dense_network_is_the_solution_model(solution_namespace):
    assert describe_model(solution_namespace["dense_model"]) == reference.DENSE_LAYERS
    assert solution_namespace["dense_model"].count_params() == reference.DENSE_PARAMS == 567_434


@pytest.mark.parametrize("question", sorted(reference.ANSWERS))
def test_reference_answers_are_the_solution_answers(solution_namespace, question):
    assert solution_namespace[question] == reference.ANSWERS[question]


def test_reference_preprocessing_is_the_solution_preprocessing(sample_npz):
    (train, train_labels), (test, test_labels) = load_npz(sample_npz)
    namespace = {"train_images": train, "test_images": test}
    exec(solution_code(nbformat.read(SOURCE, as_version=4))["preprocess"], namespace)  # noqa: S102
    np.testing.assert_array_equal(namespace["train_images"], reference.preprocess(train))
    np.testing.assert_array_equal(namespace["test_images"], reference.preprocess(test))


def test_every_q_answer_cell_has_a_reference_or_a_check():
    notebook = nbformat.read(SOURCE, as_version=4)
    q_cells = {cell.metadata["nbgrader"]["grade_id"]: cell for cell in notebook.cells
               if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("q_")}
    autograded = {name for name, cell in q_cells.items() if cell.cell_type == "code"}
    assert autograded == set(reference.ANSWERS) | {"q_accuracy_difference"}
    manual = {name for name, cell in q_cells.items() if cell.cell_type == "markdown"}
    assert manual == {"q_preprocessing_purpose", "q_softmax_calculation", "q_comparison"}
