"""Turn check results into Gradescope's results.json and a table for people."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from nbformat import NotebookNode
from rich.console import Console
from rich.table import Table
from rich.text import Text


@dataclass
class CheckResult:
    """The outcome of one autograded test cell, as the checker ran it."""

    name: str  # the cell's grade_id
    score: float  # by nbgrader's rule: points, 0, or partial credit
    message: str  # "" when it earned its points, else why not
    hidden: bool  # the cell holds hidden tests: its output is for students after the due date
    outputs: list[dict] = field(default_factory=list)  # the cell's outputs in the checker (nbformat)


@dataclass
class Grading:
    """Everything ``graders grade`` found about one submission.

    Every autograded test cell of the notebook has a check result: one the
    engine could not run at all (named in ``grader_errors``) scores 0 with the
    reason, and the batch fails that submission, so nothing is 0 silently.
    """

    points: dict[str, float]  # test cell -> max points, in notebook order
    checks: dict[str, CheckResult]
    seconds: float
    events: list[str] = field(default_factory=list)
    notebook: NotebookNode | None = None  # as executed, without the grader's own cells; None if it never ran
    extra: dict = field(default_factory=dict)  # feedback plots' data (Gradescope's extra_data), never scored
    grader_errors: list[str] = field(default_factory=list)  # test cells the engine could not run, and why
    recorded: dict = field(default_factory=dict)  # reference runs: what the test cells read (``graders.reference``)
    resources: dict = field(default_factory=dict)  # what the kernel used (``sandbox.Usage.as_dict``)
    written: dict[str, bytes] = field(default_factory=dict)  # files the notebook wrote beside itself, by relative
    # path (``Sandbox.written_files``): nbgrader's kernel writes them into autograded/, so the batch puts them there

    def score(self, name: str) -> float:
        result = self.checks.get(name)
        return min(result.score, self.points[name]) if result is not None else 0.0

    def message(self, name: str) -> str:
        result = self.checks.get(name)
        if result is None:
            return "not checked"
        return "passed" if self.score(name) >= self.points[name] else result.message


def to_gradescope(grading: Grading, notebook: str | None = None) -> dict:
    """Gradescope's results.json; hidden checks' output visible after the due date.

    With ``notebook`` (the notebook's name without ``.ipynb``), each test
    says which notebook it belongs to (``extra_data``: notebook, grade_id).
    """
    tests = []
    for name, points in grading.points.items():
        result = grading.checks.get(name)
        tests.append({
            "name": name,
            "score": grading.score(name),
            "max_score": points,
            "status": "passed" if grading.score(name) == points else "failed",
            "output": grading.message(name),
            "visibility": "after_due_date" if result is not None and result.hidden else "visible",
            **({"extra_data": {"notebook": notebook, "grade_id": name}} if notebook is not None else {}),
        })
    return {
        "score": sum(test["score"] for test in tests),
        "max_score": sum(grading.points.values()),
        "execution_time": round(grading.seconds, 1),
        "output": "\n".join(grading.events) or "The notebook ran to the end.",
        "tests": tests,
        "extra_data": {**grading.extra, **({"grader_errors": grading.grader_errors} if grading.grader_errors else {}),
                       **({"resources": grading.resources} if grading.resources else {})},
    }


def test_name(grade_id: str, notebook: str, several: bool) -> str:
    """How the results, ``grades.csv`` and the samples name a test cell: its grade id, or ``NOTEBOOK/GRADE_ID``
    (``notebook`` with or without ``.ipynb``) when the assignment has ``several`` notebooks."""
    return f"{notebook.removesuffix('.ipynb')}/{grade_id}" if several else grade_id


def submission_results(gradings: dict[str, Grading]) -> dict:
    """One results.json for a submission of several notebooks (file name -> its grading, in assignment order).

    A lone notebook's results are ``to_gradescope``'s. With several, each
    test is named ``NOTEBOOK/GRADE_ID`` (grade ids repeat across notebooks),
    scores and times add up, each notebook's notes are prefixed with its
    file name, and ``extra_data`` keeps each notebook's plots' data under
    ``notebooks`` (the first one's also at the top, for the feedback page).
    """
    parts = {name: to_gradescope(grading, name.removesuffix(".ipynb")) for name, grading in gradings.items()}
    if len(parts) == 1:
        return next(iter(parts.values()))
    tests, output, errors = [], [], []
    for name, part in parts.items():
        stem = name.removesuffix(".ipynb")
        tests += [{**test, "name": test_name(test["name"], stem, True)} for test in part["tests"]]
        output += [f"{name}: {line}" for line in part["output"].splitlines()]
        errors += [f"{name}: {error}" for error in part["extra_data"].pop("grader_errors", [])]
    first = next(iter(parts.values()))["extra_data"]
    used = combined_resources([part["extra_data"].get("resources") for part in parts.values()])
    return {
        "score": sum(part["score"] for part in parts.values()),
        "max_score": sum(part["max_score"] for part in parts.values()),
        "execution_time": round(sum(part["execution_time"] for part in parts.values()), 1),
        "output": "\n".join(output),
        "tests": tests,
        "extra_data": {**first, "notebooks": {name: part["extra_data"] for name, part in parts.items()},
                       **({"grader_errors": errors} if errors else {}), **({"resources": used} if used else {})},
    }


def merge_results(new: dict, old: dict, kept: list[str], order: list[str]) -> dict:
    """results.json of a submission of several notebooks, some graded again and the others (``kept``) not.

    ``new``: the results of the notebooks graded again (``submission_results``
    of those alone); ``old``: the stored results of the whole submission;
    ``order``: every released file name, in assignment order. Tests, notes
    and scores of a kept notebook come from ``old``, the others' from
    ``new``; each test is named ``NOTEBOOK/GRADE_ID``, as with several notebooks.
    """
    tests, output, errors, parts = [], [], [], {}
    for name in order:
        stem = name.removesuffix(".ipynb")
        source = old if name in kept else new
        tests += [{**test, "name": test_name(test["extra_data"]["grade_id"], stem, True)}
                  for test in source.get("tests", []) if (test.get("extra_data") or {}).get("notebook") == stem]
        lines = source.get("output", "").splitlines()
        several = any(line.startswith(f"{other}: ") for line in lines for other in order)
        output += [line for line in lines if line.startswith(f"{name}: ")] if several else \
            [f"{name}: {line}" for line in lines]
        extra = source.get("extra_data") or {}
        errors += [error for error in extra.get("grader_errors", []) if not several or error.startswith(f"{name}: ")]
        parts[name] = (extra.get("notebooks") or {}).get(name, extra)
    extra = {**(new.get("extra_data") or {}), "notebooks": parts}
    extra.pop("grader_errors", None)
    used = combined_resources([part.get("resources") for part in parts.values()])
    return {"score": sum(test["score"] for test in tests), "max_score": sum(test["max_score"] for test in tests),
            "execution_time": new.get("execution_time", 0.0),  # this run's
            "output": "\n".join(output), "tests": tests,
            "extra_data": {**extra, **({"grader_errors": errors} if errors else {}),
                           **({"resources": used} if used else {})}}


def combined_resources(parts: list[dict | None]) -> dict:
    """The resources of a submission of several notebooks (each ``Usage.as_dict`` or None): the highest peak,
    CPU and wall seconds added up (None when a notebook's are unknown)."""
    known = [part for part in parts if part]
    if not known:
        return {}

    def total(key: str) -> float | None:
        values = [part.get(key) for part in known]
        return None if None in values or len(known) < len(parts) else round(sum(values), 2)

    peaks = [part["peak_memory_bytes"] for part in known if part.get("peak_memory_bytes") is not None]
    return {"peak_memory_bytes": max(peaks) if peaks else None, "cpu_seconds": total("cpu_seconds"),
            "wall_seconds": total("wall_seconds"),
            "measured_by": "+".join(sorted({part.get("measured_by", "") for part in known})),
            "memory_limit_reached": any(part.get("memory_limit_reached") for part in known)}


def memory_text(size: int | None) -> str:
    """Bytes for a person: ``1.2 GiB``, ``350 MiB``, or ``-`` when unknown."""
    if size is None:
        return "-"
    return f"{size / 1024**3:.1f} GiB" if size >= 1024**3 else f"{size / 1024**2:.0f} MiB"


def resources_line(resources: dict) -> str:
    """What the kernel used, in one line (``Usage.as_dict``)."""
    cpu = resources.get("cpu_seconds")
    return (f"kernel: peak memory {memory_text(resources.get('peak_memory_bytes'))}, CPU "
            f"{'-' if cpu is None else f'{cpu:.1f} s'}, wall {resources.get('wall_seconds', 0):.1f} s "
            f"(measured by {resources.get('measured_by', '?')})")


def without_notebook(line: str) -> str:
    """A line of a results.json's ``output`` without the ``NAME.ipynb: `` that ``submission_results`` puts before
    each note of an assignment of several notebooks."""
    return re.sub(r"^[^:/]+\.ipynb: ", "", line)


def notebook_tests(results: dict, notebook: str) -> dict[str, dict]:
    """Grade id -> test of one notebook (its name without ``.ipynb``) in a submission's results.json.

    Tests that name no notebook (results of a one-notebook assignment stored
    before tests named theirs) belong to whichever notebook is asked for.
    """
    tests = {}
    for test in results.get("tests", []):
        where = test.get("extra_data") or {}
        if where.get("notebook", notebook) == notebook:
            tests[where.get("grade_id", test["name"])] = test
    return tests


def make_console() -> Console:
    """A console that does not wrap tables at 80 columns when writing to a file or pipe."""
    return Console(width=None if sys.stdout.isatty() else 160)


def print_table(grading: Grading, title: str, console: Console | None = None) -> None:
    """The per-check table: check, points, passed or why not."""
    console = console or make_console()
    # Messages and events quote the submission (its file name, its errors): printed as literal text, never
    # as rich markup, so a "[/...]" in them can neither style the table nor crash the grader.
    table = Table(title=Text(title), show_lines=False)
    table.add_column("check")
    table.add_column("points", justify="right")
    table.add_column("result", overflow="fold")
    for name, points in grading.points.items():
        score = grading.score(name)
        message = grading.message(name).split("\n\n")[0]
        table.add_row(name, f"{score:g} / {points:g}", Text(message), style=None if score == points else "red")
    console.print(table)
    for event in grading.events:
        console.print(Text(event, style="yellow"))
    if grading.resources:
        console.print(Text(resources_line(grading.resources)))
    total = sum(grading.score(name) for name in grading.points)
    console.print(f"[bold]score {total:g} / {sum(grading.points.values()):g}[/] "
                  f"(execution {grading.seconds:.1f} s)")
