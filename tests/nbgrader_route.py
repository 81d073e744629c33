"""A pytest plugin that runs nbgrader's own autograde tests against ``graders autograde``.

Loaded with ``-p tests.nbgrader_route`` when pytest runs the installed
``nbgrader/tests/apps/test_nbgrader_autograde.py`` (read from the installed
package, never copied). It replaces ``nbgrader.tests.run_nbgrader`` before that
module is imported: a call whose first argument is ``autograde`` runs
``graders autograde`` with the same arguments, in this process and with the
same environment handling, and its exit status is compared with the test's
``retcode`` as nbgrader's helper does; every other call (``db``,
``generate_assignment``, ``validate``) is nbgrader's own.

With ``GRADERS_ROUTE_REPORT`` set, each test's outcome is written there as
JSON (node id -> passed / failed / skipped, and the failure's last line); under
pytest-xdist (``-n``) the controller writes it, from every worker's reports.
"""

from __future__ import annotations

import contextlib
import io
import json
import os

import pytest

ROUTED: list[list[str]] = []  # every routed call's arguments, in order (a test of the plugin reads it)


def run_graders(args: list[str], retcode: int = 0, env: dict | None = None, stdout: bool = False) -> str:
    """``run_nbgrader``'s contract, with ``autograde`` answered by ``graders autograde``."""
    from graders.cli import main

    ROUTED.append(list(args))
    old_env = os.environ.copy()
    if env:
        os.environ.clear()
        os.environ.update(env)
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            try:
                status = main(["autograde", *args[1:]])
            except SystemExit as stop:  # argparse's errors and --help
                status = stop.code if isinstance(stop.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    output = buffer.getvalue()
    print(output)  # shown by pytest when the test fails
    if status != retcode:
        raise AssertionError(f"graders autograde {' '.join(args[1:])} returned {status}, the test expects {retcode}")
    return output


def pytest_configure(config: pytest.Config) -> None:
    import nbgrader.tests

    original = nbgrader.tests.run_nbgrader

    def run_nbgrader(args: list[str], retcode: int = 0, env: dict | None = None, stdout: bool = False) -> str:
        if args and args[0] == "autograde":
            return run_graders(args, retcode, env, stdout)
        return original(args, retcode=retcode, env=env, stdout=stdout)

    nbgrader.tests.run_nbgrader = run_nbgrader
    config._graders_route_outcomes = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    outcomes = _outcomes()
    if outcomes is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        last = str(report.longrepr).strip().splitlines()[-1] if report.longrepr else ""
        outcomes[report.nodeid.split("::")[-1]] = {"outcome": report.outcome, "why": last[:300]}


_CONFIG: list[pytest.Config] = []


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _CONFIG.append(session.config)


def _outcomes() -> dict | None:
    return _CONFIG[0]._graders_route_outcomes if _CONFIG else None


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("GRADERS_ROUTE_REPORT")
    worker = hasattr(session.config, "workerinput")  # under pytest-xdist, the controller writes (it sees all)
    if target and not worker and _outcomes() is not None:
        with open(target, "w") as stream:
            json.dump(_outcomes(), stream, indent=1, sort_keys=True)
