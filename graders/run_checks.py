"""Run the hidden pytest checks in the grader's own process, against the exports."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from graders.export import Exports

CHECKS = Path(__file__).resolve().parent / "hidden_tests" / "test_mnist_cnn.py"


@dataclass
class CheckResult:
    """The outcome of one test cell's check."""

    name: str
    passed: bool
    message: str
    hidden: bool


def _cell_name(item_name: str) -> str:
    """``test_q[q_pool_params]`` -> ``test_q_pool_params``; ``test_cnn_shapes`` unchanged."""
    if "[" in item_name:
        base, parameter = item_name[:-1].split("[", 1)
        return f"test_{parameter}" if base == "test_q" else f"{base}_{parameter}"
    return item_name


class _Collector:
    """pytest plugin: provides the ``exports`` fixture and records each outcome."""

    def __init__(self, exports: Exports):
        self._exports = exports
        self.results: dict[str, CheckResult] = {}

    @pytest.fixture
    def exports(self) -> Exports:
        return self._exports

    def pytest_configure(self, config):
        config.addinivalue_line("markers", "hidden: output shown to students only after the due date")

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            name = _cell_name(report.nodeid.split("::")[-1])
            message = ""
            if report.failed:
                crash = getattr(report.longrepr, "reprcrash", None)
                message = crash.message if crash is not None else str(report.longrepr)
                message = message.removeprefix("AssertionError: ")
            self.results[name] = CheckResult(name, report.passed, message, "hidden" in report.keywords)


def run_checks(exports: Exports, checks: Path = CHECKS) -> dict[str, CheckResult]:
    """Run every check; return the results by test cell name."""
    collector = _Collector(exports)
    arguments = [str(checks), "-q", "--assert=plain", "-p", "no:cacheprovider", "--no-header", "-W", "ignore",
                 "--rootdir", str(checks.parent), "-c", "/dev/null"]
    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main(arguments, plugins=[collector])
    return collector.results
