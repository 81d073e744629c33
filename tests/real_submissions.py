"""Submissions shaped the way real ones arrive, each with the score a careful human grader gives.

Other front ends' files (a byte-order mark, UTF-16, Colab's and JupyterLab 3's
metadata, cell metadata an editor dropped), TensorFlow-style preprocessing,
renamed, copied and nested notebooks. Each entry is built from the course's
release, as the corpus entries are; most start from ``FROZEN`` with the
lesson's preprocessing (4 points: the preprocessing's 3 and the convnet's
shapes), so they grade in seconds, and ``lost_metadata`` starts from the full
solution (20 points).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import nbformat
from corpus import FROZEN_MODEL

from graders.course.assignment import grade_id
from graders.lessons.mnist_cnn import autograded_tests
from graders.lessons.mnist_cnn.samples import fill_answers, solution_code

NOTEBOOK = "mnist_cnn.ipynb"
FROZEN_PASSES = frozenset({"test_preprocess_shapes", "test_preprocess_values", "test_cnn_shapes"})
ANSWER = "Reshaping adds the channel axis Conv2D needs; float32 matches the weights; dividing by 255 scales to [0, 1]."


def filled(source_nb, release_nb, base: str = "frozen", **code: str) -> nbformat.NotebookNode:
    """The release with answers filled in: ``frozen`` (the preprocessing and a frozen model) or ``solution``;
    ``code`` replaces the solution of the cells it names."""
    solutions = solution_code(source_nb)
    if base == "frozen":
        solutions = {"preprocess": solutions["preprocess"], "cnn_model": FROZEN_MODEL.strip()}
    return fill_answers(release_nb, {**solutions, **code})


def text(notebook) -> str:
    return json.dumps(nbformat.from_dict(notebook), indent=1, ensure_ascii=False) + "\n"


def without_metadata(notebook, *names: str, answers: dict[str, str] | None = None):
    """Cells ``names`` saved with ``"metadata": {}`` (and a written answer in those ``answers`` names)."""
    notebook = nbformat.from_dict(notebook)
    for cell in notebook.cells:
        name = grade_id(cell)
        if name in (answers or {}):
            cell.source = answers[name]
        if name in names:
            cell.metadata = {}
    return notebook


def colab(notebook):
    """Saved by Colab: its notebook metadata (widget state without the top-level "state") and cell ids."""
    notebook = nbformat.from_dict(notebook)
    notebook.metadata = {
        "colab": {"provenance": [], "name": NOTEBOOK, "gpuType": "T4"}, "accelerator": "GPU",
        "kernelspec": {"name": "python3", "display_name": "Python 3"}, "language_info": {"name": "python"},
        "widgets": {"application/vnd.jupyter.widget-state+json": {
            "0f6c5b2a9e3d4c1b8a7f6e5d4c3b2a19": {"model_module": "@jupyter-widgets/controls",
                                                 "model_name": "HBoxModel", "model_module_version": "1.5.0",
                                                 "state": {"children": []}}}}}
    for number, cell in enumerate(notebook.cells):
        cell.metadata.update({"id": f"cell{number:04d}", "colab": {"base_uri": "https://localhost:8080/"}})
        if cell.cell_type == "code":
            cell.metadata["outputId"] = f"out{number:04d}"
    return notebook


def jupyterlab3(notebook):
    """Saved by JupyterLab 3 with ipywidgets and the execute-time extension, in nbformat 4.4 (no cell ids)."""
    data = json.loads(text(notebook))
    data["nbformat_minor"] = 4
    data["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "version_major": 2, "version_minor": 0, "state": {"a1": {"model_name": "FloatProgressModel"}}}}
    for cell in data["cells"]:
        cell.pop("id", None)
        cell["metadata"].update({"collapsed": False, "scrolled": "auto", "tags": ["exercise"],
                                 "execution": {"iopub.status.busy": "2023-03-01T10:00:00.000Z"}})
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": {
                "application/vnd.jupyter.widget-view+json": {"model_id": "a1", "version_major": 2,
                                                             "version_minor": 0},
                "text/plain": "FloatProgress(value=1.0)"}}]
    return json.dumps(data, indent=1) + "\n"


@dataclass(frozen=True)
class RealSubmission:
    """One submission folder: its files (name -> bytes), the test cells it fails, and a note to find."""

    student: str
    files: Callable[[nbformat.NotebookNode, nbformat.NotebookNode], dict[str, bytes]]
    fails: frozenset[str] = field(default_factory=frozenset)  # beyond what its base fails
    base: str = "frozen"
    message: str = ""  # in results.json's output
    answer_cell: str | None = None  # a written answer that formgrader must show in this labelled cell

    def expected(self, release_nb) -> dict[str, float]:
        """The score of each autograded test cell."""
        tests = autograded_tests(release_nb)
        passing = (FROZEN_PASSES if self.base == "frozen" else set(tests)) - self.fails
        return {name: points if name in passing else 0.0 for name, points in tests.items()}


def _one(notebook_text: str, name: str = NOTEBOOK) -> dict[str, bytes]:
    return {name: notebook_text.encode()}


REAL_SUBMISSIONS: tuple[RealSubmission, ...] = (
    RealSubmission("bom", lambda s, r: {NOTEBOOK: b"\xef\xbb\xbf" + text(filled(s, r)).encode()}),
    RealSubmission("utf16", lambda s, r: {NOTEBOOK: text(filled(s, r)).encode("utf-16")}),  # with its own BOM
    RealSubmission(
        "lost_metadata", base="solution", answer_cell="q_preprocessing_purpose",
        files=lambda s, r: _one(text(without_metadata(
            filled(s, r, "solution"), "preprocess", "test_preprocess_shapes", "q_preprocessing_purpose",
            answers={"q_preprocessing_purpose": ANSWER}))),
        message="cell preprocess: its nbgrader metadata was missing"),
    RealSubmission(
        "lost_metadata_model", answer_cell="q_softmax_calculation",
        files=lambda s, r: _one(text(without_metadata(
            filled(s, r), "cnn_model", "test_cnn_shapes", "q_softmax_calculation",
            answers={"q_softmax_calculation": ANSWER}))),
        message="cell cnn_model: its nbgrader metadata was missing"),
    RealSubmission("colab", lambda s, r: _one(text(colab(filled(s, r))))),
    RealSubmission("jupyterlab3", lambda s, r: _one(jupyterlab3(filled(s, r)))),
    RealSubmission(
        "float64", fails=frozenset({"test_preprocess_shapes"}), message="train_images is float64, expected float32",
        files=lambda s, r: _one(text(filled(s, r, preprocess=solution_code(s)["preprocess"].replace(
            '"float32"', '"float64"'))))),
    RealSubmission(
        "list_of_images", fails=frozenset({"test_preprocess_shapes"}), message="should be a NumPy array, found a list",
        files=lambda s, r: _one(text(filled(s, r, preprocess=solution_code(s)["preprocess"] + (
            "\ntrain_images, test_images = list(train_images), list(test_images)"))))),
    RealSubmission("renamed", lambda s, r: _one(text(filled(s, r)), "mnist_cnn (1).ipynb"),
                   message="graded mnist_cnn (1).ipynb as mnist_cnn.ipynb"),
    RealSubmission("nested_folder", lambda s, r: _one(text(filled(s, r)), "mnist_cnn/mnist_cnn.ipynb"),
                   message="graded mnist_cnn/mnist_cnn.ipynb as mnist_cnn.ipynb"),
    RealSubmission(
        "copy_beside_blank", fails=FROZEN_PASSES,
        files=lambda s, r: {NOTEBOOK: text(r).encode(), "mnist_cnn-Copy1.ipynb": text(filled(s, r)).encode()},
        message="mnist_cnn.ipynb is the release with no answer filled in; the submission also has "
                "mnist_cnn-Copy1.ipynb (not graded)"),
)
