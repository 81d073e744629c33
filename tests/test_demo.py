"""``make demo`` (``graders demo``) and ``graders sample-data``, as the README promises them."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from course import copy_course
from rich.console import Console

from graders import demo
from graders.lessons.mnist_cnn.data import ENV_VAR
from graders.lessons.mnist_cnn.samples import SAMPLES


def test_sample_data_writes_the_offline_sample_in_keras_layout(tmp_path):
    target = tmp_path / "data" / "mnist.npz"
    process = subprocess.run([sys.executable, "-m", "graders", "sample-data", str(target)], capture_output=True,
                             text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-2000:]
    assert "4,000 training and 1,000 test" in process.stdout
    with np.load(target, allow_pickle=False) as data:
        assert {name: data[name].shape for name in data.files} == {
            "x_train": (4000, 28, 28), "y_train": (4000,), "x_test": (1000, 28, 28), "y_test": (1000,)}
        assert data["x_train"].dtype == np.uint8 and set(np.unique(data["y_test"])) == set(range(10))
        assert 0 < data["x_train"].mean() < 255  # real digits, not a blank array


@pytest.mark.slow
def test_demo_grades_once_then_finds_nothing_changed_and_fails_on_a_wrong_score(tmp_path, sample_npz, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(sample_npz))
    monkeypatch.delenv("GRADERS_DB_URL", raising=False)
    course = copy_course(tmp_path / "course")
    untouched = tuple(sample for sample in SAMPLES if sample.untouched)  # quick to grade: nothing trains

    def run(samples=untouched) -> tuple[int, str]:
        console = Console(record=True, width=200, file=open(os.devnull, "w"))  # noqa: SIM115
        problems = demo.demo_assignment(course, "mnist_cnn", console, samples)
        return int(problems > 0), console.export_text()

    code, text = run()
    assert code == 0 and "1 submissions: 1 to grade" in text and "all scores as expected" in text, text[-3000:]
    code, text = run()  # the second run finds nothing changed
    assert code == 0 and "1 submissions: 0 to grade" in text and "1 unchanged" in text

    def full_marks(sample, releases):  # what a wrong expectation looks like to the demo
        return demo.cell_points(releases)

    monkeypatch.setattr(demo, "expected_scores", full_marks)
    code, text = run()
    assert code == 1 and "1 submission(s) scored differently from what they should" in text
