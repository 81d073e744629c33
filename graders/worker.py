"""The task a Dask worker runs: grade one submission, return what the writer records.

A job carries the submitted file, the assignment's notebook (source and
release, with the files beside them) and the grader's data (a copy carried
by the graph), so a worker needs nothing from the course folder: a remote
cluster only needs this package installed, whatever the assignment.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from graders.assignment import GradedNotebook
from graders.data import ENV_VAR
from graders.sandbox import Limits, thread_environment

DATA_FOLDER = "graders-data"


@dataclass(frozen=True)
class Job:
    """One submission to grade."""

    student: str
    notebook_name: str
    notebook: bytes | None  # None: no notebook of the submission could be chosen (the notes say why)
    graded: GradedNotebook  # the assignment's notebook it answers
    data_sha: str
    limits: Limits
    notes: tuple[str, ...] = ()  # what the results should say about the submission folder (graders.locate)


@dataclass
class Graded:
    """What a worker found: Gradescope's results and the executed notebook."""

    student: str
    results: dict
    executed: str | None  # the executed notebook's JSON, without the grader's cells
    seconds: float
    worker: str
    code_version: str


def carry_data(data: bytes | None) -> bytes | None:
    """The grader's data as the result of a Dask task. Unlike scattered data, a task's result is
    computed again when every worker holding it dies, so a killed worker never loses it."""
    return data


def materialize_data(data: bytes, sha: str) -> Path:
    """The grader's data as a file on this worker, written once per content."""
    folder = Path(tempfile.gettempdir()) / DATA_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{sha}.npz"
    if not path.is_file():
        partial = folder / f".{sha}.{os.getpid()}.partial"
        partial.write_bytes(data)
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


def grade_job(job: Job, data: bytes | None) -> Graded:
    """Grade one submission in a sandbox; the scores are decided in this process."""
    limit_threads(job.limits.threads)
    if data is not None:
        os.environ[ENV_VAR] = str(materialize_data(data, job.data_sha))
    else:
        os.environ.pop(ENV_VAR, None)
    import nbformat

    from graders.fingerprint import code_version
    from graders.grade import grade
    from graders.results import CheckResult, Grading, to_gradescope

    if job.notebook is None:
        why = list(job.notes) or [f"the submission has no {job.notebook_name}"]
        points = {name: test.points for name, test in job.graded.tests.items()}
        grading = Grading(points, {name: CheckResult(name, 0.0, why[0], test.hidden)
                                   for name, test in job.graded.tests.items()}, 0.0, why)
    else:
        with tempfile.TemporaryDirectory(prefix="graders-submission-") as folder:
            notebook = Path(folder) / job.notebook_name
            notebook.write_bytes(job.notebook)
            grading = grade(notebook, job.graded, job.limits, notes=job.notes)
    executed = nbformat.writes(grading.notebook) if grading.notebook is not None else None
    return Graded(job.student, to_gradescope(grading), executed, grading.seconds,
                  f"{socket.gethostname()}:{os.getpid()}", code_version())
