"""Courses no one here wrote, graded cell for cell as stock nbgrader grades them.

The installed nbgrader package ships its documentation course
(``nbgrader/docs/source/user_guide``: ``source/ps1``, ``submitted/bitdiddle``
and ``submitted/hacker``) and the files of its own autograde tests
(``nbgrader/tests/apps/files``). They are read from the installed package at
run time. Stock ``nbgrader autograde`` grades each course once; ``graders
autograde`` must give every autograded cell exactly the same score, except where
a submission cheats: there the cheat earns nothing more than its honest twin,
which stock nbgrader (scores decided in the student's kernel) cannot promise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from installed_courses import TEST_FILES, USER_GUIDE, documentation_sources, documentation_submissions, make_course, run
from nbgrader.api import Gradebook

pytestmark = pytest.mark.slow


# Cheats against the documentation course's problem1, each made from the honest submission (hacker's), each with
# its honest twin: the same wrong answer without the cheat. (student, what the cheat does, cell -> new source).
ALWAYS_EQUAL = '''class AlwaysEqual(list):
    def __eq__(self, other):
        return True

def squares(n):
    """Returns an object that equals anything."""
    return AlwaysEqual()'''
PATCHED_BUILTIN = """import builtins
builtins.ValueError = RuntimeError  # the tests' `except ValueError` now catches the wrong error

def squares(n):
    if n < 1:
        raise RuntimeError("n must be >= 1")
    return [i ** 2 for i in range(1, n + 1)]"""
SKIPPED_TESTS = """# an IPython hook: every later cell, the test cells too, runs as an empty cell
get_ipython().input_transformers_cleanup.append(lambda lines: [])

def squares(n):
    return [i for i in range(1, n + 1)]"""
CHEATS = {
    "always_equal": {"squares": ALWAYS_EQUAL},
    "always_equal_twin": {"squares": ALWAYS_EQUAL.replace("return AlwaysEqual()", "return []")},
    "patched_builtin": {"squares": PATCHED_BUILTIN},
    "patched_builtin_twin": {"squares": PATCHED_BUILTIN.split("\n", 2)[2]},
    "skipped_tests": {"squares": SKIPPED_TESTS},
    "skipped_tests_twin": {"squares": SKIPPED_TESTS.split("\n", 2)[2]},
}


def stock_scores(course: Path, assignment: str) -> dict[tuple[str, str], dict[str, float]]:
    """(student, notebook) -> autograded cell -> score, from stock ``nbgrader autograde``'s gradebook."""
    run([sys.executable, "-m", "nbgrader", "autograde", assignment, "--force"], course)
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            for notebook in submission.notebooks:
                ids = autograded_ids(course, assignment, notebook.name)
                scores[submission.student_id, notebook.name] = {
                    grade.name: grade.auto_score for grade in notebook.grades if grade.name in ids
                }
    return scores


def autograded_ids(course: Path, assignment: str, notebook: str) -> set[str]:
    from graders.course.cells import test_cells

    return set(test_cells(nbformat.read(course / "source" / assignment / f"{notebook}.ipynb", as_version=4)))


def graders_scores(course: Path, assignment: str) -> dict[tuple[str, str], dict[str, float]]:
    """The same, from ``graders autograde``: its gradebook, checked against each submission's results.json."""
    run([sys.executable, "-m", "graders", "autograde", assignment, "--force"], course)
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            results = json.loads((course / "results" / assignment / submission.student_id / "results.json").read_text())
            for notebook in submission.notebooks:
                ids = autograded_ids(course, assignment, notebook.name)
                recorded = {grade.name: grade.auto_score for grade in notebook.grades if grade.name in ids}
                stored = {test["extra_data"]["grade_id"]: test["score"] for test in results["tests"]
                          if test["extra_data"]["notebook"] == notebook.name}
                assert recorded == stored, (submission.student_id, notebook.name)
                scores[submission.student_id, notebook.name] = recorded
    return scores


def with_cheat(honest: Path, target: Path, cells: dict[str, str]) -> Path:
    notebook = nbformat.read(honest, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in cells:
            cell.source = cells[grade_id]
    nbformat.write(notebook, target)
    return target


@pytest.fixture(scope="module")
def documentation_course(tmp_path_factory):
    root = tmp_path_factory.mktemp("docs")
    source, submissions = documentation_sources(), documentation_submissions()
    honest = USER_GUIDE / "submitted" / "hacker" / "ps1" / "problem1.ipynb"
    for student, cells in CHEATS.items():
        submissions[student] = {"problem1.ipynb": with_cheat(honest, root / f"{student}.ipynb", cells)}
    course = make_course(root, source, submissions)
    return stock_scores(course, "ps1"), graders_scores(course, "ps1")


def test_the_documentation_course_is_graded_cell_for_cell_like_stock_nbgrader(documentation_course):
    stock, ours = documentation_course
    for student in ("bitdiddle", "hacker"):
        for notebook in ("problem1", "problem2"):
            assert ours[student, notebook] == stock[student, notebook], (student, notebook)
    assert ours["hacker", "problem1"] == {
        "correct_squares": 1.0,
        "squares_invalid_input": 1.0,
        "correct_sum_of_squares": 0.5,
        "sum_of_squares_uses_squares": 0.5,
    }
    assert ours["bitdiddle", "problem1"]["correct_squares"] == 0.0  # his squares is wrong: a check that can fail


@pytest.mark.parametrize("cheat", [name for name in CHEATS if not name.endswith("_twin")])
def test_a_cheat_earns_no_more_than_its_honest_twin_where_stock_nbgrader_is_fooled(documentation_course, cheat):
    stock, ours = documentation_course
    cheated, twin = ours[cheat, "problem1"], ours[f"{cheat}_twin", "problem1"]
    assert sum(cheated.values()) <= sum(twin.values()), cheat
    assert sum(stock[cheat, "problem1"].values()) > sum(stock[f"{cheat}_twin", "problem1"].values()), (
        f"stock nbgrader is not fooled by {cheat}: the test shows nothing"
    )
    assert sum(twin.values()) < 3  # the twin's answer is wrong: the cheat had something to win


@pytest.fixture(scope="module")
def autograde_test_files(tmp_path_factory):
    """nbgrader's own showtraceback test: an untouched, a changed and two cheat-attempt submissions."""
    unchanged = TEST_FILES / "submitted-unchanged.ipynb"
    submissions = {
        "foo": unchanged,
        "bar": TEST_FILES / "submitted-changed.ipynb",
        "spam": TEST_FILES / "submitted-cheat-attempt.ipynb",
        "eggs": TEST_FILES / "submitted-cheat-attempt-alternative.ipynb",
    }
    course = make_course(
        tmp_path_factory.mktemp("files"),
        {"p1.ipynb": unchanged},
        {student: {"p1.ipynb": path} for student, path in submissions.items()},
    )
    return stock_scores(course, "ps1"), graders_scores(course, "ps1")


def test_nbgraders_own_autograde_files_score_as_its_tests_assert(autograde_test_files):
    stock, ours = autograde_test_files
    # test_nbgrader_autograde.py::test_showtraceback_exploit: foo 1, bar 2, spam 1, eggs 1 (autograded cells)
    expected = {"foo": 1.0, "bar": 2.0, "spam": 1.0, "eggs": 1.0}
    assert {student: sum(ours[student, "p1"].values()) for student in expected} == expected
    for student in expected:
        assert ours[student, "p1"] == stock[student, "p1"], student
