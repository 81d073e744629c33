"""Find the assignment's notebook in a submission folder, as real downloads arrive.

Students rename notebooks (``problem1 (1).ipynb``), save copies beside a
blank one (``problem1-Copy1.ipynb``), or hand in a folder inside the folder.
The batch grades the file with the released name when there is one, a lone
notebook of any name otherwise, and says in the results which file it graded
and which others it found, so the instructor can act.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from graders.course.assignment import grade_id
from graders.grade.submission import SubmissionError, read_submission

IGNORED_PARTS = (".ipynb_checkpoints", "__MACOSX")


@dataclass
class Located:
    """The notebook to grade (None: none could be chosen) and what the results should say about the folder."""

    path: Path | None
    notes: list[str] = field(default_factory=list)


def notebooks_in(folder: Path) -> list[Path]:
    """Every notebook of a submission folder, subfolders included, checkpoints and hidden files left out."""
    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        parts = path.relative_to(folder).parts
        if path.is_file() and not path.is_symlink() and not set(parts) & set(IGNORED_PARTS) \
                and not any(part.startswith(".") for part in parts):
            found.append(path)
    return found


def is_unchanged_release(path: Path, release: NotebookNode) -> bool:
    """Whether every solution cell of the notebook at ``path`` still holds the release's text."""
    try:
        notebook = read_submission(path)
    except (SubmissionError, RecursionError, MemoryError):
        return False
    released = {grade_id(cell): cell.source for cell in release.cells
                if cell.metadata.get("nbgrader", {}).get("solution")}
    found = {grade_id(cell): cell.source for cell in notebook.cells if grade_id(cell) in released}
    return found == released


def locate_notebook(folder: Path, notebook_name: str, release: NotebookNode, siblings: tuple[str, ...] = ()) -> Located:
    """The notebook of ``folder`` to grade as ``notebook_name``, with notes naming what else is there.

    ``siblings`` are the assignment's other released notebooks' file names:
    those files are graded as themselves, never taken for this one.
    """
    taken = {folder / name for name in siblings}
    found = [path for path in notebooks_in(folder) if path not in taken] if folder.is_dir() else []
    expected = folder / notebook_name
    names = [path.relative_to(folder).as_posix() for path in found]
    if expected in found:
        others = [name for path, name in zip(found, names, strict=True) if path != expected]
        if not others:
            return Located(expected)
        listed = ", ".join(others)
        if is_unchanged_release(expected, release):
            return Located(expected, [f"{notebook_name} is the release with no answer filled in; the submission "
                                      f"also has {listed} (not graded): was that meant to be {notebook_name}?"])
        return Located(expected, [f"the submission also has {listed} (not graded: only {notebook_name} is)"])
    if len(found) == 1:
        return Located(found[0], [f"graded {names[0]} as {notebook_name}: the submission has no {notebook_name} "
                                  "and no other notebook"])
    if found:
        return Located(None, [f"the submission has no {notebook_name}; it has {', '.join(names)} (none graded: "
                              f"rename the one to grade to {notebook_name})"])
    return Located(None, [f"the submission has no {notebook_name}"])
