"""Course folders for ``graders autograde`` tests: released, with submissions, graded by subprocess."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from course import copy_course

from graders.autograde.gradebook_scores import autograded_scores
from graders.course.assignment import grade_id
from graders.course.nbgrader_settings import default_db_url
from graders.demo import nbgrader
from graders.lessons.mnist_cnn import ASSIGNMENT
from graders.lessons.mnist_cnn.data import ENV_VAR
from graders.lessons.mnist_cnn.samples import SAMPLES, build

TIMESTAMP = "2026-11-20 10:00:00.000000 UTC"


@functools.cache
def _released_template() -> Path:
    """The course released once per test session into a sqlite gradebook of its own, for tests to copy."""
    template = Path(tempfile.mkdtemp(prefix="graders-released-course-"))
    atexit.register(shutil.rmtree, template, ignore_errors=True)
    nbgrader(copy_course(template), "generate_assignment", ASSIGNMENT, "--force")
    return template


def released_course(folder: Path) -> Path:
    """A copy of the course with the assignment generated into its own gradebook.

    With the default sqlite gradebook, ``nbgrader generate_assignment`` runs once
    per session and each test gets a copy of that course (gradebook included);
    with ``GRADERS_DB_URL`` set, the assignment is generated into that database.
    """
    if os.environ.get("GRADERS_DB_URL"):
        course = copy_course(folder)
        nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
        return course
    shutil.copytree(_released_template(), folder, symlinks=True)
    return folder


def submit(course: Path, student: str, notebook: nbformat.NotebookNode | str | None) -> Path:
    """Put a submission in ``submitted/``: a notebook, raw text, or (None) no notebook at all."""
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "timestamp.txt").write_text(TIMESTAMP)
    if isinstance(notebook, str):
        (folder / f"{ASSIGNMENT}.ipynb").write_text(notebook)
    elif notebook is not None:
        nbformat.write(notebook, folder / f"{ASSIGNMENT}.ipynb")
    return folder


def submit_files(course: Path, student: str, files: dict[str, bytes]) -> Path:
    """Put a submission folder of these files (relative name -> bytes) in ``submitted/``."""
    folder = course / "submitted" / student / ASSIGNMENT
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    (folder / "timestamp.txt").write_text(TIMESTAMP)
    return folder


def stored_results(course: Path) -> dict[str, dict]:
    """``results.json`` of every student ``graders autograde`` stored."""
    return {path.parent.name: json.loads(path.read_text())
            for path in (course / "results" / ASSIGNMENT).glob("*/results.json")}


def assert_gradebook_agrees(course: Path, db_url: str | None = None) -> dict[str, dict[str, float]]:
    """Every stored results.json and the gradebook give each autograded cell the same score; returns them."""
    recorded = autograded_scores(db_url or default_db_url(course), ASSIGNMENT, ASSIGNMENT)
    results = stored_results(course)
    assert results, "no stored results"
    for student, result in results.items():
        engine = {test["name"]: float(test["score"]) for test in result["tests"]}
        assert recorded.get(student) == engine, f"{student}: gradebook {recorded.get(student)}, results.json {engine}"
    return recorded


def sample_notebook(course: Path, student: str) -> nbformat.NotebookNode:
    """The sample submission of that name, built from the course's release."""
    source_nb = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release_nb = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    return build(next(sample for sample in SAMPLES if sample.student == student), source_nb, release_nb)


def with_cell_source(notebook: nbformat.NotebookNode, cell_id: str, source: str) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with one cell's code replaced."""
    notebook = nbformat.from_dict(notebook)
    next(cell for cell in notebook.cells if grade_id(cell) == cell_id).source = source
    return notebook


def autograde_command(course: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "graders", "autograde", ASSIGNMENT, "--course", str(course), *args]


def batch_environment(npz: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, ENV_VAR: str(npz), **extra}
    if "GRADERS_DB_URL" not in extra:
        env.pop("GRADERS_DB_URL", None)
    return env


def run_autograde(course: Path, npz: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``graders autograde`` on the course, as an instructor runs it."""
    return subprocess.run(autograde_command(course, *args), env=batch_environment(npz, **env), capture_output=True,
                          text=True, timeout=1800)
