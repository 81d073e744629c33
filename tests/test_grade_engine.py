"""``graders grade``: the adversarial corpus, limits, results.json.

Every corpus entry is graded in one ``graders grade`` run (a real sandboxed
kernel per entry); each must get exactly its expected score, never more than
the honest work in it earns.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from corpus import ATTACKS, write_corpus

from graders.lessons.mnist_cnn.data import ENV_VAR

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    os.geteuid() != 0, reason="the whole corpus runs as root (a user of its own for the kernel); as an ordinary "
    "user, test_sandbox runs the entries that read, write, connect or exhaust the machine")]

CORPUS_LIMITS = ["--cell-timeout", "30", "--timeout", "600", "--memory-gib", "4", "--max-processes", "400"]
PROTECTED = [ROOT / "graders" / "checks.py", ROOT / "release" / "mnist_cnn" / "mnist_cnn.ipynb"]


def start_grade(notebooks: list[Path], output_dir: Path, npz: Path, *limits: str) -> subprocess.Popen:
    env = {**os.environ, ENV_VAR: str(npz)}
    return subprocess.Popen([sys.executable, "-m", "graders", "grade", *map(str, notebooks), "--assignment",
                             "mnist_cnn", "--course", str(ROOT), "--output-dir",
                             str(output_dir), *limits], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


# Seconds an entry takes beyond a kernel's start and the export (about 10 s): its time-out, its training.
EXTRA_SECONDS = {"infinite_loop": 30, "os_exit_after_honest_work": 18, "fork_bomb": 9, "hand_set_accuracy": 6,
                 "override_methods": 6, "memory_bomb": 5}


def halves(notebooks: list[Path]) -> tuple[list[Path], list[Path]]:
    """The entries split in two of about equal grading time (longest first, each to the lighter half)."""
    split, load = ([], []), [0, 0]
    for notebook in sorted(notebooks, key=lambda path: -EXTRA_SECONDS.get(path.stem, 0)):
        lighter = load.index(min(load))
        split[lighter].append(notebook)
        load[lighter] += 10 + EXTRA_SECONDS.get(notebook.stem, 0)
    return split


@pytest.fixture(scope="module")
def corpus_results(tmp_path_factory, sample_npz):
    folder = tmp_path_factory.mktemp("corpus")
    before = {path: path.read_bytes() for path in PROTECTED}
    listener = socket.create_server(("127.0.0.1", 0))  # on the grader's loopback: the network entry aims at it
    listener.setblocking(False)
    notebooks = write_corpus(folder / "submissions", listener_port=listener.getsockname()[1])
    # Two graders at once, as a batch would run them: no entry may disturb the other's.
    processes = [start_grade(half, folder / "results", sample_npz, *CORPUS_LIMITS) for half in halves(notebooks)]
    outputs = [process.communicate(timeout=3000) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stdout[-3000:] + stderr[-3000:]
    after = {path: path.read_bytes() for path in PROTECTED}
    results = {attack.name: json.loads((folder / "results" / f"{attack.name}.json").read_text())
               for attack in ATTACKS}
    reached = []
    with contextlib.suppress(BlockingIOError):
        while True:
            reached.append(listener.accept()[0])
    with socket.create_connection(listener.getsockname(), timeout=5):  # the listener does take connections
        pass
    assert listener.accept()
    listener.close()
    return results, before == after, "".join(stdout for stdout, _ in outputs), reached


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.name for attack in ATTACKS])
def test_attack_scores_exactly_what_its_honest_work_earns(corpus_results, attack):
    results, *_ = corpus_results
    result = results[attack.name]
    assert result["score"] == attack.expected, json.dumps(result, indent=1)[:3000]
    outputs = result["output"] + "\n".join(test["output"] for test in result["tests"])
    assert attack.message_for(result) in outputs


def test_no_attack_changed_the_grader_files(corpus_results):
    _, unchanged, *_ = corpus_results
    assert unchanged
    assert not Path("/tmp/graders-pwned").exists()


def test_no_submission_reached_a_listener_on_the_graders_loopback(corpus_results):
    """The network entry connects to a port the test listens on (without isolation it would connect)."""
    *_, reached = corpus_results
    assert reached == []


def test_results_follow_gradescope_format(corpus_results):
    results, *_ = corpus_results
    result = results["override_methods"]
    assert set(result) >= {"score", "max_score", "execution_time", "tests"}
    assert result["max_score"] == 20
    for test in result["tests"]:
        assert set(test) == {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "after_due_date")
    visibility = {test["name"]: test["visibility"] for test in result["tests"]}
    assert visibility["test_cnn_shapes"] == "visible"
    assert visibility["test_cnn_architecture"] == "after_due_date"


def test_the_table_names_each_check_and_why_it_failed(corpus_results):
    _, _, stdout, _ = corpus_results
    assert "test_cnn_architecture" in stdout and "model: layer 1: a layer is missing" in stdout
    assert "timed out after 30 s" in stdout
