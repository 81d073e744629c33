"""Read a submitted notebook and put the assignment's own cells back in it.

Step one of ``graders grade``: the submission is untrusted JSON. Test and
locked cells are replaced by the released version (hidden tests never enter
the sandbox), deleted ones are put back after the cell that preceded them in
the release, and the kernel is always the grader's ``python3``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


class SubmissionError(Exception):
    """The submission cannot be read as a notebook at all."""


@dataclass
class Prepared:
    """The notebook to execute, with what was changed in it."""

    notebook: NotebookNode
    notes: list[str] = field(default_factory=list)


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _is_protected(cell) -> bool:
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return bool(nbgrader.get("locked") or (nbgrader.get("grade") and not nbgrader.get("solution")))


def read_submission(path: Path) -> NotebookNode:
    """Parse the submission, with a clear error for anything that is not a notebook."""
    try:
        raw = json.loads(Path(path).read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SubmissionError(f"{Path(path).name} is not a readable notebook: {error}") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise SubmissionError(f"{Path(path).name} is not a notebook: no list of cells")
    cells = []
    for cell in raw["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") in ("code", "markdown", "raw"):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
            new = (nbformat.v4.new_code_cell if cell["cell_type"] == "code" else
                   nbformat.v4.new_markdown_cell if cell["cell_type"] == "markdown" else nbformat.v4.new_raw_cell)
            cells.append(new(source=source, metadata=metadata))
    return nbformat.v4.new_notebook(cells=cells)


def restore_assignment_cells(submission: NotebookNode, release: NotebookNode) -> Prepared:
    """Put the release's test and locked cells back; keep the student's own cells."""
    prepared = Prepared(nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC,
                                                           "language_info": {"name": "python"}}))
    released = {_grade_id(cell): cell for cell in release.cells if _grade_id(cell)}
    seen: set[str] = set()
    for cell in submission.cells:
        name = _grade_id(cell)
        if name in released and name not in seen:
            seen.add(name)
            original = released[name]
            if _is_protected(original):
                if cell.source != original.source or cell.cell_type != original.cell_type:
                    prepared.notes.append(f"cell {name}: edited; the assignment's version was restored")
                cell = nbformat.from_dict(original)
            else:
                cell.metadata["nbgrader"] = dict(original.metadata["nbgrader"])
        elif name:
            cell.metadata.pop("nbgrader", None)  # unknown or duplicated ids carry no role
        prepared.notebook.cells.append(cell)
    # Put back what was deleted, after the cell that precedes it in the release.
    previous = None
    for cell in release.cells:
        name = _grade_id(cell)
        if name and name not in seen:
            position = 0
            if previous is not None:
                ids = [_grade_id(c) for c in prepared.notebook.cells]
                position = ids.index(previous) + 1
            prepared.notebook.cells.insert(position, nbformat.from_dict(cell))
            seen.add(name)
            prepared.notes.append(f"cell {name}: missing; the assignment's version was put back")
        if name:
            previous = name
    for cell in prepared.notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return prepared
