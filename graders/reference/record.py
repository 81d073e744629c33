"""An assignment's reference record: what its solution does, measured over seeds, for the test cells to name.

``graders reference ASSIGNMENT`` runs the instructor's source notebooks with
several seeds and writes ``grading/ASSIGNMENT.reference.json`` in the course
(reviewed and committed by the instructor; nbgrader never releases it). For
each notebook it holds, per data set (the grader's data files, by content):

- ``models``: each Keras model a test cell reads, as its layer table (type,
  output shape, parameters, activation, padding, configuration);
- ``values``: each plain value a test cell reads that every seed agreed on
  (an answer such as ``q_pool_output_size = 13``);
- ``figures``: each number a test cell reads that varied with the seed (a test
  accuracy, a loss), with its spread and the bounds ``THRESHOLD_RULE`` sets.

Test cells name these (``graders.checks``: ``check_layers(model, like="model")``,
``check_accuracy(..., minimum="test_acc")``, ``check_answer("q", q)``), so no
expected number is written twice. The record names the source notebook's
version (``source_version``): a record older than the source is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

FOLDER = "grading"
SUFFIX = ".reference.json"
ENVIRONMENT = "GRADERS_REFERENCE"  # the record's file, as the engine hands it to the checker
NOTEBOOK_ENVIRONMENT = "GRADERS_NOTEBOOK"  # the notebook being graded (a record may hold several)
SIGMAS = 4
CONFIDENCE = 0.95
THRESHOLD_RULE = (f"at_least = min(worst seed, mean - {SIGMAS} sd95), rounded down; at_most = max(worst seed, mean + "
                  f"{SIGMAS} sd95), rounded up (to 0.001, or 3 significant digits of smaller figures; within [0, 1] "
                  f"for a figure whose seeds all are); sd95 = the {CONFIDENCE:.0%} upper confidence bound of the "
                  "standard deviation from n seeds, sd * sqrt((n - 1) / chi2(0.05; n - 1)): few seeds, wide bounds")


class RecordError(AssertionError):
    """The record cannot answer: none, out of date, or without the name or the data set asked for.

    An ``AssertionError``, so that under stock ``nbgrader autograde`` the test
    cell fails with the sentence. ``graders`` never scores it as the
    student's failure: the checker reports it as a grader error, and the
    batch fails that submission loudly (``graders.grade.checker``); the
    engine also refuses, before grading, a record older than the source or
    without measurements on the grader's data.
    """


def record_path(course: Path, assignment: str) -> Path:
    """Where ``assignment``'s record lies in the course: ``grading/ASSIGNMENT.reference.json``."""
    return Path(course) / FOLDER / f"{assignment}{SUFFIX}"


def source_version(source_nb) -> str:
    """sha256 of what a record depends on in a source notebook: the code of its cells other than autograded test
    cells, in order (the lesson's text and the tests' code may change without a new sweep)."""
    from graders.course.cells import is_test_cell

    sha = hashlib.sha256()
    for cell in source_nb.cells:
        if cell.cell_type == "code" and not is_test_cell(cell):
            sha.update(cell.source.encode() + b"\0")
    return sha.hexdigest()


def content_sha256(path: Path) -> str:
    """sha256 of a data file's content: of an npz (any zip), its arrays' names, dtypes, shapes and values,
    ``class_names`` aside (the zip's own bytes hold write times, so two writes of the same arrays differ; class
    names label the feedback and change no measurement); of any other file, its bytes.

    Raises:
        OSError, ValueError: the file cannot be read (an ``.npz`` that is not one, or holds pickled objects).
    """
    import zipfile

    if zipfile.is_zipfile(path):  # an npz, whatever its name
        import numpy as np

        sha = hashlib.sha256()
        with np.load(path, allow_pickle=False) as arrays:
            for name in sorted(set(arrays.files) - {"class_names"}):  # names label the feedback, not the data
                array = np.ascontiguousarray(arrays[name])
                sha.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
                sha.update(array.tobytes())
        return sha.hexdigest()
    from graders.autograde.fingerprint import file_sha

    return file_sha(path)


@lru_cache(maxsize=16)
def _cached_sha(path: str, mtime_ns: int, size: int) -> str:
    return content_sha256(Path(path))


def data_key(files: dict[str, str]) -> str:
    """A data set's key: 16 hex digits of sha256 over each variable and its file's ``content_sha256`` (sorted by
    variable); ``"none"`` for an assignment without data files."""
    if not files:
        return "none"
    sha = hashlib.sha256()
    for variable in sorted(files):
        sha.update(f"{variable}={files[variable]}\0".encode())
    return sha.hexdigest()[:16]


