"""The Fashion-MNIST lesson (``source/fashion_cnn``), an assignment written as a notebook and its grading files only.

Its hidden tests name what ``graders reference fashion_cnn`` recorded from the
solution (``grading/fashion_cnn.reference.json``): the record must be as new as
the source notebook, hold every model, value and figure those tests name, and
have been measured on the data ``grading/fashion_cnn.toml`` provisions (a
stratified sample of Debian's ``dataset-fashion-mnist``). The slow test grades
the declared samples (``grading/fashion_cnn.samples.toml``) as ``graders demo
fashion_cnn`` does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import nbformat
import pytest
from conftest import ROOT
from course import copy_course
from rich.console import Console

from graders.course.cells import is_test_cell
from graders.course.provision import provision_missing
from graders.reference.record import data_key, data_shas, read_record, source_version

ASSIGNMENT = "fashion_cnn"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
VARIABLE = "FASHION_NPZ"
PACKAGE = "dataset-fashion-mnist"
# What a hidden test names in the record: like="model", minimum="test_acc", checks.recorded("q"), and the
# two-argument check_answer("q", q) whose expected value is the recorded one.
NAMED = {
    "models": re.compile(r"\blike=\"(\w+)\""),
    "figures": re.compile(r"\bminimum=\"(\w+)\""),
    "values": re.compile(r"\brecorded\(\"(\w+)\"\)|\bcheck_answer\(\"(\w+)\", \w+(?:\)|, also=)"),
}


def debian_package_installed() -> bool:
    if shutil.which("dpkg") is None:
        return False
    return subprocess.run(["dpkg", "-L", PACKAGE], capture_output=True).returncode == 0


needs_fashion = pytest.mark.skipif(not debian_package_installed(),
                                   reason=f"Debian's {PACKAGE} is not installed (apt install {PACKAGE})")


@pytest.fixture
def no_fashion_variable(monkeypatch):
    """``FASHION_NPZ`` unset for one test, and unset again afterwards (the course's nbgrader_config.py sets it
    when it is loaded in this process)."""
    monkeypatch.setenv(VARIABLE, "")
    monkeypatch.delenv(VARIABLE)


def source_notebook():
    return nbformat.read(ROOT / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)


def named_in_hidden_tests(kind: str) -> set[str]:
    code = "\n".join(cell.source for cell in source_notebook().cells if is_test_cell(cell))
    return {name for match in NAMED[kind].finditer(code) for name in match.groups() if name}


def test_the_record_is_current_and_holds_what_the_hidden_tests_name():
    record = read_record(ROOT / "grading" / f"{ASSIGNMENT}.reference.json", NOTEBOOK)
    assert record.source == source_version(source_notebook()), (
        f"run `graders reference {ASSIGNMENT} --seeds 10` and commit grading/{ASSIGNMENT}.reference.json")
    assert record.variables == [VARIABLE]
    models, figures, values = (named_in_hidden_tests(kind) for kind in ("models", "figures", "values"))
    assert models == {"model"} and figures == {"test_acc"}
    assert values == {"q_pool_output_size", "q_bn_params", "q_bn_trainable", "q_no_trainable_layers"}
    for entry in record.data_sets.values():
        assert len(entry["seeds"]) >= 10
        assert models <= set(entry["models"]) and figures <= set(entry["figures"]) and values <= set(entry["values"])
        layers = entry["models"]["model"]["layers"]
        assert sum(layer["params"] for layer in layers) == 35_210  # the lesson's text states it
        assert [layer["type"] for layer in layers].count("BatchNormalization") == 2
        accuracy = entry["figures"]["test_acc"]
        # The threshold is below every seed, and far above chance (0.1) and a broken model (about 0.2).
        assert 0.6 < accuracy["at_least"] <= accuracy["worst_low"]


@needs_fashion
def test_the_record_was_measured_on_the_provisioned_sample(tmp_path, no_fashion_variable):
    course = copy_course(tmp_path / "course")
    written = provision_missing(course, ASSIGNMENT, Console(file=open(os.devnull, "w")))  # noqa: SIM115
    assert written == [course / "data" / "fashion.npz"]
    key = data_key(data_shas([VARIABLE], {VARIABLE: str(written[0])}))
    record = read_record(ROOT / "grading" / f"{ASSIGNMENT}.reference.json", NOTEBOOK)
    assert key in record.data_sets, (
        f"the record has no data set {key} (it has {', '.join(record.data_sets)}): run `graders data provision "
        f"{ASSIGNMENT}` and `graders reference {ASSIGNMENT} --seeds 10`")


@pytest.mark.slow
@needs_fashion
def test_demo_grades_every_declared_sample_as_expected(tmp_path, no_fashion_variable, monkeypatch):
    from graders.demo import demo_assignment

    monkeypatch.delenv("GRADERS_DB_URL", raising=False)
    course = copy_course(tmp_path / "course")
    console = Console(record=True, width=200, file=open(os.devnull, "w"))  # noqa: SIM115
    provision_missing(course, ASSIGNMENT, console)
    problems = demo_assignment(course, ASSIGNMENT, console)
    text = console.export_text()
    assert problems == 0 and "all scores as expected" in text, text[-6000:]
