"""The assignment's notebooks and the roles of their cells."""

from __future__ import annotations

from pathlib import Path

import nbformat

ASSIGNMENT = "mnist_cnn"
COURSE_ROOT = Path(__file__).resolve().parent.parent
SOURCE_NOTEBOOK = COURSE_ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
RELEASE_NOTEBOOK = COURSE_ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def grade_id(cell) -> str | None:
    """The nbgrader grade_id of a cell, if any."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def autograded_tests(notebook) -> dict[str, float]:
    """Points of each autograded test cell, by grade_id, in notebook order."""
    return {
        grade_id(cell): float(cell.metadata["nbgrader"].get("points", 0))
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")
    }


def read_release(path: Path = RELEASE_NOTEBOOK):
    """The released notebook."""
    return nbformat.read(path, as_version=4)
