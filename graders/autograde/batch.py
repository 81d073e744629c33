"""``graders autograde ASSIGNMENT``: every submission of a course, graded in parallel.

plan (content hashes) -> grade on Dask workers -> store (atomic files) ->
record (one writer, through nbgrader) -> report (grades.csv, HTML, table).
A killed batch loses no finished grade; a rerun grades only what is new or
changed, or was graded by older checks, and records what the gradebook lacks.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from graders.autograde.cluster import available_cores, dask_client, size_cluster, total_memory
from graders.autograde.fingerprint import checks_version, code_version, file_sha, submission_hash
from graders.autograde.kernelspec import kernel_problem
from graders.autograde.locate import locate_notebooks, nbgrader_metadata_note
from graders.autograde.nbgrader_options import unknown_options
from graders.autograde.record import GradebookError, GradebookWriter, RecordingError
from graders.autograde.report import (
    Outcome,
    grade_cells,
    outcome_line,
    outcomes_table,
    usage_summary,
    write_grades_csv,
    write_html_report,
)
from graders.autograde.store import ResultStore, State
from graders.autograde.worker import DataFile, Graded, Job, NotebookJob, carry_data, grade_job
from graders.course.assignment import AssignmentError, find_assignment
from graders.course.nbgrader_settings import course_config
from graders.feedback.page import write_feedback
from graders.grade.results import make_console, merge_results, without_notebook
from graders.grade.sandbox import Limits
from graders.reference.record import check_measured


@dataclass
class BatchOptions:
    """How to run a batch."""

    scheduler: str | None = None  # tcp://HOST:PORT of an existing Dask cluster
    workers: int | None = None
    threads: int | None = None  # TensorFlow threads per worker
    limits: dict[str, int] = field(default_factory=dict)  # ``Limits`` fields given on the command line: they win
    # over the assignment's ``grading/ASSIGNMENT.toml``
    force: bool = False  # grade everything again
    retries: int = 1  # re-runs of a task that raised (a worker that dies is rescheduled by Dask)
    output: Path | None = None  # default: results/<assignment> in the course
    nbgrader: object | None = None  # a traitlets Config: nbgrader's options from the command line
    # (graders.autograde.nbgrader_options), over the course's nbgrader_config.py


@dataclass
class Plan:
    """What each submission needs."""

    grade: dict[str, str] = field(default_factory=dict)  # student -> submission hash
    record: list[str] = field(default_factory=list)  # stored and valid, missing from the gradebook
    unchanged: list[str] = field(default_factory=list)


def find_submissions(submitted: Path, assignment: str) -> dict[str, Path]:
    """``submitted/<student>/<assignment>/`` folders by student."""
    return {folder.parent.name: folder for folder in sorted(submitted.glob(f"*/{assignment}")) if folder.is_dir()}


def make_plan(submissions: dict[str, Path], store: ResultStore, version: str, recorded: set[str],
              force: bool, unwritten: set[str] = frozenset(), partial_counts: bool = False) -> Plan:
    """Grade what is new, changed or graded by older checks; record what the gradebook lacks, and each student of
    ``unwritten`` (whose ``autograded/`` folder, or notebook selected with ``--notebook``, is missing).
    ``partial_counts`` (a ``--notebook`` run): a grade of the selected notebooks of this submission is current."""
    plan = Plan()
    for student, folder in submissions.items():
        digest = submission_hash(folder)
        state = store.state(student)
        current = {digest, f"partial:{digest}"} if partial_counts else {digest}
        if force or state is None or state.submission not in current or state.checks != version:
            plan.grade[student] = digest
        elif not state.recorded or student not in recorded or student in unwritten:
            plan.record.append(student)
        else:
            plan.unchanged.append(student)
    return plan


def _short(results: dict | None) -> str:
    """One line for a person: which checks failed, and the first thing that went wrong while running."""
    if not results:
        return ""
    tests = results["tests"]
    failed = [test["name"].removeprefix("test_") for test in tests if test["score"] < test["max_score"]]
    checks = ("all checks passed" if not failed else f"failed: {', '.join(failed)}" if len(failed) <= 4
              else f"{len(failed)} of {len(tests)} checks failed")
    events = [line for line in results.get("output", "").splitlines()
              if without_notebook(line) not in ("", "The notebook ran to the end.")
              and not without_notebook(line).startswith("sandbox:")]
    # The memory limit first: the instructor sizing limits from the report must see whom it stopped.
    events.sort(key=lambda line: "the memory limit" not in line and "address-space limit" not in line)
    return f"{checks}; {events[0][:240]}" if events else checks


def grader_errors(results: dict | None) -> list[str]:
    """Test cells the engine could not run at all (``Grading.grader_errors``): the submission's grade is in doubt."""
    return list(((results or {}).get("extra_data") or {}).get("grader_errors") or [])


