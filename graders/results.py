"""Turn check results into Gradescope's results.json and a table for people."""

from __future__ import annotations

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

    def score(self, name: str) -> float:
        result = self.checks.get(name)
        return min(result.score, self.points[name]) if result is not None else 0.0

    def message(self, name: str) -> str:
        result = self.checks.get(name)
        if result is None:
            return "not checked"
        return "passed" if self.score(name) >= self.points[name] else result.message


def to_gradescope(grading: Grading) -> dict:
    """Gradescope's results.json; hidden checks' output visible after the due date."""
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
        })
    return {
        "score": sum(test["score"] for test in tests),
        "max_score": sum(grading.points.values()),
        "execution_time": round(grading.seconds, 1),
        "output": "\n".join(grading.events) or "The notebook ran to the end.",
        "tests": tests,
        "extra_data": {**grading.extra, **({"grader_errors": grading.grader_errors} if grading.grader_errors else {})},
    }


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
    total = sum(grading.score(name) for name in grading.points)
    console.print(f"[bold]score {total:g} / {sum(grading.points.values()):g}[/] "
                  f"(execution {grading.seconds:.1f} s)")
