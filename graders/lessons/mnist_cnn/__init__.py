"""The MNIST CNN lesson ("Solving MNIST with a CNN"): the course of this checkout, for its demo, samples and tests.

Nothing here grades: the lesson's checks are its notebook's test cells
(``source/mnist_cnn/mnist_cnn.ipynb``), and its grader-side settings are
``grading/mnist_cnn.toml``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from graders.course.cells import grade_points

ASSIGNMENT = "mnist_cnn"
COURSE_ROOT = Path(__file__).resolve().parents[3]
SOURCE_NOTEBOOK = COURSE_ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
RELEASE_NOTEBOOK = COURSE_ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
SELF_CHECK = COURSE_ROOT / "source" / ASSIGNMENT / "selfcheck.py"


def autograded_tests(notebook) -> dict[str, float]:
    """Points of each autograded test cell, by grade_id, in notebook order."""
    return grade_points(notebook)


def read_release(path: Path = RELEASE_NOTEBOOK):
    """The released notebook."""
    return nbformat.read(path, as_version=4)


def self_check_module():
    """The lesson's self-check module (``source/mnist_cnn/selfcheck.py``, released beside the notebook), imported
    from the course folder: it is the assignment's file, not the engine's."""
    import importlib.util
    import sys

    if "selfcheck" not in sys.modules:
        if str(SELF_CHECK.parent) not in sys.path:  # beside the notebook: it imports model_check from there
            sys.path.insert(0, str(SELF_CHECK.parent))
        spec = importlib.util.spec_from_file_location("selfcheck", SELF_CHECK)
        module = importlib.util.module_from_spec(spec)
        sys.modules["selfcheck"] = module
        spec.loader.exec_module(module)
    return sys.modules["selfcheck"]
