"""An assignment's sample submissions, declared beside it: ``grading/ASSIGNMENT.samples.toml``.

Samples are built, not stored: each is the released notebook with the
answer cells filled from the instructor's solution code (the text between
``### BEGIN SOLUTION`` and ``### END SOLUTION``), edited as the sample says,
so they never drift from the source. ``graders demo ASSIGNMENT`` and the
tests grade them and compare every test cell's score with the expected one::

    [[sample]]
    student = "solution"                    # a folder name under submitted/
    description = "the instructor's solution"

    [[sample]]
    student = "untouched"
    description = "the release as handed out"
    untouched = true                        # every autograded test cell scores 0

    [[sample]]
    student = "padding_same"
    description = "a convnet whose Conv2D layers use padding='same'"
    fails = ["test_cnn_architecture"]       # the test cells that score 0; all others full points
    partial = { test_x = 0.5 }              # optional: test cells scoring neither 0 nor full
    [[sample.edit]]                         # applied in order to one solution cell's code
    cell = "cnn_model"                      # its grade_id (notebook = "NAME.ipynb" when there are several)
    replace = 'activation="relu")'          # must occur in the code
    with = 'activation="relu", padding="same")'
    # or: code = "..."                      # the cell's whole solution code
    [[sample.tamper]]                       # a test cell the student changed (nbgrader restores it)
    cell = "test_q_conv_blocks"
    source = "pass"                         # absent: the cell is deleted

In an assignment of several notebooks, test cells are named
``NOTEBOOK_STEM/GRADE_ID`` in ``fails`` and ``partial``.
"""

from __future__ import annotations

import re
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

from graders.course.cells import grade_points
from graders.grade.results import test_name

SUFFIX = ".samples.toml"
SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
STUB = re.compile(r"^([ \t]*)# YOUR CODE HERE\n\1raise NotImplementedError\(\)", re.M)  # indented in a def, too
SAMPLE_KEYS = {"student", "description", "untouched", "fails", "partial", "edit", "tamper"}
STUDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class SamplesError(ValueError):
    """The samples file cannot be used: the message names the sample and what is wrong."""


@dataclass(frozen=True)
class Edit:
    """One change of a solution cell's code: ``replace`` -> ``with_``, or the whole ``code``."""

    notebook: str | None  # the notebook's file name; None: the assignment's only one
    cell: str
    replace: str | None = None
    with_: str = ""
    code: str | None = None


@dataclass(frozen=True)
class Tamper:
    """A test cell the sample changed (``source``) or deleted (``source`` None)."""

    notebook: str | None
    cell: str
    source: str | None


@dataclass(frozen=True)
class Sample:
    """A submission: the edits that make it, and the test cells it must fail."""

    student: str
    description: str
    edits: tuple[Edit, ...] = ()
    fails: frozenset[str] = frozenset()  # test cells scoring 0 (``NOTEBOOK_STEM/GRADE_ID`` with several notebooks)
    tamper: tuple[Tamper, ...] = ()
    untouched: bool = False
    partial: tuple[tuple[str, float], ...] = ()  # test cell -> expected score, neither 0 nor full


def samples_path(course: Path, assignment: str) -> Path:
    return Path(course) / "grading" / f"{assignment}{SUFFIX}"


def _string(table: dict, key: str, where: str, required: bool = True) -> str | None:
    value = table.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise SamplesError(f"{where}: {key} should be a string")
    return value


def _edit(table: dict, where: str) -> Edit:
    unknown = set(table) - {"notebook", "cell", "replace", "with", "code"}
    if unknown:
        raise SamplesError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: notebook, cell, replace, "
                           "with, code)")
    cell = _string(table, "cell", where)
    code = _string(table, "code", where, required=False)
    replace = _string(table, "replace", where, required=False)
    if (code is None) == (replace is None):
        raise SamplesError(f"{where}: give either replace and with, or code")
    if replace is not None and not isinstance(table.get("with"), str):
        raise SamplesError(f"{where}: replace needs with (a string, may be empty)")
    return Edit(_string(table, "notebook", where, required=False), cell, replace, table.get("with", ""), code)


