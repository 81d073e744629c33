"""``graders grade``: one submission, from any path, to scores nothing in it can inflate.

prepare (restore the release's cells) -> execute in the sandbox, each test
cell's turn handed to the checker (the instructor's code, outside the
kernel, on the objects brought across) -> results.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import nbformat

from graders.course.assignment import Assignment, AssignmentError, GradedNotebook, find_assignment
from graders.course.cells import is_test_cell
from graders.grade.checker import RECORD_ENVIRONMENT, CellOutcome, Checker
from graders.grade.execute import KERNEL_LOG, Executed, execute, without_grader_cells
from graders.grade.results import CheckResult, Grading, print_table, to_gradescope
from graders.grade.sandbox import CONNECTION_FILE, Limits, Sandbox
from graders.grade.submission import SubmissionError, read_submission, restore_assignment_cells
from graders.reference.record import ENVIRONMENT, NOTEBOOK_ENVIRONMENT, check_measured

REFERENCE_FILE = "reference.json"  # beside the instructor's helper modules, outside the sandbox

NOT_REACHED = "the notebook stopped before this test cell"


def failure_output(message: str) -> dict:
    """The error output that makes nbgrader score a test cell 0, with the reason."""
    return dict(
        nbformat.v4.new_output("error", ename="GradingError", evalue=message, traceback=[f"GradingError: {message}"])
    )


def _outcomes(executed: Executed, checker: Checker, graded: GradedNotebook) -> tuple[dict[str, CellOutcome], list[str]]:
    """Each test cell's outcome by grade_id, and the test cells the engine could not run at all."""
    outcomes, errors = {}, []
    stopped = next((event for event in executed.report.events), "")
    for index, cell in enumerate(executed.notebook.cells):
        if not is_test_cell(cell):
            continue
        name = cell.metadata["nbgrader"].get("grade_id")
        test = graded.tests.get(name)
        if test is None:
            errors.append(f"test cell {name!r} of the release is not in the source notebook {graded.name}")
            outcomes[name] = CellOutcome(0.0, 0.0, [], "the grader has no code for this test cell")
            continue
        outcome = checker.outcome(index, test.points)
        if outcome is None and index in executed.not_brought:
            outcome = CellOutcome(
                0.0,
                test.points,
                [],
                "the objects this cell reads could not be brought across "
                f"from the notebook: {executed.not_brought[index]}",
            )
        elif outcome is None:
            outcome = CellOutcome(0.0, test.points, [], f"{NOT_REACHED}{': ' + stopped if stopped else ''}")
        if checker.failure and index in checker.sent and index not in checker.outcomes:
            errors.append(f"test cell {name!r}: {checker.failure}")
        if outcome.grader_error:  # the reference record could not answer: never the student's failure
            errors.append(f"test cell {name!r}: {outcome.grader_error}")
        if (
            outcome.score < test.points
            and not any(o.get("output_type") == "error" for o in outcome.outputs)
            and not outcome.outputs
        ):
            outcome.outputs = [failure_output(outcome.message)]
        outcomes[name] = outcome
        cell.outputs = [nbformat.from_dict(output) for output in outcome.outputs]
    return outcomes, errors


def grade(
    notebook: Path,
    graded: GradedNotebook,
    limits: Limits | None = None,
    notes: tuple[str, ...] = (),
    data: dict[str, Path] | None = None,
    hide: tuple[Path, ...] = (),
    seed: int | None = None,
    record: bool = False,
) -> Grading:
    """Grade one submitted notebook as ``graded`` (a notebook of an assignment).

    The kernel runs the student's cells in a sandbox; each autograded test
    cell runs in the checker, a process of the grader's, on the objects it
    reads brought across. ``notes`` (what the batch found about the submission
    folder) come first in the results' output. ``data`` (environment variable
    -> the grader's file, see ``GradingSettings.data_files``): each file is
    copied into the sandbox with the variable pointing the kernel at the copy,
    and the checker at the grader's own file. ``limits`` default to the
    assignment's settings; ``hide`` adds folders the kernel must not see (the
    course's, wherever it is). The assignment's reference record
    (``graded.reference``) is the checker's to read. ``seed`` and ``record``
    are for reference runs (``graders.reference.sweep``): every seed the
    notebook sets is shifted by ``seed``, and the objects each test cell reads
    are described in ``Grading.recorded``.
    """
    limits = limits or Limits(**dict(graded.settings.limits))
    points = {name: test.points for name, test in graded.tests.items()}
    hidden = {name: test.hidden for name, test in graded.tests.items()}
    start = time.monotonic()
    try:
        prepared = restore_assignment_cells(read_submission(notebook), graded.release_nb)
    except SubmissionError as error:
        return Grading(points, {}, time.monotonic() - start, [*notes, str(error)])
    data = data or {}
    hide = (notebook.resolve().parent, *(path.resolve().parent for path in data.values()), *hide)
    with Sandbox(limits, hide=hide) as sandbox, tempfile.TemporaryDirectory(prefix="graders-source-") as source:
        for name, content in graded.source_files:  # the instructor's helper modules, for the test cells
            (Path(source) / name).write_bytes(content)
        for name, content in graded.release_files:  # as the student had them beside the notebook
            sandbox.add_bytes(content, name)
        for variable, path in data.items():
            sandbox.add_data(path, variable)
        # Always set: nothing of the grader's own environment, and no search of the folders, decides the record.
        environment = {variable: str(path) for variable, path in data.items()}
        environment |= {ENVIRONMENT: "", NOTEBOOK_ENVIRONMENT: graded.name, RECORD_ENVIRONMENT: "1" if record else "",
                        "NBGRADER_EXECUTION": "autograde"}  # as nbgrader sets it: a test cell may ask
        if graded.reference:
            (Path(source) / REFERENCE_FILE).write_text(graded.reference)
            environment[ENVIRONMENT] = str(Path(source) / REFERENCE_FILE)
        checker = Checker(
            sandbox.exports,
            [Path(source)],
            sandbox.root,
            limits.cell_seconds,
            graded.ignore_pattern,
            graded.modules,
            environment,
            graded.settings.held_out,
        )
        try:
            executed = execute(prepared.notebook, sandbox, checker, graded.tests, graded.imports, graded.modules,
                               seed)
            checker.finish(executed.final)
            outcomes, errors = _outcomes(executed, checker, graded)
            if executed.kernel_error:  # every test cell is 0 for a reason that is not the student's
                errors.insert(0, executed.kernel_error)
        finally:
            checker.close()
        isolation = [note for note in [sandbox.isolation.note()] if note]
        usage = sandbox.usage()
        written = sandbox.written_files({name for name, _ in graded.release_files} | {KERNEL_LOG, CONNECTION_FILE})
    checks = {
        name: CheckResult(name, outcome.score, outcome.message, hidden.get(name, False), outcome.outputs)
        for name, outcome in outcomes.items()
        if name in points
    }
    for name in points:
        if name not in checks:  # a test cell of the source the release lacks
            errors.append(f"test cell {name!r} of the source is not in the released {graded.name}")
            checks[name] = CheckResult(name, 0.0, "the release has no such test cell", hidden[name])
    read_notes = list(dict.fromkeys(note for outcome in outcomes.values() for note in outcome.notes))
    events = [
        *notes,
        *isolation,
        *prepared.notes,
        *executed.report.events,
        *read_notes,
        *(f"grader error: {error}" for error in errors),
    ]
    return Grading(
        points,
        checks,
        time.monotonic() - start,
        events,
        without_grader_cells(executed.notebook),
        checker.feedback or {},
        errors,
        _recorded(checker) if record else {},
        usage.as_dict(),
        written,
    )


