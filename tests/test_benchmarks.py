"""Every benchmark runs (on tiny settings), and the figures the code relies on come from the recorded ones."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from graders.course.datasets import load_npz

BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture
def tiny_npz(sample_npz, tmp_path):
    """300 training and 100 test digits of the sample: enough for every step, in seconds."""
    (train, train_labels), (test, test_labels) = load_npz(sample_npz)
    path = tmp_path / "tiny.npz"
    np.savez(path, x_train=train[:300], y_train=train_labels[:300], x_test=test[:100], y_test=test_labels[:100])
    return path


def run(script: str, *args: str, timeout: int = 900) -> str:
    process = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], cwd=ROOT, capture_output=True,
                             text=True, timeout=timeout)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    return process.stdout


def test_self_check_benchmark_runs(tmp_path):
    out = tmp_path / "self_check.json"
    run("self_check.py", "--repeats", "1", "--json", str(out))
    figures = json.loads(out.read_text())["figures"]
    assert figures and all(value > 0 for entry in figures.values() for value in entry.values()
                           if isinstance(value, (int, float)))


@pytest.mark.slow
def test_batch_grading_benchmark_runs_every_part(tiny_npz, tmp_path):
    out = tmp_path / "batch.json"
    stdout = run("batch_grading.py", "--data", str(tiny_npz), "--submissions", "1", "--rounds", "1",
                 "--workers", "1", "--output", str(out))
    figures = json.loads(out.read_text())
    assert figures["engine_overhead_ratio"] > 0 and figures["throughput_ratio"] > 0
    assert figures["regrade_seconds_per_submission"] > 0
    assert "(a) graders grade / bare nbclient" in stdout and "(c) re-grading unchanged" in stdout


@pytest.mark.slow
def test_documentation_course_benchmark_runs_and_both_commands_agree(tmp_path):
    out = tmp_path / "documentation_course.json"
    stdout = run("documentation_course.py", "--rounds", "1", "--output", str(out))
    figures = json.loads(out.read_text())
    assert figures["rounds"] == 1 and figures["ratio_graders_to_nbgrader"] > 0
    assert "round 1: graders autograde" in stdout and "round 1: nbgrader autograde" in stdout
