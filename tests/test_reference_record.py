"""The reference record (``graders.reference``): its thresholds, data keys, lookups, merging and staleness."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import ROOT, dense_layers, sequential

from graders import checks
from graders.course.assignment import AssignmentError, load_notebook
from graders.reference.describe import describe_objects
from graders.reference.record import (
    ENVIRONMENT,
    NOTEBOOK_ENVIRONMENT,
    RecordError,
    bounds,
    content_sha256,
    data_key,
    read_record,
    source_version,
)
from graders.reference.sweep import Run, merge_record


def test_thresholds_sit_below_the_worst_seed_and_widen_with_fewer_seeds():
    values = [0.96, 0.97, 0.95, 0.965, 0.955]
    spread = bounds(values)
    assert spread["worst_low"] == 0.95 and spread["at_least"] <= 0.95 and spread["at_most"] >= 0.97
    assert spread["mean"] == pytest.approx(0.96) and spread["sd"] == pytest.approx(np.std(values, ddof=1), abs=1e-6)
    assert spread["at_least"] == pytest.approx(np.floor((0.96 - 4 * spread["sd95"]) * 1000) / 1000)
    assert spread["sd95"] > spread["sd"]
    assert bounds(values[:2])["at_least"] < bounds(values[:3])["at_least"] < spread["at_least"]
    identical = bounds([0.9, 0.9, 0.9])
    assert identical["at_least"] == identical["at_most"] == 0.9  # never above the worst seed
    with pytest.raises(ValueError, match="at least two seeds"):
        bounds([0.9])


def test_a_data_set_is_keyed_by_its_arrays_not_by_the_bytes_of_its_file(tmp_path):
    arrays = {"x_train": np.arange(12, dtype=np.uint8).reshape(3, 4), "y_train": np.array([0, 1, 2])}
    np.savez_compressed(tmp_path / "a.npz", **arrays)
    np.savez(tmp_path / "b.npz", **arrays)  # another layout of the same arrays
    assert (tmp_path / "a.npz").read_bytes() != (tmp_path / "b.npz").read_bytes()
    assert content_sha256(tmp_path / "a.npz") == content_sha256(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", **{**arrays, "y_train": np.array([0, 1, 3])})
    assert content_sha256(tmp_path / "c.npz") != content_sha256(tmp_path / "a.npz")
    key = data_key({"DATA": content_sha256(tmp_path / "a.npz")})
    assert len(key) == 16 and key != data_key({"OTHER": content_sha256(tmp_path / "a.npz")})
    assert data_key({}) == "none"


def write_record(path, data_sets: dict, notebook="lesson.ipynb", source="s") -> None:
    path.write_text(json.dumps({"assignment": "lesson", "notebooks": {notebook: {"source": source,
                                                                                  "data_sets": data_sets}}}))


LAYERS = [{"type": "Flatten", "output_shape": [None, 784], "params": 0, "activation": None, "padding": None,
           "config": {}},
          {"type": "Dense", "output_shape": [None, 10], "params": 7850, "activation": "softmax", "padding": None,
           "config": {"units": 10, "activation": "softmax"}}]


@pytest.fixture
def record(tmp_path, monkeypatch):
    """A record of one notebook measured on one data file, handed over as the engine hands it."""
    data = tmp_path / "data.npz"
    np.savez(data, x=np.zeros(3))
    key = data_key({"DATA": content_sha256(data)})
    entry = {"files": {"DATA": {"name": "data.npz", "sha256": content_sha256(data)}}, "seeds": [1, 2],
             "models": {"model": {"input_shape": [28, 28, 1], "layers": LAYERS}},
             "values": {"q_units": 10, "q_name": "softmax"},
             "figures": {"test_acc": bounds([0.91, 0.93, 0.92])}}
    path = tmp_path / "lesson.reference.json"
    write_record(path, {key: entry})
    monkeypatch.setenv(ENVIRONMENT, str(path))
    monkeypatch.setenv(NOTEBOOK_ENVIRONMENT, "lesson.ipynb")
    monkeypatch.setenv("DATA", str(data))
    return path


def test_test_cells_name_the_record_instead_of_writing_its_numbers(record, monkeypatch):
    model = sequential(dense_layers(()))  # Flatten, Dense(10): the recorded table
    checks.check_layers(model, like="model")
    with pytest.raises(AssertionError, match="layer 2 .*params expected 7850"):
        checks.check_layers(sequential(dense_layers((16,))), like="model")
    checks.check_answer("q_units", 10)
    checks.check_answer("q_name", " Softmax")
    with pytest.raises(AssertionError, match="q_units = 11 is not the right answer"):
        checks.check_answer("q_units", 11)
    assert checks.recorded("q_units") == 10
    assert checks.threshold("test_acc") == bounds([0.91, 0.93, 0.92])["at_least"]
    with pytest.raises(AssertionError, match=r"reaches 0\.\d+ accuracy .* at least 0\.\d{3} is expected"):
        checks.check_accuracy(model, np.zeros((20, 28, 28, 1), "float32"), np.arange(20) % 10, minimum="test_acc")


def test_a_missing_name_or_data_set_says_what_to_run(record, tmp_path, monkeypatch):
    with pytest.raises(RecordError, match="has no value 'q_missing' .*it has: q_name, q_units.*graders reference"):
        checks.recorded("q_missing")
    with pytest.raises(RecordError, match="no figure 'loss'"):
        checks.threshold("loss")
    other = tmp_path / "other.npz"
    np.savez(other, x=np.ones(3))
    monkeypatch.setenv("DATA", str(other))
    with pytest.raises(RecordError, match=r"no measurements on this data \(data set \w{16}; measured: \w{16}\): "
                                             r"run `graders reference lesson`"):
        checks.threshold("test_acc")
    with pytest.raises(RecordError, match="no measurements on this data"):  # nothing is taken from another data set
        checks.recorded("q_units")
    record_file = json.loads(record.read_text())  # measured on both, the same: an answer that holds for any data
    entries = record_file["notebooks"]["lesson.ipynb"]["data_sets"]
    entries["other"] = next(iter(entries.values()))
    record.write_text(json.dumps(record_file))
    assert checks.recorded("q_units") == 10
    checks.check_layers(sequential(dense_layers(())), like="model")
    monkeypatch.delenv("DATA")
    with pytest.raises(RecordError, match="needs the data file DATA, which is not provisioned"):
        checks.threshold("test_acc")
    monkeypatch.setenv(ENVIRONMENT, str(tmp_path / "none.reference.json"))
    with pytest.raises(RecordError, match="cannot be read .*run `graders reference none`"):
        checks.recorded("q_units")


def test_runs_merge_into_values_figures_and_models_and_keep_other_data_sets_of_the_same_source(tmp_path):
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])

    class Graded:
        source_nb = source

    runs = [Run("lesson.ipynb", seed, {"models": {"model": {"input_shape": None, "layers": LAYERS}},
                                       "values": {"answer": 13, "accuracy": 0.9 + seed / 100, "label": f"s{seed}",
                                                  "once": 1} if seed == 1 else
                                       {"answer": 13, "accuracy": 0.9 + seed / 100, "label": f"s{seed}"}})
            for seed in (1, 2, 3)]
    record, warned = merge_record(None, "lesson", {"lesson.ipynb": Graded}, "k1", {}, runs, [1, 2, 3])
    entry = record["notebooks"]["lesson.ipynb"]["data_sets"]["k1"]
    assert entry["values"] == {"answer": 13} and list(entry["figures"]) == ["accuracy"]
    assert entry["figures"]["accuracy"]["seeds"] == [0.91, 0.92, 0.93] and entry["models"]["model"]["layers"] == LAYERS
    assert any("'label' differs between seeds" in line for line in warned)
    assert any("'once' was not read in every run" in line for line in warned)
    again, _ = merge_record(record, "lesson", {"lesson.ipynb": Graded}, "k2", {}, runs, [1, 2, 3])
    assert set(again["notebooks"]["lesson.ipynb"]["data_sets"]) == {"k1", "k2"}
    source.cells[0].source = "x = 2"  # the solution changed: the other data set's entry is out of date
    changed, _ = merge_record(again, "lesson", {"lesson.ipynb": Graded}, "k2", {}, runs, [1, 2, 3])
    assert set(changed["notebooks"]["lesson.ipynb"]["data_sets"]) == {"k2"}


def test_objects_are_recorded_as_layer_tables_and_plain_values():
    model = sequential(dense_layers((16,)))
    recorded = describe_objects({"model": model, "answer": np.int64(13), "ratio": np.float32(0.5), "name": "relu",
                                 "shape": (28, 28), "images": np.zeros((3, 2)), "function": print, "_hidden": 1})
    assert recorded["values"] == {"answer": 13, "ratio": 0.5, "name": "relu", "shape": [28, 28]}
    table = recorded["models"]["model"]
    assert table["input_shape"] == [28, 28, 1]
    assert [(layer["type"], layer["params"]) for layer in table["layers"]] == [
        ("Flatten", 0), ("Dense", 12_560), ("Dense", 170)]
    assert table["layers"][1]["config"] == {"units": 16, "activation": "relu", "use_bias": True}
    json.dumps(recorded)  # the record is JSON


def test_a_record_older_than_the_source_notebook_is_refused(tmp_path):
    source = nbformat.read(ROOT / "source" / "mnist_cnn" / "mnist_cnn.ipynb", as_version=4)
    folders = {}
    for name in ("source", "release"):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        nbformat.write(source, folders[name] / "lesson.ipynb")
    current = json.dumps({"notebooks": {"lesson.ipynb": {"source": source_version(source), "data_sets": {}}}})
    load_notebook(folders["source"], folders["release"], "lesson.ipynb", "lesson", reference=current)
    for cell in source.cells:  # a test cell's code may change without a new sweep; a solution's may not
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_cnn_shapes":
            cell.source += "\nprint('more')"
    nbformat.write(source, folders["source"] / "lesson.ipynb")
    load_notebook(folders["source"], folders["release"], "lesson.ipynb", "lesson", reference=current)
    for cell in source.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "cnn_model":
            cell.source = cell.source.replace("filters=32", "filters=16")
    nbformat.write(source, folders["source"] / "lesson.ipynb")
    with pytest.raises(AssignmentError, match="does not match the source notebook lesson.ipynb .*graders "
                                              "reference lesson"):
        load_notebook(folders["source"], folders["release"], "lesson.ipynb", "lesson", reference=current)
    loaded = load_notebook(folders["source"], folders["release"], "lesson.ipynb", "lesson", reference=current,
                           current_reference=False)  # what `graders reference` itself reads
    assert loaded.reference == current


def test_the_lessons_record_is_current_and_holds_what_its_hidden_tests_name():
    record = read_record(ROOT / "grading" / "mnist_cnn.reference.json", "mnist_cnn.ipynb")
    source = nbformat.read(ROOT / "source" / "mnist_cnn" / "mnist_cnn.ipynb", as_version=4)
    assert record.source == source_version(source), "run `graders reference mnist_cnn` and commit the record"
    for entry in record.data_sets.values():
        assert len(entry["seeds"]) >= 5
        assert {"model", "dense_model"} <= set(entry["models"])
        assert {"test_acc", "dense_test_acc"} <= set(entry["figures"])


def test_answers_compare_tuples_with_recorded_lists_and_take_the_students_own_reading_only_by_keyword(record):
    record_file = json.loads(record.read_text())
    next(iter(record_file["notebooks"]["lesson.ipynb"]["data_sets"].values()))["values"]["q_shape"] = [13, 13, 32]
    record.write_text(json.dumps(record_file))
    checks.check_answer("q_shape", (13, 13, 32))
    checks.check_answer("q_units", 12, also=[12])  # the value read off the student's own model
    with pytest.raises(TypeError):
        checks.check_answer("q_units", 12, 10, 12)  # `also` is keyword-only: the record is never skipped by accident
    with pytest.raises(TypeError, match='"at_least" or "at_most"'):
        checks.threshold("test_acc", "at_lest")


def test_a_record_that_cannot_answer_is_the_graders_error_never_the_students(record, monkeypatch):
    from graders.grade.checker import run_cell

    code = "from graders import checks\nchecks.check_answer('q_missing', 3)"
    outcome = run_cell(code, {}, 2)
    assert outcome.score == 0 and "has no value 'q_missing'" in outcome.grader_error
    assert run_cell("from graders import checks\nchecks.check_answer('q_units', 3)", {}, 2).grader_error == ""
    monkeypatch.setenv(ENVIRONMENT, "")  # what the engine sets for an assignment without a record
    assert "has no reference record" in run_cell(code, {}, 2).grader_error
    monkeypatch.delenv(ENVIRONMENT)  # nothing set: no folder is searched outside stock nbgrader
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    with pytest.raises(RecordError, match="has no reference record"):
        checks.recorded("q_units")


def test_grading_with_data_the_record_never_measured_is_refused_before_anything_is_graded(record, tmp_path):
    from graders.reference.record import check_measured

    measured = tmp_path / "data.npz"
    check_measured(record.read_text(), {"DATA": measured}, "lesson")
    other = tmp_path / "other"  # an npz without its suffix is still hashed by its arrays
    np.savez(other, x=np.ones(3))
    with pytest.raises(AssignmentError, match="no measurements on this data .*would fail every student.*graders "
                                              "reference lesson"):
        check_measured(record.read_text(), {"DATA": Path(f"{other}.npz")}, "lesson")
    renamed = tmp_path / "renamed"
    Path(f"{other}.npz").rename(renamed)
    np.savez_compressed(tmp_path / "again.npz", x=np.ones(3))
    assert content_sha256(renamed) == content_sha256(tmp_path / "again.npz")  # by arrays, whatever the name
    np.savez(tmp_path / "named.npz", x=np.zeros(3), class_names=np.array(["a", "b"]))
    assert content_sha256(tmp_path / "named.npz") == content_sha256(measured)  # class names label, not data


def test_the_recorded_configuration_is_checked_where_the_table_cannot_see_it(record, monkeypatch):
    import keras

    def with_dropout(rate):
        return keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Flatten(), keras.layers.Dropout(rate),
                                 keras.layers.Dense(10, activation="softmax")])

    dropout = {"type": "Dropout", "output_shape": [None, 784], "params": 0, "activation": None, "padding": None,
               "config": {"rate": 0.5}}
    record_file = json.loads(record.read_text())
    entry = next(iter(record_file["notebooks"]["lesson.ipynb"]["data_sets"].values()))
    entry["models"]["model"]["layers"].insert(1, dropout)
    record.write_text(json.dumps(record_file))
    checks.check_layers(with_dropout(0.5), like="model")
    with pytest.raises(AssertionError, match=r"layer 2 \(Dropout\): rate expected 0.5, found 0.3"):
        checks.check_layers(with_dropout(0.3), like="model")


def test_a_reference_run_shifts_every_seed_the_notebook_sets_however_it_is_written():
    import subprocess
    import sys

    from graders.grade.execute import SWEEP_SEED_CODE

    code = SWEEP_SEED_CODE.format(seed=7) + """
import random, numpy
random.seed(a=42); assert random.random() == random.Random(49).random()  # 42 + 7, as a keyword too
numpy.random.seed(seed=numpy.int64(42)); assert numpy.random.rand() == numpy.random.RandomState(49).rand()
numpy.random.seed([1, 2])  # not a whole number: passed on unshifted
random.seed("abc")
print("ok")
"""
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert process.stdout.strip() == "ok", process.stderr[-2000:]
