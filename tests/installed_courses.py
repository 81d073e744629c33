"""nbgrader's own courses, read from the installed package: its documentation course and its autograde test files.

``make_course`` lays out a course of one assignment ``ps1`` from them, as an
instructor's folder would be after ``nbgrader generate_assignment``; the
tests and ``benchmarks/documentation_course.py`` grade it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbgrader

from graders.course.nbgrader_settings import with_scripts_on_path

NBGRADER = Path(nbgrader.__file__).resolve().parent
USER_GUIDE = NBGRADER / "docs" / "source" / "user_guide"
TEST_FILES = NBGRADER / "tests" / "apps" / "files"
DOCUMENTATION_STUDENTS = ("bitdiddle", "hacker")


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run a command that must succeed (nbgrader's scripts on PATH), its output captured."""
    env = with_scripts_on_path({**os.environ, "PYTHONWARNINGS": "ignore"})
    process = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    return process


def make_course(root: Path, source: dict[str, Path], submissions: dict[str, dict[str, Path]]) -> Path:
    """An nbgrader course of one assignment ``ps1``: its source notebooks, released, and the submissions."""
    course = root / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    for name, path in source.items():
        shutil.copy(path, course / "source" / "ps1" / name)
    for student, files in submissions.items():
        folder = course / "submitted" / student / "ps1"
        folder.mkdir(parents=True)
        for name, path in files.items():
            shutil.copy(path, folder / name)
    run([sys.executable, "-m", "nbgrader", "generate_assignment", "ps1", "--force"], course)
    return course


def documentation_sources() -> dict[str, Path]:
    """The documentation course's ``source/ps1`` files by name (two notebooks and an image)."""
    return {path.name: path for path in (USER_GUIDE / "source" / "ps1").iterdir()}


def documentation_submissions() -> dict[str, dict[str, Path]]:
    """Its two students' submitted files: student -> file name -> path."""
    return {student: {path.name: path for path in (USER_GUIDE / "submitted" / student / "ps1").iterdir()}
            for student in DOCUMENTATION_STUDENTS}
