"""``graders autograde ASSIGNMENT``: every submission of a course, graded in parallel.

plan (content hashes) -> grade on Dask workers -> store (atomic files) ->
record (one writer, through nbgrader) -> report (grades.csv, HTML, table).
A killed batch loses no finished grade; a rerun grades only what is new or
changed, or was graded by older checks, and records what the gradebook lacks.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from graders.autograde.cluster import available_cores, dask_client, size_cluster, total_memory
from graders.autograde.fingerprint import checks_version, code_version, file_sha, submission_hash
from graders.autograde.locate import locate_notebooks
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
from graders.autograde.worker import DataFile, Job, NotebookJob, carry_data, grade_job
from graders.course.assignment import AssignmentError, find_assignment
from graders.feedback.page import write_feedback
from graders.grade.results import make_console, without_notebook
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
              force: bool) -> Plan:
    """Grade what is new, changed or graded by older checks; record what the gradebook lacks."""
    plan = Plan()
    for student, folder in submissions.items():
        digest = submission_hash(folder)
        state = store.state(student)
        if force or state is None or (state.submission, state.checks) != (digest, version):
            plan.grade[student] = digest
        elif not state.recorded or student not in recorded:
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
        notes += f"; nbgrader could not take the notebook either: all its grades are 0 ({record_error})"
    return notes


class Batch:
    """One run of ``graders autograde``."""

    def __init__(self, course: Path, assignment: str, options: BatchOptions, console: Console | None = None):
        self.course, self.assignment, self.options = course.resolve(), assignment, options
        self.console = console or make_console()
        self.output = options.output or self.course / "results" / assignment
        self.store = ResultStore(self.output)
        found = find_assignment(self.course, assignment)  # before any gradebook is opened
        self.notebooks = found.notebooks()
        self.notebook_names = [graded.name for graded in self.notebooks]
        self.writer = GradebookWriter(self.course, assignment, self.store, self.notebook_names)
        coursedir = self.writer.coursedir
        self.submitted = Path(coursedir.root) / coursedir.submitted_directory
        self.data = found.data_files()  # variable -> file; an assignment may need none
        check_measured(found.reference, self.data, assignment)  # before anything is graded with unmeasured data
        self.data_files = tuple(DataFile(variable, path.name, file_sha(path)) for variable, path in self.data.items())
        self.data_sha = " ".join(f"{file.variable}={file.sha}" for file in self.data_files) or "no data"
        self.sizing = size_cluster(available_cores(), total_memory(), options.workers, options.threads)
        self.limits = Limits(**{**dict(found.settings.limits), **options.limits, "threads": self.sizing.threads})
        self.version = checks_version(" ".join(graded.version() for graded in self.notebooks), self.data_sha,
                                      self.limits)
        self.outcomes: dict[str, Outcome] = {}

    def run(self) -> list[Outcome]:
        start = time.monotonic()
        submissions = find_submissions(self.submitted, self.assignment)
        plan = make_plan(submissions, self.store, self.version, self.writer.recorded_students(), self.options.force)
        # The gradebook may have been written since (a stock `nbgrader autograde` of the course): record again.
        stale = self.writer.stale({student: self.store.results(student) or {} for student in plan.unchanged},
                                  self.notebook_names)
        plan.unchanged = [student for student in plan.unchanged if student not in stale]
        plan.record += stale
        where = self.options.scheduler or f"{self.sizing.workers} local workers x {self.sizing.threads} thread(s)"
        self.console.print(f"{self.assignment}: {len(submissions)} submissions: {len(plan.grade)} to grade "
                           f"({where}), {len(plan.record)} to record, {len(plan.unchanged)} unchanged")
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
        jobs = {}
        for student in students:
            releases = {graded.name: graded.release_nb for graded in self.notebooks}
            found = locate_notebooks(submissions[student], releases)
            parts = [NotebookJob(graded.name, found[graded.name].path.read_bytes() if found[graded.name].path else None,
                                 graded, tuple(found[graded.name].notes)) for graded in self.notebooks]
            jobs[student] = Job(student, tuple(parts), self.data_files, self.limits,
                                (str(self.course), str(self.output.resolve())))
        return jobs

    def _grade(self, students: dict[str, str], submissions: dict[str, Path], progress: Progress, task) -> None:
        from dask.distributed import as_completed

        jobs = self._jobs(students, submissions)
        local_code = code_version()
        with dask_client(self.options.scheduler, self.sizing) as client:
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
                    message = f"{type(error).__name__}: {error}".splitlines()[0][:300]
                    self.outcomes[student] = Outcome(student, "failed", None, None, message)
                else:
                    if graded.code_version != local_code:
                        self.outcomes[student] = Outcome(student, "failed", None, graded.seconds,
                                                         f"worker {graded.worker} runs other grading code")
                    else:
                        self.store.save(graded, students[student], self.version)
                        try:
                            write_feedback(self.store.student_folder(student), graded.results, student,
                                           self.assignment)
                        except Exception as error:  # noqa: BLE001 (a plot must never stop the batch)
                            self.console.print(Text(f"{student}: no feedback page ({type(error).__name__}: {error})"))
                        self._record(student, "graded", submissions[student])
                finally:
                    future.release()
                self._advance(progress, task, student)

    def _record(self, student: str, status: str, submitted: Path) -> None:
        state = self.store.state(student)
        results = self.store.results(student)
        try:
            error = self.writer.record(student, submitted, self.notebook_names)
        except Exception as failure:  # not recordable, or the gradebook is unreachable: listed, tried again next run
            reason = str(failure) if isinstance(failure, RecordingError) else f"{type(failure).__name__}: {failure}"
            message = f"not recorded: {reason}".splitlines()[0][:400]
            self.store.set_state(student, State(**{**state.__dict__, "recorded": False, "record_error": message}))
            self.outcomes[student] = Outcome(student, "failed", results, state.seconds, message)
            return
        self.store.set_state(student, State(**{**state.__dict__, "recorded": True, "record_error": error}))
        errors = grader_errors(results)
        if errors:  # recorded, as nbgrader would score it, but the batch fails: the instructor must look
            self.outcomes[student] = Outcome(student, "failed", results, state.seconds, f"grader error: {errors[0]}")
            return
        self.outcomes[student] = Outcome(student, status, results, state.seconds, _notes(results, error))

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
        if did_work or not html_path.is_file():
            write_html_report(html_path, self.assignment, outcomes, summary, notes)
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
    """The CLI verb: 0 when every submission has a grade, 1 when some failed, 2 when nothing could run."""
    try:
        batch = Batch(course, assignment, options)
    except (GradebookError, AssignmentError, FileNotFoundError) as error:
        print(f"graders autograde: {error}")
        return 2
    outcomes = batch.run()
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0
