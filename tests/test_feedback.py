"""Feedback for students: checks with points and messages, plots, and never hidden test code."""

import json
import re

import keras
import nbformat
import numpy as np
from conftest import cnn_layers, sequential
from nbconvert import HTMLExporter
from nbconvert.exporters.exporter import ResourcesDict
from traitlets.config import Config

from graders.autograde.fingerprint import submission_hash
from graders.autograde.store import ResultStore, State
from graders.feedback.data import confusion_matrix, curves_of, feedback_data
from graders.feedback.page import AddGraderFeedback, HideHiddenTests, feedback_html, plot_images, write_feedback

HISTORY = {"loss": [0.7, 0.2, 0.1], "accuracy": [0.8, 0.93, 0.96]}
MATRIX = [[91 if i == j else 1 for j in range(10)] for i in range(10)]
RESULTS = {
    "score": 17, "max_score": 20,
    "output": "sandbox: the grader is not root, so the kernel ran without isolation\ncell `cnn_fit`: timed out",
    "tests": [{"name": "test_cnn_shapes", "score": 1, "max_score": 1, "output": "passed"},
              {"name": "test_cnn_architecture", "score": 0, "max_score": 3,
               "output": "layer 1 (Conv2D): padding expected 'valid', found 'same' <script>\n\n #  expected  found"}],
    "extra_data": {"training_history": {"model": HISTORY, "dense_model": HISTORY},
                   "confusion_matrix": {"model": MATRIX}},
}


def test_engine_feedback_page_has_points_messages_and_two_plots():
    page = feedback_html(RESULTS, "ada", "mnist_cnn")
    assert "17 / 20" in page and "0 / 3" in page and "padding expected" in page
    assert "<script>" not in page  # the message is escaped
    assert page.count("data:image/png;base64,") == 2 and "910 of 1,000 right" in page


def test_no_recorded_training_means_no_curve_but_still_a_matrix():
    images = plot_images({"training_history": {}, "confusion_matrix": {"model": MATRIX}})
    assert list(images) == ["Confusion matrix (910 of 1,000 right)"]
    assert "No plots" in feedback_html({**RESULTS, "extra_data": {}}, "ada", "mnist_cnn")


def test_write_feedback_beside_results(tmp_path):
    assert "feedback for ada" in write_feedback(tmp_path / "ada", RESULTS, "ada", "mnist_cnn").read_text()


def test_hidden_test_code_and_its_traceback_are_removed():
    cell = nbformat.v4.new_code_cell(
        "print('visible')\n### BEGIN HIDDEN TESTS\nfrom graders import checks\nchecks.check_answer('q', q)\n"
        "### END HIDDEN TESTS")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "test_q", "points": 1, "solution": False}
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="q = 3 is not the right answer",
                                           traceback=["----> 4 checks.check_answer('q', q)", "AssertionError"])]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook, _ = HideHiddenTests().preprocess(notebook, ResourcesDict())
    (cleaned,) = notebook.cells
    assert cleaned.source == "print('visible')" and "check_answer" not in json.dumps(cleaned.outputs)
    assert cleaned.outputs[0].traceback == ["AssertionError: q = 3 is not the right answer"]


def test_only_the_students_notes_are_shown():
    page = feedback_html(RESULTS, "ada", "mnist_cnn")
    assert "timed out" in page and "sandbox" not in page


def add_feedback(course, student: str) -> nbformat.NotebookNode:
    config = Config()
    config.CourseDirectory.root = str(course)
    resources = ResourcesDict(nbgrader={"assignment": "mnist_cnn", "student": student})
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# the lesson")])
    return AddGraderFeedback(config=config).preprocess(notebook, resources)[0]


def test_nbgrader_feedback_gets_the_checks_and_plots_at_the_top(tmp_path):
    submitted = tmp_path / "submitted" / "ada" / "mnist_cnn"
    submitted.mkdir(parents=True)
    (submitted / "mnist_cnn.ipynb").write_text("{}")
    folder = tmp_path / "results" / "mnist_cnn" / "ada"
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(RESULTS))
    ResultStore(folder.parent).set_state("ada", State(submission_hash(submitted), "checks", 1.0, "worker"))
    notebook = add_feedback(tmp_path, "ada")
    assert len(notebook.cells) == 2 and notebook.cells[0].source.count("data:image/png;base64,") == 2
    html, _ = HTMLExporter().from_notebook_node(notebook)  # the markdown cell as nbgrader's feedback renders it
    table = re.split(r"<table class=.checks.>", html)[1].split("</table>", 1)[0]
    assert "padding expected" in table and " #  expected  found" in table  # the whole message, inside the table
    assert len(add_feedback(tmp_path, "bob").cells) == 1  # graded by stock nbgrader: nothing to add
    (submitted / "mnist_cnn.ipynb").write_text('{"resubmitted": true}')
    assert len(add_feedback(tmp_path, "ada").cells) == 1  # results older than the submission: not shown


def history(logs, model_name=None) -> keras.callbacks.History:
    found = keras.callbacks.History()
    found.history, found.graders_model_name = logs, model_name
    return found


