"""Record stored grades in the nbgrader gradebook, from one process.

nbgrader's own ``Autograde`` converter does the recording, so the gradebook,
``autograded/``, timestamps, late penalties and the "No response." comments
are exactly what ``nbgrader autograde`` makes, and formgrader, manual
grading, ``generate_feedback`` and ``export`` work on them. Its ``Execute``
step is replaced by :class:`ApplyGraderResults`: the cells' outputs come from
the sandboxed run, and each test cell's outcome from the grader's checks.
"""

from __future__ import annotations

import difflib
import re
import warnings
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, LimitOutput, SaveAutoGrades
from nbgrader.preprocessors.base import NbGraderPreprocessor
from sqlalchemy.exc import SAWarning
from traitlets import Unicode
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from graders.assignment import grade_id
from graders.store import ResultStore

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

    store = Unicode("", help="The folder of the batch's stored results (graders.store)").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        student = resources["nbgrader"]["student"]
        store = ResultStore(Path(self.store))
        results = store.results(student)
        if results is None:
            raise GradebookError(f"no stored result for {student}")
        tests = {test["name"]: test for test in results["tests"]}
        executed = store.executed(student)
        ran = nbformat.reads(executed, as_version=4).cells if executed else []
        matched = match_cells(nb.cells, ran)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            source = matched.get(index)
            outputs = list(source.get("outputs", [])) if source is not None else []
            cell.execution_count = source.get("execution_count") if source is not None else None
            test = tests.get(grade_id(cell))
            if test is not None:  # only the checks decide: keep what the test printed, drop its errors
                outputs = [output for output in outputs if output.output_type == "display_data"
                           or (output.output_type == "stream" and output.get("name") == "stdout")]
                if test["score"] < test["max_score"]:
                    outputs.append(failure_output(test["output"]))
            cell.outputs = outputs
        return nb, resources


def course_config(course: Path) -> Config:
    """The course's ``nbgrader_config.py``."""
    if not (course / "nbgrader_config.py").is_file():
        raise GradebookError(f"{course} has no nbgrader_config.py: is it an nbgrader course folder?")
    return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()


class GradebookWriter:
    """The batch's only writer to the gradebook."""

    def __init__(self, course: Path, assignment: str, store: ResultStore):
        config = course_config(course)
        config.ApplyGraderResults.store = str(store.folder)
        config.Autograde.autograde_preprocessors = [
            ApplyGraderResults, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, AssignLatePenalties,
            CheckCellMetadata]
        self.coursedir = CourseDirectory(config=config)
        self.api = NbGraderAPI(self.coursedir, config=config)
        self.assignment = assignment
        self.db_url = self.coursedir.db_url
        with Gradebook(self.db_url, self.coursedir.course_id) as gradebook:
            try:
                gradebook.find_assignment(assignment)
            except MissingEntry:
                raise GradebookError(f"the gradebook {self.db_url} has no assignment {assignment!r}: "
                                     f"run `nbgrader generate_assignment {assignment}` first") from None

    def recorded_students(self) -> set[str]:
        """Students with a submission of the assignment in the gradebook."""
        with Gradebook(self.db_url, self.coursedir.course_id) as gradebook:
            return {submission.student_id for submission in gradebook.assignment_submissions(self.assignment)}

    def record(self, student: str) -> str | None:
        """Record a stored grade through nbgrader; None when it worked, else why it did not.

        When nbgrader cannot take the notebook at all (it is not valid JSON, or
        its cell metadata is broken), every grade of the submission is set to 0,
        as nbgrader does for a missing notebook.
        """
        with warnings.catch_warnings():  # SQLAlchemy 2 warns about nbgrader's session use; harmless
            warnings.simplefilter("ignore", SAWarning)
            outcome = self.api.autograde(self.assignment, student, force=True, create=True)
            if outcome["success"]:
                return None
            self._record_zero(student)
        text = "\n".join(filter(None, (outcome.get("log"), outcome.get("error"))))
        errors = [line.strip() for line in text.splitlines()
                  if EXCEPTION_LINE.match(line) and "see the the above traceback" not in line]
        return (errors or ["nbgrader autograde failed"])[-1][:300]

    def _record_zero(self, student: str) -> None:
        with Gradebook(self.db_url, self.coursedir.course_id) as gradebook:
            gradebook.update_or_create_student(student)
            submission = gradebook.update_or_create_submission(self.assignment, student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
            gradebook.db.commit()
