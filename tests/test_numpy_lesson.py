"""The NumPy lesson (``source/numpy_forward``), an assignment written as a notebook only, graded by ``graders grade``.

Its test cells call the student's functions (through the kernel) and compute
the expected values themselves in their hidden tests; no data, no Keras. The
instructor's solution earns every point; a softmax that does not subtract the
maximum loses the one test cell that feeds it logits of 1000, with the hidden
test's own message.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import nbformat
import pytest
from conftest import ROOT

from graders.course.nbgrader_settings import with_scripts_on_path

pytestmark = pytest.mark.slow

ASSIGNMENT = "numpy_forward"
SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION", re.S)
CODE_STUB = re.compile(r"^([ \t]*)# YOUR CODE HERE\n\1raise NotImplementedError\(\)", re.M)
POINTS = {"test_softmax_values": 2, "test_softmax_stable": 2, "test_softmax_shapes": 1, "test_cross_entropy_values": 2,
          "test_cross_entropy_clipped": 1, "test_cross_entropy_shapes": 1, "test_dense_linear": 1, "test_dense_relu": 1,
          "test_dense_softmax": 1, "test_dense_shapes": 1, "test_q_dense_params": 1, "test_q_uniform_loss": 1}
EDITS = {  # student -> (cell, solution text, the student's text)
    "solution": None,
    "naive_softmax": ("softmax", "shifted = logits - logits.max(axis=-1, keepdims=True)", "shifted = logits"),
}


def submission(student: str) -> nbformat.NotebookNode:
    """The release with each stub replaced by the source's solution code (indented as the stub is), edited."""
    source = nbformat.read(ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    notebook = nbformat.read(ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    code = {cell.metadata["nbgrader"]["grade_id"]: SOLUTION_REGION.search(cell.source)[1].rstrip()
            for cell in source.cells if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")}
    if EDITS[student]:
        cell, old, new = EDITS[student]
        assert code[cell].count(old) == 1
        code[cell] = code[cell].replace(old, new)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in code:
            cell.source, replaced = CODE_STUB.subn(lambda match: code[grade_id], cell.source)  # noqa: B023
            assert replaced == 1, grade_id
    return notebook


@pytest.mark.parametrize("student", EDITS)
def test_graders_grade_scores_the_lesson_by_calling_the_students_functions(tmp_path, student):
    path = tmp_path / f"{student}.ipynb"
    nbformat.write(submission(student), path)
    env = with_scripts_on_path({key: value for key, value in os.environ.items() if key != "MNIST_NPZ"})
    process = subprocess.run([sys.executable, "-m", "graders", "grade", str(path), "--assignment", ASSIGNMENT,
                              "--course", str(ROOT), "--output", str(tmp_path / "results.json")],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    scores = {test["name"]: test["score"] for test in results["tests"]}
    expected = dict(POINTS)
    if student == "naive_softmax":
        expected["test_softmax_stable"] = 0
        output = next(test["output"] for test in results["tests"] if test["name"] == "test_softmax_stable")
        assert "np.exp overflowed" in output, output
    assert scores == expected, json.dumps(results, indent=1)[-3000:]
    assert results["max_score"] == 15
