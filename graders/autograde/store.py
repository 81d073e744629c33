"""The batch's results on disk: one folder per student, written atomically.

``results/<assignment>/<student>/`` holds Gradescope's ``results.json`` (one
for the submission, every notebook's tests), each executed notebook under its
released name (``executed/<notebook>.ipynb``) and ``state.json`` (what the
grade was made from, and whether it is in the gradebook yet). A file is either complete or absent, so a
batch killed at any moment loses no finished grade.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from graders.autograde.worker import Graded

RESULTS = "results.json"
EXECUTED = "executed"  # a folder: the executed notebooks, by released file name
STATE = "state.json"
WRITTEN = "written"  # a folder: the files the notebooks wrote beside themselves (``Graded.written``)


@dataclass
class State:
    """How a stored grade was made, and whether the gradebook has it."""

    submission: str  # content hash of the submission folder
    checks: str  # version of everything that decides a score
    seconds: float
    worker: str
    recorded: bool = False
    record_error: str | None = None


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "w") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(partial, path)


def storable(written: dict[str, bytes]) -> dict[str, bytes]:
    """The files a submission's notebooks wrote (relative path -> content) that can be kept side by side: a
    relative path without ``..``, not below a path that is itself a file (two notebooks may write ``out`` and
    ``out/x``: the first in path order is kept)."""
    kept: dict[str, bytes] = {}
    for relative in sorted(written):
        parts = Path(relative).parts
        if not parts or Path(relative).is_absolute() or ".." in parts or len(relative) > 240 \
                or any(Path(*parts[:end]).as_posix() in kept for end in range(1, len(parts))):
            continue
        kept[relative] = written[relative]
    return kept


class ResultStore:
    """Stored grades of one assignment."""

    def __init__(self, folder: Path):
        self.folder = folder

    def student_folder(self, student: str) -> Path:
        return self.folder / student

    def state(self, student: str) -> State | None:
        try:
            return State(**json.loads((self.student_folder(student) / STATE).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def results(self, student: str) -> dict | None:
        try:
            return json.loads((self.student_folder(student) / RESULTS).read_text())
        except (OSError, ValueError):
            return None

    def executed(self, student: str, notebook: str) -> str | None:
        """The executed notebook ``notebook`` (its released file name) as JSON, or None when it never ran."""
        path = self.student_folder(student) / EXECUTED / notebook
        return path.read_text() if path.is_file() else None

    def written(self, student: str) -> dict[str, bytes]:
        """The files the student's notebooks wrote beside themselves, by relative path (``Graded.written``)."""
        folder = self.student_folder(student) / WRITTEN
        return {path.relative_to(folder).as_posix(): path.read_bytes()
                for path in sorted(folder.rglob("*")) if path.is_file() and not path.is_symlink()}

    def save(self, graded: Graded, submission: str, checks: str) -> State:
        """Keep a worker's result; the state goes last, so it only ever describes complete files."""
        folder = self.student_folder(graded.student)
        (folder / STATE).unlink(missing_ok=True)
        shutil.rmtree(folder / WRITTEN, ignore_errors=True)
        for relative, content in storable(graded.written).items():
            path = folder / WRITTEN / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        write_atomically(folder / RESULTS, json.dumps(graded.results, indent=2) + "\n")
        for notebook, executed in graded.executed.items():
            path = folder / EXECUTED / Path(notebook).name
            if executed is not None:
                write_atomically(path, executed)
            else:
                path.unlink(missing_ok=True)
        state = State(submission, checks, graded.seconds, graded.worker)
        self.set_state(graded.student, state)
        return state

    def set_state(self, student: str, state: State) -> None:
        write_atomically(self.student_folder(student) / STATE, json.dumps(asdict(state), indent=2) + "\n")

    def students(self) -> list[str]:
        return sorted(path.parent.name for path in self.folder.glob(f"*/{STATE}"))
