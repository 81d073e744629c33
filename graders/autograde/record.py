"""Record stored grades in the nbgrader gradebook, from one process.

nbgrader's own ``Autograde`` converter does the recording, so the gradebook,
``autograded/``, timestamps, late penalties and the "No response." comments
are exactly what ``nbgrader autograde`` makes, and formgrader, manual
grading, ``generate_feedback`` and ``export`` work on them. Its ``Execute``
step is replaced by :class:`ApplyGraderResults`: the cells' outputs come from
the sandboxed run, and each test cell's outcome from the grader's checks.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import os
import re
import shutil
import warnings
from fnmatch import fnmatchcase
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, LimitOutput, SaveAutoGrades
from nbgrader.preprocessors.base import NbGraderPreprocessor
from nbgrader.utils import determine_grade, parse_utc
from sqlalchemy.exc import SAWarning
from traitlets import Unicode

from graders.autograde.store import ResultStore
from graders.course.assignment import GradedNotebook, grade_id
from graders.course.nbgrader_settings import course_config
from graders.grade.results import notebook_tests

EXCEPTION_LINE = re.compile(r"^\s*[\w.]*(Error|Exception): .+")


class GradebookError(Exception):
    """The gradebook cannot take grades for this assignment."""


def _key(cell: NotebookNode) -> tuple[str, str]:
    name = grade_id(cell)
    return ("grade_id", name) if name else (cell.cell_type, cell.source)


def match_cells(cells: list[NotebookNode], ran: list[NotebookNode]) -> dict[int, NotebookNode]:
    """Pair each cell of nbgrader's sanitized notebook with the executed one: by grade_id, else by source."""
    matcher = difflib.SequenceMatcher(None, [_key(c) for c in cells], [_key(c) for c in ran], autojunk=False)
    return {a + k: ran[b + k] for a, b, size in matcher.get_matching_blocks() for k in range(size)}


def failure_output(message: str) -> NotebookNode:
    """The error output that makes nbgrader score a test cell 0, with the check's message."""
    return nbformat.v4.new_output("error", ename="AssertionError", evalue=message,
                                  traceback=["AssertionError (decided by the grader's checks)", *message.splitlines()])


class ApplyGraderResults(NbGraderPreprocessor):
    """Fill the notebook with the sandboxed run's outputs and the checks' outcomes, in place of ``Execute``."""

    store = Unicode("", help="The folder of the batch's stored results (graders.autograde.store)").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        student, notebook = resources["nbgrader"]["student"], resources["unique_key"]
        store = ResultStore(Path(self.store))
        results = store.results(student)
        if results is None:
            raise GradebookError(f"no stored result for {student}")
        tests = notebook_tests(results, notebook)
        executed = store.executed(student, f"{notebook}.ipynb")
        ran = nbformat.reads(executed, as_version=4).cells if executed else []
        matched = match_cells(nb.cells, ran)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            source = matched.get(index)
            outputs = list(source.get("outputs", [])) if source is not None else []
            cell.execution_count = source.get("execution_count") if source is not None else None
            test = tests.get(grade_id(cell))
            cell.outputs = outputs if test is None else scoring_outputs(cell, outputs, test)
        return nb, resources


def scoring_outputs(cell: NotebookNode, outputs: list, test: dict) -> list:
    """A test cell's outputs, such that nbgrader scores it exactly as ``results.json`` does.

    The checker's own outputs (what the instructor's test printed, its value,
    its error) already do, and are kept. Otherwise (results of another run,
    or a cell the checker never reached), what it printed to stdout is kept,
    and the score is written the way nbgrader reads it: an error for 0, the
    number as the cell's value for partial credit.
    """
    score, points = float(test["score"]), float(test["max_score"])
    trial = nbformat.from_dict({**cell, "outputs": outputs})
    if determine_grade(trial)[0] == score:
        return outputs
    kept = [output for output in outputs if output.output_type == "display_data"
            or (output.output_type == "stream" and output.get("name") == "stdout")]
    if score <= 0 < points:
        return [*kept, failure_output(test["output"])]
    if score < points:
        return [*kept, nbformat.v4.new_output("execute_result", data={"text/plain": repr(score)})]
    return kept


class RecordingError(Exception):
    """A stored grade could not be put into the gradebook as it is: the batch fails for that student."""


STAGING = ".recording"  # in the result store: submission folders as nbgrader reads them while recording


