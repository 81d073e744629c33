"""Read a submitted notebook and put the assignment's own cells back in it.

Step one of ``graders grade``: the submission is untrusted JSON, written by
any front end (JupyterLab, Colab, VS Code, an editor that adds a byte-order
mark or drops cell metadata). Cells whose nbgrader metadata was lost are
recognised again by matching the submission's cells with the release's
(:func:`reidentify`), so the student's own answers keep their roles. Test and
locked cells are replaced by the released version (hidden tests never enter
the sandbox), deleted ones are put back after the cell that preceded them in
the release, and the kernel is always the grader's ``python3``. Only the
cells come across: notebook-level metadata of other front ends (Colab's
widget state, VS Code's interpreter) is left behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

import nbformat
from nbformat import NotebookNode

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
PROTECTED_SIMILARITY = 0.8  # how alike a test or locked cell must stay to be recognised (it is then restored)
EDITED_SIMILARITY = 0.6  # how alike an instruction cell must stay to be taken for the release's, edited
MAX_COMPARED = 1000  # characters of a cell's source compared
MAX_GAP_PAIRS = 10_000  # cells compared in one gap between recognised cells, at most


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


def _text(value) -> str:
    return "".join(map(str, value)) if isinstance(value, list) else str(value)


def read_submission(path: Path) -> NotebookNode:
    """Parse the submission, with a clear error for anything that is not a notebook.

    The bytes are decoded as JSON does (UTF-8, with or without a byte-order
    mark; UTF-16 and UTF-32 too). Each code, markdown or raw cell keeps its
    source, its metadata and, for markdown cells, its attachments (pasted
    images); outputs are dropped, since the notebook runs again.

    Raises:
        SubmissionError: the file is not JSON, or holds no list of cells.
    """
    try:
        raw = json.loads(Path(path).read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise SubmissionError(f"{Path(path).name} is not a readable notebook: {str(error)[:200]}") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise SubmissionError(f"{Path(path).name} is not a notebook: no list of cells")
    cells = []
    for cell in raw["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") in ("code", "markdown", "raw"):
            source = _text(cell.get("source", ""))
            metadata = dict(cell["metadata"]) if isinstance(cell.get("metadata"), dict) else {}
            nbgrader = metadata.get("nbgrader")
            if nbgrader is not None and not (isinstance(nbgrader, dict)
                                             and isinstance(nbgrader.get("grade_id", ""), str)):
                metadata.pop("nbgrader")  # not nbgrader's: the cell is re-identified like one that lost it
            if cell["cell_type"] == "code":
                new = nbformat.v4.new_code_cell(source=source, metadata=metadata)
            elif cell["cell_type"] == "markdown":
                new = nbformat.v4.new_markdown_cell(source=source, metadata=metadata)
                attachments = cell.get("attachments")
                if isinstance(attachments, dict) and all(
                        isinstance(bundle, dict) and all(isinstance(v, (str, list)) for v in bundle.values())
                        for bundle in attachments.values()):
                    new.attachments = {str(name): {str(mime): _text(data) for mime, data in bundle.items()}
                                       for name, bundle in attachments.items()}
            else:
                new = nbformat.v4.new_raw_cell(source=source, metadata=metadata)
            cells.append(new)
    return nbformat.v4.new_notebook(cells=cells)


def _similarity(a: str, b: str) -> float:
    """How alike two cell sources are (0 to 1), on their first ``MAX_COMPARED`` characters: sources are untrusted."""
    return SequenceMatcher(None, a[:MAX_COMPARED], b[:MAX_COMPARED], autojunk=False).ratio()


def _weight(released, found) -> float:
    """How well ``found`` fits as ``released`` (0: not at all). A solution cell fits any cell of its type (the
    student's answer replaced the stub): a code cell best a similar one, a written answer the first one; a test
    or locked cell, which is then replaced by the release's, only a near copy of itself, so a student's own new
    cell never becomes one."""
    if released.cell_type != found.cell_type:
        return 0.0
    if _is_protected(released):
        score = _similarity(released.source, found.source)
        return 1.0 + score if score >= PROTECTED_SIMILARITY else 0.0
    if released.cell_type != "code":  # a written answer shares nothing with "YOUR ANSWER HERE": the first one
        return 1.0
    return 1.0 + _similarity(released.source, found.source)  # code keeps the stub's first comment line


def _pair_in_gap(missing: list[int], candidates: list[int], others: list[int], submission: list,
                 release: list) -> dict[int, int]:
    """Pair release cells that lost their metadata (``missing``) with unlabelled submission cells of one gap.

    ``others`` are the release's unlabelled cells of the gap (instructions): a
    submission cell much like one of them is that cell, edited, and no answer.
    A weighted alignment (dynamic programming, order kept) then pairs as many
    cells as fit (``_weight``), the most alike, then the earliest, first.
    """
    if len(missing) * len(candidates) > MAX_GAP_PAIRS:
        return {}
    candidates = [s for s in candidates if not any(
        release[o].cell_type == submission[s].cell_type
        and _similarity(release[o].source, submission[s].source) >= EDITED_SIMILARITY for o in others)]
    weights = [[_weight(release[r], submission[s]) for s in candidates] for r in missing]
    rows, cols = len(missing), len(candidates)
    best = [[0.0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            paired = weights[i][j] + best[i + 1][j + 1] if weights[i][j] else 0.0
            best[i][j] = max(best[i + 1][j], best[i][j + 1], paired)
    pairs, i, j = {}, 0, 0
    while i < rows and j < cols:
        if weights[i][j] and best[i][j] == weights[i][j] + best[i + 1][j + 1]:
            pairs[candidates[j]] = missing[i]
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


def reidentify(submission: NotebookNode, release: NotebookNode) -> list[str]:
    """Give back the nbgrader metadata of cells that lost it (an editor that drops cell metadata).

    The submission's cells are aligned with the release's: cells that kept
    their grade_id, and unlabelled cells whose type and source equal a
    released cell's, are anchors; between two anchors, the released cells
    whose grade_id is missing from the submission are paired, in order, with
    unlabelled submission cells of the same type (see ``_pair_in_gap``).
    Each paired cell gets the release's metadata, in place; the student's
    source stays. Returns one note per cell re-identified.
    """
    present = {_grade_id(cell) for cell in submission.cells if _grade_id(cell)}

    def key(cell):
        name = _grade_id(cell)
        return ("id", name) if name in present else (cell.cell_type, cell.source.strip())

    matcher = SequenceMatcher(None, [key(cell) for cell in release.cells], [key(cell) for cell in submission.cells],
                              autojunk=False)
    notes, paired = [], {}
    for tag, r0, r1, s0, s1 in matcher.get_opcodes():
        if tag == "equal":  # unchanged cells (a locked or test cell that lost only its metadata) pair one to one
            paired.update({s0 + k: r0 + k for k in range(r1 - r0)})
            continue
        missing = [r for r in range(r0, r1) if _grade_id(release.cells[r]) not in present | {None}]
        others = [r for r in range(r0, r1) if not _grade_id(release.cells[r])]
        candidates = [s for s in range(s0, s1) if not _grade_id(submission.cells[s])]
        if missing and candidates:
            paired.update(_pair_in_gap(missing, candidates, others, submission.cells, release.cells))
    for s, r in sorted(paired.items()):
        name = _grade_id(release.cells[r])
        cell = submission.cells[s]
        if name and name not in present and not _grade_id(cell) and cell.cell_type == release.cells[r].cell_type:
            cell.metadata["nbgrader"] = dict(release.cells[r].metadata["nbgrader"])
            present.add(name)
            notes.append(f"cell {name}: its nbgrader metadata was missing; recognised by its place and content")
    return notes


def restore_assignment_cells(submission: NotebookNode, release: NotebookNode) -> Prepared:
    """Put the release's test and locked cells back; keep the student's own cells.

    ``submission`` is changed in place (cells re-identified). The result is a
    new notebook with the grader's kernelspec, whose cells carry the
    release's nbgrader metadata, and the notes that say what was changed.
    """
    prepared = Prepared(nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC,
                                                           "language_info": {"name": "python"}}))
    prepared.notes.extend(reidentify(submission, release))
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
