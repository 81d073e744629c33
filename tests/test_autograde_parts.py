"""The parts of ``graders autograde`` that need no kernel: sizing, hashes, plan, store, recording, report."""

from __future__ import annotations

import json
from dataclasses import replace

import nbformat
import pytest
from nbgrader.utils import determine_grade

from graders.autograde.batch import find_submissions, make_plan
from graders.autograde.cluster import MEMORY_PER_WORKER, Sizing, size_cluster
from graders.autograde.fingerprint import checks_version, submission_hash
from graders.autograde.record import ApplyGraderResults, match_cells, scoring_outputs
from graders.autograde.report import Outcome, failure_counts, plots, write_html_report
from graders.autograde.store import ResultStore, State
from graders.autograde.worker import Graded
from graders.course.assignment import find_assignment, grade_id
from graders.grade.sandbox import GiB, Limits
from graders.lessons.mnist_cnn import COURSE_ROOT, autograded_tests, read_release

MAX_SCORE = 20.0


@pytest.mark.parametrize(("cores", "memory", "workers", "threads", "expected"), [
    (2, 24 * GiB, None, None, Sizing(2, 1)),
    (16, 128 * GiB, None, None, Sizing(16, 1)),
    (16, 8 * GiB, None, None, Sizing(8 // (MEMORY_PER_WORKER // GiB), 1)),  # memory caps the workers
    (16, 128 * GiB, None, 4, Sizing(4, 4)),
    (16, 128 * GiB, 4, None, Sizing(4, 4)),  # the cores are shared among the workers asked for
    (1, 1 * GiB, None, None, Sizing(1, 1)),
])
def test_cluster_sizing_never_oversubscribes_the_cores(cores, memory, workers, threads, expected):
    sizing = size_cluster(cores, memory, workers, threads)
    assert sizing == expected
    assert sizing.workers * sizing.threads <= cores  # every row, the workers asked for included


def test_cluster_sizing_rejects_nonsense():
    with pytest.raises(ValueError, match="at least 1"):
        size_cluster(4, 16 * GiB, 0, 1)


def write_submission(folder, text="{}", timestamp="2026-11-20 10:00:00 UTC"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mnist_cnn.ipynb").write_text(text)
    (folder / "timestamp.txt").write_text(timestamp)
    return folder


def test_submission_hash_follows_every_file_but_checkpoints(tmp_path):
    folder = write_submission(tmp_path / "alice" / "mnist_cnn")
    first = submission_hash(folder)
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "mnist_cnn-checkpoint.ipynb").write_text("{}")
    assert submission_hash(folder) == first
    write_submission(folder, timestamp="2026-11-21 10:00:00 UTC")  # resubmitted late: penalties may change
    assert submission_hash(folder) != first
    write_submission(folder, text='{"cells": []}', timestamp="2026-11-20 10:00:00 UTC")
    assert submission_hash(folder) != first
    write_submission(folder)
    assert submission_hash(folder) == first


def test_checks_version_follows_the_assignment_data_and_limits_but_not_threads():
    assignment = find_assignment(COURSE_ROOT, "mnist_cnn").notebook("mnist_cnn.ipynb")
    release = assignment.version()
    base = checks_version(release, "data-sha", Limits())
    assert checks_version(release, "data-sha", Limits(threads=4)) == base
    assert checks_version(release, "other-data", Limits()) != base
    assert checks_version(release, "data-sha", Limits(cell_seconds=60)) != base
    for changed in (replace(assignment, source=assignment.source.replace("(1 point", "(one point", 1)),
                    replace(assignment, release=assignment.release + " "),
                    replace(assignment, source_files=(("helper.py", b"x = 1"),)),
                    replace(assignment, ignore_pattern="^W")):
        assert checks_version(changed.version(), "data-sha", Limits()) != base


def graded(student: str, score: float = MAX_SCORE, executed: str | None = None) -> Graded:
    tests = [{"name": name, "score": points if score == MAX_SCORE else 0.0, "max_score": points,
              "status": "passed", "output": "passed" if score == MAX_SCORE else f"{name} failed\nthe table",
              "visibility": "visible"} for name, points in autograded_tests(read_release()).items()]
    results = {"score": sum(test["score"] for test in tests), "max_score": MAX_SCORE, "execution_time": 1.0,
               "output": "The notebook ran to the end.", "tests": tests}
    return Graded(student, results, {"mnist_cnn.ipynb": executed}, 12.5, "host:1", "code")


def test_store_keeps_complete_results_and_state(tmp_path):
    store = ResultStore(tmp_path)
    assert store.state("alice") is None
    state = store.save(graded("alice"), "hash-a", "version-1")
    assert store.state("alice") == state == State("hash-a", "version-1", 12.5, "host:1", False, None)
    assert store.results("alice")["score"] == MAX_SCORE
    assert not list(tmp_path.rglob("*.partial"))
    (tmp_path / "alice" / "state.json").write_text('{"submission": ')  # a torn write is no state
    assert store.state("alice") is None


def test_plan_grades_new_changed_and_outdated_records_missing_skips_the_rest(tmp_path):
    submitted = tmp_path / "submitted"
    for student in ("new", "changed", "outdated", "unrecorded", "same"):
        write_submission(submitted / student / "mnist_cnn")
    (submitted / "stray_file").write_text("not a student")
    submissions = find_submissions(submitted, "mnist_cnn")
    assert sorted(submissions) == ["changed", "new", "outdated", "same", "unrecorded"]
    store = ResultStore(tmp_path / "results")
    for student in ("changed", "outdated", "unrecorded", "same"):
        state = store.save(graded(student), submission_hash(submissions[student]), "v2")
        store.set_state(student, State(**{**state.__dict__, "recorded": student != "unrecorded"}))
    write_submission(submissions["changed"], text='{"cells": [1]}')
    store.set_state("outdated", State(**{**store.state("outdated").__dict__, "checks": "v1"}))

    plan = make_plan(submissions, store, "v2", recorded={"changed", "outdated", "same", "unrecorded"}, force=False)
    assert sorted(plan.grade) == ["changed", "new", "outdated"]
    assert plan.record == ["unrecorded"]
    assert plan.unchanged == ["same"]
    assert make_plan(submissions, store, "v2", recorded=set(), force=False).record == ["same", "unrecorded"]
    assert sorted(make_plan(submissions, store, "v2", recorded={"same"}, force=True).grade) == sorted(submissions)


def test_cells_are_matched_by_grade_id_then_by_source():
    release = read_release()
    ran = nbformat.from_dict(json.loads(json.dumps(release)))
    extra = nbformat.v4.new_code_cell("print('my own cell')")
    ran.cells.insert(3, extra)
    sanitized = nbformat.from_dict(json.loads(json.dumps(release)))
    sanitized.cells.insert(3, nbformat.v4.new_code_cell("print('my own cell')"))
    for cell in sanitized.cells:  # the gradebook's test cells hold the hidden tests: other sources, same ids
        if grade_id(cell) and grade_id(cell).startswith("test_"):
            cell.source += "\n# hidden tests"
    matched = match_cells(sanitized.cells, ran.cells)
    assert len(matched) == len(sanitized.cells)
    assert all(matched[index] is ran.cells[index] for index in range(len(ran.cells)))


def test_recorded_outputs_make_nbgrader_score_exactly_the_checks(tmp_path):
    store = ResultStore(tmp_path)
    release = read_release()
    ran = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in ran.cells:  # the kernel's own view: every visible test passed, one printed to stderr
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\n"),
                            nbformat.v4.new_output("stream", name="stderr", text="WARNING: log line\n"),
                            nbformat.v4.new_output("execute_result", data={"text/plain": "0.5"})]
    for student, score in (("alice", MAX_SCORE), ("bob", 0.0)):
        store.save(graded(student, score, nbformat.writes(ran)), "h", "v")
        notebook = nbformat.from_dict(json.loads(json.dumps(release)))
        step = ApplyGraderResults(store=str(tmp_path))
        notebook, _ = step.preprocess(notebook, {"nbgrader": {"student": student}, "unique_key": "mnist_cnn"})
        points = autograded_tests(release)
        scores = {grade_id(cell): determine_grade(cell)[0] for cell in notebook.cells if grade_id(cell) in points}
        assert scores == {name: (value if score == MAX_SCORE else 0.0) for name, value in points.items()}
        first_test = [cell for cell in notebook.cells if grade_id(cell) in points][0]
        if score == 0.0:  # the stderr line already makes nbgrader score 0: the outputs stay as they ran
            assert [output.output_type for output in first_test.outputs] == ["stream", "stream", "execute_result"]
        else:  # stdout kept; the stderr line and the number nbgrader would read as partial credit dropped
            assert [(output.output_type, output.get("name")) for output in first_test.outputs] == [("stream", "stdout")]


def test_the_checkers_own_outputs_are_kept_when_they_score_as_the_results_say():
    cell = nbformat.v4.new_code_cell(metadata={"nbgrader": {"grade": True, "solution": False, "points": 2}})
    partial = [nbformat.v4.new_output("stream", name="stdout", text="half right\n"),
               nbformat.v4.new_output("execute_result", data={"text/plain": "1.0"})]
    assert scoring_outputs(cell, partial, {"score": 1.0, "max_score": 2, "output": "partial"}) == partial
    rescored = scoring_outputs(cell, partial, {"score": 0.5, "max_score": 2, "output": "partial"})
    assert determine_grade(nbformat.from_dict({**cell, "outputs": rescored}))[0] == 0.5


def outcomes() -> list[Outcome]:
    passing, failing = graded("alice").results, graded("bob", 0.0).results
    return [Outcome("alice", "graded", passing, 30.0, "all checks passed"),
            Outcome("bob", "graded", failing, 10.0, "failed"),
            Outcome("carol", "failed", None, None, "KilledWorker: worker died")]


def test_failure_messages_are_counted_by_check_and_first_line():
    counts = failure_counts(outcomes())
    assert counts[("test_cnn_architecture", "test_cnn_architecture failed")] == 1
    assert sum(counts.values()) == len(autograded_tests(read_release()))
    never_ran = graded("dave", 0.0).results
    for test in never_ran["tests"]:
        test["output"] = "not checked"
    assert failure_counts([Outcome("dave", "graded", never_ran, 1.0)]) == {}


def test_html_report_holds_the_plots_failures_and_every_student(tmp_path):
    path = tmp_path / "report.html"
    assert set(plots(outcomes())) == {"Score distribution", "Pass rate per check", "Grading time per submission"}
    write_html_report(path, "mnist_cnn", outcomes(), "3 submissions")
    page = path.read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "test_cnn_architecture failed" in page
    assert all(student in page for student in ("alice", "bob", "carol"))
    assert "KilledWorker: worker died" in page


def test_autograde_explains_what_is_missing_before_grading(tmp_path, sample_npz, monkeypatch, capsys):
    from course import copy_course

    from graders.cli import main

    monkeypatch.delenv("GRADERS_DB_URL", raising=False)
    course = copy_course(tmp_path / "course")
    monkeypatch.setenv("MNIST_NPZ", str(sample_npz))
    assert main(["autograde", "mnist_cnn", "--course", str(course)]) == 1  # as nbgrader autograde exits
    message = capsys.readouterr().out
    assert "has no assignment 'mnist_cnn': run `nbgrader generate_assignment mnist_cnn` first" in message
    assert main(["autograde", "mnist_cnn", "--course", str(tmp_path)]) == 1
    assert f"the course {tmp_path} has no assignment 'mnist_cnn' in source/" in capsys.readouterr().out
    assert not (tmp_path / "gradebook.db").exists()  # nothing is created in a folder that is not a course


MARKUP = "ValueError: [/oops] [bold]not bold[/bold]"  # what a student's own exception may say


def test_submission_text_is_printed_literally_never_as_markup():
    from rich.console import Console

    from graders.autograde.report import outcome_line, outcomes_table
    from graders.grade.results import Grading, print_table

    console = Console(width=200, record=True)
    print_table(Grading({"test_x": 1.0}, {}, 1.0, [f"cell `x`: {MARKUP}"]), "[/title] mnist_cnn.ipynb", console)
    failing = Outcome("[/student]", "failed", None, None, f"cell `x`: {MARKUP}")
    console.print(outcome_line(failing))
    console.print(outcomes_table([failing, outcomes()[0]], "[/batch]"))
    text = console.export_text()
    assert text.count(MARKUP) == 3 and "[/title]" in text and "[/batch]" in text and text.count("[/student]") == 2
    assert outcome_line(failing).style == "red" and outcome_line(outcomes()[0]).style == ""


def test_each_notebook_of_a_folder_is_graded_as_one_released_notebook_at_most(tmp_path):
    from graders.autograde.locate import locate_notebooks

    def folder(name: str, *files: str):
        path = tmp_path / name
        path.mkdir()
        for file in files:
            nbformat.write(nbformat.v4.new_notebook(), path / file)
        return path

    releases = {name: nbformat.v4.new_notebook() for name in ("problem1.ipynb", "problem2.ipynb", "problem10.ipynb")}
    exact = folder("exact", "problem1.ipynb", "problem2.ipynb", "problem10.ipynb")
    assert {name: (found.path.name, found.notes) for name, found in locate_notebooks(exact, releases).items()} == {
        name: (name, []) for name in releases}
    renamed = locate_notebooks(folder("renamed", "problem1 (1).ipynb", "problem10-Copy1.ipynb"), releases)
    assert renamed["problem1.ipynb"].path.name == "problem1 (1).ipynb"  # never taken for problem2 too
    assert renamed["problem1.ipynb"].notes == ["graded problem1 (1).ipynb as problem1.ipynb"]
    assert renamed["problem10.ipynb"].path.name == "problem10-Copy1.ipynb"  # not problem1's
    assert renamed["problem2.ipynb"].path is None and renamed["problem2.ipynb"].notes == [
        "the submission has no problem2.ipynb"]
    copies = locate_notebooks(folder("copies", "problem1.ipynb", "problem1-Copy1.ipynb", "homework.ipynb"), releases)
    assert copies["problem1.ipynb"].path.name == "problem1.ipynb"
    assert copies["problem2.ipynb"].path is None  # neither the copy nor an unrelated notebook is taken for it
    notes = copies["problem1.ipynb"].notes
    assert "the submission also has homework.ipynb, problem1-Copy1.ipynb (not graded" in notes[0]