def _notes(results: dict | None, record_error: str | None) -> str:
    notes = _short(results)
    if record_error:
        notes += f"; {record_error}"
    return notes


def _metadata_note(path: Path | None, graded) -> tuple[str, ...]:
    """Where the engine grades what ``nbgrader autograde`` would refuse, the results say so."""
    note = nbgrader_metadata_note(path, graded.release_nb) if path is not None else None
    return (note,) if note else ()


def execute_limits(config) -> dict[str, int]:
    """``Limits`` fields from nbgrader's ``Execute.timeout`` in ``config`` (seconds per cell; None or a negative
    number, given as -1: no limit per cell, the notebook's own limit still applies)."""
    from nbgrader.preprocessors import Execute

    if config is None or not any("timeout" in config[section]  # Execute inherits nbclient's option
                                 for section in ("Execute", "ExecutePreprocessor", "NotebookClient")):
        return {}
    value = Execute(config=config).timeout  # the command line's text, cast as nbgrader casts it
    return {"cell_seconds": int(value) if value is not None and value > 0 else -1}


class Batch:
    """One run of ``graders autograde``."""

    def __init__(self, course: Path, assignment: str, options: BatchOptions, console: Console | None = None):
        from nbgrader.coursedir import CourseDirectory

        self.course, self.assignment, self.options = course.resolve(), assignment, options
        self.console = console or make_console()
        self.config = course_config(self.course, options.nbgrader)
        for line in unknown_options(self.config):  # as nbgrader warns: a typo must not pass unnoticed
            self.console.print(Text(f"warning: {line}", style="yellow"))
        self.coursedir = coursedir = CourseDirectory(config=self.config)
        self.root = Path(coursedir.root).resolve()
        if coursedir.directory_structure != CourseDirectory.class_traits()["directory_structure"].default():
            raise AssignmentError(f"CourseDirectory.directory_structure is {coursedir.directory_structure!r}: "
                                  "graders autograde reads only nbgrader's default, {nbgrader_step}/{student_id}/"
                                  "{assignment_id}")
        self.output = options.output or self.root / "results" / assignment
        self.store = ResultStore(self.output)
        found = find_assignment(self.course, assignment, self.config)  # before any gradebook is opened
        self.notebooks = found.notebooks()
        self.notebook_names = [graded.name for graded in self.notebooks]
        self.selected = [name for name in self.notebook_names if fnmatchcase(Path(name).stem, coursedir.notebook_id)]
        if not self.selected:
            raise AssignmentError(f"--notebook {coursedir.notebook_id} matches none of {assignment}'s notebooks "
                                  f"({', '.join(Path(name).stem for name in self.notebook_names)})")
        self.writer = GradebookWriter(self.course, assignment, self.store, self.notebook_names, self.config)
        self.notebooks = [self.writer.with_instantiated_tests(graded) for graded in self.notebooks]
        self.submitted = self.root / coursedir.submitted_directory
        self.data = found.data_files()  # variable -> file; an assignment may need none
        check_measured(found.reference, self.data, assignment)  # before anything is graded with unmeasured data
        self.data_files = tuple(DataFile(variable, path.name, file_sha(path)) for variable, path in self.data.items())
        self.data_sha = " ".join(f"{file.variable}={file.sha}" for file in self.data_files) or "no data"
        self.sizing = size_cluster(available_cores(), total_memory(), options.workers, options.threads)
        self.limits = self._limits(dict(found.settings.limits))
        from nbgrader.converters import Autograde

        self.force = options.force or Autograde(config=self.config).force  # --force, -f, or the config's
        self.version = checks_version(" ".join(graded.version() for graded in self.notebooks), self.data_sha,
                                      self.limits)
        self.outcomes: dict[str, Outcome] = {}
        self.partial: set[str] = set()  # students graded again in the selected notebooks only (--notebook)
        self.unselected: dict[str, Outcome] = {}  # stored grades of the students --student or the exclusions leave out

    def _limits(self, settings: dict) -> Limits:
        """The command line's limits over the assignment's settings, over ``nbgrader_config.py``'s
        ``Execute.timeout``; nbgrader's ``--Execute.timeout`` on the command line counts as the command line's."""
        fields = {**execute_limits(self.config), **settings, **execute_limits(self.options.nbgrader),
                  **self.options.limits, "threads": self.sizing.threads}
        unlimited = fields.get("cell_seconds") == -1
        limits = Limits(**{name: value for name, value in fields.items() if not (unlimited and name == "cell_seconds")})
        return dataclasses.replace(limits, cell_seconds=limits.notebook_seconds) if unlimited else limits

    def _selected_submissions(self) -> dict[str, Path]:
        """The submissions ``CourseDirectory.student_id`` (``--student``, a glob) selects, less
        ``CourseDirectory.student_id_exclude`` (comma-separated ids)."""
        excluded = {name for name in (self.coursedir.student_id_exclude or "").split(",") if name}
        return {student: folder for student, folder in find_submissions(self.submitted, self.assignment).items()
                if fnmatchcase(student, self.coursedir.student_id) and student not in excluded}

    def _unwritten(self, submissions: dict[str, Path]) -> set[str]:
        """The students whose ``autograded/`` folder is missing (with ``--notebook``: one of the selected notebooks
        in it), whom ``nbgrader autograde`` would process again."""
        unwritten = set()
        for student in submissions:
            folder = Path(self.coursedir.format_path(self.coursedir.autograded_directory, student, self.assignment))
            ran = [name for name in self.notebook_names if self.store.executed(student, name) is not None]
            if self.store.state(student) is not None and not ran:
                continue  # no notebook of it ever ran (none found, none readable): nbgrader writes no folder for it
            selected = [name for name in self.selected if name in ran]
            if not folder.is_dir() or (self.coursedir.notebook_id != "*"
                                       and not all((folder / name).is_file() for name in selected)):
                unwritten.add(student)
        return unwritten

    def _refused(self, submissions: dict[str, Path]) -> dict[str, str]:
        """Students who cannot be graded as they are, and why: a kernel nbgrader could not start either, or a
        student the gradebook lacks when ``Autograde.create_student`` is False (``--no-create``)."""
        known = self.writer.students() if not self.writer.create_student else set()
        refused = {}
        for student, folder in sorted(submissions.items()):
            if not self.writer.create_student and student not in known:
                refused[student] = (f"{student} is not in the gradebook and Autograde.create_student is False: add "
                                    f"them with `nbgrader db student add {student}`")
                continue
            releases = {graded.name: graded.release_nb for graded in self.notebooks}
            found = locate_notebooks(folder, releases)
            for graded in self.notebooks:
                path = found[graded.name].path
                try:
                    problem = kernel_problem(graded, path.read_bytes() if path else None)
                except (OSError, RecursionError, MemoryError):  # unreadable: the engine says so when it grades it
                    problem = None
                if problem:
                    refused[student] = problem
                    break
        return refused

    def run(self) -> list[Outcome]:
        from nbgrader.preprocessors import Execute

        start = time.monotonic()
        everyone = find_submissions(self.submitted, self.assignment)
        if self.coursedir.student_id != "*" and not any(fnmatchcase(student, self.coursedir.student_id)
                                                        for student in everyone):
            raise AssignmentError(f"no submission of {self.assignment} in {self.submitted} matches --student "
                                  f"{self.coursedir.student_id}")
        submissions = self._selected_submissions()
        self.unselected = {student: Outcome(student, "unchanged", self.store.results(student), state.seconds, "")
                           for student in everyone if student not in submissions
                           for state in [self.store.state(student)] if state is not None}
        if not Execute(config=self.config).enabled:  # nothing runs: no kernel to check
            return self._run_without_execution(submissions, start)
        for student, why in self._refused(submissions).items():
            self.outcomes[student] = Outcome(student, "failed", None, None, why)
            self.writer.remove_autograded(student, self.coursedir.notebook_id)  # as nbgrader's failure handler
            del submissions[student]
        plan = make_plan(submissions, self.store, self.version, self.writer.recorded_students(), self.force,
                         self._unwritten(submissions), partial_counts=self.coursedir.notebook_id != "*")
        # The gradebook may have been written since (a stock `nbgrader autograde` of the course): record again.
        stale = self.writer.stale({student: self.store.results(student) or {} for student in plan.unchanged},
                                  self.notebook_names)
        plan.unchanged = [student for student in plan.unchanged if student not in stale]
        plan.record += stale
        where = self.options.scheduler or ("this process" if len(plan.grade) == 1 else
                                           f"{min(self.sizing.workers, len(plan.grade))} local workers x "
                                           f"{self.sizing.threads} thread(s)")
        where = f" ({where})" if plan.grade else ""
        refused = [o for o in self.outcomes.values() if o.status == "failed"]  # before anything ran
        refused_text = f", {len(refused)} refused" if refused else ""
        self.console.print(f"{self.assignment}: {len(submissions) + len(refused)} submissions: {len(plan.grade)} to "
                           f"grade{where}, {len(plan.record)} to record, {len(plan.unchanged)} unchanged"
                           f"{refused_text}")
        for student in plan.unchanged:
            state, results = self.store.state(student), self.store.results(student)
            errors = grader_errors(results)
            self.outcomes[student] = Outcome(student, "failed" if errors else "unchanged", results, state.seconds,
                                             f"grader error: {errors[0]}" if errors else
                                             _notes(results, state.record_error))
        with self._progress(len(plan.grade) + len(plan.record)) as progress:
            task = progress.add_task("grading", total=len(plan.grade) + len(plan.record), failures=0)
            for student in plan.record:
                self._record(student, "recorded", submissions[student])
                self._advance(progress, task, student)
            if plan.grade:
                self._grade(plan.grade, submissions, progress, task)
        self._report(time.monotonic() - start, did_work=bool(plan.grade or plan.record))
        return [self.outcomes[student] for student in sorted(self.outcomes)]

    def _run_without_execution(self, submissions: dict[str, Path], start: float) -> list[Outcome]:
        """``--no-execute``: nothing runs; nbgrader's own converter scores each notebook from the outputs saved in
        it, exactly as ``nbgrader autograde --no-execute`` does (a student can write those outputs by hand)."""
        unwritten = self._unwritten(submissions)
        students = sorted(submissions)  # nbgrader's own rule (folder missing, newer timestamp, --force) decides
        self.console.print(Text(f"{self.assignment}: --no-execute: {len(students)} submissions scored from the "
                                "outputs saved in their notebooks, as nbgrader's rules select them; nothing was run, "
                                "so a student who wrote outputs by hand gets their points"))
        for student in students:
            if not (self.force or student in unwritten or self.writer.newer_submission(student)):
                self.outcomes[student] = Outcome(student, "unchanged", None, None, "autograded/ is there already")
                continue
            error = self.writer.record_unexecuted(student, self.force)
            state = self.store.state(student)
            if state is not None:  # the stored grade is no longer what the gradebook has: the next run records it
                self.store.set_state(student, State(**{**state.__dict__, "recorded": False}))
            self.outcomes[student] = Outcome(student, "failed" if error else "recorded", None, None,
                                             error or "scored from its saved outputs (--no-execute)")
            self.console.print(outcome_line(self.outcomes[student]), highlight=False)
        self.console.print(f"{len(students)} submissions in {time.monotonic() - start:.1f} s")
        return [self.outcomes[student] for student in sorted(self.outcomes)]

    def _progress(self, total: int) -> Progress:
        return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("[red]{task.fields[failures]} failed"), TimeElapsedColumn(),
                        TextColumn("left"), TimeRemainingColumn(), console=self.console, transient=False,
                        disable=total == 0)

    def _advance(self, progress: Progress, task, student: str) -> None:
        outcome = self.outcomes[student]
        failures = sum(o.status == "failed" for o in self.outcomes.values())
        progress.update(task, advance=1, failures=failures)
        progress.console.print(outcome_line(outcome), highlight=False)

    def _jobs(self, students: dict[str, str], submissions: dict[str, Path]) -> dict[str, Job]:
        """Each student's job: every notebook, or with ``--notebook`` only the selected ones when the others have a
        stored grade of the same checks to keep (``self.partial``)."""
        jobs = {}
        for student in students:
            releases = {graded.name: graded.release_nb for graded in self.notebooks}
            found = locate_notebooks(submissions[student], releases)
            state = self.store.state(student)
            if self.selected != self.notebook_names and state is not None and state.checks == self.version \
                    and self.store.results(student) is not None:
                self.partial.add(student)
            parts = [NotebookJob(graded.name, found[graded.name].path.read_bytes() if found[graded.name].path else None,
                                 graded, (*found[graded.name].notes, *_metadata_note(found[graded.name].path, graded)))
                     for graded in self.notebooks if student not in self.partial or graded.name in self.selected]
            jobs[student] = Job(student, tuple(parts), self.data_files, self.limits,
                                tuple(dict.fromkeys((str(self.course), str(self.root), str(self.output.resolve())))))
        return jobs

    def _grade(self, students: dict[str, str], submissions: dict[str, Path], progress: Progress, task) -> None:
        from dask.distributed import as_completed

        jobs = self._jobs(students, submissions)
        if self.options.scheduler is None and len(jobs) == 1:  # no cluster to start for one submission (seconds)
            self._grade_here(students, submissions, jobs, progress, task)
            return
        local_code = code_version()
        # No more local workers than submissions to grade: each one starting costs a core for seconds.
        sizing = dataclasses.replace(self.sizing, workers=min(self.sizing.workers, len(jobs)))
        with dask_client(self.options.scheduler, sizing) as client:
            with warnings.catch_warnings():  # the data travels in the graph once, so that Dask can recompute it
                warnings.simplefilter("ignore", UserWarning)
                data = client.submit(carry_data, {variable: path.read_bytes() for variable, path in self.data.items()},
                                     pure=False)
            futures = {client.submit(grade_job, job, data, retries=self.options.retries, pure=False): student
                       for student, job in jobs.items()}
            resubmitted: set[str] = set()
            pending = as_completed(futures)
            for future in pending:
                student = futures[future]
                if future.status == "cancelled" and student not in resubmitted:  # lost with a dying worker
                    resubmitted.add(student)
                    again = client.submit(grade_job, jobs[student], data, retries=self.options.retries, pure=False)
                    futures[again] = student
                    pending.add(again)
                    continue
                try:
                    graded = future.result()
                except Exception as error:  # the task raised, or its workers kept dying (KilledWorker)
                    self._failed(student, error)
                else:
                    if graded.code_version != local_code:
                        self.outcomes[student] = Outcome(student, "failed", None, graded.seconds,
                                                         f"worker {graded.worker} runs other grading code")
                    else:
                        self._keep(student, students[student], graded, submissions[student])
                finally:
                    future.release()
                self._advance(progress, task, student)

    def _grade_here(self, students: dict[str, str], submissions: dict[str, Path], jobs: dict[str, Job],
                    progress: Progress, task) -> None:
        """One submission, graded by this process as ``graders grade`` grades (its kernel is sandboxed all the
        same), retried as a Dask task is."""
        (student, job), = jobs.items()
        data = {variable: path.read_bytes() for variable, path in self.data.items()}
        for attempt in range(self.options.retries + 1):
            try:
                graded = grade_job(job, data)
            except Exception as error:  # noqa: BLE001 (as a task that raised: listed, the batch goes on)
                if attempt == self.options.retries:
                    self._failed(student, error)
            else:
                self._keep(student, students[student], graded, submissions[student])
                break
        self._advance(progress, task, student)

    def _failed(self, student: str, error: BaseException) -> None:
        message = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        self.outcomes[student] = Outcome(student, "failed", None, None, message)

    def _keep(self, student: str, digest: str, graded: Graded, submitted: Path) -> None:
        """Store a grade, write its feedback page, record it."""
        if student in self.partial:  # the other notebooks keep their stored grade
            kept = [name for name in self.notebook_names if name not in self.selected]
            graded.results = merge_results(graded.results, self.store.results(student), kept, self.notebook_names)
            graded.written = {**self.store.written(student), **graded.written}
            digest = f"partial:{digest}"  # a later run without --notebook grades them all again
        try:
            self.store.save(graded, digest, self.version)
        except Exception as error:  # noqa: BLE001 (a result that cannot be stored fails its student, not the batch)
            self._failed(student, error)
            return
        try:
            write_feedback(self.store.student_folder(student), graded.results, student, self.assignment)
        except Exception as error:  # noqa: BLE001 (a plot must never stop the batch)
            self.console.print(Text(f"{student}: no feedback page ({type(error).__name__}: {error})"))
        self._record(student, "graded", submitted)

    def _record(self, student: str, status: str, submitted: Path) -> None:
        state = self.store.state(student)
        results = self.store.results(student)
        try:
            self.writer.record(student, submitted, self.notebook_names,
                               self.coursedir.notebook_id if status == "recorded" or student in self.partial else "*")
        except Exception as failure:  # not recordable, or the gradebook is unreachable: listed, tried again next run
            reason = str(failure) if isinstance(failure, RecordingError) else f"{type(failure).__name__}: {failure}"
            message = f"not recorded: {reason}".splitlines()[0][:400]
            self.store.set_state(student, State(**{**state.__dict__, "recorded": False, "record_error": message}))
            self.outcomes[student] = Outcome(student, "failed", results, state.seconds, message)
            return
        self.store.set_state(student, State(**{**state.__dict__, "recorded": True, "record_error": None}))
        errors = grader_errors(results)
        if errors:  # recorded, as nbgrader would score it, but the batch fails: the instructor must look
            self.outcomes[student] = Outcome(student, "failed", results, state.seconds, f"grader error: {errors[0]}")
            return
        self.outcomes[student] = Outcome(student, status, results, state.seconds, _notes(results, None))

    def _report(self, seconds: float, did_work: bool = True) -> None:
        """The table, ``grades.csv`` (always: manual grades change between runs) and ``report.html`` (unless the
        run graded and recorded nothing and the last run's report is there: its figures are the same)."""
        outcomes = [self.outcomes[student] for student in sorted(self.outcomes)]
        counts = {status: sum(o.status == status for o in outcomes)
                  for status in ("graded", "recorded", "unchanged", "failed")}
        summary = (f"{len(outcomes)} submissions in {seconds:.1f} s: " +
                   ", ".join(f"{count} {status}" for status, count in counts.items()))
        self.console.print(outcomes_table(outcomes, f"{self.assignment}: graders autograde ({self.writer.db_url})"))
        csv_path, html_path = self.output / "grades.csv", self.output / "report.html"
        cells = {graded.name.removesuffix(".ipynb"): grade_cells(graded.release_nb) for graded in self.notebooks}
        write_grades_csv(csv_path, self.writer.db_url, self.assignment, cells)
        notes = (usage_summary(outcomes, self.limits.memory_bytes), *self._sandbox_notes(outcomes))
        if did_work or not html_path.is_file():  # the whole class: students --student left out as they are stored
            everyone = sorted([*outcomes, *self.unselected.values()], key=lambda outcome: outcome.student)
            write_html_report(html_path, self.assignment, everyone, summary, notes)
        self.console.print(summary)
        for note in notes:
            if note:
                self.console.print(Text(note))
        self.console.print(f"grades: {csv_path}\nreport: {html_path}\nper submission: {self.output}/<student>/ "
                           "(results.json, feedback.html, executed/<notebook>.ipynb)")

    @staticmethod
    def _sandbox_notes(outcomes: list[Outcome]) -> list[str]:
        """Each distinct note of the sandbox's missing protections in the results (once, whichever workers
        graded them)."""
        notes = [without_notebook(line) for o in outcomes for line in (o.results or {}).get("output", "").splitlines()]
        return list(dict.fromkeys(note for note in notes if note.startswith("sandbox:")))


def autograde_command(course: Path, assignment: str, options: BatchOptions) -> int:
    """The CLI verb: 0 when every selected submission has a grade, 1 when some failed or nothing could run (as
    ``nbgrader autograde`` exits)."""
    try:
        batch = Batch(course, assignment, options)
        outcomes = batch.run()
    except (GradebookError, AssignmentError, FileNotFoundError) as error:
        print(f"graders autograde: {error}")
        return 1
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0
