"""The engine's first and export steps, without a kernel."""

from __future__ import annotations

import json
import re
import warnings

import nbformat
import pytest
from conftest import sequential
from keras import layers

from graders.course.assignment import grade_id
from graders.grade.submission import SubmissionError, read_submission, restore_assignment_cells
from graders.lessons.mnist_cnn import COURSE_ROOT, RELEASE_NOTEBOOK


@pytest.fixture
def release():
    return nbformat.read(RELEASE_NOTEBOOK, as_version=4)


def ids(notebook) -> list[str | None]:
    return [grade_id(cell) for cell in notebook.cells]


@pytest.mark.parametrize("text, message", [("{not json", "is not a readable notebook"),
                                           ('{"cells": 3}', "no list of cells"),
                                           ("[]", "no list of cells")])
def test_anything_but_a_notebook_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "broken.ipynb"
    path.write_text(text)
    with pytest.raises(SubmissionError, match=message):
        read_submission(path)


def test_test_cells_are_restored_put_back_and_the_kernel_forced(tmp_path, release):
    submission = nbformat.from_dict(release)
    submission.metadata["kernelspec"] = {"name": "evil", "display_name": "evil", "language": "python"}
    edited = next(cell for cell in submission.cells if grade_id(cell) == "test_cnn_shapes")
    edited.source = "pass"
    submission.cells = [cell for cell in submission.cells if grade_id(cell) != "test_q_pool_params"]
    submission.cells.append(nbformat.v4.new_code_cell("helper = 1"))  # the student's own cell stays
    path = tmp_path / "submission.ipynb"
    nbformat.write(submission, path)

    prepared = restore_assignment_cells(read_submission(path), release)
    assert [i for i in ids(prepared.notebook) if i] == [i for i in ids(release) if i]
    restored = {grade_id(cell): cell.source for cell in prepared.notebook.cells if grade_id(cell)}
    originals = {grade_id(cell): cell.source for cell in release.cells if grade_id(cell)}
    assert restored["test_cnn_shapes"] == originals["test_cnn_shapes"]
    assert restored["test_q_pool_params"] == originals["test_q_pool_params"]
    assert prepared.notebook.cells[-1].source == "helper = 1"
    assert prepared.notebook.metadata["kernelspec"]["name"] == "python3"
    assert prepared.notes == ["cell test_cnn_shapes: edited; the assignment's version was restored",
                              "cell test_q_pool_params: missing; the assignment's version was put back"]


@pytest.mark.parametrize("arguments, message", [
    ((), "any.ipynb: name its assignment with --assignment (the path is not COURSE/submitted/STUDENT/"),
    (("--assignment", "nope", "--course", str(COURSE_ROOT)),
     "has no assignment 'nope' in source/ (it has: fashion_cnn, mnist_cnn, numpy_forward)"),
])
def test_grade_says_which_assignment_it_cannot_find(tmp_path, arguments, message):
    import subprocess
    import sys

    process = subprocess.run([sys.executable, "-m", "graders", "grade", str(tmp_path / "any.ipynb"), *arguments],
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 2
    assert message in process.stderr
    assert "Traceback" not in process.stderr


def solution_notebook(release):
    from graders.lessons.mnist_cnn import SOURCE_NOTEBOOK
    from graders.lessons.mnist_cnn.samples import SAMPLES, build

    return build(SAMPLES[0], nbformat.read(SOURCE_NOTEBOOK, as_version=4), release)


@pytest.mark.parametrize("encode", [lambda text: b"\xef\xbb\xbf" + text.encode(), lambda text: text.encode("utf-16"),
                                   lambda text: text.replace("\n", "\r\n").encode()],
                         ids=["utf8-bom", "utf16", "crlf"])
def test_other_editors_encodings_read_as_the_same_notebook(tmp_path, release, encode):
    path = tmp_path / "submission.ipynb"
    path.write_bytes(encode(json.dumps(nbformat.from_dict(release), indent=1)))
    assert [cell.source for cell in read_submission(path).cells] == [cell.source for cell in release.cells]


@pytest.mark.parametrize("lost", [("preprocess", "test_preprocess_shapes", "q_preprocessing_purpose"),
                                  ("cnn_model", "test_cnn_architecture", "q_pool_output_size", "q_comparison")])
def test_cells_that_lost_their_metadata_are_recognised_with_the_students_own_work(tmp_path, release, lost):
    submission = solution_notebook(release)
    for cell in submission.cells:
        if grade_id(cell) in lost:
            if cell.cell_type == "markdown":
                cell.source = f"My own answer for {grade_id(cell)}."
            cell.metadata = {}
    edited = next(cell for cell in submission.cells if cell.source.startswith("# Check: the convnet's layers"))
    edited.source += "\nprint('edited')"  # a test cell that lost its metadata and was edited is still restored
    path = tmp_path / "submission.ipynb"
    path.write_text(json.dumps(nbformat.from_dict(submission)))

    prepared = restore_assignment_cells(read_submission(path), release)
    assert [i for i in ids(prepared.notebook) if i] == [i for i in ids(release) if i]
    cells = {grade_id(cell): cell.source for cell in prepared.notebook.cells if grade_id(cell)}
    originals = {grade_id(cell): cell for cell in release.cells if grade_id(cell)}
    for name in lost:
        if originals[name].metadata["nbgrader"].get("solution"):
            assert cells[name] != originals[name].source  # the student's work, not the released blank
            assert "YOUR" not in cells[name]
        assert f"cell {name}: its nbgrader metadata was missing" in "\n".join(prepared.notes)
    assert "print('edited')" not in cells["test_cnn_architecture"]
    assert not any("was put back" in note for note in prepared.notes)


def test_tensorflow_activations_load_as_keras_builtins_and_unsafe_models_name_their_cause(tmp_path):
    import tensorflow as tf

    from graders.architecture import describe_model
    from graders.grade.export import load_model_safely

    def own_relu(x):
        return tf.nn.relu(x)

    class Identity(layers.Layer):
        def call(self, x):
            return x

    models = {
        "tf_softmax": sequential([layers.Conv2D(4, 3, activation=tf.nn.relu), layers.Flatten(),
                                  layers.Dense(10, activation=tf.nn.softmax)]),
        "tf_silu_log_softmax": sequential([layers.Flatten(), layers.Dense(8, activation=tf.nn.silu),
                                           layers.Dense(10, activation=tf.math.log_softmax)]),
        "own_function": sequential([layers.Flatten(), layers.Dense(10, activation=own_relu)]),
        "lambda_activation": sequential([layers.Flatten(), layers.Dense(10, activation=lambda x: x)]),
        "custom_class": sequential([Identity(), layers.Flatten(), layers.Dense(10)]),
    }
    for name, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(tmp_path / f"{name}.keras")
    loaded, notes = load_model_safely(tmp_path / "tf_softmax.keras")
    assert [layer.activation for layer in describe_model(loaded)] == ["relu", None, "softmax"]
    assert notes == ["the function `softmax_v2` (TensorFlow's name for Keras' \"softmax\") was read as "
                     'activation="softmax"']
    loaded, _ = load_model_safely(tmp_path / "tf_silu_log_softmax.keras")
    assert [layer.activation for layer in describe_model(loaded)] == [None, "silu", "log_softmax"]
    causes = {"own_function": "uses the Python function `own_relu` where Keras expects a built-in name",
              "lambda_activation": "uses a lambda function where Keras expects a built-in name",
              "custom_class": "is of the custom class `Identity`"}
    for name, cause in causes.items():
        with pytest.raises(ValueError, match=re.escape(cause)):
            load_model_safely(tmp_path / f"{name}.keras")