def data_shas(variables: list[str], environment=os.environ) -> dict[str, str]:
    """The content sha256 of each data variable's file, as ``environment`` points at it (cached per file version).

    Raises:
        RecordError: a variable is not set or names no readable file.
    """
    shas = {}
    for variable in variables:
        path = environment.get(variable)
        if not path:
            raise RecordError(f"the reference record needs the data file {variable}, which is not provisioned")
        try:
            stat = os.stat(path)
            shas[variable] = _cached_sha(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
        except (OSError, ValueError) as error:
            raise RecordError(f"the data file {variable}={path} cannot be read: {error}") from None
    return shas


def bounds(values: list[float]) -> dict:
    """A figure's spread over the seeds (two or more) and its thresholds (``THRESHOLD_RULE``).

    Returns ``seeds`` (the values), ``mean``, ``sd`` (sample standard
    deviation), ``sd95`` (its upper confidence bound), ``worst_low``/
    ``worst_high`` (the lowest and highest seed), ``at_least`` and ``at_most``.

    Raises:
        ValueError: fewer than two values.
    """
    from scipy.stats import chi2

    count = len(values)
    if count < 2:
        raise ValueError("a spread needs at least two seeds")
    mean = sum(values) / count
    sd = math.sqrt(sum((value - mean) ** 2 for value in values) / (count - 1))
    sd95 = sd * math.sqrt((count - 1) / chi2.ppf(1 - CONFIDENCE, count - 1))
    low, high = min(values), max(values)
    scale = max(abs(low), abs(high))
    unit = 10 ** -max(3, 2 - math.floor(math.log10(scale))) if scale else 0.001  # 3 significant digits, at least
    at_least, at_most = min(low, mean - SIGMAS * sd95), max(high, mean + SIGMAS * sd95)
    if 0 <= low and high <= 1:  # a share (an accuracy), or a figure that behaves like one
        at_least, at_most = max(at_least, 0.0), min(at_most, 1.0)
    return {"seeds": values, "mean": round(mean, 6), "sd": round(sd, 6), "sd95": round(sd95, 6), "worst_low": low,
            "worst_high": high, "at_least": round(math.floor(at_least / unit + 1e-9) * unit, 12),
            "at_most": round(math.ceil(at_most / unit - 1e-9) * unit, 12)}


@dataclass(frozen=True)
class Reference:
    """One notebook's record, read: its data sets by key (``notebooks[NAME]`` of the file)."""

    assignment: str
    notebook: str
    source: str  # ``source_version`` of the notebook the sweep ran
    data_sets: dict  # key -> {"files": {VARIABLE: {"name", "sha256"}}, "seeds", "models", "values", "figures"}
    path: str = ""

    @property
    def variables(self) -> list[str]:
        """The data variables the record's data sets were measured with (every data set has the same ones)."""
        return sorted({variable for entry in self.data_sets.values() for variable in entry.get("files", {})})

    def current(self, environment=os.environ) -> tuple[str, dict | None]:
        """The key of the data the grader has now, and the record's data set for it (None when not measured)."""
        variables = self.variables
        key = data_key(data_shas(variables, environment)) if variables else "none"
        return key, self.data_sets.get(key)

    def _command(self) -> str:
        return f"graders reference {self.assignment}"

    def _lookup(self, kind: str, name: str, environment=os.environ):
        if kind != "figures" and len(self.data_sets) > 1:  # measured on several data sets, always the same
            found = [entry[kind][name] for entry in self.data_sets.values() if name in entry.get(kind, {})]
            if len(found) == len(self.data_sets) and all(item == found[0] for item in found):
                return found[0]
        key, entry = self.current(environment)
        if entry is not None and name in entry.get(kind, {}):
            return entry[kind][name]
        if entry is None:
            measured = ", ".join(sorted(self.data_sets)) or "none"
            raise RecordError(
                f"the reference record {self.path} has no measurements on this data (data set {key}; measured: "
                f"{measured}): run `{self._command()}` with this data provisioned")
        known = sorted({item for entry in self.data_sets.values() for item in entry.get(kind, {})})
        raise RecordError(f"the reference record of {self.notebook} has no {kind[:-1]} {name!r} "
                             f"(it has: {', '.join(known) or 'none'}); a test cell must read it for "
                             f"`{self._command()}` to record it")

    def model(self, name: str, environment=os.environ) -> dict:
        """The recorded model ``name``: ``{"input_shape": [...], "layers": [{type, output_shape, params,
        activation, padding, config}, ...]}``.

        Raises:
            RecordError: no model of that name was recorded.
        """
        return self._lookup("models", name, environment)

    def value(self, name: str, environment=os.environ):
        """The recorded value ``name`` (JSON: int, float, str, bool, list, None)."""
        return self._lookup("values", name, environment)

    def as_recorded(self, kind: str, name: str):
        """A model or value (``kind``: "models", "values") as every data set that holds it recorded it, whatever
        the grader's data: for tools (the self-check, a lesson's tests), never for grading.

        Raises:
            RecordError: no data set holds it, or two hold it differently.
        """
        found = [entry[kind][name] for entry in self.data_sets.values() if name in entry.get(kind, {})]
        if not found or any(item != found[0] for item in found):
            raise RecordError(f"the reference record of {self.notebook} has {'no' if not found else 'several'} "
                              f"{kind[:-1]} {name!r}")
        return found[0]

    def measured(self, environment=os.environ) -> bool:
        """Whether the record has measurements on the grader's current data (an assignment without data: always).

        Raises:
            RecordError: a data variable is not provisioned.
        """
        return self.current(environment)[1] is not None

    def figure(self, name: str, environment=os.environ) -> dict:
        """The recorded figure ``name`` on the grader's current data (``bounds``' keys).

        Raises:
            RecordError: no such figure, or none measured on this data.
        """
        return self._lookup("figures", name, environment)


def read_record(path: Path, notebook: str | None, assignment: str = "") -> Reference:
    """The record of ``notebook`` (its file name) in the record file at ``path``; with ``notebook`` None, the
    record's only notebook.

    Raises:
        RecordError: the file is missing or unreadable, or holds no such notebook.
    """
    try:
        content = json.loads(Path(path).read_text())
        notebooks = content["notebooks"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RecordError(f"the reference record {path} cannot be read ({error}): run "
                             f"`graders reference {assignment or Path(path).name.removesuffix(SUFFIX)}`") from None
    if notebook is None and len(notebooks) == 1:
        notebook = next(iter(notebooks))
    if notebook is None:
        raise RecordError(f"the reference record {path} holds several notebooks ({', '.join(sorted(notebooks))}): "
                          "grade with graders, which names the notebook")
    if notebook not in notebooks:
        raise RecordError(f"the reference record {path} has no notebook {notebook!r} "
                             f"(it has: {', '.join(sorted(notebooks))})")
    entry = notebooks[notebook]
    return Reference(content.get("assignment", ""), notebook, entry.get("source", ""), entry.get("data_sets", {}),
                     str(path))


def _record_for_stock_nbgrader() -> tuple[Path, str | None] | None:
    """Under stock ``nbgrader autograde`` (test cells in the student's kernel, run in
    ``COURSE/autograded/STUDENT/ASSIGNMENT``): the course's record of that assignment, found from the folder."""
    folder = Path.cwd()
    for parent in folder.parents:
        path = record_path(parent, folder.name)
        if path.is_file():
            return path, None
    return None


def current_reference() -> Reference:
    """The record of the notebook being graded: the file ``GRADERS_REFERENCE`` names (the engine sets it, with
    ``GRADERS_NOTEBOOK``), else the course's record of the assignment this folder belongs to.

    Raises:
        RecordError: there is none.
    """
    if os.environ.get(ENVIRONMENT):
        return read_record(Path(os.environ[ENVIRONMENT]), os.environ.get(NOTEBOOK_ENVIRONMENT) or None)
    found = _record_for_stock_nbgrader()
    if found is None:
        raise RecordError("this assignment has no reference record: run `graders reference ASSIGNMENT` in the "
                             "course, and commit grading/ASSIGNMENT.reference.json")
    return read_record(*found)


def check_measured(reference: str, data: dict[str, Path], assignment: str) -> None:
    """Refuse to grade with data the assignment's record (its JSON, "" when none) has no measurements on, when it
    holds figures: every accuracy check would fail for every student.

    Raises:
        AssignmentError: the record has figures, none of them measured on ``data`` (the message says what to run).
    """
    from graders.course.assignment import AssignmentError

    if not reference:
        return
    try:
        notebooks = json.loads(reference)["notebooks"]
    except (ValueError, KeyError, TypeError):
        raise AssignmentError(f"the reference record of {assignment} cannot be read: run `graders reference "
                              f"{assignment}`") from None
    environment = {variable: str(path) for variable, path in data.items()}
    for name, entry in notebooks.items():
        record = Reference(assignment, name, entry.get("source", ""), entry.get("data_sets", {}))
        if not any(item.get("figures") for item in record.data_sets.values()):
            continue
        try:
            measured = record.measured(environment)
        except RecordError as error:
            raise AssignmentError(str(error)) from None
        if not measured:
            key = record.current(environment)[0]
            raise AssignmentError(
                f"the reference record of {assignment} has no measurements on this data (data set {key}; measured: "
                f"{', '.join(sorted(record.data_sets))}): its thresholds would fail every student. Run "
                f"`graders reference {assignment}` with this data provisioned, review the record and commit it")
