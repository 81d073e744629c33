"""Every benchmark runs (on tiny settings), and the figures the code relies on come from the recorded ones."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from graders.course.datasets import load_npz
from graders.lessons.mnist_cnn import reference

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


def test_accuracy_thresholds_benchmark_runs_on_the_solution_models(tiny_npz, tmp_path):
    out = tmp_path / "sweep.json"
    stdout = run("accuracy_thresholds.py", "--seeds", "1", "--data", str(tiny_npz), "--json", str(out))
    result = json.loads(out.read_text())
    assert (result["n_train"], result["n_test"], result["seeds"]) == (300, 100, 1)
    assert {run["model"] for run in result["runs"]} == {"cnn", "dense"} and "seed 0  cnn" in stdout
    assert all(0.0 <= run["accuracy"] <= 1.0 for run in result["runs"])


def test_the_thresholds_are_those_of_the_recorded_sweep_and_well_below_its_worst_seed():
    sweep = json.loads((BENCHMARKS / "accuracy_thresholds.json").read_text())
    profile = reference.PROFILES[sweep["profile"]]
    assert (sweep["n_train"], sweep["n_test"]) == (profile.n_train, profile.n_test)
    assert sweep["thresholds"] == profile.min_accuracy  # the sweep was recorded with the code's thresholds
    for model, threshold in profile.min_accuracy.items():
        worst = min(run["accuracy"] for run in sweep["runs"] if run["model"] == model)
        assert worst == sweep["summary"][model]["min"]
        assert threshold <= worst - 0.05, f"{model}: threshold {threshold} is too close to the worst seed, {worst}"


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
