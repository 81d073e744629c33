"""The NumPy lesson (``source/numpy_forward``), an assignment written as a notebook only, graded as a class.

Its test cells call the student's functions (through the kernel) and compute
the expected values themselves in their hidden tests; no data, no Keras.
Every sample it declares (``grading/numpy_forward.samples.toml``: the
solution, the untouched release, five near misses) gets exactly its declared
scores from ``graders demo``; the softmax that does not subtract the maximum
loses the one test cell that feeds it logits of 1000, with the hidden test's
own message.
"""

from __future__ import annotations

import json
import os

import pytest
from course import copy_course
from rich.console import Console

from graders.demo import demo_assignment

pytestmark = pytest.mark.slow


def test_every_sample_of_the_numpy_lesson_scores_as_declared(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADERS_DB_URL", raising=False)
    course = copy_course(tmp_path / "course")
    console = Console(record=True, width=200, file=open(os.devnull, "w"))  # noqa: SIM115
    problems = demo_assignment(course, "numpy_forward", console)
    text = console.export_text()
    assert problems == 0 and "all scores as expected" in text, text[-4000:]
    results = json.loads((course / "results" / "numpy_forward" / "naive_softmax" / "results.json").read_text())
    failed = {test["name"]: test["output"] for test in results["tests"] if test["score"] < test["max_score"]}
    assert list(failed) == ["test_softmax_stable"] and "np.exp overflowed" in failed["test_softmax_stable"]
    assert results["max_score"] == 15
