"""Execute a prepared notebook in a sandbox, within its limits; its test cells run in the checker.

Before the student's code, a cell fixes the seeds of Python, NumPy and
TensorFlow/Keras, asks for deterministic ops and sets up the kernel's side of
the bridge (``kernel_bridge``). An autograded test cell never runs in the
kernel: when its turn comes, the names it reads are brought across and the
instructor's version of the cell goes to the checker (``checker``); the
executed notebook gets the checker's outputs for it. Every limit that is hit
becomes an event in the report; execution stops there, and the test cells
not reached fail with that reason.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from graders.course.cells import TestCell, is_test_cell
from graders.grade.checker import Checker, needs_kernel
from graders.grade.export import create_for_kernel
from graders.grade.results import memory_text
from graders.grade.sandbox import Limits, Sandbox

SEED = 0
SEED_CODE = f"""
import os, random
import numpy
random.seed({SEED})
numpy.random.seed({SEED})
del os, random, numpy
""".strip()
KERAS_SEED_CODE = f"""
try:
    import keras, tensorflow
    keras.utils.set_random_seed({SEED})
    tensorflow.config.experimental.enable_op_determinism()
except ImportError:
    pass
""".strip()  # only for assignments that use Keras: importing TensorFlow takes seconds

# Reference runs (``graders reference``) only: the instructor's notebook fixes its own seed, so each call that
# sets one (random.seed, numpy.random.seed, keras.utils.set_random_seed, tensorflow.random.set_seed; a whole
# number, positional or as seed=/a=) is shifted by the run's seed: every run then draws other weights and
# batches. Keras' own function calls the other three, which shifts those twice, consistently. Generators
# seeded directly (numpy.random.default_rng(42), an initializer's seed=) stay fixed.
SWEEP_SEED_CODE = """
def __graders_shifted(original, shift):
    def whole(value):
        return hasattr(value, "__index__") and not isinstance(value, bool)
    def seed(*args, **kwargs):
        if args and whole(args[0]):
            args = ((int(args[0]) + shift) % 2**32, *args[1:])
        for key in ("seed", "a"):
            if whole(kwargs.get(key)):
                kwargs[key] = (int(kwargs[key]) + shift) % 2**32
        return original(*args, **kwargs)
    return seed
import random, numpy
random.seed = __graders_shifted(random.seed, {seed})
numpy.random.seed = __graders_shifted(numpy.random.seed, {seed})
random.seed(0)
numpy.random.seed(0)
del random, numpy
""".strip()
KERAS_SWEEP_SEED_CODE = """
try:
    import keras, tensorflow
    keras.utils.set_random_seed = __graders_shifted(keras.utils.set_random_seed, {seed})
    tensorflow.random.set_seed = __graders_shifted(tensorflow.random.set_seed, {seed})
    try:
        tensorflow.keras.utils.set_random_seed = keras.utils.set_random_seed
    except (AttributeError, ImportError):
        pass
    keras.utils.set_random_seed(0)
except ImportError:
    pass
""".strip()

BRIDGE_CODE = """
__graders_namespace = {{"__name__": "graders_kernel_bridge"}}
exec({source!r}, __graders_namespace)
__graders__ = __graders_namespace["Bridge"]({folder!r}, {root!r})
del __graders_namespace
""".strip()
GRADER_CELL = {"graders": {"internal": True}}
FINAL = "final"  # bring-final.json: every model and History at the end, for the feedback's plots
KERNEL_LOG = "kernel-output.log"
GRADER_CELL_SECONDS = 300  # the least time the grader's own first and last cells get, whatever the cell limit


@dataclass
class ExecutionReport:
    """What happened while the notebook ran."""

    seconds: float = 0.0
    events: list[str] = field(default_factory=list)


class StopExecution(Exception):
    """A limit was hit: stop executing and grade what was exported."""


def _grader_cell(source: str) -> NotebookNode:
    return nbformat.v4.new_code_cell(source, metadata=dict(GRADER_CELL))


def _label(cell: NotebookNode, number: int) -> str:
    """How a report names a cell: its grade_id, else its position in the submission."""
    name = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"cell `{name}`" if name else f"cell {number} of the submission"


def bridge_code(sandbox: Sandbox) -> str:
    """The grader's first cell's second half: the kernel's side of the bridge, as ``__graders__``."""
    source = (Path(__file__).resolve().parent / "kernel_bridge.py").read_text()
    return BRIDGE_CODE.format(source=source, folder=str(sandbox.exports), root=str(sandbox.root))


