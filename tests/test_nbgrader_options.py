"""``graders autograde`` takes ``nbgrader autograde``'s options: splitting, parsing, and what they decide."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from graders.autograde.batch import execute_limits
from graders.autograde.kernelspec import kernel_name, kernel_problem
from graders.autograde.nbgrader_options import OptionsError, parse_nbgrader_arguments, split_arguments
from graders.cli import main
from graders.course.assignment import GradedNotebook
from graders.grade.results import merge_results


def test_nbgraders_options_are_told_from_the_kits_own_whatever_their_order():
    own, theirs = split_arguments(
        [
            "--student",
            "bob",
            "ps1",
            "--db=sqlite:///x.db",
            "-f",
            "--CourseDirectory.student_id_exclude=a,b",
            "--Execute.timeout",
            "2",
            "--workers",
            "1",
            "--no-execute",
            "--course",
            "class",
            "--notebook",
            "p*",
        ]
    )
    assert own == ["ps1", "-f", "--workers", "1", "--course", "class"]
    assert theirs == [
        "--student",
        "bob",
        "--db=sqlite:///x.db",
        "--CourseDirectory.student_id_exclude=a,b",
        "--Execute.timeout",
        "2",
        "--no-execute",
        "--notebook",
        "p*",
    ]
    with pytest.raises(OptionsError, match="--student needs a value"):
        split_arguments(["ps1", "--student"])


def test_nbgraders_own_app_parses_them_with_nbgraders_meaning():
    config = parse_nbgrader_arguments(
        [
            "--student",
            "bob",
            "--db",
            "sqlite:///x.db",
            "--course-dir",
            "/c",
            "--no-execute",
            "--no-create",
            "--AutogradeApp.permissions=644",
        ]
    )
    assert config.CourseDirectory.student_id == "bob" and config.CourseDirectory.db_url == "sqlite:///x.db"
    assert config.CourseDirectory.root == "/c"
    assert config.Execute.enabled is False and config.ClearOutput.enabled is False
    assert config.Autograde.create_student is False
    assert parse_nbgrader_arguments(["--create"]).Autograde.create_student is True
    with pytest.raises(OptionsError):
        parse_nbgrader_arguments(["--Execute.timeout"])


def test_execute_timeout_is_the_limit_per_cell_and_none_means_only_the_notebooks():
    assert execute_limits(parse_nbgrader_arguments(["--Execute.timeout=2"])) == {"cell_seconds": 2}
    assert execute_limits(parse_nbgrader_arguments(["--Execute.timeout=None"])) == {"cell_seconds": -1}
    assert execute_limits(parse_nbgrader_arguments(["--student=bob"])) == {}
    assert execute_limits(None) == {}


def test_help_all_lists_the_kits_options_then_nbgraders(capsys):
    assert main(["autograde", "--help-all"]) == 0
    text = capsys.readouterr().out
    assert "--scheduler" in text and "--student" in text and "CourseDirectory.student_id" in text
    assert "--no-create" in text
    for option in (
        "--CourseDirectory.student_id_exclude",
        "--Autograde.exclude_overwriting",
        "--Execute.timeout",
        "--LateSubmissionPlugin.penalty_method",
        "--ClearMetadataPreprocessor.enabled",
    ):
        assert option in text


def test_a_misspelt_option_of_a_known_class_is_named_with_the_closest_spellings():
    from graders.autograde.nbgrader_options import unknown_options

    config = parse_nbgrader_arguments(
        [
            "--CourseDirectory.student_id_exlcude=test1",
            "--Execute.timeout=2",
            "--Execute.timout=1",
            "--SomePlugin.anything=1",
        ]
    )
    assert unknown_options(config) == [
        "CourseDirectory.student_id_exlcude is not an option of CourseDirectory, and is ignored; did you mean "
        "CourseDirectory.student_id_exclude, CourseDirectory.student_id?",
        "Execute.timout is not an option of Execute, and is ignored; did you mean Execute.timeout, "
        "Execute.timeout_func, Execute.iopub_timeout?",
    ]


@pytest.mark.parametrize("argument", ["--student", "--Execute.timeout"])
def test_an_nbgrader_option_without_its_value_is_a_usage_error(argument, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["autograde", "ps1", argument])
    assert stop.value.code == 2 and f"{argument} needs a value" in capsys.readouterr().err


def notebook(kernel: str | None = None) -> str:
    metadata = {"kernelspec": {"name": kernel, "language": "python", "display_name": kernel}} if kernel else {}
    return nbformat.writes(nbformat.v4.new_notebook(metadata=metadata))


@pytest.mark.parametrize(
    ("source", "submitted", "problem"),
    [
        ("python3", "blah", None),  # the source's kernelspec wins, as nbgrader's OverwriteKernelspec
        (None, "python", None),  # jupyter_client reads "python" as this Python
        (None, "blarg", "the submitted notebook's kernelspec names the kernel 'blarg', which is not installed"),
        ("blah", "python3", "the source notebook's kernelspec names the kernel 'blah', which is not installed"),
        (None, None, None),
    ],
)
def test_the_kernel_is_the_sources_else_the_submissions_and_must_exist(source, submitted, problem):
    graded = GradedNotebook("ps1", "p1.ipynb", notebook(source), notebook(source))
    found = kernel_problem(graded, notebook(submitted).encode() if submitted else None)
    assert (found is None) if problem is None else problem in found
    assert kernel_name(graded, b"not json") == ((source, "the source notebook's") if source else (None, ""))


def test_one_notebook_graded_again_keeps_the_others_stored_results():
    def test(notebook: str, grade_id: str, score: float) -> dict:
        return {
            "name": grade_id,
            "score": score,
            "max_score": 1.0,
            "extra_data": {"notebook": notebook, "grade_id": grade_id},
        }

    old = {
        "score": 2.0,
        "max_score": 3.0,
        "output": "p1.ipynb: old p1\np2.ipynb: old p2",
        "tests": [
            {**test("p1", "a", 1.0), "name": "p1/a"},
            {**test("p2", "b", 1.0), "name": "p2/b"},
            {**test("p2", "c", 0.0), "name": "p2/c"},
        ],
        "extra_data": {
            "notebooks": {
                "p1.ipynb": {"resources": {"peak_memory_bytes": 5}},
                "p2.ipynb": {"resources": {"peak_memory_bytes": 9}},
            }
        },
    }
    new = {
        "score": 0.0,
        "max_score": 1.0,
        "output": "new p1",
        "execution_time": 1.5,
        "tests": [test("p1", "a", 0.0)],
        "extra_data": {"resources": {"peak_memory_bytes": 7}},
    }
    merged = merge_results(new, old, ["p2.ipynb"], ["p1.ipynb", "p2.ipynb"])
    assert [(t["name"], t["score"]) for t in merged["tests"]] == [("p1/a", 0.0), ("p2/b", 1.0), ("p2/c", 0.0)]
    assert (merged["score"], merged["max_score"]) == (1.0, 3.0)
    assert merged["output"].splitlines() == ["p1.ipynb: new p1", "p2.ipynb: old p2"]
    assert merged["extra_data"]["resources"]["peak_memory_bytes"] == 9
    assert json.loads(json.dumps(merged)) == merged


def test_a_notebook_nbgrader_would_fail_for_its_metadata_is_named_in_the_results(tmp_path):
    from nbgrader.tests import apps

    from graders.autograde.locate import nbgrader_metadata_note

    other = Path(apps.__file__).parent / "files" / "test.ipynb"  # another assignment's notebook
    note = nbgrader_metadata_note(other, nbformat.v4.new_notebook())
    assert "has cells of grade ids the release does not have (jupyter, squares" in note
    assert "nbgrader autograde would fail it" in note
    release = nbformat.read(other, as_version=4)
    assert nbgrader_metadata_note(other, release) is None  # its own release
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{ not json")
    assert nbgrader_metadata_note(broken, release) is None  # the engine reports what is not a notebook
