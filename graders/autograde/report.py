"""What the instructor reads after a batch: ``grades.csv`` and an HTML report with plots."""

from __future__ import annotations

import csv
import html
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from rich.table import Table
from rich.text import Text

from graders.course.assignment import grade_id
from graders.grade.results import memory_text, test_name


@dataclass
class Outcome:
    """What became of one submission in a batch."""

    student: str
    status: str  # graded, unchanged, recorded (stored grade put into the gradebook) or failed
    results: dict | None  # Gradescope's results.json
    seconds: float | None  # grading time (execution and checks)
    message: str = ""

    @property
    def score(self) -> float | None:
        return self.results["score"] if self.results else None

    @property
    def score_text(self) -> str:
        return f"{self.score:g} / {self.results['max_score']:g}" if self.results else "-"

    @property
    def seconds_text(self) -> str:
        return f"{self.seconds:.1f}" if self.seconds is not None else "-"

    @property
    def resources(self) -> dict:
        """What the kernel used (``sandbox.Usage.as_dict``); empty for results stored before it was measured."""
        return ((self.results or {}).get("extra_data") or {}).get("resources") or {}

    @property
    def memory_text(self) -> str:
        return memory_text(self.resources.get("peak_memory_bytes"))

    @property
    def cpu_text(self) -> str:
        cpu = self.resources.get("cpu_seconds")
        return f"{cpu:.1f}" if cpu is not None else "-"


# Student names and notes quote the submissions: they are rich Text, never parsed as markup.
def outcome_line(outcome: Outcome) -> Text:
    """One submission's line as the batch goes."""
    return Text(f"{outcome.student}: {outcome.status} {outcome.score_text} {outcome.message}",
                style="red" if outcome.status == "failed" else "")


def outcomes_table(outcomes: list[Outcome], title: str) -> Table:
    """The batch's summary table: one row per submission."""
    table = Table(title=Text(title))
    for column in ("student", "status", "score", "seconds", "peak memory", "CPU s", "notes"):
        table.add_column(column, justify="left" if column in ("student", "status", "notes") else "right",
                         overflow="fold")
    for outcome in outcomes:
        table.add_row(Text(outcome.student), outcome.status, outcome.score_text, outcome.seconds_text,
                      outcome.memory_text, outcome.cpu_text, Text(outcome.message),
                      style="red" if outcome.status == "failed" else None)
    return table


def usage_summary(outcomes: list[Outcome], memory_limit: int) -> str:
    """One sentence for sizing limits: the kernels' peak memory (median, highest) and CPU time against the limit,
    and how many were stopped at it ("" when nothing was measured)."""
    measured = [o.resources for o in outcomes if o.resources.get("peak_memory_bytes") is not None]
    if not measured:
        return ""
    peaks = sorted(r["peak_memory_bytes"] for r in measured)
    cpu = sorted(r["cpu_seconds"] for r in measured if r.get("cpu_seconds") is not None)
    stopped = sum(bool(r.get("memory_limit_reached")) for r in measured)
    how = "+".join(sorted({r.get("measured_by", "?") for r in measured}))
    text = (f"Kernels' peak memory: median {memory_text(peaks[len(peaks) // 2])}, highest {memory_text(peaks[-1])} "
            f"(limit {memory_text(memory_limit)}, measured by {how}, {len(measured)} submissions)")
    if cpu:
        text += f"; CPU time: median {cpu[len(cpu) // 2]:.1f} s, highest {cpu[-1]:.1f} s"
    if stopped:
        text += f"; {stopped} stopped at the memory limit"
    return text + "."


def grade_cells(release_nb) -> list[str]:
    """Every graded cell of the assignment, autograded and manual, in notebook order."""
    return [grade_id(cell) for cell in release_nb.cells if cell.metadata.get("nbgrader", {}).get("grade")]


def write_grades_csv(path: Path, db_url: str, assignment: str, cells: dict[str, list[str]]) -> int:
    """One row per student from the gradebook (manual scores once given); returns the row count.

    ``cells``: notebook (name without ``.ipynb``) -> its graded cells. A
    column is the cell's grade id, or ``NOTEBOOK/GRADE_ID`` when the
    assignment has several notebooks; raw score, late penalty, score (raw less
    penalty, as ``nbgrader export``'s) and "needs manual grade" are the whole submission's.
    """
    columns = {(notebook, cell): test_name(cell, notebook, len(cells) > 1)
               for notebook, names in cells.items() for cell in names}
    rows = []
    with Gradebook(db_url) as gradebook:
        for submission in sorted(gradebook.assignment_submissions(assignment), key=lambda s: s.student_id):
            scores = {}
            for notebook in cells:
                try:
                    graded = gradebook.find_submission_notebook(notebook, assignment, submission.student_id)
                except MissingEntry:
                    continue
                scores.update({(notebook, grade.name): grade.manual_score if grade.manual_score is not None
                               else grade.auto_score for grade in graded.grades})  # None: waiting for a person
            if not scores:
                continue
            rows.append({
                "student": submission.student_id,
                **{column: "" if scores.get(key) is None else f"{scores[key]:g}" for key, column in columns.items()},
                "raw_score": f"{submission.score:g}", "late_penalty": f"{submission.late_submission_penalty or 0:g}",
                "score": f"{max(0.0, submission.score - (submission.late_submission_penalty or 0)):g}",
                "max_score": f"{submission.max_score:g}",
                "needs_manual_grade": str(bool(submission.needs_manual_grade)).lower(),
            })
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, ["student", *columns.values(), "raw_score", "late_penalty", "score",
                                         "max_score", "needs_manual_grade"])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


