"""Content hashes that decide whether a stored grade is still valid.

A submission is graded again only when its files change, or when anything
that decides its score does: the grading code, that assignment's notebooks
(source and release: its test cells) and files, the grader's data or the
limits it ran under. Changing one assignment never re-grades another.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path

from graders.grade.sandbox import Limits

PACKAGE = Path(__file__).resolve().parent.parent  # graders/
# The modules a score depends on, relative to the package: reports and the CLI may change without a re-grade.
GRADING_MODULES = (
    "course/assignment.py", "course/settings.py", "course/cells.py",  # what an assignment is
    "grade/submission.py", "grade/sandbox.py", "grade/sandbox_launch.py", "grade/view.py", "grade/cgroup.py",
    "grade/seccomp.py",
    "grade/execute.py",
    "grade/kernel_bridge.py", "grade/bring_across.py", "grade/checker.py", "grade/export.py", "grade/run.py",
    "grade/results.py",  # one submission
    "autograde/locate.py", "autograde/worker.py",  # which notebook of a folder is graded, as what; the results
    "architecture.py", "checks.py",  # helpers test cells import
    "feedback/data.py",  # the plots' data
    "reference/record.py",  # the reference record test cells name
)
IGNORED_PARTS = (".ipynb_checkpoints", "__pycache__")


def _digest(items: list[tuple[str, bytes]]) -> str:
    sha = hashlib.sha256()
    for name, content in items:
        sha.update(name.encode() + b"\0" + len(content).to_bytes(8, "little") + content)
    return sha.hexdigest()


def submission_hash(folder: Path) -> str:
    """sha256 of every file of a submission folder (timestamp.txt included), by relative path."""
    files = sorted(path for path in folder.rglob("*")
                   if path.is_file() and not set(path.relative_to(folder).parts) & set(IGNORED_PARTS))
    return _digest([(path.relative_to(folder).as_posix(), path.read_bytes()) for path in files])


def code_version() -> str:
    """sha256 of the grading modules of this installation of ``graders``."""
    return _digest([(name, (PACKAGE / name).read_bytes()) for name in GRADING_MODULES])


def checks_version(assignment: str, data_sha: str, limits: Limits) -> str:
    """What a stored grade must have been made with to stay valid: the engine's code, the assignment's own
    version (``GradedNotebook.version``: its source, release and files), the data and the limits (thread
    counts aside: they change how fast a model trains, not whether it passes)."""
    limits_that_matter = {name: value for name, value in asdict(limits).items() if name != "threads"}
    return _digest([("code", code_version().encode()), ("assignment", assignment.encode()),
                    ("data", data_sha.encode()),
                    ("limits", repr(sorted(limits_that_matter.items())).encode())])


def file_sha(path: Path) -> str:
    """sha256 of one file."""
    sha = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()
