"""The engine's first and export steps, without a kernel."""

from __future__ import annotations

import json

import keras
import nbformat
import numpy as np
import pytest
from conftest import cnn_layers, functional, sequential
from keras import layers

from graders.assignment import RELEASE_NOTEBOOK, grade_id
from graders.export import load_exports
from graders.submission import SubmissionError, read_submission, restore_assignment_cells


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


def test_exports_load_safely(tmp_path):
    functional(cnn_layers()).save(tmp_path / "model.keras")
    sequential([layers.Lambda(lambda x: x), layers.Flatten(), layers.Dense(10)]).save(tmp_path / "dense_model.keras")
    np.save(tmp_path / "train_images.npy", np.zeros((2, 28, 28, 1), "float32"))
    np.save(tmp_path / "test_images.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "answers.json").write_text(json.dumps({"q_pool_params": 0, "q_x": [1, 2], "other": 3}))

    exports = load_exports(tmp_path)
    assert isinstance(exports.get("model"), keras.Model)
    with pytest.raises(AssertionError, match="could not be loaded safely.*Lambda"):
        exports.get("dense_model")
    assert exports.get("train_images").shape == (2, 28, 28, 1)
    with pytest.raises(AssertionError, match="could not be read as a numeric array"):
        exports.get("test_images")
    assert exports.answers == {"q_pool_params": 0}
    with pytest.raises(AssertionError, match="`q_conv_blocks` was not defined"):
        exports.get("q_conv_blocks")


def test_grade_without_provisioned_data_fails_cleanly(tmp_path):
    import os
    import subprocess
    import sys

    env = {name: value for name, value in os.environ.items() if name != "MNIST_NPZ"}
    process = subprocess.run([sys.executable, "-m", "graders", "grade", str(tmp_path / "any.ipynb")], env=env,
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 2
    assert "no MNIST file is provisioned: set MNIST_NPZ" in process.stderr
    assert "Traceback" not in process.stderr
