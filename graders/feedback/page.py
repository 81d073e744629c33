"""Feedback students can read: every check with its points and message, and plots; no hidden test code.

Two outputs share the same parts:

- ``feedback_html``: the engine's own page for one student, written by
  ``graders autograde`` next to their ``results.json``;
- nbgrader preprocessors for ``nbgrader generate_feedback`` (configured in
  ``nbgrader_config.py``): ``HideHiddenTests`` removes the hidden test code
  that stock nbgrader shows (and the traceback lines quoting it), and
  ``AddGraderFeedback`` puts the checks table and the plots at the top.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets import Unicode

from graders.autograde.fingerprint import submission_hash
from graders.grade.results import notebook_tests, without_notebook
from graders.autograde.store import ResultStore, write_atomically

FEEDBACK = "feedback.html"
INSTRUCTOR_ONLY = ("sandbox:",)
STYLE = ("body{font-family:sans-serif;max-width:62em;margin:2em auto}table.checks{border-collapse:collapse}"
         ".checks td,.checks th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
         ".checks .failed td{background:#fff3f3}.checks pre{margin:0;white-space:pre-wrap;font-size:85%}")


def plot_images(extra: dict) -> dict[str, str]:
    """Title -> base64 PNG for the plots the results' ``extra_data`` allows."""
    from graders.feedback import plots  # matplotlib: only when there is feedback to draw, not when nbgrader reads its config

    images = {}
    curves = plots.training_curves(extra.get("training_history") or {})
    if curves:
        images["Training curves"] = curves
    name, matrix = next(iter((extra.get("confusion_matrix") or {}).items()), (None, None))
    if matrix:
        correct = sum(matrix[i][i] for i in range(len(matrix)))
        total = sum(map(sum, matrix))
        title = f"Your `{name}` on the grader's test images: {correct:,} of {total:,} right"
        classes = extra.get("confusion_matrix_classes") or []  # names, label 0 first, when the grader knew them
        classes = classes if len(classes) == len(matrix) and all(isinstance(n, str) for n in classes) else []
        images[f"Confusion matrix ({correct:,} of {total:,} right)"] = plots.confusion_matrix(matrix, title, classes)
    return images


def checks_table(results: dict) -> str:
    """HTML table: check, points, passed or the check's message."""
    esc = html.escape
    rows = ["<table class='checks'><tr><th>check</th><th>points</th><th>result</th></tr>"]
    for test in results.get("tests", []):
        passed = test["score"] == test["max_score"]
        # newlines as character references: a blank line would end the HTML block inside nbgrader's markdown cell
        output = esc(test.get("output") or "failed").replace("\n", "&#10;")
        message = "passed" if passed else f"<pre>{output}</pre>"
        color = "#060" if passed else "#a00"
        rows.append(f"<tr class='{'passed' if passed else 'failed'}'><td>{esc(test['name'])}</td>"
                    f"<td style='color:{color}'>{test['score']:g} / {test['max_score']:g}</td><td>{message}</td></tr>")
    rows.append(f"<tr><th>total</th><th>{results.get('score', 0):g} / {results.get('max_score', 0):g}</th>"
                "<th>autograded points; free-text answers are graded by hand</th></tr></table>")
    return "".join(rows)


def plots_html(images: dict[str, str]) -> str:
    if not images:
        return "<p>No plots: the notebook trained no Keras model that the grader could measure.</p>"
    return "".join(f"<h3>{html.escape(title)}</h3><img class='grader-plot' alt='{html.escape(title)}' "
                   f"src='data:image/png;base64,{png}'>" for title, png in images.items())


def feedback_html(results: dict, student: str, assignment: str) -> str:
    """The engine's self-contained feedback page for one student."""
    esc = html.escape
    return (f"<!doctype html><meta charset='utf-8'><title>{esc(assignment)}: feedback for {esc(student)}</title>"
            f"<style>{STYLE}</style><h1>{esc(assignment)}: feedback for {esc(student)}</h1>"
            f"<p>Autograded score: <b>{results.get('score', 0):g} / {results.get('max_score', 0):g}</b></p>"
            f"<h2>Checks</h2>{checks_table(results)}"
            f"<h2>Your model</h2>{plots_html(plot_images(results.get('extra_data') or {}))}"
            f"<h2>Notes from the grader</h2><pre>{esc(student_notes(results.get('output', '')))}</pre>")


def student_notes(output: str) -> str:
    """The grader's notes about the run, without the ones meant for the instructor (the sandbox's set-up)."""
    return "\n".join(line for line in output.splitlines()
                     if not without_notebook(line).startswith(INSTRUCTOR_ONLY)) \
        or "The notebook ran to the end."


def write_feedback(folder: Path, results: dict, student: str, assignment: str) -> Path:
    """Write ``feedback.html`` for ``results`` (Gradescope's results.json) into ``folder``."""
    target = folder / FEEDBACK
    write_atomically(target, feedback_html(results, student, assignment))
    return target


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden test code from the feedback, and the traceback lines that quote it."""

    def _remove_hidden_test_region(self, cell) -> bool:
        removed = super()._remove_hidden_test_region(cell)
        if removed and cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    # Stock nbgrader's traceback shows the failing hidden line: keep only the message.
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return removed


class AddGraderFeedback(NbGraderPreprocessor):
    """Put the checks table and the plots that ``graders autograde`` stored at the top of the feedback."""

    results_directory = Unicode("results", help="graders autograde's --output, relative to the course root").tag(
        config=True)

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        student, assignment = info.get("student", ""), info.get("assignment", "")
        coursedir = CourseDirectory(config=self.config)
        store = ResultStore(Path(coursedir.root) / self.results_directory / assignment)
        results, state = store.results(student), store.state(student)
        if results is None or state is None:
            self.log.info("no graders autograde results for %s: feedback without plots", student)
            return nb, resources
        submitted = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
        if submitted.is_dir() and state.submission != submission_hash(submitted):
            self.log.warning("graders autograde's results for %s are older than the submission: not shown", student)
            return nb, resources
        notebook = resources.get("unique_key", "")
        tests = list(notebook_tests(results, notebook).values())
        extra = results.get("extra_data") or {}
        extra = (extra.get("notebooks") or {}).get(f"{notebook}.ipynb", extra)
        mine = {"tests": tests, "score": sum(test["score"] for test in tests),
                "max_score": sum(test["max_score"] for test in tests)}
        cell = nbformat.v4.new_markdown_cell(
            "## Your checks and your model\n\n" + checks_table(mine) + "\n\n" + plots_html(plot_images(extra)))
        nb.cells.insert(0, cell)
        return nb, resources
