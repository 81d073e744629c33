"""``graders autograde`` under failure: a killed batch, a dying worker, a PostgreSQL gradebook.

The submissions here are cheap (the untouched release, which errors out fast),
so each test is about the batch, not about training.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import nbformat
import pytest
from batch_course import (
    TIMESTAMP,
    assert_gradebook_agrees,
    autograde_command,
    batch_environment,
    released_course,
    sample_notebook,
    stored_results,
    submit,
    submit_files,
)
from batch_course import with_cell_source as with_source
from dask.distributed import Client, LocalCluster
from nbgrader.api import Gradebook
from postgres_server import postgres_server
from real_submissions import NOTEBOOK, filled, text

from graders.autograde.batch import Batch, BatchOptions
from graders.autograde.gradebook_scores import autograded_scores
from graders.autograde.record import GradebookWriter, RecordingError
from graders.autograde.store import ResultStore
from graders.course.nbgrader_settings import default_db_url
from graders.lessons.mnist_cnn import ASSIGNMENT
from graders.lessons.mnist_cnn.data import ENV_VAR

pytestmark = pytest.mark.slow


def states(course: Path) -> dict[str, dict]:
    """``state.json`` of every stored grade, by student."""
    return {path.parent.name: json.loads(path.read_text())
            for path in (course / "results" / ASSIGNMENT).glob("*/state.json")}


def stat_fields(pid: int | str) -> list[str]:
    """The fields of ``/proc/PID/stat`` after "pid (command) ": [0] the state, [1] the parent, [19] the start time."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2:].split()


