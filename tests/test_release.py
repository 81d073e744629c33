"""release/ is exactly what nbgrader generates from source/, and gives nothing away."""

from __future__ import annotations

import json

import nbformat
import pytest
from batch_course import released_course
from conftest import ROOT

from graders.lessons.mnist_cnn import ASSIGNMENT, autograded_tests
from graders.lessons.mnist_cnn.samples import CODE_STUB, SOLUTION_REGION

NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
RELEASE = ROOT / "release" / NOTEBOOK
SOURCE = ROOT / "source" / NOTEBOOK


@pytest.fixture(scope="module")
def release_text() -> str:
    return RELEASE.read_text()


@pytest.fixture(scope="module")
def release_nb():
    return nbformat.read(RELEASE, as_version=4)


def test_committed_release_is_what_generate_assignment_produces(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADERS_DB_URL", raising=False)
    course = released_course(tmp_path / "course")  # generate_assignment --force: it removes the copied release first
    generated = json.loads((course / "release" / NOTEBOOK).read_text())
    assert generated == json.loads(RELEASE.read_text()), (
        "release/ is out of date: run `nbgrader generate_assignment mnist_cnn --force` and commit release/"
    )


def test_release_has_no_solution_code(release_text):
    source = nbformat.read(SOURCE, as_version=4)
    solution_lines = {
        line.strip()
        for cell in source.cells
        for region in SOLUTION_REGION.findall(cell.source)
        for line in region.splitlines()
        if len(line.strip()) >= 12 and not line.strip().startswith(("-", "*", "1 point"))
    }
    assert len(solution_lines) > 20
    leaked = sorted(line for line in solution_lines if line in release_text)
    assert not leaked, f"solution lines in the release: {leaked}"


@pytest.mark.parametrize("marker", ["BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "MARK SCHEME", "Model answer",
                                    "from graders", "checks."])
def test_release_has_no_hidden_test_and_no_marker(release_text, marker):
    assert marker not in release_text


def test_answer_cells_are_stubs_and_points_add_up(release_nb):
    cells = {cell.metadata["nbgrader"]["grade_id"]: cell for cell in release_nb.cells
             if "nbgrader" in cell.metadata}
    for grade_id in ("preprocess", "cnn_model", "dense_model"):
        assert cells[grade_id].source.endswith(CODE_STUB)
    manual = {g: c for g, c in cells.items() if c.cell_type == "markdown" and c.metadata["nbgrader"]["grade"]}
    assert all(cell.source == "YOUR ANSWER HERE" for cell in manual.values())
    assert sum(cell.metadata["nbgrader"]["points"] for cell in manual.values()) == 7
    assert sum(autograded_tests(release_nb).values()) == 20
    assert all(g.startswith("q_") for g in manual)
    for grade_id, cell in cells.items():
        if grade_id.startswith("q_") and cell.cell_type == "code":
            assert cell.source.startswith(f"# {grade_id} = ..."), "each answer cell names its variable"