def parse_samples(text: str, path: str = "samples") -> tuple[Sample, ...]:
    """The samples declared in ``text`` (TOML, the format above).

    Raises:
        SamplesError: invalid TOML, an unknown key, a missing field or a repeated student (named, with where).
    """
    try:
        declared = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SamplesError(f"{path} is not valid TOML: {error}") from None
    if set(declared) - {"sample"} or not isinstance(declared.get("sample", []), list):
        raise SamplesError(f"{path}: expected only [[sample]] tables")
    samples, seen = [], set()
    for number, table in enumerate(declared.get("sample", []), start=1):
        where = f"{path}: sample {number}"
        unknown = set(table) - SAMPLE_KEYS
        if unknown:
            raise SamplesError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: "
                               f"{', '.join(sorted(SAMPLE_KEYS))})")
        student = _string(table, "student", where)
        if not STUDENT.match(student) or student in seen:
            raise SamplesError(f"{where}: student {student!r} should be a new folder name (letters, digits, _ . -)")
        seen.add(student)
        where = f"{path}: sample {student!r}"
        fails = table.get("fails", [])
        partial = table.get("partial", {})
        if not isinstance(fails, list) or not all(isinstance(name, str) for name in fails):
            raise SamplesError(f"{where}: fails should be a list of test cell names")
        if not isinstance(partial, dict) or not all(isinstance(score, (int, float)) and not isinstance(score, bool)
                                                    for score in partial.values()):
            raise SamplesError(f"{where}: partial should be a table of test cell = score")
        edits = tuple(_edit(edit, f"{where}, edit {index}") for index, edit in enumerate(table.get("edit", []), 1))
        tampers = []
        for index, tamper in enumerate(table.get("tamper", []), 1):
            if set(tamper) - {"notebook", "cell", "source"}:
                raise SamplesError(f"{where}, tamper {index}: known keys are notebook, cell, source")
            tampers.append(Tamper(_string(tamper, "notebook", where, required=False),
                                  _string(tamper, "cell", f"{where}, tamper {index}"),
                                  _string(tamper, "source", where, required=False)))
        untouched = table.get("untouched", False)
        if not isinstance(untouched, bool) or (untouched and (edits or tampers or fails)):
            raise SamplesError(f"{where}: untouched = true takes no edits, tamper or fails")
        samples.append(Sample(student, _string(table, "description", where), edits, frozenset(fails),
                              tuple(tampers), untouched, tuple(sorted((name, float(score))
                                                                      for name, score in partial.items()))))
    return tuple(samples)


def read_samples(course: Path, assignment: str) -> tuple[Sample, ...]:
    """The samples of ``assignment`` (``grading/ASSIGNMENT.samples.toml`` in the course).

    Raises:
        SamplesError: the file is missing or cannot be used.
    """
    path = samples_path(course, assignment)
    if not path.is_file():
        raise SamplesError(f"{assignment} declares no sample submissions: write {path.relative_to(course)} "
                           "(see graders/course/samples.py for the format)")
    return parse_samples(path.read_text(), str(path.relative_to(course)))


def solution_code(source_nb) -> dict[str, str]:
    """The code of each solution code cell of an instructor notebook (the SOLUTION region, indented as it is in
    the cell), by grade_id.

    Raises:
        ValueError: a solution code cell has no BEGIN/END SOLUTION region.
    """
    solutions = {}
    for cell in source_nb.cells:
        nbgrader = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and nbgrader.get("solution"):
            match = SOLUTION_REGION.search(cell.source)
            if match is None:
                raise ValueError(f"solution cell {nbgrader['grade_id']} has no BEGIN/END SOLUTION region")
            solutions[nbgrader["grade_id"]] = match.group(1).rstrip()
    return solutions


def _indented(code: str, indent: str) -> str:
    first = next((line for line in code.splitlines() if line.strip()), "")
    return code if first.startswith(indent) else textwrap.indent(code, indent)


def fill_answers(release_nb, code: dict[str, str]):
    """A copy of the released notebook with the ``# YOUR CODE HERE`` stub of each cell named in ``code``
    (by grade_id) replaced by that code, indented as the stub is (in a function's body, say) unless it already
    is.

    Raises:
        ValueError: a named cell has no stub to replace.
    """
    notebook = nbformat.from_dict(release_nb)
    for cell in notebook.cells:
        name = cell.metadata.get("nbgrader", {}).get("grade_id")
        if name in code:
            if not STUB.search(cell.source):
                raise ValueError(f"released cell {name} has no `{CODE_STUB}` stub")
            cell.source = STUB.sub(lambda stub, text=code[name]: _indented(text, stub.group(1)), cell.source, 1)
    return notebook


