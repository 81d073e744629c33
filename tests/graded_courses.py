"""The two graded courses the end-to-end and browser tests read: one by stock nbgrader, one by ``graders autograde``.

Both hold the sample submissions, so their scores can be compared check by
check; the ``graders autograde`` course also holds broken, hostile and
real-world submissions. Grading them is the suite's most expensive step, so it
happens once per session, and the two commands run side by side: each waits on
kernel start-ups and gradebook writes that the other fills with work.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from batch_course import (
    autograde_command,
    batch_environment,
    released_course,
    sample_notebook,
    submit,
    submit_files,
    with_cell_source,
)
from corpus import ATTACKS
from corpus import build as build_attack
from real_submissions import REAL_SUBMISSIONS

from graders.course.nbgrader_settings import with_scripts_on_path
from graders.lessons.mnist_cnn import ASSIGNMENT
from graders.lessons.mnist_cnn.samples import write_submissions

HOSTILE = ("hand_set_accuracy", "patched_checks_and_builtins", "unknown_kernel")  # from the corpus
BROKEN = {
    "broken_json": 0.0,
    "kernel_exits": 3.0,  # kernel_exits keeps its preprocessing
    "no_notebook": 0.0,
    **{attack.name: attack.expected for attack in ATTACKS if attack.name in HOSTILE},
}
GRADED_CELL = "q_preprocessing_purpose"  # a written answer worth 2 points, graded by hand in the browser test
WRITTEN_ANSWER = (
    "`Conv2D` expects a channel axis, so each image becomes 28 × 28 × 1. The pixels become float32 "
    "and are divided by 255, so the inputs lie in [0, 1]: small inputs keep training stable."
)


@dataclass(frozen=True)
class GradedCourses:
    stock: Path  # the samples, graded by ``nbgrader autograde``
    batch: Path  # the samples and the other submissions, graded by ``graders autograde --workers 2``
    batch_stdout: str


def batch_submissions(course: Path) -> None:
    """The samples (the solution with a written answer), broken, hostile and real-world submissions."""
    write_submissions(course)
    solution = sample_notebook(course, "solution")
    submit(course, "solution", with_cell_source(solution, GRADED_CELL, WRITTEN_ANSWER))
    submit(course, "broken_json", '{"cells": [ not json')
    kernel_exits = with_cell_source(solution, "cnn_model", "import os\nos._exit(3)")
    submit(course, "kernel_exits", with_cell_source(kernel_exits, "q_comparison", "The convnet is smaller."))
    submit(course, "no_notebook", None)
    for attack in ATTACKS:
        if attack.name in HOSTILE:
            submit(course, attack.name, build_attack(attack))
    source_nb = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for real in REAL_SUBMISSIONS:
        submit_files(course, real.student, real.files(source_nb, release))


def grade_both(folder: Path, npz: Path) -> GradedCourses:
    """Release two courses into ``folder`` and grade them at the same time; fails if either command fails."""
    stock, batch = released_course(folder / "stock"), released_course(folder / "batch")
    write_submissions(stock)
    batch_submissions(batch)
    environment = batch_environment(npz)
    log = folder / "nbgrader-autograde.log"  # a file, not a pipe: nobody reads nbgrader's log while it runs
    deadline = time.monotonic() + 3000
    with open(log, "w") as stream:
        nbgrader = subprocess.Popen(
            [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"],
            cwd=stock,
            env=with_scripts_on_path(environment),
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
        graders = None
        try:
            graders = subprocess.Popen(
                autograde_command(batch, "--workers", "2"),
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            batch_stdout, batch_stderr = graders.communicate(timeout=deadline - time.monotonic())
            nbgrader.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:  # a time-out or an interrupt leaves neither command loading the machine for the rest of the suite
            for process in (nbgrader, graders):
                if process is not None and process.poll() is None:
                    process.kill()
    assert nbgrader.returncode == 0, log.read_text()[-5000:]
    assert graders.returncode == 0, batch_stdout[-5000:] + batch_stderr[-5000:]
    return GradedCourses(stock, batch, batch_stdout)
