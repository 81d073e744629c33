"""The checker: a process of the grader's own that runs the instructor's test cells on the student's objects.

One checker per submission starts with the kernel and imports Keras while
the notebook runs. For each autograded test cell, the grader brings the
names the cell reads across from the kernel (``kernel_bridge``) and hands
the cell to the checker, which runs the instructor's code of that cell
(visible and hidden tests, from the source notebook) in a fresh namespace
holding those objects (``bring_across``). The cell's outputs (printed text,
its last value, its error) are scored by nbgrader's own rule
(``nbgrader.utils.determine_grade``): full points without an error, none with
one, partial credit for a number left as the cell's value.

Cells whose objects are plain data, arrays or models run while the kernel
goes on with the notebook; a cell that calls the student's functions runs
while the kernel waits, since each call runs there.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import ctypes
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, Pipe
from pathlib import Path

import nbformat

from graders.course.settings import HeldOut

MAX_OUTPUT = 100_000  # characters of a test cell's printed output kept
RECORD_ENVIRONMENT = "GRADERS_RECORD_OBJECTS"  # "1": describe each cell's objects for a reference record
PR_SET_PDEATHSIG = 1


@dataclass
class CellOutcome:
    """What a test cell did in the checker: nbgrader outputs, and its score by nbgrader's rule."""

    score: float
    max_score: float
    outputs: list[dict]
    message: str  # "" when it passed, else why not (the error, or the partial credit)
    notes: list[str] = field(default_factory=list)  # how objects were read (a TensorFlow activation, say)
    recorded: dict = field(default_factory=dict)  # reference runs: the cell's objects (``graders.reference``)
    grader_error: str = ""  # the reference record could not answer the cell: the grader's problem, not a score


# -- inside the checker process ------------------------------------------------------------------------------


def _display_text(value) -> str:
    """The cell's last value as IPython shows it (``text/plain``), which nbgrader reads for partial credit."""
    try:
        from IPython.lib.pretty import pretty

        return pretty(value)
    except Exception:  # noqa: BLE001
        return repr(value)


def _python_source(code: str) -> str:
    """IPython syntax (magics, ``!`` commands) as Python, as the kernel would run it."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(code)


def run_cell(code: str, namespace: dict, points: float, ignore_pattern: str = "") -> CellOutcome:
    """Run one test cell's code in ``namespace`` as a kernel would; score its outputs as nbgrader does.

    Printed text that matches ``ignore_pattern`` on stderr is dropped first,
    as nbgrader's ``IgnorePattern`` does when the course enables it.
    """
    from nbgrader.utils import determine_grade

    from graders.reference.record import RecordError

    stdout, stderr = io.StringIO(), io.StringIO()
    outputs: list[dict] = []
    value, error, grader_error = None, None, ""
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            tree = ast.parse(_python_source(code), "<test cell>")
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(tree, "<test cell>", "exec"), namespace)  # noqa: S102 (the instructor's test code)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), "<test cell>", "eval"), namespace)  # noqa: S307
        except BaseException as caught:  # noqa: BLE001, B036 (a test that exits or is interrupted failed)
            error = caught
    for name, stream in (("stdout", stdout), ("stderr", stderr)):
        text = stream.getvalue()
        if name == "stderr" and ignore_pattern and re.search(ignore_pattern, text):
            continue
        if text:
            outputs.append(nbformat.v4.new_output("stream", name=name, text=text[:MAX_OUTPUT]))
    if error is None and value is not None:
        outputs.append(
            nbformat.v4.new_output("execute_result", data={"text/plain": _display_text(value)}, execution_count=None)
        )
    message = ""
    if error is not None:
        ename = type(error).__name__
        evalue = str(error)[:MAX_OUTPUT]
        outputs.append(
            nbformat.v4.new_output(
                "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}" if evalue else ename]
            )
        )
        message = evalue if ename == "AssertionError" and evalue else f"{ename}: {evalue}" if evalue else ename
        if isinstance(error, RecordError):
            grader_error = evalue
    cell = nbformat.v4.new_code_cell(metadata={"nbgrader": {"grade": True, "solution": False, "points": points}})
    cell.outputs = [nbformat.from_dict(output) for output in outputs]
    try:
        score, max_score = determine_grade(cell)
    except ValueError as error:  # partial credit above the cell's points: nbgrader stops grading the notebook
        score, max_score, message = 0.0, points, f"the cell's value cannot be its score: {error}"
    score = float(score or 0.0)
    if not message and score < max_score:
        on_stderr = any(output.get("name") == "stderr" for output in outputs)
        message = (
            "it wrote to stderr, which nbgrader counts as a failure"
            if on_stderr
            else f"partial credit: {score:g} of {max_score:g}"
        )
    return CellOutcome(score, float(max_score), [dict(output) for output in outputs], message,
                       grader_error=grader_error)


def _set_parent_death_signal(parent: int) -> None:
    """Die with the grader, even when it is killed with SIGKILL."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def _kernel_call(connection: Connection, request: dict) -> str:
    connection.send(("call", request))
    kind, answer = connection.recv()
    if kind != "reply":
        raise RuntimeError(f"the student's kernel could not run the call: {answer}")
    return answer