def instrument(notebook: NotebookNode, sandbox: Sandbox, keras: bool = True,
               seed: int | None = None) -> tuple[NotebookNode, list[str]]:
    """The notebook with the grader's cell first (seeds, Keras' too when ``keras``; bridge), and the label of each
    of its cells. ``seed``: a reference run's, which shifts every seed the notebook sets (``SWEEP_SEED_CODE``)."""
    seeding = [SEED_CODE, *([KERAS_SEED_CODE] if keras else [])]
    if seed is not None:
        seeding += [SWEEP_SEED_CODE.format(seed=int(seed)),
                    *([KERAS_SWEEP_SEED_CODE.format(seed=int(seed))] if keras else []), "del __graders_shifted"]
    cells = [_grader_cell("\n".join([*seeding, bridge_code(sandbox)]))]
    labels = ["the grader's first cell"]
    for number, cell in enumerate(notebook.cells, start=1):
        cells.append(cell)
        labels.append(_label(cell, number))
    cells.append(_grader_cell(f"__graders__.bring_all({FINAL!r})"))
    labels.append("the grader's last cell")
    return nbformat.v4.new_notebook(cells=cells, metadata=notebook.metadata), labels


def without_grader_cells(notebook: NotebookNode) -> NotebookNode:
    """The executed notebook as the student wrote it: the grader's seeding and export cells removed."""
    cells = [cell for cell in notebook.cells if not cell.metadata.get("graders", {}).get("internal")]
    return nbformat.v4.new_notebook(cells=cells, metadata=notebook.metadata)


class LimitedClient(NotebookClient):
    """nbclient with a notebook deadline and an output budget."""

    def __init__(self, notebook: NotebookNode, labels: list[str], limits: Limits, report: ExecutionReport,
                 sandbox: Sandbox, checker: Checker, tests: dict[str, TestCell], imports: dict[str, str],
                 **kwargs):
        super().__init__(notebook, timeout=limits.cell_seconds, allow_errors=True, interrupt_on_timeout=True,
                         error_on_timeout={"ename": "CellTimeoutError", "evalue": "cell timed out",
                                           "traceback": ["CellTimeoutError: the grader's cell time limit was reached"]},
                         kernel_name="python3", shutdown_kernel="immediate", **kwargs)
        self.labels, self.limits, self.report = labels, limits, report
        self.deadline = time.monotonic() + limits.notebook_seconds
        self.cell_bytes: dict[int, int] = {}
        self.total_bytes = 0
        self.sandbox, self.checker, self.tests, self.imports = sandbox, checker, tests, imports
        self.not_brought: dict[int, str] = {}  # test cell index -> why its objects could not be brought across
        self.calls = 0
        self.cells_started = 0  # none: the kernel never started, or died in the grader's first cell

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        self.cells_started += cell_index > 0  # the submission's cells (0 is the grader's first)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.report.events.append(f"notebook time limit of {self.limits.notebook_seconds} s reached before "
                                      f"{self.labels[cell_index]}")
            raise StopExecution
        # The grader's own cells (seeding, the bridge, bringing objects across) are not held to the students' limit
        # per cell, which nbgrader's Execute.timeout may set to a second or two: only to the notebook's deadline.
        grader_cell = self.labels[cell_index].startswith("the grader's")
        per_cell = max(self.limits.cell_seconds, GRADER_CELL_SECONDS) if grader_cell else self.limits.cell_seconds
        self.timeout = max(1, int(min(per_cell, remaining)))
        self.current, self.current_index = self.labels[cell_index], cell_index
        if is_test_cell(cell):
            await self._check(cell, cell_index)
            return cell
        try:
            cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except CellTimeoutError:  # the interrupt did not take: the kernel cannot run anything else
            raise StopExecution from None
        except DeadKernelError:
            self.report.events.append(f"{self.current}: {self._death()}")
            raise StopExecution from None
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") != "CellTimeoutError":
                event = f"{self.current}: {output.get('ename')}: {str(output.get('evalue'))[:200]}"
                if output.get("ename") == "MemoryError" and self.sandbox.cgroup is None:
                    event += f" (the kernel's address-space limit is {memory_text(self.limits.memory_bytes)})"
                self.report.events.append(event)
        return cell

    def _death(self) -> str:
        """Why the kernel died, as far as the grader can tell."""
        if self.sandbox.memory_limit_reached():
            return (f"the kernel was stopped at the memory limit of {memory_text(self.limits.memory_bytes)} "
                    "(memory it really used, counted by a cgroup)")
        return "the kernel died (exit, crash or memory limit)"

    async def _run_grader_code(self, code: str, cell_index: int) -> str:
        """Run the grader's ``code`` in the kernel as a cell of its own; its error, if any, in words."""
        cell, original = _grader_cell(code), self.nb.cells[cell_index]
        try:
            await NotebookClient.async_execute_cell(self, cell, cell_index, store_history=False)
        except CellTimeoutError:
            raise StopExecution from None
        except DeadKernelError:
            self.report.events.append(f"{self.current}: {self._death()}")
            raise StopExecution from None
        finally:
            self.nb.cells[cell_index] = original  # nbclient puts the cell it ran in the notebook's place
        errors = [f"{o.get('ename')}: {str(o.get('evalue'))[:300]}" for o in cell.get("outputs", [])
                  if o.get("output_type") == "error"]
        return "; ".join(errors)

    async def _check(self, cell: NotebookNode, cell_index: int) -> None:
        """Bring the names the cell reads across, and hand the instructor's version of it to the checker."""
        test = self.tests.get(cell.metadata["nbgrader"].get("grade_id"))
        if test is None:
            return
        problem = await self._run_grader_code(f"__graders__.bring({cell_index!r}, {list(test.names)!r})", cell_index)
        description = self.sandbox.exports / f"bring-{cell_index}.json"
        if not description.is_file():
            self.not_brought[cell_index] = problem or "the kernel did not describe them"
            return
        preamble = "\n".join(self.imports[name] for name in test.names if name in self.imports)
        if needs_kernel(description):
            await self.checker.run_now(cell_index, test.code, test.points, description.name, self._kernel_call,
                                       preamble)
        else:
            self.checker.submit(cell_index, test.code, test.points, description.name, preamble)

    async def _kernel_call(self, request: dict) -> str:
        """Run one of the checker's calls in the kernel; the name of the file holding its result."""
        self.calls += 1
        name = f"call-{self.calls}"
        request = {**request, "result": f"{name}-result.json"}
        path = self.sandbox.exports / f"{name}.json"
        with create_for_kernel(path) as stream:  # never through a link the kernel planted
            stream.write(json.dumps(request).encode())
        problem = await self._run_grader_code(f"__graders__.call({path.name!r})", self.current_index)
        if not (self.sandbox.exports / request["result"]).is_file():
            raise RuntimeError(problem or "the kernel gave no result")
        return request["result"]

    async def _async_handle_timeout(self, timeout, cell=None):
        """Interrupt the kernel and go on with the next cell; the notebook deadline bounds the total."""
        self.report.events.append(f"{self.current}: timed out after {timeout} s")
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + len(str(content.get("data", "")))
        used = self.cell_bytes.get(cell_index, 0)
        if used + size > self.limits.output_bytes_per_cell or self.total_bytes + size > self.limits.output_bytes:
            if used <= self.limits.output_bytes_per_cell:  # note it once per cell
                self.cell_bytes[cell_index] = self.limits.output_bytes_per_cell + 1
                self.report.events.append(f"{self.labels[cell_index]}: output limit reached, further output dropped")
            return None
        self.cell_bytes[cell_index] = used + size
        self.total_bytes += size
        return super().output(outs, msg, display_id, cell_index)