NOT_CHECKED = "not checked"  # the notebook never got that far: the submissions table says why


def failure_counts(outcomes: list[Outcome]) -> Counter:
    """How often each check failed with each message (its first line)."""
    counts: Counter = Counter()
    for outcome in outcomes:
        for test in (outcome.results or {}).get("tests", []):
            if test["score"] < test["max_score"] and test["output"] != NOT_CHECKED:
                counts[(test["name"], test["output"].strip().splitlines()[0][:160] if test["output"] else "")] += 1
    return counts


def plots(outcomes: list[Outcome]) -> dict[str, str]:
    """The report's figures as base64 PNGs."""
    graded = [outcome for outcome in outcomes if outcome.results]
    figures = {}
    if not graded:
        return figures
    max_score = graded[0].results["max_score"]
    from matplotlib.ticker import MaxNLocator

    from graders.feedback.plots import plt, png_base64  # pyplot after the Agg backend is chosen: only when drawing

    figure, axes = plt.subplots(figsize=(6, 3))
    axes.hist([outcome.score for outcome in graded], bins=[x - 0.5 for x in range(int(max_score) + 2)],
              color="#4c72b0")
    axes.set(xlabel="autograded score", ylabel="submissions", title="Score distribution")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    figures["Score distribution"] = png_base64(figure)

    names = [test["name"] for test in graded[0].results["tests"]]
    rates = [100 * sum(any(t["name"] == name and t["score"] == t["max_score"] for t in o.results["tests"])
                       for o in graded) / len(graded) for name in names]
    figure, axes = plt.subplots(figsize=(6, 0.3 * len(names) + 1))
    axes.barh(names[::-1], rates[::-1], color="#55a868")
    axes.set(xlabel="% of submissions passing", xlim=(0, 100), title="Pass rate per check")
    figures["Pass rate per check"] = png_base64(figure)

    timed = sorted((o for o in graded if o.seconds is not None), key=lambda o: o.seconds)
    if timed:
        figure, axes = plt.subplots(figsize=(6, 0.25 * len(timed) + 1))
        axes.barh([o.student for o in timed], [o.seconds for o in timed], color="#c44e52")
        axes.set(xlabel="seconds (execution and checks)", title="Grading time per submission")
        figures["Grading time per submission"] = png_base64(figure)
    return figures


def write_html_report(path: Path, assignment: str, outcomes: list[Outcome], summary: str,
                      notes: tuple[str, ...] = ()) -> None:
    """A single self-contained HTML page: summary (and ``notes``: the sandbox's missing protections, the kernels'
    usage), plots, common failures, one row per student."""
    esc = html.escape
    parts = [f"<!doctype html><meta charset='utf-8'><title>{esc(assignment)}: autograde report</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}.failed{color:#b00}</style>",
             f"<h1>{esc(assignment)}: autograde report</h1><p>{esc(summary)}</p>",
             *(f"<p>{esc(note)}</p>" for note in notes if note)]
    for title, png in plots(outcomes).items():
        parts.append(f"<h2>{esc(title)}</h2><img alt='{esc(title)}' src='data:image/png;base64,{png}'>")
    parts.append("<h2>Most common failure messages</h2><table><tr><th>count</th><th>check</th><th>message</th></tr>")
    for (name, message), count in failure_counts(outcomes).most_common(15):
        parts.append(f"<tr><td>{count}</td><td>{esc(name)}</td><td>{esc(message)}</td></tr>")
    parts.append("</table><h2>Submissions</h2><table><tr><th>student</th><th>status</th><th>score</th>"
                 "<th>seconds</th><th>peak memory</th><th>CPU s</th><th>notes</th></tr>")
    for outcome in sorted(outcomes, key=lambda o: o.student):
        css = " class='failed'" if outcome.status == "failed" else ""
        parts.append(f"<tr{css}><td>{esc(outcome.student)}</td><td>{esc(outcome.status)}</td>"
                     f"<td>{outcome.score_text}</td><td>{outcome.seconds_text}</td><td>{outcome.memory_text}</td>"
                     f"<td>{outcome.cpu_text}</td><td>{esc(outcome.message)}</td></tr>")
    parts.append("</table>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")
