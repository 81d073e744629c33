"""A sandbox per submission: its own folder, user, limits, no network.

The kernel runs in a fresh temporary folder holding only the notebook and a
copy of the data. When the grader is root, the kernel starts in new mount and
network namespaces (``unshare``), sees empty folders in place of the course,
the kit's sources, other users' homes and ``/tmp``, and runs as an
unprivileged user of its own; it talks to the grader over Unix sockets in its folder.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

import graders

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class Limits:
    """What one submission may use."""

    cell_seconds: int = 900
    notebook_seconds: int = 3600
    memory_bytes: int = 16 * GiB  # address space: TensorFlow reserves far more than it touches
    processes: int = 1024  # threads count too
    file_bytes: int = 1 * GiB
    output_bytes_per_cell: int = 1 * MiB
    output_bytes: int = 10 * MiB
    threads: int | None = None  # TensorFlow/BLAS threads of the kernel; None leaves their defaults


def thread_environment(threads: int) -> dict[str, str]:
    """Variables that cap TensorFlow's and the BLAS libraries' thread pools, read when they load."""
    value = str(threads)
    return {"TF_NUM_INTRAOP_THREADS": value, "TF_NUM_INTEROP_THREADS": value, "OMP_NUM_THREADS": value,
            "OPENBLAS_NUM_THREADS": value, "MKL_NUM_THREADS": value}


FIRST_SANDBOX_UID = 1_000_000
SANDBOX_UIDS = 1_000_000


def unprivileged_user() -> tuple[int, int] | None:
    """The uid and gid the kernel drops to when the grader is root.

    By default a fresh uid of its own, with no account, so that limits counted
    per user (processes) and file permissions never couple two sandboxes;
    ``GRADERS_SANDBOX_USER`` names an account to use instead.
    """
    if os.geteuid() != 0:
        return None
    name = os.environ.get("GRADERS_SANDBOX_USER")
    if name:
        user = pwd.getpwnam(name)
        return user.pw_uid, user.pw_gid
    uid = FIRST_SANDBOX_UID + secrets.randbelow(SANDBOX_UIDS)
    return uid, uid


def is_isolated() -> bool:
    """Namespaces and a separate user are only available to a root grader."""
    return os.geteuid() == 0 and shutil.which("unshare") is not None and shutil.which("mount") is not None


class Sandbox:
    """A temporary folder for one submission and the kernel manager that starts kernels in it."""

    def __init__(self, limits: Limits, hide: tuple[Path, ...] = ()):
        self.limits = limits
        self.root = Path(tempfile.mkdtemp(prefix="graders-sandbox-"))
        self.exports = self.root / "exports"
        self.exports.mkdir()
        # Outside /tmp, which the kernel sees as a private scratch: see sandbox_launch.isolate.
        self.stash = Path(tempfile.mkdtemp(prefix="graders-stash-", dir="/run" if os.path.isdir("/run") else None))
        self.user = unprivileged_user() if is_isolated() else None
        package = Path(graders.__file__).resolve().parent
        course = package.parent if (package.parent / "source").is_dir() else package  # a checkout, or site-packages
        self.hide = (package, course, Path("/root"), Path("/home"), *hide)
        self.scratch = (Path(tempfile.gettempdir()), Path("/var/tmp"), Path("/dev/shm"))
        self.variables: dict[str, str] = {}  # the data files' variables, for the kernel's environment
        if self.user is not None:
            for path in (self.root, self.exports):
                os.chown(path, *self.user)
        os.chmod(self.root, 0o700)

    def add_file(self, source: Path, name: str) -> Path:
        """Copy a file into the sandbox, readable by the kernel."""
        target = self.root / name
        shutil.copyfile(source, target)
        if self.user is not None:
            os.chown(target, *self.user)
        return target

    def add_data(self, source: Path, variable: str) -> Path:
        """Copy a data file into the sandbox, in a folder of its variable's (``.data/VARIABLE/NAME``: two files
        of one name, or one named like a file of the release, never collide), and point ``variable`` of the
        kernel's environment at the copy."""
        folder = self.root / ".data" / variable
        folder.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            for path in (folder.parent, folder):
                os.chown(path, *self.user)
        target = self.add_file(source, f".data/{variable}/{source.name}")
        self.variables[variable] = str(target)
        return target

    def add_bytes(self, content: bytes, name: str) -> Path:
        """Write a file into the sandbox, readable by the kernel."""
        target = self.root / name
        target.write_bytes(content)
        if self.user is not None:
            os.chown(target, *self.user)
        return target

    def launch_prefix(self) -> list[str]:
        """The command that wraps the kernel's own command line.

        ``setpriv --pdeathsig KILL`` ends the sandbox when the grader dies, even by SIGKILL (a killed
        batch or worker), so no kernel outlives its grader.
        """
        orphan_guard = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
        keep = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent,
                self.root}
        command = [sys.executable, "-m", "graders.grade.sandbox_launch", "--workdir", str(self.root),
                   "--memory", str(self.limits.memory_bytes), "--processes", str(self.limits.processes),
                   "--file-size", str(self.limits.file_bytes)]
        if self.user is None:
            return [*orphan_guard, *command, "--"]
        command += ["--uid", str(self.user[0]), "--gid", str(self.user[1])]
        command += [arg for path in self.hide for arg in ("--hide", str(path))]
        command += [arg for path in self.scratch for arg in ("--scratch", str(path))]
        command += [arg for path in sorted(keep) for arg in ("--keep", str(path))]
        command += ["--stash", str(self.stash)]
        return [*orphan_guard, "unshare", "--mount", "--net", "--pid", "--mount-proc", "--fork", "--kill-child", "--",
                *command, "--"]

    def kernel_manager_class(self) -> type[AsyncKernelManager]:
        """A kernel manager class whose kernels start inside this sandbox, on Unix sockets."""
        prefix, root = self.launch_prefix(), self.root

        class SandboxedKernelManager(AsyncKernelManager):
            def __init__(self, **kwargs):
                super().__init__(**{**kwargs, "transport": "ipc", "ip": str(root / "kernel")})
                self.connection_file = str(root / "connection.json")

            def format_kernel_cmd(self, extra_arguments=None):
                return prefix + super().format_kernel_cmd(extra_arguments)

        return SandboxedKernelManager

    def environment(self) -> dict[str, str]:
        """The kernel's environment: nothing of the grader's but what Python and TensorFlow need."""
        keep = ("PATH", "LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        env = {name: os.environ[name] for name in keep if name in os.environ}
        env.update({
            "HOME": str(self.root), "TMPDIR": str(self.root), "MPLCONFIGDIR": str(self.root / ".matplotlib"),
            "PYTHONHASHSEED": "0", "TF_DETERMINISTIC_OPS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
            "NBGRADER_EXECUTION": "autograde", **self.variables,
        })
        if self.limits.threads:
            env.update(thread_environment(self.limits.threads))
        return env

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.stash, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()
