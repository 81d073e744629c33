"""Execute a prepared notebook in a sandbox, within its limits.

Before the student's code, a cell fixes the seeds of Python, NumPy and
TensorFlow/Keras and asks for deterministic ops. After every test cell and at
the end, an export cell writes the objects under test. Every limit that is hit
becomes an event in the report; execution stops there and the last exports
are graded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from graders.export import export_code
from graders.sandbox import Limits, Sandbox

SEED = 0
SEED_CODE = f"""
import os, random
import numpy
random.seed({SEED})
numpy.random.seed({SEED})
try:
    import keras, tensorflow
    keras.utils.set_random_seed({SEED})
    tensorflow.config.experimental.enable_op_determinism()
except ImportError:
    pass
del os, random, numpy
""".strip()

GRADER_CELL = {"graders": {"internal": True}}
KERNEL_LOG = "kernel-output.log"


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


def instrument(notebook: NotebookNode, sandbox: Sandbox) -> tuple[NotebookNode, list[str]]:
    """The notebook with the seeding cell first and an export cell after each test cell and at
    the end, and the label of each of its cells."""
    export = export_code(sandbox.exports)
    cells, labels = [_grader_cell(SEED_CODE)], ["the grader's seeding cell"]
    for number, cell in enumerate(notebook.cells, start=1):
        cells.append(cell)
        labels.append(_label(cell, number))
        nbgrader = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and nbgrader.get("grade") and not nbgrader.get("solution"):
            cells.append(_grader_cell(export))
            labels.append("the grader's export cell")
    cells.append(_grader_cell(export))
    labels.append("the grader's export cell")
    return nbformat.v4.new_notebook(cells=cells, metadata=notebook.metadata), labels


def without_grader_cells(notebook: NotebookNode) -> NotebookNode:
    """The executed notebook as the student wrote it: the grader's seeding and export cells removed."""
    cells = [cell for cell in notebook.cells if not cell.metadata.get("graders", {}).get("internal")]
    return nbformat.v4.new_notebook(cells=cells, metadata=notebook.metadata)


class LimitedClient(NotebookClient):
    """nbclient with a notebook deadline and an output budget."""

    def __init__(self, notebook: NotebookNode, labels: list[str], limits: Limits, report: ExecutionReport,
                 **kwargs):
        super().__init__(notebook, timeout=limits.cell_seconds, allow_errors=True, interrupt_on_timeout=True,
                         error_on_timeout={"ename": "CellTimeoutError", "evalue": "cell timed out",
                                           "traceback": ["CellTimeoutError: the grader's cell time limit was reached"]},
                         kernel_name="python3", shutdown_kernel="immediate", **kwargs)
        self.labels, self.limits, self.report = labels, limits, report
        self.deadline = time.monotonic() + limits.notebook_seconds
        self.cell_bytes: dict[int, int] = {}
        self.total_bytes = 0

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.report.events.append(f"notebook time limit of {self.limits.notebook_seconds} s reached before "
                                      f"{self.labels[cell_index]}")
            raise StopExecution
        self.timeout = max(1, int(min(self.limits.cell_seconds, remaining)))
        self.current = self.labels[cell_index]
        try:
            cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except CellTimeoutError:  # the interrupt did not take: the kernel cannot run anything else
            raise StopExecution from None
        except DeadKernelError:
            self.report.events.append(f"{self.current}: the kernel died (exit, crash or memory limit)")
            raise StopExecution from None
        nbgrader = cell.metadata.get("nbgrader", {})
        is_test = nbgrader.get("grade") and not nbgrader.get("solution")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and not is_test and output.get("ename") != "CellTimeoutError":
                self.report.events.append(f"{self.current}: {output.get('ename')}: {str(output.get('evalue'))[:200]}")
        return cell

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


def execute(notebook: NotebookNode, sandbox: Sandbox) -> tuple[NotebookNode, ExecutionReport]:
    """Run ``notebook`` in ``sandbox``; return the executed notebook and the report."""
    report = ExecutionReport()
    instrumented, labels = instrument(notebook, sandbox)
    client = LimitedClient(instrumented, labels, sandbox.limits, report,
                           kernel_manager_class=sandbox.kernel_manager_class(),
                           resources={"metadata": {"path": str(sandbox.root)}})
    start = time.monotonic()
    try:
        # The kernel's own stdout and stderr (C++ log lines of TensorFlow) go to a file in the sandbox, not to the
        # grader's console: what a cell prints reaches the notebook through the kernel's messages.
        with open(sandbox.root / KERNEL_LOG, "wb") as log:
            client.execute(env=sandbox.environment(), stdout=log, stderr=log)
    except StopExecution:
        pass
    except (RuntimeError, DeadKernelError) as error:  # the kernel never started or died between cells
        report.events.append(f"the kernel stopped: {error}")
    finally:
        report.seconds = time.monotonic() - start
    return instrumented, report
