"""End to end with nbgrader: release, sample submissions, autograde, gradebook.

Each sample submission is made from the committed release and trains real
Keras models on the 5,000 real MNIST digits; scores are read back from the
sqlite gradebook, per grade cell.
"""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
from course import copy_course

from graders.assignment import ASSIGNMENT, autograded_tests
from graders.data import ENV_VAR
from graders.demo import nbgrader
from graders.gradebook_scores import autograded_scores
from graders.nbgrader_settings import default_db_url
from graders.samples import SAMPLES, expected_scores, write_submissions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory, sample_npz):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV_VAR, str(sample_npz))
        patch.delenv("GRADERS_DB_URL", raising=False)
        course = copy_course(tmp_path_factory.mktemp("course"))
        nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
        write_submissions(course)
        nbgrader(course, "autograde", ASSIGNMENT, "--force")
        yield course


@pytest.fixture(scope="module")
def scores(course):
    return autograded_scores(default_db_url(course), ASSIGNMENT, ASSIGNMENT)


@pytest.fixture(scope="module")
def release_nb(course):
    return nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.student for sample in SAMPLES])
def test_each_submission_scores_exactly_what_it_earns(scores, release_nb, sample):
    assert scores[sample.student] == expected_scores(sample, release_nb)


def test_solution_earns_every_autograded_point_and_the_release_none(scores, release_nb):
    total = sum(autograded_tests(release_nb).values())
    assert total == 20
    assert sum(scores["solution"].values()) == total
    assert sum(scores["untouched"].values()) == 0


def test_partly_wrong_submissions_earn_partial_scores(scores):
    totals = {student: sum(cells.values()) for student, cells in scores.items()}
    assert totals["no_scaling"] == 18
    assert totals["padding_same"] == 16
    assert totals["narrow_dense"] == 17
    assert totals["wrong_answers"] == 18


def test_deleted_and_edited_test_cells_are_restored(course):
    graded = nbformat.read(course / "autograded" / "wrong_answers" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    cells = {cell.metadata["nbgrader"]["grade_id"]: cell for cell in graded.cells if "nbgrader" in cell.metadata}
    assert "check_answer(\"q_conv_blocks\"" in cells["test_q_conv_blocks"].source
    assert "check_answer(\"q_dense_activation\"" in cells["test_q_dense_activation"].source
    errors = [output.evalue for output in cells["test_q_dense_activation"].outputs if output.output_type == "error"]
    assert errors == ["q_dense_activation = 'sigmoid' is not the right answer"]


def test_a_failed_architecture_check_shows_the_layer_table(course):
    graded = nbformat.read(course / "autograded" / "padding_same" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    cell = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_cnn_architecture")
    (error,) = [output for output in cell.outputs if output.output_type == "error"]
    assert "layer 1 (Conv2D)" in error.evalue and "padding expected 'valid', found 'same'" in error.evalue


def test_regrading_the_same_submission_gives_identical_scores(course, scores):
    nbgrader(course, "autograde", ASSIGNMENT, "--force", "--student", "solution")
    again = autograded_scores(default_db_url(course), ASSIGNMENT, ASSIGNMENT)
    assert again["solution"] == scores["solution"]


AGREEMENT_SAMPLES = ("solution", "no_scaling", "padding_same")


def test_graders_grade_agrees_with_nbgrader_autograde_check_by_check(course, scores, tmp_path):
    notebooks = [course / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb" for student in AGREEMENT_SAMPLES]
    copies = []
    for student, notebook in zip(AGREEMENT_SAMPLES, notebooks, strict=True):
        copy = tmp_path / f"{student}.ipynb"
        copy.write_bytes(notebook.read_bytes())
        copies.append(copy)
    process = subprocess.run([sys.executable, "-m", "graders", "grade", *map(str, copies), "--output-dir",
                              str(tmp_path / "results")], capture_output=True, text=True, timeout=1800)
    assert process.returncode == 0, process.stderr[-3000:]
    for student in AGREEMENT_SAMPLES:
        result = json.loads((tmp_path / "results" / f"{student}.json").read_text())
        engine = {test["name"]: test["score"] for test in result["tests"]}
        assert engine == scores[student], f"{student}: graders grade {engine} != nbgrader {scores[student]}"