def checker_main(
    fd: int, parent: int, folder: str, ignore_pattern: str, modules: list[str], held_out: str, paths: list[str]
) -> None:
    """The checker process: run cells as the grader sends them, until told to stop. ``held_out``: the feedback's
    held-out arrays as JSON (``HeldOut``'s fields), or "null"."""
    _set_parent_death_signal(parent)
    sys.path[:0] = paths
    connection = Connection(fd)
    if {"keras", "tensorflow"} & set(modules):  # an assignment that uses Keras: import it while the kernel starts
        threading.Thread(target=__import__, args=("keras",), daemon=True).start()
    from graders.grade.bring_across import CallBridge, Rebuilder, namespace_for

    folder_path = Path(folder)
    models: dict = {}
    recording = os.environ.get(RECORD_ENVIRONMENT) == "1"
    while True:
        try:
            kind, job = connection.recv()
        except EOFError:
            return
        if kind == "stop":  # every outcome is sent: no interpreter teardown to wait for (TensorFlow's is slow)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        bridge = CallBridge(folder_path, lambda request: _kernel_call(connection, request))
        rebuilder = Rebuilder(folder_path, bridge, models, frozenset(filter(None, modules)))
        description = folder_path / job["description"] if job.get("description") else None
        try:
            namespace = namespace_for(description, rebuilder) if description else {}
            brought = list(namespace)  # the student's objects, before the instructor's imports
            if job.get("preamble"):  # the instructor's own modules for the names the locked cells import
                exec(job["preamble"], namespace)  # noqa: S102 (import statements of the source notebook)
        except (Exception, SystemExit) as error:  # noqa: BLE001 (the kernel wrote it: the cell fails, not the checker)
            namespace, problem = {}, f"the kernel's description of the objects could not be read: {error}"
        else:
            problem = None
        if kind == "feedback":
            from graders.feedback.data import feedback_data

            connection.send(("feedback", feedback_data(namespace, json.loads(held_out))))
            continue
        bridge.namespace = namespace
        bridge.originals = dict(namespace)
        namespace.update({"__name__": "__main__", "__builtins__": __builtins__})
        if problem:
            outcome = CellOutcome(0.0, job["points"], [], problem)
        else:
            recorded = {}
            if recording:
                from graders.reference.describe import describe_objects

                try:
                    recorded = describe_objects({name: namespace[name] for name in brought})
                except Exception as error:  # noqa: BLE001 (recorded as a problem of the run, not of the checker)
                    recorded = {"problem": f"{type(error).__name__}: {error}"[:300]}
            outcome = run_cell(job["code"], namespace, job["points"], ignore_pattern)
            outcome.notes = rebuilder.notes
            outcome.recorded = recorded
        connection.send(("done", job["index"], outcome))


# -- in the grader ---------------------------------------------------------------------------------------------


