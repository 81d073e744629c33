"""End to end with nbgrader: release, sample submissions, autograde, gradebook.

Each sample submission is made from the committed release and trains real
Keras models on the 5,000 real MNIST digits; scores are read back from the
sqlite gradebook, per grade cell. Both courses are graded once per session
(``graded_courses.py``): stock nbgrader's and the one ``graders autograde``
grades with broken, hostile and real-world submissions besides the samples.
"""

from __future__ import annotations

import csv
import json
import shutil

import nbformat
import pytest
from batch_course import (
    assert_gradebook_agrees,
    run_autograde,
    stored_results,
    submit,
)
from graded_courses import BROKEN
from real_submissions import REAL_SUBMISSIONS

from graders.autograde.gradebook_scores import autograded_scores
from graders.course.nbgrader_settings import default_db_url
from graders.demo import nbgrader
from graders.lessons.mnist_cnn import ASSIGNMENT, autograded_tests
from graders.lessons.mnist_cnn.samples import SAMPLES, expected_scores

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(graded_courses):
    return graded_courses.stock


@pytest.fixture(scope="module")
def scores(course):
    return autograded_scores(default_db_url(course), ASSIGNMENT, ASSIGNMENT)


@pytest.fixture(scope="module")
def release_nb(course):
    return nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)


def assert_no_hidden_test_code(html: str) -> None:
    for hidden in ("BEGIN HIDDEN TESTS", "checks.check_layers", "checks.check_accuracy", "from graders"):
        assert hidden not in html, f"feedback shows hidden test code: {hidden!r}"


