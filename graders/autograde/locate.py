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


def nbgrader_metadata_note(path: Path, release: NotebookNode) -> str | None:
    """A note when ``nbgrader autograde`` would fail the notebook at ``path`` for its nbgrader metadata: metadata
    nbgrader cannot validate (another schema version), or cells marked as the assignment's (grade, solution or
    locked) under grade ids the ``release`` does not have, as when another notebook is handed in under this
    one's name. The engine grades it against the release all the same. None when nbgrader would take it, or
    when it is no notebook at all (the engine says so when it grades it)."""
    from nbgrader.nbgraderformat import SchemaTooNewError, SchemaTooOldError, ValidationError, reads

    try:
        notebook = reads(path.read_text(encoding="utf-8"), as_version=4)
    except (ValidationError, SchemaTooOldError, SchemaTooNewError) as error:
        first = str(error).splitlines()[0][:160]
        return f"nbgrader autograde would refuse {path.name} ({first}); graded against the release instead"
    except Exception:  # noqa: BLE001 (not JSON, not a notebook: the engine reports it)
        return None
    released = {grade_id(cell) for cell in release.cells}
    foreign = [grade_id(cell) or "(none)" for cell in notebook.cells
               if any(cell.metadata.get("nbgrader", {}).get(role) for role in ("grade", "solution", "locked"))
               and grade_id(cell) not in released]
    if not foreign:
        return None
    return (f"{path.name} has cells of grade ids the release does not have ({', '.join(foreign[:5])}): nbgrader "
            "autograde would fail it; graded against the release instead (was another notebook handed in?)")


def locate_notebook(folder: Path, notebook_name: str, release: NotebookNode) -> Located:
    """The notebook of ``folder`` to grade as ``notebook_name`` (an assignment's only one), with notes naming what
    else is there."""
    found = notebooks_in(folder) if folder.is_dir() else []
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


def locate_notebooks(folder: Path, releases: dict[str, NotebookNode]) -> dict[str, Located]:
    """Each released notebook's file in ``folder`` (file name -> release), every file taken at most once.

    A lone released notebook is found as ``locate_notebook`` finds it. With
    several, each is the file of its released name, else the one file whose
    name starts with its name (``problem1 (1).ipynb``, ``problem1-Copy1.ipynb``);
    a notebook for which neither is found, or more than one such file, gets
    no file, and its note names what the folder has. A file no notebook took
    is named in the first notebook's notes.
    """
    if len(releases) == 1:
        (name, release), = releases.items()
        return {name: locate_notebook(folder, name, release)}
    found = notebooks_in(folder) if folder.is_dir() else []
    taken = {name: folder / name for name in releases if folder / name in found}
    for name in releases:
        if name in taken:
            continue
        free = [path for path in found if path not in taken.values()]
        stem = Path(name).stem
        candidates = [path for path in free if path.stem.startswith(stem) and not any(
            path.stem.startswith(Path(other).stem) and len(Path(other).stem) > len(stem) for other in releases)]
        if len(candidates) == 1:
            taken[name] = candidates[0]
    located = {}
    for name in releases:
        path = taken.get(name)
        if path is None:
            located[name] = Located(None, [f"the submission has no {name}"])
        elif path != folder / name:
            located[name] = Located(path, [f"graded {path.relative_to(folder).as_posix()} as {name}"])
        else:
            located[name] = Located(path)
    left = [path.relative_to(folder).as_posix() for path in found if path not in taken.values()]
    if left:
        first = next(iter(located.values()))
        first.notes.append(f"the submission also has {', '.join(left)} (not graded: rename a file to the notebook "
                           "it answers, as released)")
    return located
