"""An assignment the kit has never seen, written by this test as a notebook only, graded like stock nbgrader.

The course holds one nbgrader notebook (no Python added to the package, no
data file): a NumPy function with visible and hidden tests (values within a
tolerance, ``ValueError`` on a bad shape), a small Keras model whose test reads
its layers and parameters, and a value question. ``graders grade`` and
``graders autograde`` must give each autograded cell the score stock
``nbgrader autograde`` gives, for the solution, a wrong submission and the
untouched release.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from graders.course.nbgrader_settings import with_scripts_on_path

pytestmark = pytest.mark.slow

ASSIGNMENT = "tiny"
CONFIG = 'c = get_config()\nc.CourseDirectory.course_id = "tiny-course"\n'
CELLS = [
    ("markdown", "intro", None, "# Softmax, a layer and a question"),
    ("code", "setup", "locked", "import numpy as np\nimport keras"),
    (
        "code",
        "softmax",
        "solution",
        '''def softmax(z):
    """Softmax over the last axis of a 2-D array; ValueError for any other shape."""
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=float)
    if z.ndim != 2:
        raise ValueError(f"expected a 2-D array, found {z.ndim}-D")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
    ### END SOLUTION''',
    ),
    (
        "code",
        "test_softmax",
        2,
        """out = softmax(np.array([[0.0, 0.0], [1.0, 1.0]]))
assert np.allclose(out, 0.5), f"expected 0.5 everywhere, found {out}"
### BEGIN HIDDEN TESTS
big = softmax(np.array([[1000.0, 0.0]]))
assert np.allclose(big, [[1.0, 0.0]]), "softmax overflows: subtract the maximum first"
try:
    softmax(np.zeros(3))
except ValueError:
    pass
else:
    raise AssertionError("softmax of a 1-D array should raise ValueError")
### END HIDDEN TESTS""",
    ),
    (
        "code",
        "model",
        "solution",
        """### BEGIN SOLUTION
model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="softmax")])
### END SOLUTION""",
    ),
    (
        "code",
        "test_model",
        1,
        """assert [type(layer).__name__ for layer in model.layers] == ["Dense"]
### BEGIN HIDDEN TESTS
assert model.count_params() == 15, f"expected 15 parameters, found {model.count_params()}"
### END HIDDEN TESTS""",
    ),
    ("code", "answer", "solution", "### BEGIN SOLUTION\nq_outputs = 3\n### END SOLUTION"),
    (
        "code",
        "test_answer",
        1,
        """assert isinstance(q_outputs, (int, np.integer))
### BEGIN HIDDEN TESTS
assert q_outputs == 3
### END HIDDEN TESTS""",
    ),
    (
        "code",
        "test_partial",
        2,
        """# one point per property: nbgrader reads a number left as the value as partial credit
### BEGIN HIDDEN TESTS
passed = [np.allclose(softmax(np.array([[1.0, 1.0]])), 0.5)]
try:
    softmax(np.zeros(3))
    passed.append(False)
except ValueError:
    passed.append(True)
float(sum(passed))
### END HIDDEN TESTS""",
    ),
]
WRONG = {
    "softmax": "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=-1, keepdims=True)",
    "model": "model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(4)])",
    "answer": "q_outputs = np.int64(3)",
}


def source_notebook() -> nbformat.NotebookNode:
    cells = []
    for kind, grade_id, role, source in CELLS:
        metadata = {
            "grade_id": grade_id,
            "grade": isinstance(role, int),
            "solution": role == "solution",
            "locked": role in ("locked",) or isinstance(role, int),
            "schema_version": 3,
        }
        if isinstance(role, int):
            metadata["points"] = role
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cells.append(make(source, metadata={"nbgrader": metadata}))
    return nbformat.v4.new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )


def run(command: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    env = with_scripts_on_path({key: value for key, value in os.environ.items() if key != "MNIST_NPZ"})
    process = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert process.returncode in ok, process.stdout[-3000:] + process.stderr[-3000:]
    return process


def submission(release: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    notebook = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return notebook


def scores(course: Path, db: str) -> dict[str, dict[str, float]]:
    with Gradebook(db) as gradebook:
        return {
            s.student_id: {g.name: g.auto_score for g in s.notebooks[0].grades if g.name.startswith("test_")}
            for s in gradebook.assignment_submissions(ASSIGNMENT)
        }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("any")
    courses = {}
    for engine in ("stock", "graders"):
        course = root / f"{engine}-course"
        (course / "source" / ASSIGNMENT).mkdir(parents=True)
        (course / "nbgrader_config.py").write_text(CONFIG)
        nbformat.write(source_notebook(), course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
        run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"], course)
        release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
        solution = {
            grade_id: re.sub(r"(?m)^\s*### (BEGIN|END) SOLUTION\n?", "", source)
            for _, grade_id, role, source in CELLS
            if role == "solution"
        }
        for student, answers in (("solution", solution), ("wrong", WRONG), ("untouched", {})):
            folder = course / "submitted" / student / ASSIGNMENT
            folder.mkdir(parents=True)
            nbformat.write(submission(release, answers), folder / f"{ASSIGNMENT}.ipynb")
        courses[engine] = course
    run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"], courses["stock"])
    batch = run([sys.executable, "-m", "graders", "autograde", ASSIGNMENT, "--workers", "2"], courses["graders"])
    one = courses["graders"] / "submitted" / "wrong" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    run([sys.executable, "-m", "graders", "grade", str(one), "--output", str(root / "wrong.json")], Path.home())
    return courses, batch.stdout, json.loads((root / "wrong.json").read_text())


def test_autograde_gives_every_cell_stock_nbgraders_score(graded):
    courses, stdout, _ = graded
    stock = scores(courses["stock"], f"sqlite:///{courses['stock'] / 'gradebook.db'}")
    ours = scores(courses["graders"], f"sqlite:///{courses['graders'] / 'gradebook.db'}")
    assert ours == stock, stdout[-3000:]
    assert ours["solution"] == {"test_softmax": 2, "test_model": 1, "test_answer": 1, "test_partial": 2}
    assert ours["wrong"] == {"test_softmax": 0, "test_model": 0, "test_answer": 1, "test_partial": 1}
    assert sum(ours["untouched"].values()) == 0


def test_grade_of_one_file_reads_the_assignment_from_its_path(graded):
    _, _, results = graded
    tests = {test["name"]: test for test in results["tests"]}
    assert {name: test["score"] for name, test in tests.items()} == {
        "test_softmax": 0,
        "test_model": 0,
        "test_answer": 1,
        "test_partial": 1,
    }
    assert "softmax overflows" in tests["test_softmax"]["output"]  # the hidden test's own message
    assert "expected 15 parameters, found 20" in tests["test_model"]["output"]
    assert tests["test_softmax"]["visibility"] == "after_due_date"