@dataclass
class Executed:
    """The notebook as run (grader cells included), and what the grader needs to know about the run."""

    notebook: NotebookNode
    report: ExecutionReport
    not_brought: dict[int, str]  # test cell index -> why its objects could not be brought across
    final: str | None  # the description of the last cell's objects, for the feedback
    kernel_error: str = ""  # the kernel never started: a fault of the grader's machine, never the student's


def execute(notebook: NotebookNode, sandbox: Sandbox, checker: Checker, tests: dict[str, TestCell],
            imports: dict[str, str] | None = None, modules: frozenset[str] | None = None,
            seed: int | None = None) -> Executed:
    """Run ``notebook`` in ``sandbox``, handing each test cell's turn to ``checker``; ``imports`` are the
    statements of names the checker binds itself (``GradedNotebook.imports``), ``modules`` the modules the
    assignment's notebook imports (Keras is seeded when they include it; None: always); ``seed``: a reference
    run's (``instrument``)."""
    report = ExecutionReport()
    kernel_error = ""
    keras = modules is None or bool({"keras", "tensorflow"} & modules)
    instrumented, labels = instrument(notebook, sandbox, keras, seed)
    client = LimitedClient(instrumented, labels, sandbox.limits, report, sandbox, checker, tests, imports or {},
                           kernel_manager_class=sandbox.kernel_manager_class(),
                           resources={"metadata": {"path": str(sandbox.root)}})
    start = time.monotonic()
    stopped = ""
    try:
        # The kernel's own stdout and stderr (C++ log lines of TensorFlow) go to a file in the sandbox, not to the
        # grader's console: what a cell prints reaches the notebook through the kernel's messages.
        with open(sandbox.root / KERNEL_LOG, "wb") as log:
            client.execute(env=sandbox.environment(), stdout=log, stderr=log)
    except StopExecution:
        stopped = report.events[-1] if report.events else "a limit was reached"
    except (RuntimeError, DeadKernelError) as error:  # the kernel never started or died between cells
        report.events.append(f"the kernel stopped: {error}")
        stopped = str(error)
    finally:
        report.seconds = time.monotonic() - start
        if sandbox.started is not None:  # a dead kernel is never shut down: its life ended by now
            sandbox.kernel_ending(None)
    if stopped and not client.cells_started and notebook.cells:
        # Nothing of the submission's ran: the kernel did not start, or died or timed out in the grader's first
        # cell (seeds, imports). The machine, the sandbox or its limits are at fault, never the student.
        hint = ("" if sandbox.cgroup is not None else
                f"; without a cgroup the memory limit ({memory_text(sandbox.limits.memory_bytes)}) is on address "
                "space, and too low a limit keeps Python or TensorFlow from starting")
        kernel_error = f"the kernel could not start in the sandbox ({stopped}{hint})"
    final = sandbox.exports / f"bring-{FINAL}.json"
    return Executed(instrumented, report, client.not_brought, final.name if final.is_file() else None, kernel_error)
