"""``graders demo [ASSIGNMENT ...]``: release an assignment, autograde its declared sample submissions, compare.

For each assignment (default: every one of the course that declares samples
in ``grading/ASSIGNMENT.samples.toml``): provision its data when a file is
missing (``graders.course.provision``), ``nbgrader generate_assignment``,
build the samples into ``submitted/`` (``graders.course.samples``), grade
them with ``graders autograde`` (local Dask workers, the course's
gradebook), and print each student's autograded score against the one it
should get. Nothing here knows a lesson.
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
from graders.course.nbgrader_settings import course_config, default_db_url, with_scripts_on_path
from graders.course.samples import SUFFIX, Sample, cell_points, expected_scores, read_samples, write_submissions
from graders.grade.results import make_console, test_name


def nbgrader(course: Path, *args: str) -> None:
    """Run an nbgrader command in the course folder, failing loudly."""
    subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, check=True,
                   env=with_scripts_on_path(os.environ))


def assignments_with_samples(course: Path) -> list[str]:
    """The course's assignments (folders of its source directory) that declare sample submissions."""
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=course_config(course))
    source = Path(coursedir.root) / coursedir.source_directory
    return sorted(path.name for path in source.iterdir()
                  if path.is_dir() and (Path(course) / "grading" / f"{path.name}{SUFFIX}").is_file())


def gradebook_scores(course: Path, assignment: str, release: Path) -> dict[str, dict[str, float]]:
    """``{student: {test cell: score}}`` from the gradebook, test cells named as ``expected_scores`` names them."""
    names = sorted(path.name for path in release.glob("*.ipynb"))
    scores: dict[str, dict[str, float]] = {}
    for name in names:
        stem = Path(name).stem
        for student, cells in autograded_scores(default_db_url(course), assignment, stem).items():
            for cell, score in cells.items():
                scores.setdefault(student, {})[test_name(cell, stem, len(names) > 1)] = score
    return scores


def demo_assignment(course: Path, assignment: str, console: Console, samples: tuple[Sample, ...] | None = None,
                    provision=None) -> int:
    """Release ``assignment``, grade its samples into the gradebook, print the table; the number of samples that
    scored otherwise than declared, plus those not graded or not recorded. ``provision(course, assignment,
    console)`` writes missing data files first (default: ``graders.course.provision.provision_missing``)."""
    from graders.course.provision import provision_missing

    samples = read_samples(course, assignment) if samples is None else samples
    (provision or provision_missing)(course, assignment, console)
    console.rule(f"nbgrader generate_assignment {assignment}")
    nbgrader(course, "generate_assignment", assignment, "--force")
    from graders.course.assignment import find_assignment

    release = find_assignment(course, assignment).release_folder
    releases = {path.name: nbformat.read(path, as_version=4) for path in sorted(release.glob("*.ipynb"))}
    for sample in samples:  # a sample naming a test cell the release lacks fails here, before any grading
        expected_scores(sample, releases)
    write_submissions(course, assignment, samples)
    console.rule(f"graders autograde {assignment} ({len(samples)} submissions)")
    outcomes = Batch(course, assignment, BatchOptions(), console).run()
    unrecorded = [outcome.student for outcome in outcomes
                  if outcome.status == "failed" and outcome.student in {sample.student for sample in samples}]

    scores = gradebook_scores(course, assignment, release)
    table = Table(title=f"{assignment}: autograded scores (gradebook {default_db_url(course)})")
    for column in ("student", "submission", "score", "expected", "failed checks"):
        table.add_column(column, justify="right" if column in ("score", "expected") else "left")
    mismatches = 0
    for sample in samples:
        expected = expected_scores(sample, releases)
        points = cell_points(releases)
        got = scores.get(sample.student, {})
        failed = sorted(name for name, most in points.items() if got.get(name, 0.0) < most)
        ok = got == expected
        mismatches += not ok
        table.add_row(sample.student, sample.description, f"{sum(got.values()):g} / {sum(points.values()):g}",
                      f"{sum(expected.values()):g}", ", ".join(failed) or "-", style=None if ok else "bold red")
    console.print(table)
    console.print("all scores as expected" if not mismatches else f"[bold red]{mismatches} submission(s) "
                  "scored differently from what they should[/]")
    if unrecorded:
        console.print(f"[bold red]not graded or not recorded: {', '.join(unrecorded)}[/]")
    return mismatches + len(unrecorded)


def run_demo(course: Path, assignments: list[str] | None = None, console: Console | None = None) -> int:
    """``graders demo``: every assignment given (default: all that declare samples); 0 when every sample of each
    scored exactly as declared and was recorded, else 1."""
    console = console or make_console()
    course = course.resolve()
    assignments = assignments or assignments_with_samples(course)
    if not assignments:
        console.print(f"[bold red]no assignment of {course} declares sample submissions (grading/ASSIGNMENT"
                      f"{SUFFIX})[/]")
        return 1
    from graders.course.assignment import AssignmentError
    from graders.course.samples import SamplesError
    from graders.course.settings import SettingsError

    problems = 0
    for assignment in assignments:  # one assignment that cannot run (its data, say) never hides the others
        try:
            problems += demo_assignment(course, assignment, console)
        except (AssignmentError, SamplesError, SettingsError, subprocess.CalledProcessError) as error:
            console.print(f"[bold red]{assignment}: not demonstrated: {error}[/]")
            problems += 1
    return 0 if not problems else 1