def _ours(item: Edit | Tamper, notebook: str, names: list[str]) -> bool:
    if item.notebook is None and len(names) > 1:
        raise SamplesError(f"{item.cell}: name its notebook (one of {', '.join(names)})")
    return (item.notebook or names[0]) == notebook


def build(sample: Sample, source_nb, release_nb, notebook: str | None = None, names: list[str] | None = None):
    """The submitted ``notebook`` (a file name of the assignment, ``names`` all of them) for ``sample``.

    Raises:
        SamplesError: an edit names a cell without solution code, or text its code lacks.
    """
    names = names or [notebook or "notebook.ipynb"]
    notebook = notebook or names[0]
    submission = nbformat.from_dict(release_nb)
    if sample.untouched:
        return submission
    solutions = solution_code(source_nb)
    for edit in (edit for edit in sample.edits if _ours(edit, notebook, names)):
        if edit.cell not in solutions:
            raise SamplesError(f"sample {sample.student}: {edit.cell} is not a solution code cell of {notebook}")
        if edit.code is not None:
            solutions[edit.cell] = edit.code.rstrip("\n")
            continue
        if edit.replace not in solutions[edit.cell]:
            raise SamplesError(f"sample {sample.student}: {edit.replace!r} is not in the solution of {edit.cell}")
        solutions[edit.cell] = solutions[edit.cell].replace(edit.replace, edit.with_)
    submission = fill_answers(submission, solutions)
    tampered = {tamper.cell: tamper.source for tamper in sample.tamper if _ours(tamper, notebook, names)}
    kept = []
    for cell in submission.cells:
        name = cell.metadata.get("nbgrader", {}).get("grade_id")
        if name in tampered:
            if tampered[name] is None:
                continue
            cell.source = tampered[name]
        kept.append(cell)
    submission.cells = kept
    return submission


def cell_points(releases: dict[str, object]) -> dict[str, float]:
    """Each autograded test cell's points, by test cell (``NOTEBOOK_STEM/GRADE_ID`` when ``releases``, the
    released notebooks by file name, are several)."""
    several = len(releases) > 1
    return {test_name(name, notebook, several): points for notebook, release in releases.items()
            for name, points in grade_points(release).items()}


def expected_scores(sample: Sample, releases: dict[str, object]) -> dict[str, float]:
    """The score each autograded test cell must get for ``sample``, by test cell (``NOTEBOOK_STEM/GRADE_ID`` when
    ``releases``, the released notebooks by file name, are several).

    Raises:
        SamplesError: the sample names a test cell the release does not have, or a partial score outside it.
    """
    tests = cell_points(releases)
    partial = dict(sample.partial)
    unknown = (sample.fails | set(partial)) - tests.keys()
    if unknown:
        raise SamplesError(f"sample {sample.student} names unknown test cells: {', '.join(sorted(unknown))} "
                           f"(the release's: {', '.join(tests)})")
    for name, score in partial.items():
        if not 0 < score < tests[name]:
            raise SamplesError(f"sample {sample.student}: partial {name} = {score:g} should be between 0 and "
                               f"{tests[name]:g}, exclusive")
    return {name: 0.0 if sample.untouched or name in sample.fails else partial.get(name, points)
            for name, points in tests.items()}


def write_submissions(course: Path, assignment: str, samples: tuple[Sample, ...]) -> list[Path]:
    """Write each sample to ``course/submitted/STUDENT/ASSIGNMENT/`` (every notebook of the release, which must
    exist); return the paths written."""
    from graders.course.assignment import find_assignment

    found = find_assignment(Path(course), assignment)
    source, release = found.source_folder, found.release_folder
    names = sorted(path.name for path in release.glob("*.ipynb"))
    paths = []
    for sample in samples:
        for name in names:
            built = build(sample, nbformat.read(source / name, as_version=4),
                          nbformat.read(release / name, as_version=4), name, names)
            path = Path(course) / "submitted" / sample.student / assignment / name
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(built, path)
            paths.append(path)
    return paths
