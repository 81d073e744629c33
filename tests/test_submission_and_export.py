"""The engine's first and export steps, without a kernel."""

from __future__ import annotations

import json
import re
import warnings

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
    with pytest.raises(AssertionError, match="could not be loaded safely.*is a Lambda layer"):
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


def solution_notebook(release):
    from graders.assignment import SOURCE_NOTEBOOK
    from graders.samples import SAMPLES, build

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
    from graders.export import load_model_safely

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


def test_array_likes_are_exported_with_their_values_and_named_by_their_type(tmp_path):
    import tensorflow as tf

    from graders.export import ArrayLike, export_code

    images = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    namespace = {"train_images": tf.constant(images), "test_images": list(images)}
    exec(export_code(tmp_path), namespace)  # the export cell, as the kernel runs it
    exports = load_exports(tmp_path)
    train, test = exports.get("train_images"), exports.get("test_images")
    assert isinstance(train, ArrayLike) and train.type_name.startswith("tensorflow.")
    assert isinstance(test, ArrayLike) and test.type_name == "builtins.list"
    np.testing.assert_array_equal(np.asarray(train), images)
    np.testing.assert_array_equal(np.asarray(test), images)
    namespace["train_images"] = memoryview(images.copy())
    exec(export_code(tmp_path), namespace)
    assert load_exports(tmp_path).get("train_images").type_name == "builtins.memoryview"
    namespace["train_images"] = images
    exec(export_code(tmp_path), namespace)
    assert type(load_exports(tmp_path).get("train_images")) is np.ndarray
    namespace["test_images"] = tf.constant(images) * 2  # rebound to new values: exported again
    exec(export_code(tmp_path), namespace)
    np.testing.assert_array_equal(np.asarray(load_exports(tmp_path).get("test_images")), images * 2)


def test_an_array_that_cannot_be_converted_costs_only_itself(tmp_path, capsys):
    from graders.export import export_code

    images = np.zeros((3, 28, 28, 1), "float32")
    namespace = {"train_images": (images, np.zeros(3)), "test_images": images,  # a tuple of unlike arrays
                 "model": sequential([layers.Flatten(), layers.Dense(10)])}
    exec(export_code(tmp_path), namespace)
    exports = load_exports(tmp_path)
    assert isinstance(exports.get("model"), keras.Model) and exports.get("test_images").shape == (3, 28, 28, 1)
    with pytest.raises(AssertionError, match="`train_images` is a tuple whose values could not be read as one array"):
        exports.get("train_images")
    assert "graders: export of train_images failed: ValueError" in capsys.readouterr().out


@pytest.mark.parametrize("files, graded, note", [
    (["mnist_cnn.ipynb"], "mnist_cnn.ipynb", None),
    (["mnist_cnn (1).ipynb"], "mnist_cnn (1).ipynb", "graded mnist_cnn (1).ipynb as mnist_cnn.ipynb"),
    (["sub/mnist_cnn.ipynb", ".ipynb_checkpoints/x-checkpoint.ipynb"], "sub/mnist_cnn.ipynb", "graded sub/"),
    (["mnist_cnn.ipynb", "mnist_cnn-Copy1.ipynb"], "mnist_cnn.ipynb",
     "the submission also has mnist_cnn-Copy1.ipynb (not graded: only mnist_cnn.ipynb is)"),
    (["blank:mnist_cnn.ipynb", "mnist_cnn-Copy1.ipynb"], "mnist_cnn.ipynb",
     "mnist_cnn.ipynb is the release with no answer filled in; the submission also has mnist_cnn-Copy1.ipynb"),
    (["a.ipynb", "b.ipynb"], None, "the submission has no mnist_cnn.ipynb; it has a.ipynb, b.ipynb (none graded"),
    ([], None, "the submission has no mnist_cnn.ipynb"),
])
def test_the_notebook_to_grade_is_found_and_the_rest_of_the_folder_named(tmp_path, release, files, graded, note):
    from graders.locate import locate_notebook

    for name in files:
        blank, _, name = name.rpartition(":")
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(release if blank else solution_notebook(release), tmp_path / name)
    located = locate_notebook(tmp_path, "mnist_cnn.ipynb", release)
    assert located.path == (tmp_path / graded if graded else None)
    assert (note is None and not located.notes) or note in located.notes[0]