def _recorded(checker: Checker) -> dict:
    """What the test cells read: ``{"models": ..., "values": ..., "problems": [...], "conflicts": [...]}``; a name
    two cells read with different contents is left out, with a conflict."""
    merged: dict = {"models": {}, "values": {}, "problems": [], "conflicts": []}
    dropped: set[str] = set()
    for index in sorted(checker.outcomes):
        recorded = checker.outcomes[index].recorded
        for kind in ("models", "values"):
            for name, content in recorded.get(kind, {}).items():
                if name in merged[kind] and merged[kind][name] != content and name not in dropped:
                    dropped.add(name)  # one name, two objects: which one a test means is unknowable
                    merged["conflicts"].append(f"{name!r} held different {kind} when two test cells read it: not "
                                               "recorded (give each its own name)")
                merged[kind][name] = content
        if recorded.get("problem"):
            merged["problems"].append(recorded["problem"])
    for kind in ("models", "values"):
        for name in dropped:
            merged[kind].pop(name, None)
    return merged


def graded_notebook_for(
    path: Path, assignment: str | None, course: Path | None
) -> tuple[GradedNotebook, Assignment]:
    """The assignment's notebook that the submission at ``path`` answers, and the assignment.

    Without ``assignment``, it is read from the path, as nbgrader lays a course
    out (``COURSE/submitted/STUDENT/ASSIGNMENT/NOTEBOOK.ipynb``); without
    ``course``, the course is the folder above ``submitted/`` there, else the
    current folder. The notebook is the release's of the same file name, or
    the assignment's only one.

    Raises:
        AssignmentError: the assignment, the notebook or a data file cannot be found.
    """
    path = path.resolve()
    if assignment is None or course is None:
        parts = path.parts
        if "submitted" in parts[:-3]:
            at = len(parts) - 1 - parts[::-1].index("submitted")
            if at + 3 < len(parts):
                course = course or Path(*parts[:at])
                assignment = assignment or parts[at + 2]
    if assignment is None:
        raise AssignmentError(
            f"{path.name}: name its assignment with --assignment (the path is not "
            "COURSE/submitted/STUDENT/ASSIGNMENT/NOTEBOOK.ipynb)"
        )
    found = find_assignment(course or Path.cwd(), assignment)
    names = found.notebook_names
    if path.name in names:
        return found.notebook(path.name), found
    if len(names) == 1:
        return found.notebook(names[0]), found
    raise AssignmentError(
        f"{path.name} is not one of the notebooks of {assignment} ({', '.join(names)}): "
        "name the file as it was released"
    )


def grade_command(
    notebook: Path,
    output: Path | None,
    limits: dict[str, int],
    assignment: str | None = None,
    course: Path | None = None,
) -> int:
    """The CLI verb: print the table, write results.json; 0 whenever grading itself worked. ``limits``: those
    given on the command line, which win over the assignment's settings.

    Raises:
        AssignmentError: the assignment, its notebook or its data files cannot be found.
    """
    graded, found = graded_notebook_for(notebook, assignment, course)
    data = found.data_files()
    check_measured(found.reference, data, found.name)
    grading = grade(notebook, graded, Limits(**{**dict(graded.settings.limits), **limits}), data=data,
                    hide=(found.course,))
    print_table(grading, f"graders grade {notebook.name} ({graded.assignment}/{graded.name})")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(to_gradescope(grading), indent=2) + "\n")
    return 1 if grading.grader_errors else 0
