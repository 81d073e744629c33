"""nbgrader's own autograde tests, run against ``graders autograde`` (the oracle of the drop-in).

The installed ``nbgrader/tests/apps/test_nbgrader_autograde.py`` runs in a
pytest of its own with ``tests.nbgrader_route`` loaded, which answers each of
its ``autograde`` calls with ``graders autograde``. Every test it holds must be
in the README's compatibility table, and the table must say what happened:
"passes" for each test that passed, a reason for each that did not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from graders.course.nbgrader_settings import with_scripts_on_path

ROOT = Path(__file__).resolve().parent.parent
MODULE = "nbgrader.tests.apps.test_nbgrader_autograde"
TABLE_ROW = re.compile(r"^\| `(test_[\w\[\]]+)` \| (.+?) \|$")


def readme_table() -> dict[str, str]:
    """The README's compatibility table: nbgrader test (node name) -> "passes", or why it does not."""
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- nbgrader-autograde-table -->")
    end = text.index("<!-- /nbgrader-autograde-table -->")
    rows = [TABLE_ROW.match(line) for line in text[start:end].splitlines()]
    return {row[1]: row[2] for row in rows if row}


def test_readme_table_lists_each_test_once_and_counts_them():
    from nbgrader.tests.apps import test_nbgrader_autograde as module

    tests = [name for name in dir(module.TestNbGraderAutograde) if name.startswith("test_")]
    expected = {f"{name}[{value}]" for name in tests if name == "test_permissions" for value in ("False", "True")}
    expected |= {name for name in tests if name != "test_permissions"}
    table = readme_table()
    assert set(table) == expected and len(expected) == 42  # 41 tests, test_permissions run twice
    passes = sum(status == "passes" for status in table.values())
    text = (ROOT / "README.md").read_text()
    assert f"{passes} of 42" in text, "the README's count must be the table's"
    assert passes >= 36


def test_the_route_sends_autograde_to_graders_and_the_rest_to_nbgrader(tmp_path, monkeypatch):
    """The plugin itself: ``autograde`` reaches ``graders.cli.main`` (its status compared with ``retcode``),
    any other command nbgrader's own app."""
    import nbgrader.tests

    import tests.nbgrader_route as route

    calls = []
    monkeypatch.setattr("graders.cli.main", lambda argv: calls.append(argv) or 1)
    route.run_graders(["autograde", "ps1", "--student", "bob"], retcode=1)
    with pytest.raises(AssertionError, match="returned 1, the test expects 0"):
        route.run_graders(["autograde", "ps1"])
    assert calls == [["autograde", "ps1", "--student", "bob"], ["autograde", "ps1"]]

    class Config:
        _graders_route_outcomes: dict = {}

    original = nbgrader.tests.run_nbgrader
    monkeypatch.setattr(os, "environ", os.environ)  # nbgrader's helper leaves a dict copy there: put the real back
    monkeypatch.setenv("PATH", with_scripts_on_path(os.environ)["PATH"])  # nbgrader's db runs the alembic command
    try:
        route.pytest_configure(Config())
        monkeypatch.chdir(tmp_path)
        nbgrader.tests.run_nbgrader(["db", "student", "add", "ann", "--db", f"sqlite:///{tmp_path}/gb.db"])
        assert calls[-1] == ["autograde", "ps1"]  # db went to nbgrader
        with pytest.raises(AssertionError):
            nbgrader.tests.run_nbgrader(["autograde", "ps1"])
        assert calls[-1] == ["autograde", "ps1"] and len(calls) == 3
    finally:
        nbgrader.tests.run_nbgrader = original


@pytest.mark.slow
def test_nbgraders_own_autograde_tests_pass_against_graders_autograde(tmp_path):
    report = tmp_path / "outcomes.json"
    # nbgrader runs the alembic command: this environment's scripts go on PATH whether or not it is activated
    env = with_scripts_on_path({**os.environ, "GRADERS_ROUTE_REPORT": str(report)})
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.nbgrader_route",
            "-p",
            "no:cacheprovider",
            "-n",  # two pytest-xdist workers: a routed autograde waits on its kernel much of the time
            "2",
            "--pyargs",
            MODULE,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    outcomes = json.loads(report.read_text())
    table = readme_table()
    assert set(outcomes) == set(table), run.stdout[-3000:]
    wrong = {
        name: outcomes[name]
        for name, status in table.items()
        if (status == "passes") != (outcomes[name]["outcome"] == "passed")
    }
    assert not wrong, f"the README's table says otherwise: {wrong}\n{run.stdout[-6000:]}"
