"""An assignment of an nbgrader course, as the grader reads it: its notebooks, their test cells, their files.

Everything about an assignment comes from the course: the instructor's
source notebooks (the test cells' code, hidden tests included), the released
ones (what a submission is restored against), the files beside them, and the
course's ``nbgrader_config.py`` (folders, ``IgnorePattern``). A
:class:`GradedNotebook` holds all a worker needs to grade one notebook, so a
new assignment needs no new deployment of the workers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from graders.course.cells import TestCell, instructor_imports, modules_imported, test_cells
from graders.course.settings import GradingSettings, SettingsError, read_settings

MAX_HELPER_BYTES = 64 << 20  # files beside a notebook that travel with each task
IGNORED_FILES = (".ipynb_checkpoints", "__pycache__")


class AssignmentError(Exception):
    """The course has no such assignment, or it cannot be graded as it is."""


def grade_id(cell) -> str | None:
    """The nbgrader grade_id of a cell, if any."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _files_beside(folder: Path) -> tuple[tuple[str, bytes], ...]:
    """The files of an assignment folder other than notebooks (helper modules, images, small data), top level."""
    files, total = [], 0
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if (
            path.is_file()
            and path.suffix != ".ipynb"
            and path.name not in IGNORED_FILES
            and not path.name.startswith(".")
        ):
            content = path.read_bytes()
            total += len(content)
            if total > MAX_HELPER_BYTES:
                raise AssignmentError(
                    f"the files beside the notebooks of {folder} exceed "
                    f"{MAX_HELPER_BYTES >> 20} MiB: provision large data separately"
                )
            files.append((path.name, content))
    return tuple(files)


@dataclass(frozen=True)
class GradedNotebook:
    """One notebook of an assignment, with everything a worker needs to grade it (JSON text and file bytes)."""

    assignment: str
    name: str  # its file name, e.g. "problem1.ipynb"
    source: str  # the instructor's notebook: test cells' code, hidden tests included
    release: str  # the notebook students got: what a submission is restored against
    source_files: tuple[tuple[str, bytes], ...] = ()  # beside the source: importable by the test cells
    release_files: tuple[tuple[str, bytes], ...] = ()  # beside the release: put in the sandbox with the notebook
    ignore_pattern: str = ""  # stderr a test cell may write without failing (the course's IgnorePattern)
    settings: GradingSettings = GradingSettings()  # the assignment's grader-side settings (grading/ASSIGNMENT.toml)
    reference: str = ""  # the assignment's reference record (grading/ASSIGNMENT.reference.json), "" when none

    @cached_property
    def source_nb(self) -> NotebookNode:
        return nbformat.reads(self.source, as_version=4)

    @cached_property
    def release_nb(self) -> NotebookNode:
        return nbformat.reads(self.release, as_version=4)

    @cached_property
    def tests(self) -> dict[str, TestCell]:
        return test_cells(self.source_nb)

    @cached_property
    def modules(self) -> frozenset[str]:
        """Modules the source notebook imports: the ones the checker imports when the kernel names them."""
        return modules_imported(self.source_nb)

    @cached_property
    def imports(self) -> dict[str, str]:
        """Names the source notebook's locked cells import, with the statement: the checker binds them itself."""
        return instructor_imports(self.source_nb)

    def version(self) -> str:
        """sha256 of everything here that decides a score."""
        sha = hashlib.sha256()
        for part in (self.assignment, self.name, self.source, self.release, self.ignore_pattern,
                     self.settings.fingerprint(), self.reference):
            sha.update(part.encode() + b"\0")
        for name, content in (*self.source_files, *self.release_files):
            sha.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
        return sha.hexdigest()


def load_notebook(
    source_folder: Path,
    release_folder: Path,
    name: str,
    assignment: str,
    ignore_pattern: str = "",
    settings: GradingSettings | None = None,
    reference: str = "",
    current_reference: bool = True,
) -> GradedNotebook:
    """One notebook of an assignment, read from its source and release folders.

    ``reference``: the assignment's reference record (JSON text, "" when it
    has none); with ``current_reference``, it must have been recorded from
    this version of the source notebook.

    Raises:
        AssignmentError: the source or the release lacks the notebook, a
            test cell of the source has no grade_id, or the reference record
            is out of date.
    """
    source, release = source_folder / name, release_folder / name
    if not source.is_file():
        raise AssignmentError(
            f"the assignment {assignment!r} has no source notebook {source.name} in "
            f"{source_folder}: the test cells' code is read from it"
        )
    if not release.is_file():
        raise AssignmentError(
            f"the assignment {assignment!r} has no released {name} in {release_folder}: "
            f"run `nbgrader generate_assignment {assignment}`"
        )
    graded = GradedNotebook(
        assignment,
        name,
        source.read_text(),
        release.read_text(),
        _files_beside(source_folder),
        _files_beside(release_folder),
        ignore_pattern,
        settings or GradingSettings(),
        reference,
    )
    try:
        graded.tests  # noqa: B018 (read now: a broken source fails here, with its reason)
    except ValueError as error:
        raise AssignmentError(f"{assignment}/{name}: {error}") from None
    if reference and current_reference:
        _check_reference(graded)
    return graded