def test_a_students_own_cell_beside_a_deleted_test_cell_is_never_taken_for_it(tmp_path, release):
    submission = solution_notebook(release)
    index = next(i for i, cell in enumerate(submission.cells) if grade_id(cell) == "test_q_pool_params")
    submission.cells[index] = nbformat.v4.new_code_cell("q_pool_params = 0  # my own cell")  # where the test was
    path = tmp_path / "submission.ipynb"
    path.write_text(json.dumps(nbformat.from_dict(submission)))
    prepared = restore_assignment_cells(read_submission(path), release)
    assert "q_pool_params = 0  # my own cell" in [cell.source for cell in prepared.notebook.cells]
    assert "cell test_q_pool_params: missing; the assignment's version was put back" in prepared.notes


def test_a_long_written_answer_below_an_edited_question_keeps_its_label(tmp_path, release):
    submission = solution_notebook(release)
    index = next(i for i, cell in enumerate(submission.cells) if grade_id(cell) == "q_comparison")
    long_answer = "The dense network has about 5.4 times as many parameters as the convnet. " * 6
    submission.cells[index].source, submission.cells[index].metadata = long_answer, {}
    submission.cells[index - 1].source += "\n\n(my notes: compare per epoch)"  # the question above, edited
    submission.cells.insert(index + 1, nbformat.v4.new_markdown_cell("A second thought of my own."))
    path = tmp_path / "submission.ipynb"
    path.write_text(json.dumps(nbformat.from_dict(submission)))
    prepared = restore_assignment_cells(read_submission(path), release)
    (answer,) = [cell.source for cell in prepared.notebook.cells if grade_id(cell) == "q_comparison"]
    assert answer == long_answer
    assert "cell q_comparison: its nbgrader metadata was missing; recognised by its place and content" in prepared.notes


def test_huge_cells_without_metadata_are_matched_in_bounded_time(tmp_path, release):
    import time

    submission = solution_notebook(release)
    for cell in submission.cells:
        if grade_id(cell) in ("q_preprocessing_purpose", "q_softmax_calculation", "q_comparison"):
            cell.source, cell.metadata = "x" * 300_000, {}
    path = tmp_path / "submission.ipynb"
    path.write_text(json.dumps(nbformat.from_dict(submission)))
    start = time.monotonic()
    prepared = restore_assignment_cells(read_submission(path), release)
    assert time.monotonic() - start < 5
    assert sum("its nbgrader metadata was missing" in note for note in prepared.notes) == 3


@pytest.mark.parametrize("text", ["[" * 200_000, json.dumps({"cells": [
    {"cell_type": "code", "source": "1", "metadata": {"nbgrader": "oops"}},
    {"cell_type": "code", "source": "2", "metadata": {"nbgrader": {"grade_id": 5}}}]})],
    ids=["deeply-nested-json", "metadata-not-nbgraders"])
def test_a_broken_notebook_beside_another_is_graded_as_it_is_never_stops_the_batch(tmp_path, release, text):
    from graders.locate import locate_notebook

    (tmp_path / "mnist_cnn.ipynb").write_text(text)
    nbformat.write(release, tmp_path / "mnist_cnn-Copy1.ipynb")
    located = locate_notebook(tmp_path, "mnist_cnn.ipynb", release)  # reads it to see if it is the blank release
    assert located.path == tmp_path / "mnist_cnn.ipynb"
    assert located.notes == ["the submission also has mnist_cnn-Copy1.ipynb (not graded: only mnist_cnn.ipynb is)"]