def test_training_curves_keep_numbers_only():
    logs = {"loss": [0.5, 0.25], "note": "text", "accuracy": [0.9, "x"], "val_loss": [1.0, float("nan")],
            "flags": [True, False]}
    assert curves_of(history(logs)) == {"loss": [0.5, 0.25], "val_loss": [1.0, None]}
    assert curves_of(history([1, 2])) == {}
    assert len(curves_of(history({"loss": [0.5] * 300_000}))["loss"]) == 1000
    data = feedback_data({"history": history({"loss": [1.0, float("inf")]}, "model"), "other": history({})})
    assert data["training_history"] == {"model": {"loss": [1.0, None]}}
    json.dumps(data, allow_nan=False)  # strict JSON


def test_confusion_matrix_counts_every_held_out_image(provisioned):
    from graders.course.datasets import load_npz

    _, (images, labels) = load_npz(provisioned)
    model = sequential(cnn_layers())
    matrix = np.array(confusion_matrix(model, images, labels))  # raw (N, 28, 28) bytes: scaled, given the axis
    assert matrix.shape == (10, 10) and matrix.sum() == 1000
    held_out = {"variable": "MNIST_NPZ", "images": "x_test", "labels": "y_test"}  # grading/mnist_cnn.toml's
    data = feedback_data({"cnn": model, "history": history(HISTORY, "cnn"), "later": sequential(cnn_layers())},
                         held_out)
    assert list(data["confusion_matrix"]) == ["cnn"]  # the first model of the notebook
    assert np.array(data["confusion_matrix"]["cnn"]).sum() == 1000 and data["training_history"]["cnn"] == HISTORY
    broken = feedback_data({"model": sequential(cnn_layers()[:-1])}, held_out)  # no 10-way output
    assert "confusion_matrix" not in broken and "not (1000, 10)" in broken["confusion_matrix_problem"]
    assert "confusion_matrix" not in feedback_data({"cnn": model})  # no held-out set named: no matrix


def test_instructor_only_notes_stay_out_of_the_students_page_with_several_notebooks():
    from graders.feedback.page import student_notes

    output = "problem1.ipynb: sandbox: the grader is not root\nproblem1.ipynb: The notebook ran to the end.\n" \
             "sandbox: the grader is not root"
    assert student_notes(output) == "problem1.ipynb: The notebook ran to the end."


FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


def tick_labels(figure) -> tuple[list[str], list[str]]:
    figure.canvas.draw()  # the tick labels as drawn
    (axes, _colorbar) = figure.axes
    return [t.get_text() for t in axes.get_xticklabels()], [t.get_text() for t in axes.get_yticklabels()]


def test_the_confusion_matrix_names_its_classes_when_known():
    import base64

    import matplotlib.pyplot as plt

    from graders.feedback import plots

    figure = plots.confusion_figure(MATRIX, "title", FASHION_CLASSES)
    across, down = tick_labels(figure)
    assert across == down == FASHION_CLASSES
    assert {t.get_rotation() for t in figure.axes[0].get_xticklabels()} == {45.0}  # readable, not overlapping
    plt.close(figure)
    for classes, expected in ((FASHION_CLASSES[:3], [str(k) for k in range(10)]), ((), [str(k) for k in range(10)])):
        figure = plots.confusion_figure(MATRIX, "title", classes)  # no name for every class: their numbers
        assert tick_labels(figure) == (expected, expected)
        plt.close(figure)
    assert base64.b64decode(plots.confusion_matrix(MATRIX, "title", FASHION_CLASSES)).startswith(b"\x89PNG\r\n")
    named = plot_images({"confusion_matrix": {"model": MATRIX}, "confusion_matrix_classes": FASHION_CLASSES})
    assert list(named) == ["Confusion matrix (910 of 1,000 right)"]


def test_the_feedback_takes_class_names_from_the_settings_else_the_data_file(tmp_path, sample_npz, monkeypatch):
    from dataclasses import asdict

    from graders.course.datasets import load_npz, write_npz
    from graders.course.settings import read_settings

    train, (images, labels) = load_npz(sample_npz)
    named = write_npz(tmp_path / "named.npz", train, (images[:200], labels[:200]), [f"digit {k}" for k in range(10)])
    monkeypatch.setenv("HELD_NPZ", str(named))
    (tmp_path / "grading").mkdir()
    settings = "[data]\nHELD_NPZ = 'named.npz'\n[feedback]\ndata = 'HELD_NPZ'\nimages = 'x_test'\nlabels = 'y_test'\n"
    model = sequential(cnn_layers())

    def extra(toml: str) -> dict:  # as the checker gets the settings' held-out set: HeldOut's fields, as JSON
        (tmp_path / "grading" / "ps1.toml").write_text(toml)
        held_out = json.loads(json.dumps(asdict(read_settings(tmp_path, "ps1").held_out)))
        return feedback_data({"model": model}, held_out)

    from_file = extra(settings)
    assert from_file["confusion_matrix_classes"] == [f"digit {k}" for k in range(10)]
    assert np.array(from_file["confusion_matrix"]["model"]).sum() == 200
    chosen = [f"class {k}" for k in range(10)]
    assert extra(settings + f"classes = {chosen}\n")["confusion_matrix_classes"] == chosen  # the settings win
    too_few = extra(settings + "classes = ['a', 'b', 'c']\n")
    assert "confusion_matrix" not in too_few
    assert "labels go from 0 to 9, but 3 classes are named" in too_few["confusion_matrix_problem"]
    monkeypatch.setenv("HELD_NPZ", str(sample_npz))  # no class_names in the file, none in the settings: numbers
    assert "confusion_matrix_classes" not in extra(settings) and "confusion_matrix" in extra(settings)