def test_stock_feedback_hides_hidden_tests_and_keeps_messages(course):
    graded = (course / "autograded" / "padding_same" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert "checks.check_layers" in graded  # what stock nbgrader's feedback would show
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--student", "padding_same")
    feedback = (course / "feedback" / "padding_same" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert_no_hidden_test_code(feedback)
    assert "padding differs" in feedback and "selfcheck-first" in feedback  # the self-check's message and table


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
    assert totals["raw_pixels"] == 17  # shapes and values lost; accuracy measured on the pixels it trained on
    assert totals["padding_same"] == 17  # q_param_difference read off their own models earns its point
    assert totals["narrow_dense"] == 18
    assert totals["wrong_answers"] == 18
    assert totals["tf_activations"] == 20  # tf.nn.softmax is Keras' "softmax"
    assert totals["tensor_preprocessing"] == 19  # right values in a tensor: only the NumPy-array point is lost


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
    assert error.evalue.startswith("model: layer 1: padding differs; hint: use padding=\"valid\"")
    (table,) = [output.data["text/html"] for output in cell.outputs if output.output_type == "display_data"]
    first = table.split('<tr class="selfcheck-first"', 1)[1].split("</tr>", 1)[0]
    assert "Conv2D" in first and "padding=same" in first


# ``graders autograde``: the same samples and broken, hostile and real-world submissions, in parallel, into a
# gradebook of its own (graded_courses.py).
@pytest.fixture(scope="module")
def batch(graded_courses):
    assert_gradebook_agrees(graded_courses.batch)
    return graded_courses.batch, graded_courses.batch_stdout


def test_graders_autograde_matches_nbgrader_autograde_check_by_check(batch, scores):
    batch_course, _ = batch
    parallel = autograded_scores(default_db_url(batch_course), ASSIGNMENT, ASSIGNMENT)
    for sample in SAMPLES:
        assert parallel[sample.student] == scores[sample.student], sample.student


def test_broken_submissions_get_their_score_and_do_not_stop_the_batch(batch, release_nb):
    batch_course, stdout = batch
    parallel = autograded_scores(default_db_url(batch_course), ASSIGNMENT, ASSIGNMENT)
    for student, total in BROKEN.items():
        assert sum(parallel[student].values()) == total, student
        assert set(parallel[student]) == set(autograded_tests(release_nb)), student
    assert "the kernel died" in stdout and "not a readable notebook" in stdout and "has no mnist_cnn.ipynb" in stdout
    assert f"{len(SAMPLES) + len(BROKEN) + len(REAL_SUBMISSIONS)} graded" in stdout and "0 failed" in stdout


@pytest.mark.parametrize("real", REAL_SUBMISSIONS, ids=[real.student for real in REAL_SUBMISSIONS])
def test_real_submissions_get_what_a_careful_grader_gives_in_results_and_gradebook(batch, release_nb, real):
    batch_course, stdout = batch
    expected = real.expected(release_nb)
    results = stored_results(batch_course)[real.student]
    assert {test["name"]: test["score"] for test in results["tests"]} == expected
    assert autograded_scores(default_db_url(batch_course), ASSIGNMENT, ASSIGNMENT)[real.student] == expected
    assert real.message in results["output"] + "".join(test["output"] for test in results["tests"])
    if real.answer_cell:  # the manual grader sees the student's own answer in the labelled cell
        graded = nbformat.read(batch_course / "autograded" / real.student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
        (cell,) = [c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == real.answer_cell]
        assert cell.source.startswith("Reshaping adds the channel axis"), cell.source


def test_notebooks_of_other_front_ends_leave_autograded_files_every_nbgrader_step_takes(batch):
    batch_course, _ = batch
    for student in ("colab", "jupyterlab3", "bom", "lost_metadata"):
        nbgrader(batch_course, "generate_feedback", ASSIGNMENT, "--student", student)
        feedback = (batch_course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        score = stored_results(batch_course)[student]["score"]
        assert "Your checks and your model" in feedback and f"{score:g} / 20" in feedback, student
        graded = batch_course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        nbformat.validate(nbformat.read(graded, as_version=4))
        assert "widgets" not in nbformat.read(graded, as_version=4).metadata


def test_batch_leaves_what_formgrader_feedback_and_export_need(batch):
    batch_course, _ = batch
    results = batch_course / "results" / ASSIGNMENT
    solution = json.loads((results / "solution" / "results.json").read_text())
    assert solution["score"] == solution["max_score"] == 20
    graded = nbformat.read(batch_course / "autograded" / "padding_same" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    cell = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_cnn_architecture")
    assert "BEGIN HIDDEN TESTS" in cell.source  # nbgrader's own sanitizing: the gradebook's version of the cell
    (error,) = [output for output in cell.outputs if output.output_type == "error"]
    assert 'model: layer 1: padding differs; hint: use padding="valid"' in error.evalue  # the notebook's own check
    with open(results / "grades.csv") as stream:
        rows = {row["student"]: row for row in csv.DictReader(stream)}
    assert set(rows) == {sample.student for sample in SAMPLES} | set(BROKEN) | {r.student for r in REAL_SUBMISSIONS}
    assert rows["padding_same"]["test_cnn_architecture"] == "0" and rows["raw_pixels"]["score"] == "17"
    assert rows["padding_same"]["q_comparison"] == "0"  # left as released: nbgrader's "No response."
    assert rows["kernel_exits"]["q_comparison"] == "" and rows["kernel_exits"]["needs_manual_grade"] == "true"
    assert (results / "report.html").read_text().count("data:image/png") == 3
    nbgrader(batch_course, "generate_feedback", ASSIGNMENT, "--student", "padding_same")
    feedback = (batch_course / "feedback" / "padding_same" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "padding differs" in feedback and "first difference" in feedback  # the check's message, the table
    assert_no_hidden_test_code(feedback)
    assert "Training curves" in feedback and "Confusion matrix (" in feedback
    assert feedback.count("data:image/png;base64") >= 2
    own = (results / "padding_same" / "feedback.html").read_text()  # the engine's own page
    assert own.count("data:image/png;base64") == 2 and "padding differs" in own and "0 / 3" in own
    assert_no_hidden_test_code(own)
    nbgrader(batch_course, "export", "--to", str(batch_course / "export.csv"))
    with open(batch_course / "export.csv") as stream:
        exported = {row["student_id"]: row for row in csv.DictReader(stream)}
    assert float(exported["raw_pixels"]["raw_score"]) == 17 and float(exported["kernel_exits"]["raw_score"]) == 3


def test_rerun_grades_nothing_unchanged_and_regrades_what_changed(batch, sample_npz, tmp_path):
    batch_course = shutil.copytree(batch[0], tmp_path / "course", symlinks=True)  # others read the graded course
    states = {path: path.read_bytes() for path in (batch_course / "results" / ASSIGNMENT).glob("*/state.json")}
    submit(batch_course, "broken_json", '{"cells": [ still not json')  # resubmitted
    process = run_autograde(batch_course, sample_npz)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    count = len(SAMPLES) + len(BROKEN) + len(REAL_SUBMISSIONS)
    assert f"{count} submissions: 1 to grade" in process.stdout and f"{count - 1} unchanged" in process.stdout
    changed = [path.parent.name for path, before in states.items() if path.read_bytes() != before]
    assert changed == ["broken_json"]
    assert_gradebook_agrees(batch_course)