def processes_below(ancestor: int, sandbox_only: bool = True) -> set[tuple[int, str]]:
    """Processes below the process ``ancestor``, as (pid, start time): sandboxed kernels and their launchers, or
    (``sandbox_only=False``) every one.

    Only this test's own grader is looked at, so a grader running beside the suite on the same
    machine never counts; the start time tells a surviving kernel from a new process given its pid.
    """
    parents, starts, commands = {}, {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = stat_fields(entry.name)
            commands[int(entry.name)] = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parents[int(entry.name)], starts[int(entry.name)] = int(fields[1]), fields[19]
    found = set()
    for pid, command in commands.items():
        if sandbox_only and b"graders-sandbox-" not in command and b"graders.grade.sandbox_launch" not in command:
            continue
        above = parents.get(pid)
        while above and above != ancestor:
            above = parents.get(above)
        if above == ancestor:
            found.add((pid, starts[pid]))
    return found


def still_running(processes: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Those of ``processes`` (pid, start time) that have not ended (a zombie has: only its exit status is left)."""
    alive = set()
    for pid, start in processes:
        with contextlib.suppress(OSError, IndexError):
            fields = stat_fields(pid)
            if fields[19] == start and fields[0] not in ("Z", "X"):
                alive.add((pid, start))
    return alive


def commands(processes: set[tuple[int, str]]) -> list[str]:
    """The command lines of ``processes`` (pid, start time), for a failure message."""
    lines = []
    for pid, _ in processes:
        with contextlib.suppress(OSError):
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200])
    return lines


def test_a_killed_batch_resumes_without_redoing_finished_work(tmp_path, sample_npz):
    course = released_course(tmp_path / "course")
    untouched = sample_notebook(course, "untouched")
    students = [f"student{number}" for number in range(3)]
    for student in students:
        submit(course, student, untouched)
    batch = subprocess.Popen(autograde_command(course, "--workers", "2"), env=batch_environment(sample_npz),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while True:  # kill once one grade is recorded and another submission's kernel is running
        if processes_below(batch.pid) and any(state["recorded"] for state in states(course).values()):
            os.killpg(batch.pid, signal.SIGSTOP)  # the batch and its workers: no kernel starts after the lists below
            kernels, below = processes_below(batch.pid), processes_below(batch.pid, sandbox_only=False)
            if kernels:
                break
            os.killpg(batch.pid, signal.SIGCONT)
        assert batch.poll() is None and time.monotonic() < deadline, "the batch ended before it could be killed"
        time.sleep(0.05)
    os.killpg(batch.pid, signal.SIGKILL)  # the batch and its Dask workers; each kernel has a session of its own
    batch.wait()
    stored = states(course)
    finished = {student: state for student, state in stored.items() if state["recorded"]}
    saved_only = [student for student, state in stored.items() if not state["recorded"]]
    assert 1 <= len(finished) < len(students)
    time.sleep(1)
    assert not still_running(below), f"outlived its killed grader: {commands(still_running(below))}"

    resumed = subprocess.run(autograde_command(course, "--workers", "2"), env=batch_environment(sample_npz),
                             capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    to_grade = len(students) - len(stored)  # one is graded by the command itself, more by as many local workers
    where = {0: "", 1: " (this process)"}.get(to_grade, " (2 local workers x 1 thread(s))")
    plan = (f"{len(students)} submissions: {to_grade} to grade{where}, {len(saved_only)} to record, "
            f"{len(finished)} unchanged")
    assert plan in resumed.stdout, resumed.stdout[:2000]
    after = states(course)
    assert all(after[student] == state for student, state in finished.items())  # not graded again
    scores = assert_gradebook_agrees(course)
    assert sorted(scores) == students and all(sum(cells.values()) == 0 for cells in scores.values())


def sandbox_folders(ancestor: int) -> set[Path]:
    """The sandbox folders of the kernels below the process ``ancestor`` (from their command lines)."""
    folders = set()
    for pid, _ in processes_below(ancestor):
        with contextlib.suppress(OSError):
            for part in Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0"):
                for parent in (Path(part), *Path(part).parents):
                    if parent.name.startswith("graders-sandbox-"):
                        folders.add(parent)
    return folders


# The slow submission says it is waiting, then waits in a cell until the test puts a file named "go" in its sandbox
# folder (or 60 s pass).
WAIT_FOR_GO = """import os, time
open("waiting", "w").close()
start = time.monotonic()
while not os.path.exists("go") and time.monotonic() - start < 60:
    time.sleep(0.1)"""


def test_a_task_whose_worker_dies_is_graded_on_another(tmp_path, sample_npz, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(sample_npz))
    monkeypatch.delenv("GRADERS_DB_URL", raising=False)
    course = released_course(tmp_path / "course")
    untouched = sample_notebook(course, "untouched")
    submit(course, "quick", untouched)
    submit(course, "slow", with_source(untouched, "preprocess", WAIT_FOR_GO))
    outcomes = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        options = BatchOptions(scheduler=cluster.scheduler_address, limits={"cell_seconds": 120})
        batch = Batch(course, ASSIGNMENT, options)
        runner = threading.Thread(target=lambda: outcomes.extend(batch.run()))
        runner.start()
        deadline = time.monotonic() + 300
        while "quick" not in states(course):  # then only the slow submission is still on a worker
            assert time.monotonic() < deadline and runner.is_alive()
            time.sleep(0.2)
        busy = [address for address, keys in client.processing().items() if keys]
        assert len(busy) == 1
        killed = client.run(os.getpid)[busy[0]]
        while not any((folder / "waiting").exists() for folder in sandbox_folders(killed)):  # the slow kernel's cell
            assert time.monotonic() < deadline
            time.sleep(0.05)
        kernels, below = processes_below(killed), processes_below(killed, sandbox_only=False)
        os.kill(killed, signal.SIGKILL)
        while runner.is_alive():  # the retry, on the other worker or a restarted one, may go on at once
            for folder in sandbox_folders(os.getpid()):
                with contextlib.suppress(OSError):
                    (folder / "go").touch()
            assert time.monotonic() < deadline
            time.sleep(0.1)
    by_student = {outcome.student: outcome for outcome in outcomes}
    assert by_student["slow"].status == "graded", by_student["slow"]
    assert states(course)["slow"]["worker"].split(":")[-1] != str(killed)
    assert "timed out" not in by_student["slow"].message
    assert by_student["slow"].seconds < 45, "the retry waited for a go that never came"
    assert sorted(assert_gradebook_agrees(course)) == ["quick", "slow"]
    time.sleep(1)
    assert kernels and not still_running(below), f"outlived the killed worker: {commands(still_running(below))}"


def test_postgresql_gradebook_against_a_real_server(tmp_path, sample_npz, monkeypatch):
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_server())
        except (FileNotFoundError, subprocess.CalledProcessError) as error:
            if os.environ.get("GRADERS_REQUIRE_POSTGRES"):
                raise
            pytest.skip(f"no PostgreSQL server could be started: {error}")
        monkeypatch.setenv("GRADERS_DB_URL", url)
        course = released_course(tmp_path / "course")
        submit(course, "alice", sample_notebook(course, "untouched"))
        submit(course, "bob", '{"not": "a notebook"}')
        process = subprocess.run(autograde_command(course, "--workers", "2"),
                                 env=batch_environment(sample_npz, GRADERS_DB_URL=url),
                                 capture_output=True, text=True, timeout=900)
        assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
        assert "postgresql+psycopg2://" in process.stdout  # the table's title names the gradebook
        assert not (course / "gradebook.db").exists()
        scores = assert_gradebook_agrees(course, url)
        assert sorted(scores) == ["alice", "bob"]
        assert all(sum(cells.values()) == 0 and len(cells) == 15 for cells in scores.values())
        assert (course / "autograded" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()


def test_a_grade_the_gradebook_cannot_take_fails_the_batch_loudly_never_as_a_silent_zero(tmp_path, sample_npz):
    course = released_course(tmp_path / "course")
    source_nb = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    work = {NOTEBOOK: text(filled(source_nb, release)).encode()}  # preprocessing and a frozen model: 4 points
    with open(course / "nbgrader_config.py", "a") as config:  # nbgrader's late penalty: a late submission scores 0
        config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    with Gradebook(default_db_url(course)) as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT, duedate="2026-11-19 00:00:00 UTC")  # TIMESTAMP is late
    (submit_files(course, "on_time", work) / "timestamp.txt").write_text("2026-11-18 09:00:00 UTC")
    folder = submit_files(course, "bad_clock", work)
    (folder / "timestamp.txt").write_text("yesterday after lunch")  # nbgrader refuses to record it
    process = subprocess.run(autograde_command(course, "--workers", "2"), env=batch_environment(sample_npz),
                             capture_output=True, text=True, timeout=900)
    assert process.returncode == 1, process.stdout[-3000:] + process.stderr[-3000:]
    (line,) = [line for line in process.stdout.splitlines() if line.startswith("bad_clock: failed")]
    assert "not recorded: timestamp.txt holds 'yesterday after lunch'" in line
    assert "1 failed" in process.stdout
    assert stored_results(course)["bad_clock"]["score"] == 4  # the engine's grade is kept for the next run
    recorded = autograded_scores(default_db_url(course), ASSIGNMENT, ASSIGNMENT)
    assert "bad_clock" not in recorded and sum(recorded["on_time"].values()) == 4  # no silent 0 in the gradebook
    assert states(course)["bad_clock"]["recorded"] is False

    (folder / "timestamp.txt").write_text(TIMESTAMP)  # the instructor corrects it: the next run records it
    again = subprocess.run(autograde_command(course), env=batch_environment(sample_npz), capture_output=True,
                           text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert sum(assert_gradebook_agrees(course)["bad_clock"].values()) == 4  # autograded points, before the penalty
    with open(course / "results" / ASSIGNMENT / "grades.csv") as stream:
        rows = {row["student"]: row for row in csv.DictReader(stream)}
    bad_clock, on_time = rows["bad_clock"], rows["on_time"]  # as nbgrader export: score is raw less the penalty
    assert (bad_clock["raw_score"], bad_clock["late_penalty"], bad_clock["score"]) == ("4", "4", "0")  # a day late
    assert (on_time["raw_score"], on_time["late_penalty"], on_time["score"]) == ("4", "0", "4")

    # A stored result nbgrader cannot reproduce (a test cell renamed since the release) is flagged.
    store = ResultStore(course / "results" / ASSIGNMENT)
    results = store.results("bad_clock")
    renamed = next(test for test in results["tests"] if test["name"] == "test_cnn_shapes")
    renamed["name"] = renamed["extra_data"]["grade_id"] = "test_renamed"
    (store.student_folder("bad_clock") / "results.json").write_text(json.dumps(results))
    with pytest.raises(RecordingError, match=r"disagrees with results.json .*test_cnn_shapes: gradebook 1.0, "
                                              r"results.json None"):
        GradebookWriter(course, ASSIGNMENT, store).record("bad_clock", folder, [NOTEBOOK])
    with Gradebook(default_db_url(course)) as gradebook:
        grades = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "bad_clock").grades
        assert [grade.name for grade in grades if grade.needs_manual_grade and grade.cell_type == "code"] == [
            "test_cnn_shapes"]


def test_a_task_that_raises_is_retried_once_then_listed_as_failed(tmp_path, sample_npz, monkeypatch, capsys):
    import graders.grade.run
    from graders.autograde.batch import autograde_command as run_batch

    monkeypatch.setenv(ENV_VAR, str(sample_npz))
    monkeypatch.delenv("GRADERS_DB_URL", raising=False)
    course = released_course(tmp_path / "course")
    submit(course, "alice", sample_notebook(course, "untouched"))
    real, calls = graders.grade.run.grade, []

    def failing_first(*args, **kwargs):  # a passing fault of the worker, on the first attempt of each run
        calls.append(args[0])
        if len(calls) in (1, 3, 4):
            raise RuntimeError("a passing fault of the worker")
        return real(*args, **kwargs)

    monkeypatch.setattr(graders.grade.run, "grade", failing_first)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        options = BatchOptions(scheduler=cluster.scheduler_address, limits={"cell_seconds": 120})
        assert run_batch(course, ASSIGNMENT, options) == 0  # failed once, retried once, graded
        assert len(calls) == 2 and states(course)["alice"]["recorded"]
        options.force = True
        capsys.readouterr()
        assert run_batch(course, ASSIGNMENT, options) == 1  # failed twice: listed, exit 1
        assert len(calls) == 4
        assert "alice: failed - RuntimeError: a passing fault of the worker" in capsys.readouterr().out
    assert sum(assert_gradebook_agrees(course)["alice"].values()) == 0


def test_a_gradebook_written_since_by_another_autograde_is_recorded_again(tmp_path, sample_npz, monkeypatch, capsys):
    """A stock ``nbgrader autograde`` of the same course replaces the grades: the next run finds it and records the
    stored ones again, instead of calling the submission unchanged."""
    from graders.autograde.batch import autograde_command as run_batch

    monkeypatch.setenv(ENV_VAR, str(sample_npz))
    monkeypatch.delenv("GRADERS_DB_URL", raising=False)
    course = released_course(tmp_path / "course")
    submit(course, "alice", sample_notebook(course, "untouched"))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        options = BatchOptions(scheduler=cluster.scheduler_address, limits={"cell_seconds": 120})
        assert run_batch(course, ASSIGNMENT, options) == 0
        with Gradebook(default_db_url(course)) as gradebook:  # what a kernel that fooled stock nbgrader leaves
            gradebook.find_grade("test_cnn_shapes", ASSIGNMENT, ASSIGNMENT, "alice").auto_score = 1.0
            gradebook.db.commit()
        capsys.readouterr()
        assert run_batch(course, ASSIGNMENT, options) == 0
        assert "0 graded, 1 recorded, 0 unchanged, 0 failed" in capsys.readouterr().out
    assert sum(assert_gradebook_agrees(course)["alice"].values()) == 0