class Checker:
    """The grader's handle on one checker process.

    ``folder`` is the sandbox's exports folder, where the kernel writes its
    descriptions; ``paths`` go first on the checker's ``sys.path`` (the
    assignment's source folder, so a test cell imports the instructor's
    helper modules); ``cwd`` is where test cells run (the submission's folder). ``modules`` are the top-level
    modules the checker imports when the kernel names them (those the assignment's source notebook imports).
    ``environment`` is added to the checker's (the data files' variables, pointing at the grader's copies);
    ``held_out`` names the arrays the feedback's plots are measured on.
    """

    def __init__(
        self,
        folder: Path,
        paths: list[Path],
        cwd: Path,
        seconds_per_cell: float,
        ignore_pattern: str = "",
        modules: frozenset[str] = frozenset(),
        environment: dict[str, str] | None = None,
        held_out: HeldOut | None = None,
    ):
        self.folder = folder
        self.seconds_per_cell = seconds_per_cell
        ours, theirs = Pipe()
        self.connection = ours
        self.log = tempfile.TemporaryFile()
        code = (
            "import sys; sys.modules.setdefault('rfc3987_syntax', None); "
            "from graders.grade.checker import checker_main; "
            "checker_main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5].split(','), "
            "sys.argv[6], sys.argv[7:])"
        )
        # -I: neither the working folder (the sandbox, which the student's kernel writes) nor PYTHONPATH is on
        # sys.path, so no module the kernel wrote can be imported by the checker.
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-c",
                code,
                str(theirs.fileno()),
                str(os.getpid()),
                str(folder),
                ignore_pattern,
                ",".join(sorted(modules)),
                json.dumps(asdict(held_out) if held_out is not None else None),
                *map(str, paths),
            ],
            env={**os.environ, **(environment or {})},
            pass_fds=[theirs.fileno()],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )
        theirs.close()
        self.sent: list[int] = []
        self.outcomes: dict[int, CellOutcome] = {}
        self.feedback: dict | None = None
        self.failure: str | None = None

    def submit(self, index: int, code: str, points: float, description: str | None, preamble: str = "") -> None:
        """Hand a test cell to the checker (it runs after the cells handed before). ``preamble`` (the
        instructor's imports of names the cell reads) runs first, over the objects brought across."""
        self.sent.append(index)
        self._send(
            ("run", {"index": index, "code": code, "points": points, "description": description, "preamble": preamble})
        )

    def _send(self, message) -> None:
        """Send to the checker; if it is gone, every cell not done fails with that reason."""
        if self.failure:
            return
        try:
            self.connection.send(message)
        except OSError:
            self._fail(f"the grader's checker stopped{self._log_tail()}")

    def _receive(self, timeout: float):
        if not self.connection.poll(timeout):
            return None
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            return ("gone", None)

    def _fail(self, why: str) -> None:
        if self.failure is None:
            self.failure = why
        self.process.kill()

    def _handle(self, message) -> None:
        """A message of the checker's while the kernel takes no calls (between cells, or after the notebook)."""
        kind, payload = message[0], message[1:]
        if kind == "done":
            self.outcomes[payload[0]] = payload[1]
        elif kind == "feedback":
            self.feedback = payload[0]
        elif kind == "call":
            self._send(("refused", "the notebook has finished: the kernel takes no more calls"))
        elif kind == "gone":
            self._fail(f"the grader's checker stopped{self._log_tail()}")

    def _log_tail(self) -> str:
        self.log.seek(0)
        lines = [line for line in self.log.read().decode(errors="replace").splitlines() if line.strip()]
        return f": {lines[-1][:300]}" if lines else ""

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.seconds_per_cell
        while not done() and not self.failure:
            message = self._receive(min(1.0, max(0.0, deadline - time.monotonic())))
            if message is not None:
                self._handle(message)
                if message[0] == "done":
                    deadline = time.monotonic() + self.seconds_per_cell
            elif time.monotonic() >= deadline:
                self._fail(f"the grader's check of {what} did not finish within {self.seconds_per_cell:g} s")

    async def run_now(
        self,
        index: int,
        code: str,
        points: float,
        description: str | None,
        call: Callable[[dict], Awaitable[str]],
        preamble: str = "",
    ) -> None:
        """Run a test cell that calls into the kernel, serving its calls; return when it is done."""
        self.submit(index, code, points, description, preamble)
        loop = asyncio.get_running_loop()  # the kernel's own messages wait while the checker works
        while index not in self.outcomes and not self.failure:
            message = await loop.run_in_executor(None, self._receive, self.seconds_per_cell)
            if message is None:
                self._fail(f"the grader's check did not finish within {self.seconds_per_cell:g} s")
            elif message[0] == "call":
                try:
                    answer = ("reply", await call(message[1]))
                except Exception as error:  # noqa: BLE001 (the kernel died or timed out: the check fails)
                    answer = ("refused", f"{type(error).__name__}: {str(error)[:300]}")
                self._send(answer)
            else:
                self._handle(message)

    def finish(self, feedback_description: str | None) -> None:
        """Wait for every cell handed over, then the feedback data; then stop the process."""
        self._wait(lambda: all(index in self.outcomes for index in self.sent), "the last test cells")
        if feedback_description and not self.failure:
            self._send(("feedback", {"description": feedback_description}))
            self._wait(lambda: self.feedback is not None, "the feedback's data")
        self.close()

    def outcome(self, index: int, points: float) -> CellOutcome | None:
        """The cell's outcome; None when it was never handed over (the notebook stopped before it)."""
        if index in self.outcomes:
            return self.outcomes[index]
        if index in self.sent:
            return CellOutcome(0.0, points, [], self.failure or "the grader's check did not finish")
        return None

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.connection.send(("stop", None))
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self.connection.close()
        self.log.close()


def needs_kernel(description: Path) -> bool:
    """Whether a description holds an object that stays in the kernel (the cell then calls into it)."""
    from graders.grade.bring_across import MAX_DESCRIPTION_BYTES
    from graders.grade.export import read_small_json

    def remote(value, depth: int = 0) -> bool:
        if depth > 200:
            return True
        if isinstance(value, dict):
            return value.get("k") == "remote" or any(remote(item, depth + 1) for item in value.values())
        return isinstance(value, list) and any(remote(item, depth + 1) for item in value)

    try:
        return remote(read_small_json(description, MAX_DESCRIPTION_BYTES))
    except (OSError, ValueError, RecursionError):
        return False