def _check_reference(graded: GradedNotebook) -> None:
    """Refuse a reference record that was not recorded from this source notebook (its thresholds and values
    would be another solution's)."""
    import json

    from graders.reference.record import source_version

    try:
        recorded = json.loads(graded.reference)["notebooks"].get(graded.name, {}).get("source")
    except (ValueError, KeyError, TypeError, AttributeError):
        recorded = None
    why = ("the code of its cells other than test cells changed since it was recorded" if recorded
           else "the record has no entry for it")
    if recorded != source_version(graded.source_nb):
        raise AssignmentError(
            f"the reference record grading/{graded.assignment}.reference.json does not match the source notebook "
            f"{graded.name} ({why}): run `graders reference {graded.assignment}`, review the new record and commit it"
        )


@dataclass(frozen=True)
class Assignment:
    """An assignment of a course: its folders and its notebooks (the release's, by file name)."""

    name: str
    source_folder: Path
    release_folder: Path
    ignore_pattern: str = ""
    settings: GradingSettings = GradingSettings()
    course: Path = Path(".")  # the course folder: the settings' data files are relative to it
    reference: str = ""  # the reference record's JSON (grading/ASSIGNMENT.reference.json), "" when none

    def data_files(self) -> dict[str, Path]:
        """The data files the grader provisions (``GradingSettings.data_files``).

        Raises:
            AssignmentError: one of them does not exist.
        """
        try:
            return self.settings.data_files(self.course)
        except SettingsError as error:
            raise AssignmentError(str(error)) from None

    @property
    def notebook_names(self) -> list[str]:
        return sorted(path.name for path in self.release_folder.glob("*.ipynb"))

    def notebook(self, name: str, current_reference: bool = True) -> GradedNotebook:
        """The notebook ``name`` (``load_notebook``; ``current_reference``: refuse an out-of-date record)."""
        return load_notebook(self.source_folder, self.release_folder, name, self.name, self.ignore_pattern,
                             self.settings, self.reference, current_reference)

    def notebooks(self, current_reference: bool = True) -> list[GradedNotebook]:
        return [self.notebook(name, current_reference) for name in self.notebook_names]


def find_assignment(course: Path, name: str, config=None) -> Assignment:
    """The assignment ``name`` of the nbgrader course at ``course`` (its ``nbgrader_config.py`` decides the folders;
    ``config``: the whole configuration, when the caller has read it already, ``course_config``).

    Raises:
        AssignmentError: no such assignment in ``source/`` or ``release/``, no notebook released, or its
            ``grading/ASSIGNMENT.toml`` cannot be used.
    """
    from nbgrader.coursedir import CourseDirectory

    from graders.course.nbgrader_settings import course_config

    config = config if config is not None else course_config(course)
    coursedir = CourseDirectory(config=config)
    root = Path(coursedir.root)
    source = root / coursedir.source_directory / name
    release = root / coursedir.release_directory / name
    if not source.is_dir():
        known = sorted(p.name for p in (root / coursedir.source_directory).glob("*") if p.is_dir())
        raise AssignmentError(
            f"the course {root} has no assignment {name!r} in {coursedir.source_directory}/ "
            f"(it has: {', '.join(known) or 'none'})"
        )
    ignore = config.IgnorePattern
    pattern = str(ignore.get("pattern", "")) if ignore.get("enabled", False) else ""
    try:
        settings = read_settings(root, name)
    except SettingsError as error:
        raise AssignmentError(str(error)) from None
    from graders.reference.record import record_path

    reference = record_path(root, name)
    assignment = Assignment(name, source, release, pattern, settings, root,
                            reference.read_text() if reference.is_file() else "")
    if not assignment.notebook_names:
        raise AssignmentError(
            f"no released notebook of {name!r} in {release}: run `nbgrader generate_assignment {name}`"
        )
    return assignment
