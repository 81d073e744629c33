"""The course's nbgrader_config.py, exercised by a real nbgrader autograde of a tiny notebook."""

from __future__ import annotations

import nbformat
import pytest
from course import copy_course
from nbformat.v4 import new_code_cell, new_notebook

from graders.autograde.gradebook_scores import autograded_scores
from graders.course.nbgrader_settings import default_db_url
from graders.demo import nbgrader

pytestmark = pytest.mark.slow  # a real kernel runs the notebook


def graded_cell(grade_id: str, source: str) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "task": False,
                                 "points": 1, "grade_id": grade_id, "schema_version": 3}
    return cell


NOISY_BUT_PASSING = '''
import sys, warnings
print("I0000 00:00:1795904038.169010    1931 cpu_feature_guard.cc:227] This TensorFlow binary", file=sys.stderr)
print("WARNING:tensorflow:5 out of the last 5 calls to <function> triggered tf.function retracing.", file=sys.stderr)
warnings.warn("Do not pass an `input_shape`/`input_dim` argument to a layer.")
assert 1 + 1 == 2
'''


@pytest.fixture(scope="module")
def scores(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GRADERS_DB_URL", raising=False)
        course = copy_course(tmp_path_factory.mktemp("course"))
        notebook = new_notebook(cells=[
            graded_cell("test_noisy_but_passing", NOISY_BUT_PASSING),
            graded_cell("test_other_stderr", 'import sys\nprint("something went wrong", file=sys.stderr)'),
            graded_cell("test_failing", "assert False, 'a real failure'"),
        ])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        (course / "source" / "noisy").mkdir()
        nbformat.write(notebook, course / "source" / "noisy" / "noisy.ipynb")
        nbgrader(course, "generate_assignment", "noisy", "--force")
        submitted = course / "submitted" / "student" / "noisy"
        submitted.mkdir(parents=True)
        (submitted / "noisy.ipynb").write_text((course / "release" / "noisy" / "noisy.ipynb").read_text())
        nbgrader(course, "autograde", "noisy", "--force")
        yield autograded_scores(default_db_url(course), "noisy", "noisy")["student"]


def test_log_lines_on_stderr_do_not_zero_a_passing_test_cell(scores):
    assert scores["test_noisy_but_passing"] == 1


def test_other_stderr_output_and_errors_still_fail(scores):
    assert scores["test_other_stderr"] == 0
    assert scores["test_failing"] == 0
