"""A throw-away JupyterLab server and a headless Chromium page, for the browser tests."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest
from conftest import ROOT

from graders.course.nbgrader_settings import with_scripts_on_path

if TYPE_CHECKING:
    from playwright.sync_api import Page

VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 30_000
NO_NEWS = {"fetchNews": "false", "checkForUpdates": False}


@dataclass(frozen=True)
class LabServer:
    """A running server: its base URL, token and log file."""

    base: str
    token: str
    log: Path

    def url(self, path: str) -> str:
        """``path`` (e.g. ``lab`` or ``formgrader``) on this server, with the token."""
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(server: LabServer, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(server.url("api/status"), timeout=5) as response:
                if response.status == 200:
                    return
        time.sleep(0.5)
    raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen) -> list[str]:
    """Stop the server (it shuts its kernels down); kill and name whatever it left running."""
    children: list[psutil.Process] = []
    with contextlib.suppress(psutil.NoSuchProcess):
        children = psutil.Process(process.pid).children(recursive=True)
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    _, alive = psutil.wait_procs(children, timeout=10)
    left = []
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            left.append(f"{child.pid} {' '.join(child.cmdline()[:4])}")
            child.kill()
    return left


@contextlib.contextmanager
def jupyter_lab(root: Path, log: Path, env: dict[str, str] | None = None) -> Iterator[LabServer]:
    """JupyterLab serving ``root`` (also its working directory) on a free localhost port.

    Its config, runtime, settings and workspace folders are fresh ones next to ``log``, so
    neither the user's Jupyter settings nor a saved layout reach the test. On an error in
    the ``with`` block the log's tail is printed; on exit no process of the server is left.
    """
    state = log.with_suffix(".jupyter")
    shutil.rmtree(state, ignore_errors=True)  # no layout saved by an earlier server
    folders = {name: state / name.lower() for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR",
                                                       "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    notification = folders["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)  # no "get Jupyter news?" toast over the screenshots
    (notification / "notification.jupyterlab-settings").write_text(json.dumps(NO_NEWS))
    environment = with_scripts_on_path({**os.environ, **(env or {}), **{k: str(v) for k, v in folders.items()}})
    environment.pop("GRADERS_DB_URL", None)
    token, port = secrets.token_hex(16), free_port()
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    server = LabServer(f"http://127.0.0.1:{port}", token, log)
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=root, env=environment, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    try:
        _wait_until_up(server, process)
        yield server
    except BaseException:
        print(f"--- tail of the JupyterLab log {log}:\n{server.log_tail()}")
        raise
    finally:
        left = _stop(process)
    if left:
        raise RuntimeError(f"jupyter lab left processes running (killed now): {left}")


def screenshot_folder() -> Path:
    """``GRADERS_SCREENSHOTS``, else ``test-artifacts/screenshots/`` in the repository; created."""
    folder = Path(os.environ.get("GRADERS_SCREENSHOTS") or ROOT / "test-artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def require_browser() -> str:
    """Debian's Chromium and Playwright for Python, or skip (fail under ``GRADERS_REQUIRE_BROWSER=1``)."""
    problem = None
    executable = shutil.which("chromium")
    if executable is None:
        problem = "no chromium on PATH (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "Playwright for Python is not installed (pip install playwright)"
    if problem and os.environ.get("GRADERS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{problem}, and GRADERS_REQUIRE_BROWSER=1")
    if problem:
        pytest.skip(problem)
    return executable


@contextlib.contextmanager
def chromium_page(failure_screenshot: Path | None = None) -> Iterator[Page]:
    """A Playwright page in headless Chromium at 1280x800 (see ``require_browser``); on an error
    in the ``with`` block the page is saved to ``failure_screenshot`` first. Actions and
    ``expect`` wait up to 30 s."""
    executable = require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    if failure_screenshot is not None:
        failure_screenshot.unlink(missing_ok=True)  # from an earlier run
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(TIMEOUT_MS)
            try:
                yield page
            except BaseException:
                if failure_screenshot is not None:
                    with contextlib.suppress(Exception):
                        page.screenshot(path=failure_screenshot)
                raise
        finally:
            browser.close()
