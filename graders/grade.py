"""``graders grade``: one submission, from any path, to scores nothing in it can inflate.

execute (sandbox) -> export -> check (this process) -> report.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from pathlib import Path

from nbformat import NotebookNode

from graders import selfcheck
from graders.assignment import autograded_tests, read_release
from graders.data import provisioned_path
from graders.execute import execute, without_grader_cells
from graders.export import load_exports
from graders.feedback_data import feedback_data
from graders.results import Grading, print_table, to_gradescope
from graders.run_checks import run_checks
from graders.sandbox import Limits, Sandbox
from graders.submission import SubmissionError, read_submission, restore_assignment_cells


def preload_keras() -> threading.Thread:
    """Import Keras (and TensorFlow: seconds) in the background while the kernel runs; the checks need it."""
    thread = threading.Thread(target=importlib.import_module, args=("keras",), name="preload-keras", daemon=True)
    thread.start()
    return thread


def grade(notebook: Path, limits: Limits | None = None, release_nb: NotebookNode | None = None,
          notes: tuple[str, ...] = ()) -> Grading:
    """Grade one submitted notebook against the release (default: this kit's) and ``MNIST_NPZ``.

    ``notes`` (what the batch found about the submission folder) come first
    in the results' output.
    """
    limits = limits or Limits()
    release_nb = release_nb if release_nb is not None else read_release()
    points = autograded_tests(release_nb)
    data = provisioned_path()
    start = time.monotonic()
    try:
        prepared = restore_assignment_cells(read_submission(notebook), release_nb)
    except SubmissionError as error:
        return Grading(points, {}, time.monotonic() - start, [*notes, str(error)])
    preloading = preload_keras()
    with Sandbox(limits, hide=(notebook.resolve().parent, data.resolve().parent)) as sandbox:
        sandbox.add_file(data, "mnist.npz")
        sandbox.add_file(Path(selfcheck.__file__), "selfcheck.py")  # the visible checks import it, as released
        executed, report = execute(prepared.notebook, sandbox)
        exports = load_exports(sandbox.exports)
        isolation = [] if sandbox.user is not None else [
            "sandbox: the grader is not root, so the kernel ran without a separate user, filesystem or "
            "network isolation (resource limits and checks outside the kernel still apply)"]
    preloading.join()
    checks = run_checks(exports)
    events = [*notes, *isolation, *prepared.notes, *report.events, *exports.notes]
    return Grading(points, checks, time.monotonic() - start, events,
                   without_grader_cells(executed), feedback_data(exports))


def grade_command(notebook: Path, output: Path | None, limits: Limits) -> int:
    """The CLI verb: print the table, write results.json; 0 whenever grading itself worked."""
    grading = grade(notebook, limits)
    print_table(grading, f"graders grade {notebook.name}")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(to_gradescope(grading), indent=2) + "\n")
    return 0
