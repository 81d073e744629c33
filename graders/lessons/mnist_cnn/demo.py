"""The main job on the embedded default: release, grade the sample
submissions with ``graders autograde`` (local Dask workers) into the sqlite
gradebook, print a score table against the scores they should get.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from rich.console import Console
from rich.table import Table

from graders.autograde.batch import Batch, BatchOptions
from graders.autograde.gradebook_scores import autograded_scores
from graders.course.nbgrader_settings import default_db_url, with_scripts_on_path
from graders.grade.results import make_console
from graders.lessons.mnist_cnn import ASSIGNMENT, autograded_tests
from graders.lessons.mnist_cnn.data import ENV_VAR, write_sample_npz
from graders.lessons.mnist_cnn.samples import SAMPLES, Sample, expected_scores, write_submissions


def nbgrader(course: Path, *args: str) -> None:
    """Run an nbgrader command in the course folder, failing loudly."""
    subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, check=True,
                   env=with_scripts_on_path(os.environ))


def ensure_data(course: Path, console: Console) -> None:
    """Provision the offline sample unless ``MNIST_NPZ`` or ``data/mnist.npz`` exists."""
    if os.environ.get(ENV_VAR):
        console.print(f"data: {ENV_VAR}={os.environ[ENV_VAR]}")
        return
    path = course / "data" / "mnist.npz"
    if not path.is_file():
        write_sample_npz(path)
        console.print(f"data: wrote the 5,000-digit sample to {path.relative_to(course)}")


def run_demo(course: Path, samples: tuple[Sample, ...] = SAMPLES, console: Console | None = None) -> int:
    """Release, build and autograde the sample submissions into the course's gradebook.

    Returns 0 when every sample's per-check scores in the gradebook are the
    ones it should get and the batch recorded every submission, else 1.
    """
    console = console or make_console()
    course = course.resolve()
    ensure_data(course, console)
    console.rule("nbgrader generate_assignment")
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    write_submissions(course, samples)
    console.rule(f"graders autograde ({len(samples)} submissions)")
    outcomes = Batch(course, ASSIGNMENT, BatchOptions(), console).run()
    unrecorded = [outcome.student for outcome in outcomes if outcome.status == "failed"]

    release_nb = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    scores = autograded_scores(default_db_url(course), ASSIGNMENT, ASSIGNMENT)
    table = Table(title=f"{ASSIGNMENT}: autograded scores (gradebook {default_db_url(course)})")
    for column in ("student", "submission", "score", "expected", "failed checks"):
        table.add_column(column, justify="right" if column in ("score", "expected") else "left")
    tests = autograded_tests(release_nb)
    mismatches = 0
    for sample in samples:
        expected = expected_scores(sample, release_nb)
        got = scores.get(sample.student, {})
        failed = sorted(name for name, points in tests.items() if got.get(name, 0.0) < points)
        ok = got == expected
        mismatches += not ok
        table.add_row(sample.student, sample.description, f"{sum(got.values()):g} / {sum(tests.values()):g}",
                      f"{sum(expected.values()):g}", ", ".join(failed) or "-", style=None if ok else "bold red")
    console.print(table)
    console.print("all scores as expected" if not mismatches else f"[bold red]{mismatches} submission(s) "
                  "scored differently from what they should[/]")
    if unrecorded:
        console.print(f"[bold red]not graded or not recorded: {', '.join(unrecorded)}[/]")
    return 0 if not mismatches and not unrecorded else 1
