"""``graders autograde`` where an instructor typed ``nbgrader autograde``: on nbgrader's own test notebooks.

One student is graded again alone (``--student``) and no other student's
results change; and a class collected with ``nbgrader zip_collect``, graded,
given feedback and exported leaves the gradebook, ``autograded/``, the
feedback and the export that stock ``nbgrader autograde`` leaves.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from nbgrader.tests import apps as nbgrader_test_apps

from graders.cli import main
from graders.demo import nbgrader

pytestmark = pytest.mark.slow

FILES = Path(nbgrader_test_apps.__file__).parent / "files"  # nbgrader's own test notebooks, as installed
DUE = "2015-02-02 14:58:23.948203 America/Los_Angeles"


def released_course(root: Path) -> Path:
    """A course whose assignment ps1 is nbgrader's ``submitted-unchanged.ipynb`` (7 points, 3 written answers)."""
    (root / "source" / "ps1").mkdir(parents=True)
    shutil.copy(FILES / "submitted-unchanged.ipynb", root / "source" / "ps1" / "p1.ipynb")
    (root / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\n")
    nbgrader(root, "db", "assignment", "add", "ps1", "--duedate", DUE)
    nbgrader(root, "generate_assignment", "ps1")
    return root


def submit(root: Path, student: str, file: str) -> None:
    folder = root / "submitted" / student / "ps1"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(FILES / file, folder / "p1.ipynb")


def files(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file below ``folder``: content, modification time (ns) and mode."""
    return {
        path.relative_to(folder).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_mode)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def gradebook_rows(root: Path, student: str | None = None) -> dict:
    """Each grade and comment of ``student`` (every student's when None), as formgrader shows them."""
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        submissions = gradebook.find_assignment("ps1").submissions
        return {
            (submission.student_id, grade.name): (
                grade.auto_score,
                grade.manual_score,
                grade.needs_manual_grade,
                grade.max_score,
            )
            for submission in submissions
            if student in (None, submission.student_id)
            for notebook in submission.notebooks
            for grade in notebook.grades
        } | {
            (submission.student_id, "comment", comment.name): comment.comment
            for submission in submissions
            if student in (None, submission.student_id)
            for notebook in submission.notebooks
            for comment in notebook.comments
        }


def total(root: Path, student: str) -> float:
    """The student's autograded points (manual grades left out)."""
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return sum(grade.auto_score or 0 for grade in gradebook.find_submission_notebook("p1", "ps1", student).grades)


def test_regrading_one_student_touches_no_other_students_results(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADERS_DB_URL", raising=False)
    root = released_course(tmp_path / "course")
    submit(root, "alice", "submitted-changed.ipynb")
    submit(root, "bob", "submitted-unchanged.ipynb")
    assert main(["autograde", "ps1", "--course", str(root)]) == 0
    assert (total(root, "alice"), total(root, "bob")) == (2, 1)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:  # an instructor's manual grade
        grade = next(
            grade
            for grade in gradebook.find_submission_notebook("p1", "ps1", "alice").grades
            if grade.needs_manual_grade
        )
        grade.manual_score = grade.max_score
        gradebook.db.commit()
    alice = (
        files(root / "results" / "ps1" / "alice"),
        files(root / "autograded" / "alice"),
        gradebook_rows(root, "alice"),
    )

    submit(root, "alice", "submitted-unchanged.ipynb")  # both hand in again
    submit(root, "bob", "submitted-changed.ipynb")
    monkeypatch.chdir(root)  # as an nbgrader user types it, in the course folder
    assert main(["autograde", "ps1", "--student", "bob", "--force"]) == 0
    assert total(root, "bob") == 2
    assert (
        files(root / "results" / "ps1" / "alice"),
        files(root / "autograded" / "alice"),
        gradebook_rows(root, "alice"),
    ) == alice

    assert main(["autograde", "ps1"]) == 0  # without --student, alice's new submission is graded
    assert total(root, "alice") == 1


def collect_grade_and_export(root: Path, grade: list[str]) -> dict:
    """``nbgrader zip_collect`` two students' downloads, autograde with ``grade``, ``generate_feedback``,
    ``export``: what formgrader and the instructor then read."""
    archive = root / "downloaded" / "ps1" / "archive"
    archive.mkdir(parents=True)
    shutil.copy(FILES / "submitted-changed.ipynb", archive / "ps1_alice_attempt_2015-02-02-15-00-00_p1.ipynb")
    shutil.copy(FILES / "submitted-unchanged.ipynb", archive / "ps1_bob_attempt_2015-02-01-10-00-00_p1.ipynb")
    with open(root / "nbgrader_config.py", "a") as config:
        config.write(
            'c.FileNameCollectorPlugin.named_regexp = r".+_(?P<student_id>\\w+)_attempt_'
            '(?P<timestamp>[0-9\\-]+)_(?P<file_id>\\w+)"\n'
        )
    nbgrader(root, "zip_collect", "ps1")
    assert sorted(path.parent.name for path in (root / "submitted").glob("*/ps1")) == ["alice", "bob"]
    if grade[0] == "graders":
        assert main(["autograde", "ps1", "--course", str(root), *grade[1:]]) == 0
    else:
        nbgrader(root, "autograde", "ps1", *grade[1:])
    nbgrader(root, "generate_feedback", "ps1")
    nbgrader(root, "export", "--to", str(root / "grades.csv"))
    with open(root / "grades.csv") as stream:
        exported = sorted(csv.DictReader(stream), key=lambda row: row["student_id"])
    autograded = {
        name: (mode, name.endswith(".ipynb") or content)
        for name, (content, _, mode) in files(root / "autograded").items()
    }
    feedback = sorted(files(root / "feedback"))
    return {"gradebook": gradebook_rows(root), "export": exported, "autograded": autograded, "feedback": feedback}


def test_collect_autograde_feedback_and_export_leave_what_nbgrader_autograde_leaves(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADERS_DB_URL", raising=False)
    ours = collect_grade_and_export(released_course(tmp_path / "graders"), ["graders"])
    theirs = collect_grade_and_export(released_course(tmp_path / "nbgrader"), ["nbgrader"])
    assert ours == theirs
    assert ours["feedback"] == [
        f"{student}/ps1/{name}" for student in ("alice", "bob") for name in ("p1.html", "timestamp.txt")
    ]
    scores = {
        row["student_id"]: (float(row["raw_score"]), float(row["late_submission_penalty"])) for row in ours["export"]
    }
    assert scores == {"alice": (2.0, 0.0), "bob": (1.0, 0.0)}  # no late penalty by default
    assert ours["gradebook"][("alice", "comment", "set_a")] is None  # an answer: formgrader waits for a grade
    assert ours["gradebook"][("bob", "comment", "set_a")] == "No response."
