"""The task a Dask worker runs: grade one submission, return what the writer records.

A job carries the submitted notebooks, the assignment's notebooks (source
and release, with the files beside them) and the grader's data files (a
copy carried by the graph), so a worker needs nothing from the course folder: a remote
cluster only needs this package installed, whatever the assignment.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from graders import skip_slow_imports

skip_slow_imports()  # a worker process imports this module first, before nbformat

from graders.course.assignment import GradedNotebook  # noqa: E402
from graders.grade.sandbox import Limits, thread_environment  # noqa: E402

DATA_FOLDER = "graders-data"


@dataclass(frozen=True)
class NotebookJob:
    """One notebook of a submission, and the assignment's notebook it answers."""

    name: str  # the released file name
    notebook: bytes | None  # None: no notebook of the submission could be chosen (the notes say why)
    graded: GradedNotebook
    notes: tuple[str, ...] = ()  # what the results should say about the submission folder (graders.autograde.locate)


@dataclass(frozen=True)
class DataFile:
    """One data file of the assignment, as a worker provisions it."""

    variable: str  # the environment variable that names it, in the kernel and in the checker
    name: str  # its file name
    sha: str  # its content's sha256


@dataclass(frozen=True)
class Job:
    """One submission to grade: each notebook of the assignment, in the assignment's order."""

    student: str
    notebooks: tuple[NotebookJob, ...]
    data: tuple[DataFile, ...]  # the assignment's data files (their bytes travel apart: ``carry_data``)
    limits: Limits
    hide: tuple[str, ...] = ()  # folders of the grader's machine the kernel must not see (the course's)


@dataclass
class Graded:
    """What a worker found: Gradescope's results (one for the submission) and each executed notebook."""

    student: str
    results: dict
    executed: dict[str, str | None]  # released file name -> the executed notebook's JSON, without the grader's
    # cells; None when it never ran
    seconds: float
    worker: str
    code_version: str
    written: dict[str, bytes] = field(default_factory=dict)  # files the notebooks wrote beside themselves, by
    # relative path (``Grading.written``; a later notebook's file wins): they go into autograded/ as with nbgrader


def carry_data(data: dict[str, bytes]) -> dict[str, bytes]:
    """The grader's data files (variable -> content) as the result of a Dask task. Unlike scattered data, a task's
    result is computed again when every worker holding it dies, so a killed worker never loses it."""
    return data


def materialize_data(content: bytes, file: DataFile) -> Path:
    """A data file on this worker, under its own name, written once per content."""
    folder = Path(tempfile.gettempdir()) / DATA_FOLDER / file.sha
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / file.name
    if not path.is_file():
        partial = folder / f".{file.name}.{os.getpid()}.partial"
        partial.write_bytes(content)
        os.replace(partial, path)
    return path


def limit_threads(threads: int | None) -> None:
    """Cap this worker's own TensorFlow threads (the checks' predictions) before TensorFlow starts."""
    if not threads:
        return
    if "tensorflow" not in sys.modules:
        os.environ.update(thread_environment(threads))
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already running with the pools it had
        pass


def grade_job(job: Job, data: dict[str, bytes]) -> Graded:
    """Grade one submission in a sandbox; the scores are decided in this process. ``data``: each data file's
    content by variable (``carry_data``)."""
    limit_threads(job.limits.threads)
    files = {file.variable: materialize_data(data[file.variable], file) for file in job.data}
    import nbformat

    from graders.autograde.fingerprint import code_version
    from graders.grade.results import CheckResult, Grading, submission_results
    from graders.grade.run import grade

    gradings, executed = {}, {}
    for part in job.notebooks:
        if part.notebook is None:
            why = list(part.notes) or [f"the submission has no {part.name}"]
            points = {name: test.points for name, test in part.graded.tests.items()}
            grading = Grading(points, {name: CheckResult(name, 0.0, why[0], test.hidden)
                                       for name, test in part.graded.tests.items()}, 0.0, why)
        else:
            with tempfile.TemporaryDirectory(prefix="graders-submission-") as folder:
                notebook = Path(folder) / part.name
                notebook.write_bytes(part.notebook)
                grading = grade(notebook, part.graded, job.limits, notes=part.notes, data=files,
                                hide=tuple(Path(folder) for folder in job.hide))
        gradings[part.name] = grading
        executed[part.name] = nbformat.writes(grading.notebook) if grading.notebook is not None else None
    written = {path: content for grading in gradings.values() for path, content in grading.written.items()}
    return Graded(job.student, submission_results(gradings), executed,
                  sum(grading.seconds for grading in gradings.values()), f"{socket.gethostname()}:{os.getpid()}",
                  code_version(), written)