class GradebookWriter:
    """The batch's only writer to the gradebook.

    nbgrader records from a staged copy of each submission folder
    (``results/<assignment>/.recording/<student>/<assignment>/``): the
    submission's other files (``timestamp.txt`` included) as they are, and,
    under the released notebook's name, the notebook the engine ran, already
    normalised (any encoding, cells re-identified, valid nbformat, no other
    front end's notebook metadata). So whatever the engine could grade,
    nbgrader can take, and the gradebook's scores are checked against
    ``results.json`` after every recording. With ``notebooks`` (the
    released notebooks' file names), the gradebook's notebooks of the
    assignment must be the same ones (``GradebookError`` otherwise: a
    notebook only one of them has could not be checked).
    """

    def __init__(self, course: Path, assignment: str, store: ResultStore, notebooks: list[str] | None = None,
                 config=None):
        config = copy.deepcopy(config) if config is not None else course_config(course)
        self.course_settings = copy.deepcopy(config)  # as the course has them, for nbgrader's own runs
        self.create_student = Autograde(config=config).create_student  # cast as nbgrader casts it
        config.ApplyGraderResults.store = str(store.folder)
        config.Autograde.autograde_preprocessors = [
            ApplyGraderResults, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, AssignLatePenalties,
            CheckCellMetadata]
        self.config = config
        self.coursedir = CourseDirectory(config=config)  # the course's own folders
        self.store = store
        self.staging = store.folder / STAGING
        recording = copy.deepcopy(config)
        recording.CourseDirectory.submitted_directory = os.path.relpath(self.staging, self.coursedir.root)
        self.api = NbGraderAPI(CourseDirectory(config=recording), config=recording)
        self.assignment = assignment
        self.db_url = self.coursedir.db_url
        with Gradebook(self.db_url, self.coursedir.course_id) as gradebook:
            try:
                found = gradebook.find_assignment(assignment)
                recorded = sorted(f"{notebook.name}.ipynb" for notebook in found.notebooks)
            except MissingEntry:
                raise GradebookError(f"the gradebook {self.db_url} has no assignment {assignment!r}: "
                                     f"run `nbgrader generate_assignment {assignment}` first") from None
        if notebooks is not None and recorded != sorted(notebooks):
            raise GradebookError(f"the gradebook's {assignment} has the notebooks {', '.join(recorded) or 'none'}, "
                                 f"the release {', '.join(sorted(notebooks)) or 'none'}: run "
                                 f"`nbgrader generate_assignment {assignment} --force` so that they agree")

    def with_instantiated_tests(self, graded: GradedNotebook) -> GradedNotebook:
        """``graded`` with each test cell that uses nbgrader's autotest directives (``AUTOTEST``, ``HASHED
        AUTOTEST``) holding the code ``nbgrader generate_assignment`` made of them, read from the gradebook: the
        code ``nbgrader autograde`` runs. The source notebook holds only the directives.

        Raises:
            GradebookError: the gradebook lacks such a cell (the release is older than the source).
        """
        notebook = copy.deepcopy(graded.source_nb)
        directives = [cell for cell in notebook.cells if grade_id(cell) and "AUTOTEST" in cell.source
                      and cell.metadata.get("nbgrader", {}).get("grade")]
        if not directives:
            return graded
        with Gradebook(self.db_url, self.coursedir.course_id) as gradebook:
            for cell in directives:
                try:
                    cell.source = gradebook.find_source_cell(grade_id(cell), Path(graded.name).stem,
                                                             self.assignment).source
                except MissingEntry:
                    raise GradebookError(f"the gradebook has no cell {grade_id(cell)!r} of {graded.name}: run "
                                         f"`nbgrader generate_assignment {self.assignment} --force`") from None
        return dataclasses.replace(graded, source=nbformat.writes(notebook))

    def students(self) -> set[str]:
        """The gradebook's students."""
        with Gradebook(self.db_url, self.coursedir.course_id) as gradebook:
            return {student.id for student in gradebook.students}

    def record_unexecuted(self, student: str, force: bool) -> str | None:
        """``nbgrader autograde --no-execute`` of one student, by nbgrader itself with the course's settings (nothing
        runs: each test cell is scored from its saved outputs); None when it succeeded, else nbgrader's error."""
        config = copy.deepcopy(self.course_settings)
        config.Execute.enabled = False
        config.ClearOutput.enabled = False
        api = NbGraderAPI(CourseDirectory(config=config), config=config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            outcome = api.autograde(self.assignment, student, force=force, create=self.create_student)
        return None if outcome["success"] else f"nbgrader could not take it: {_nbgrader_error(outcome)}"

    def autograded_folder(self, student: str) -> Path:
        return Path(self.coursedir.format_path(self.coursedir.autograded_directory, student, self.assignment))

    def remove_autograded(self, student: str, notebook_id: str = "*") -> None:
        """What nbgrader's converter does for a student it fails: remove their ``autograded/`` folder, or with a
        ``--notebook`` glob only those notebooks in it, so that formgrader does not show an older grade's files."""
        folder = self.autograded_folder(student)
        if notebook_id == "*":
            shutil.rmtree(folder, ignore_errors=True)
            return
        for path in folder.glob("*.ipynb"):
            if fnmatchcase(path.stem, notebook_id):
                path.unlink(missing_ok=True)

    def newer_submission(self, student: str) -> bool:
        """nbgrader's rule: the submitted folder's ``timestamp.txt`` is later than the autograded one's."""
        submitted = Path(self.coursedir.format_path(self.coursedir.submitted_directory, student, self.assignment))
        new = self.coursedir.get_existing_timestamp(str(submitted))
        old = self.coursedir.get_existing_timestamp(str(self.autograded_folder(student)))
        return new is not None and old is not None and new > old

    def recorded_students(self) -> set[str]:
        """Students with a submission of the assignment in the gradebook."""
        with Gradebook(self.db_url, self.coursedir.course_id) as gradebook:
            return {submission.student_id for submission in gradebook.assignment_submissions(self.assignment)}

    def _stage(self, student: str, submitted: Path, notebook_names: list[str]) -> Path:
        """The submission folder nbgrader reads: the student's other files, and the engine's notebooks (a notebook
        the engine never ran is left out: nbgrader then scores it 0, as it does a missing one)."""
        folder = self.staging / student / self.assignment
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        if submitted.is_dir():
            for path in submitted.rglob("*"):
                relative = path.relative_to(submitted)
                if path.is_symlink() or not path.is_file() or path.suffix == ".ipynb":
                    continue
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                (folder / relative).symlink_to(path.resolve())
        for relative, content in self.store.written(student).items():  # as nbgrader's kernel writes them
            target = folder / relative
            if relative == "timestamp.txt" or target.suffix == ".ipynb" or target.is_symlink() or target.exists():
                continue  # never in place of a file the student handed in, nor a notebook nbgrader would grade
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        for name in notebook_names:
            executed = self.store.executed(student, name)
            if executed is not None:
                notebook = nbformat.reads(executed, as_version=4)
                if not _has_cell_ids(submitted / name):  # as nbgrader writes such a notebook: without cell ids,
                    for cell in notebook.cells:  # not with the random ones the engine's reading gave it
                        cell.pop("id", None)
                    notebook.nbformat_minor = min(notebook.nbformat_minor, 4)
                nbformat.write(notebook, folder / name)
        return folder

    def record(self, student: str, submitted: Path, notebook_names: list[str], notebook_id: str = "*") -> None:
        """Record the stored grade of ``student`` through nbgrader, and check the gradebook against it.

        ``submitted`` is the student's submission folder, ``notebook_names``
        the released notebooks' file names, ``notebook_id`` nbgrader's
        ``--notebook`` glob: only those notebooks are written again. A submission none of whose
        notebooks the engine could run (none found, none readable) gets 0 in
        every grade cell, as nbgrader scores a missing notebook; nbgrader
        writes no ``autograded/`` folder for it.

        Raises:
            RecordingError: nbgrader could not take the graded notebooks (as
                after ``nbgrader autograde``, the student has no
                ``autograded/`` folder and the run fails), or the gradebook's
                autograded scores differ from ``results.json`` (those cells
                are flagged as needing a manual grade). The next run tries
                again.
        """
        results = self.store.results(student)
        if results is None:
            raise RecordingError("no stored result to record")
        try:
            _check_timestamp(submitted)
        except RecordingError:
            self.remove_autograded(student, notebook_id)  # as nbgrader does for a timestamp it cannot read
            raise
        ran = [name for name in notebook_names if self.store.executed(student, name) is not None]
        selected = [name for name in ran if fnmatchcase(Path(name).stem, notebook_id)]
        folder = self._stage(student, submitted, notebook_names)
        try:
            if not ran:  # the engine could not read or find any notebook: nbgrader cannot either
                self._zero_if_engine_agrees(student, results, "the notebook never ran")
            elif selected:  # with --notebook, a submission without those notebooks has nothing to write: skipped
                with warnings.catch_warnings():  # SQLAlchemy 2 warns about nbgrader's session use; harmless
                    warnings.simplefilter("ignore", SAWarning)
                    self.api.coursedir.notebook_id = notebook_id
                    outcome = self.api.autograde(self.assignment, student, force=True, create=self.create_student)
                if not outcome["success"]:  # as after `nbgrader autograde`: no autograded/ folder, the run fails
                    raise RecordingError(f"nbgrader could not take the graded notebooks: {_nbgrader_error(outcome)}")
        except RecordingError:
            self._flag_disagreements(student, notebook_names, results)  # nbgrader may have recorded some notebooks
            raise
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)
        problems = self._flag_disagreements(student, notebook_names, results)
        if problems:
            raise RecordingError("the gradebook disagrees with results.json (those cells are flagged for a manual "
                                 "grade in formgrader): " + "; ".join(problems[:5]))

    def _flag_disagreements(self, student: str, notebook_names: list[str], results: dict) -> list[str]:
        """Flag every gradebook cell that differs from ``results.json`` as needing a manual grade; say which."""
        problems = []
        for name in notebook_names:
            found = self.disagreements(student, Path(name).stem, results)
            if found:
                self._flag(student, Path(name).stem, [cell for cell, _ in found])
                problems += [text for _, text in found]
        return problems

    def _zero_if_engine_agrees(self, student: str, results: dict, why: str) -> None:
        if results["score"] > 0:
            raise RecordingError(f"nbgrader could not record it ({why}), so the gradebook does not have its "
                                 f"{results['score']:g} points")
        self._record_zero(student)

    def disagreements(self, student: str, notebook: str, results: dict) -> list[tuple[str, str]]:
        """Each autograded cell of ``notebook`` (its name without ``.ipynb``) whose gradebook score (before manual
        grading) differs from ``results.json``: (grade cell, what differs)."""
        with Gradebook(self.db_url, self.coursedir.course_id) as gradebook:
            return self._disagreements(gradebook, student, notebook, results)

    def stale(self, stored: dict[str, dict], notebook_names: list[str]) -> list[str]:
        """The students (of ``stored``: student -> results.json) whose gradebook scores differ from their stored
        results, e.g. after a stock ``nbgrader autograde`` of the same course; one gradebook session."""
        with Gradebook(self.db_url, self.coursedir.course_id) as gradebook:
            return [student for student, results in stored.items()
                    if any(self._disagreements(gradebook, student, Path(name).stem, results)
                           for name in notebook_names)]

    def _disagreements(self, gradebook: Gradebook, student: str, notebook: str,
                       results: dict) -> list[tuple[str, str]]:
        expected = {name: float(test["score"]) for name, test in notebook_tests(results, notebook).items()}
        try:
            grades = gradebook.find_submission_notebook(notebook, self.assignment, student).grades
        except MissingEntry:
            return [("", f"no {notebook} submission of {student} in the gradebook")]
        answers = {cell.name for cell in gradebook.find_notebook(notebook, self.assignment).solution_cells}
        recorded = {grade.name: grade.auto_score for grade in grades  # not the manually graded answers
                    if grade.name in expected or (grade.cell_type == "code" and grade.auto_score is not None
                                                  and grade.name not in answers)}
        problems = []
        for name in sorted(set(expected) | set(recorded)):
            found, wanted = recorded.get(name), expected.get(name)
            if found is None or wanted is None or abs(float(found) - wanted) > 1e-9:
                problems.append((name, f"{notebook}/{name}: gradebook {found}, results.json {wanted}"))
        return problems

    def _flag(self, student: str, notebook: str, names: list[str]) -> None:
        """Mark grade cells as needing a manual grade, so formgrader shows that their score is in doubt."""
        with Gradebook(self.db_url, self.coursedir.course_id) as gradebook:
            try:
                grades = gradebook.find_submission_notebook(notebook, self.assignment, student).grades
            except MissingEntry:
                return
            for grade in grades:
                if grade.name in names:
                    grade.needs_manual_grade = True
            gradebook.db.commit()

    def _record_zero(self, student: str) -> None:
        with Gradebook(self.db_url, self.coursedir.course_id) as gradebook:
            if not self.create_student:
                gradebook.find_student(student)  # MissingEntry, as nbgrader fails, when it is not there
            gradebook.update_or_create_student(student)
            submission = gradebook.update_or_create_submission(self.assignment, student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
            gradebook.db.commit()


def _has_cell_ids(path: Path) -> bool:
    """Whether the submitted notebook at ``path`` gives its cells ids (nbformat 4.5 and later); True when it
    cannot be read as a notebook of an older format."""
    try:
        notebook = json.loads(path.read_bytes())
        return notebook.get("nbformat", 4) > 4 or notebook.get("nbformat_minor", 5) >= 5
    except (OSError, ValueError, AttributeError, TypeError):
        return True


def _check_timestamp(submitted: Path) -> None:
    """A ``timestamp.txt`` nbgrader cannot parse stops its recording: say so, in words an instructor can act on."""
    path = submitted / "timestamp.txt"
    text = path.read_text(errors="replace").strip() if path.is_file() else ""
    if text:
        try:
            parse_utc(text)
        except (ValueError, OverflowError):
            raise RecordingError(f"timestamp.txt holds {text[:60]!r}, which nbgrader cannot read as a date: "
                                 "correct it (e.g. 2026-11-20 10:00:00 UTC) and run again") from None


def _nbgrader_error(outcome: dict) -> str:
    """The last exception line of a failed nbgrader run, for a person."""
    text = "\n".join(filter(None, (outcome.get("log"), outcome.get("error"))))
    errors = [line.strip() for line in text.splitlines()
              if EXCEPTION_LINE.match(line) and "see the the above traceback" not in line]
    return (errors or ["nbgrader autograde failed"])[-1][:300]
