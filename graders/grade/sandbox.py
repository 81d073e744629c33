"""A sandbox per submission: its own folder and view of the machine, limits, no network.

The kernel runs in a fresh temporary folder holding only the notebook and a
copy of the data. With bubblewrap (``view``) it sees nothing of the host but
the system's libraries and the Python installation, read-only, and its own
folder, ``/tmp``, ``/dev`` and ``/proc``; it has no network, and talks to the
grader over Unix sockets in its folder. A root grader also gives it a user of
its own; a grader that is not root gets the same view through a user
namespace. A cgroup (``cgroup``), where one can be made, limits the memory it
really uses and measures its peak and CPU time. ``isolation()`` says what
this machine allows, and the results name whatever protection is missing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

import graders
from graders.grade.cgroup import Cgroup
from graders.grade.seccomp import program as seccomp_program
from graders.grade.seccomp import supported as seccomp_supported
from graders.grade.view import bubblewrap_arguments, etc_files

GiB = 1024**3
CONNECTION_FILE = "connection.json"  # in the sandbox's folder: the kernel's, written by the grader
WRITTEN_BYTES = 16 << 20  # files a notebook writes beside itself, kept for autograded/ (``Sandbox.written_files``)
WRITTEN_FILES, WRITTEN_DEPTH, WRITTEN_PATH = 256, 8, 200  # ... at most so many, so deep, with paths so long
MiB = 1024**2


@dataclass(frozen=True)
class Limits:
    """What one submission may use."""

    cell_seconds: int = 900
    notebook_seconds: int = 3600
    memory_bytes: int = 16 * GiB  # real memory with a cgroup, else address space (TensorFlow reserves far more)
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


ADMINISTRATOR_ADVICE = (
    "for full isolation install bubblewrap (Debian: apt install bubblewrap) and either grade as root or let "
    "users create user namespaces (sysctl user.max_user_namespaces > 0; Debian 10 and older also "
    "kernel.unprivileged_userns_clone=1; Ubuntu 24.04 also kernel.apparmor_restrict_unprivileged_userns=0)"
)
CGROUP_ADVICE = (
    "for a limit on real memory grade as root, or name a delegated cgroup v2 folder in GRADERS_CGROUP "
    "(systemd-run --user -p Delegate=yes)"
)


@dataclass(frozen=True)
class Isolation:
    """What protects a kernel on this machine, decided once per process (``isolation()``)."""

    # "root" (bubblewrap, a user of its own), "user-namespace" (bubblewrap without root: the same view, as the
    # grader's user mapped into a user namespace) or "none" (resource limits only)
    mode: str
    cgroup: bool  # a cgroup per sandbox: a limit on real memory, its peak and CPU time measured
    why: str = ""  # why bubblewrap cannot be used, when mode is "none"

    @property
    def missing(self) -> list[str]:
        """The protections the kernel runs without, in words (empty: none)."""
        missing = []
        if self.mode == "none":
            missing += ["a filesystem view of its own (the kernel can read every file the grader's user can)",
                        "network isolation (the kernel can open sockets)",
                        "a process namespace of its own",
                        "a user of its own (the kernel runs as the grader's user)"]
        if not self.cgroup:
            missing += ["a limit on real memory (without a cgroup the limit is on address space, and peak memory "
                        "is the kernel process's own)"]
        return missing

    def note(self) -> str:
        """One line for the results and the batch's summary ("" when nothing is missing)."""
        missing = self.missing
        if not missing:
            return ""
        advice = [ADMINISTRATOR_ADVICE] if self.mode == "none" else []
        advice += [CGROUP_ADVICE] if not self.cgroup else []
        why = f" ({self.why})" if self.why else ""
        return (f"sandbox: isolation {self.mode}{why}; the kernel ran without " + "; ".join(missing) +
                ". " + "; ".join(advice))


def _bubblewrap_works(user_namespace: bool) -> str:
    """"" when bubblewrap can start a sandbox here with the options the view uses (``--size`` needs bubblewrap
    0.7, ``--disable-userns`` 0.8), else why not (its error)."""
    namespaces = ["--unshare-user", "--disable-userns"] if user_namespace else []
    command = ["bwrap", "--unshare-net", "--unshare-pid", *namespaces, "--ro-bind", "/", "/",
               "--perms", "1777", "--size", str(MiB), "--tmpfs", "/tmp", "--", "true"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    return "" if done.returncode == 0 else (done.stderr.strip() or f"exit status {done.returncode}")[:300]


@functools.cache
def isolation() -> Isolation:
    """How kernels are isolated on this machine: probed once (a bubblewrap run, a cgroup made and removed)."""
    root = os.geteuid() == 0
    Cgroup.sweep()
    probe = Cgroup.create(64 * MiB, 16)
    if probe is not None:
        probe.remove()
    if shutil.which("bwrap") is None:
        return Isolation("none", probe is not None, "bubblewrap (bwrap) is not installed")
    why = _bubblewrap_works(user_namespace=not root)
    if why:
        return Isolation("none", probe is not None, f"bubblewrap cannot start a sandbox here: {why}")
    return Isolation("root" if root else "user-namespace", probe is not None)


@dataclass(frozen=True)
class Usage:
    """What one kernel used, for sizing limits (``extra_data.resources`` of the results)."""

    peak_memory_bytes: int | None
    cpu_seconds: float | None
    wall_seconds: float
    measured_by: str  # "cgroup" (every process of the sandbox) or "process" (the kernel's processes at its end)
    memory_limit_reached: bool = False

    def as_dict(self) -> dict:
        return {"peak_memory_bytes": self.peak_memory_bytes,
                "cpu_seconds": None if self.cpu_seconds is None else round(self.cpu_seconds, 2),
                "wall_seconds": round(self.wall_seconds, 2), "measured_by": self.measured_by,
                "memory_limit_reached": self.memory_limit_reached}


def process_usage(top: int) -> tuple[int | None, float | None]:
    """Peak resident memory (the largest ``VmHWM`` among them) and CPU seconds (their own and their ended
    children's) of process ``top`` and every process below it, read from ``/proc`` while they run."""
    parents, stats = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)], stats[int(entry.name)] = int(fields[1]), fields
    below = {top} if top in stats else set()
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in below} - below
        below |= more
        grew = bool(more)
    if not below:
        return None, None
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = sum(sum(int(stats[pid][i]) for i in (11, 12, 13, 14)) for pid in below) / ticks
    peak = 0
    for pid in below:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
    return peak or None, cpu


class Sandbox:
    """A temporary folder for one submission and the kernel manager that starts kernels in it."""

    def __init__(self, limits: Limits, hide: tuple[Path, ...] = ()):
        self.limits = limits
        self.isolation = isolation()
        self.user = unprivileged_user() if self.isolation.mode == "root" else None  # before any folder is made
        self.root = Path(tempfile.mkdtemp(prefix="graders-sandbox-"))
        self.exports = self.root / "exports"
        # The grader's own: the kernel's /etc files (bound read-only), never inside the kernel's folder.
        self.private = Path(tempfile.mkdtemp(prefix="graders-private-"))
        package = Path(graders.__file__).resolve().parent
        self.hide = (package, *hide)
        self.variables: dict[str, str] = {}  # the data files' variables, for the kernel's environment
        self.exports.mkdir()
        self.cgroup = Cgroup.create(limits.memory_bytes, limits.processes) if self.isolation.cgroup else None
        scratch = [] if self.cgroup else [self.root / ".tmp", self.root / ".shm"]  # else tmpfs (``view``)
        for folder in scratch:
            folder.mkdir()
        if self.user is not None:
            for path in (self.root, self.exports, *scratch):
                os.chown(path, *self.user)
        os.chmod(self.root, 0o700)
        (self.private / "etc").mkdir()
        uid, gid = self.user or (os.getuid(), os.getgid())
        for name, content in etc_files(uid, gid, self.root).items():
            (self.private / "etc" / name).write_text(content)
        self.measured: tuple[int | None, float | None] = (None, None)  # the /proc figures at the kernel's end
        self.started: float | None = None
        self.seconds = 0.0

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

        ``sandbox_launch`` (outside the view) joins the cgroup, sets the resource limits and asks for SIGKILL
        when the grader dies, then becomes bubblewrap, which builds the view (``view``) and, when the grader is
        root, starts the kernel as the sandbox's user through ``setpriv``; ``prlimit`` counts the processes of
        that user inside the sandbox. Without bubblewrap only the limits apply (``Isolation.missing``).
        """
        launcher = [sys.executable, "-m", "graders.grade.sandbox_launch", "--workdir", str(self.root),
                    "--file-size", str(self.limits.file_bytes)]
        if self.cgroup is None:  # no cgroup: an address-space limit is all there is
            launcher += ["--memory", str(self.limits.memory_bytes)]
        for procs in self.cgroup.procs_files() if self.cgroup else []:
            launcher += ["--cgroup", str(procs)]
        processes = ["prlimit", f"--nproc={self.limits.processes}:{self.limits.processes}", "--"]
        if self.isolation.mode == "none":
            return [*launcher, "--processes", str(self.limits.processes), "--"]
        if self.user is not None:
            launcher += ["--uid", str(self.user[0]), "--gid", str(self.user[1])]
        seccomp = self.private / "seccomp.bpf" if seccomp_supported() else None
        if seccomp is not None:
            seccomp.write_bytes(seccomp_program())
            launcher += ["--seccomp-file", str(seccomp)]
        view = bubblewrap_arguments(self.root, self.private / "etc", self.hide,
                                    user_namespace=self.isolation.mode == "user-namespace",
                                    scratch_bytes=self.limits.file_bytes if self.cgroup else 0,
                                    seccomp=seccomp is not None)
        drop = []
        if self.user is not None:
            drop = ["setpriv", f"--reuid={self.user[0]}", f"--regid={self.user[1]}", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        return [*launcher, "--", "bwrap", *view, "--", *drop, *processes]

    def kernel_manager_class(self) -> type[AsyncKernelManager]:
        """A kernel manager class whose kernels start inside this sandbox, on Unix sockets; before a kernel is
        shut down, what it used is read (``usage``)."""
        prefix, root, sandbox = self.launch_prefix(), self.root, self

        class SandboxedKernelManager(AsyncKernelManager):
            def __init__(self, **kwargs):
                super().__init__(**{**kwargs, "transport": "ipc", "ip": str(root / "kernel")})
                self.connection_file = str(root / CONNECTION_FILE)

            def format_kernel_cmd(self, extra_arguments=None):
                return prefix + super().format_kernel_cmd(extra_arguments)

            async def _async_launch_kernel(self, kernel_cmd, **kw):
                sandbox.started = time.monotonic()
                return await super()._async_launch_kernel(kernel_cmd, **kw)

            async def shutdown_kernel(self, now: bool = False, restart: bool = False):
                sandbox.kernel_ending(getattr(getattr(self, "provisioner", None), "pid", None))
                return await super()._async_shutdown_kernel(now=now, restart=restart)

        return SandboxedKernelManager

    def kernel_ending(self, pid: int | None) -> None:
        """Note the kernel's wall time, and (without a cgroup) what its processes used, before it is stopped."""
        if self.started is not None:
            self.seconds += time.monotonic() - self.started
            self.started = None
        if self.cgroup is None and pid is not None:
            self.measured = process_usage(pid)

    def usage(self) -> Usage:
        """What the kernel used: from the cgroup (every process, even after the kernel died), else from
        ``/proc`` when the kernel was shut down (nothing, if it had already ended)."""
        if self.started is not None:  # a kernel that died is never shut down: its life ends now
            self.kernel_ending(None)
        if self.cgroup is not None:
            used = self.cgroup.usage()
            return Usage(used.peak_memory_bytes, used.cpu_seconds, self.seconds, "cgroup", used.oom_killed)
        return Usage(*self.measured, self.seconds, "process")

    def memory_limit_reached(self) -> bool:
        """The cgroup's limit stopped a process of the kernel (False without a cgroup: the kernel then gets a
        MemoryError of its own)."""
        return self.cgroup is not None and self.cgroup.usage().oom_killed

    def written_files(self, given: set[str], total_bytes: int = WRITTEN_BYTES) -> dict[str, bytes]:
        """The files the kernel left in its working folder, by path relative to it: regular files only (no link
        is followed), none hidden or in a hidden folder (``HOME`` is this folder), none in ``exports/``, none of
        ``given`` (what the grader put there). A folder's files come before its subfolders, each in name order;
        at most ``WRITTEN_FILES`` files, ``WRITTEN_DEPTH`` folders deep, paths of ``WRITTEN_PATH`` characters,
        ``total_bytes`` in all (each file counting at least 4 KiB): what does not fit is left out. Read after the
        kernel is gone."""
        found, total = {}, 0
        for folder, folders, files in os.walk(self.root):
            here = Path(folder).relative_to(self.root)
            depth = 0 if here == Path(".") else len(here.parts)
            folders[:] = sorted(name for name in folders if not name.startswith(".") and depth < WRITTEN_DEPTH
                                and (here, name) != (Path("."), self.exports.name))
            for name in sorted(files):
                relative = (here / name).as_posix()
                if name.startswith(".") or relative in given or len(relative) > WRITTEN_PATH:
                    continue
                if len(found) >= WRITTEN_FILES:
                    return found
                try:
                    descriptor = os.open(Path(folder) / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                except OSError:
                    continue
                with os.fdopen(descriptor, "rb") as stream:
                    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                        continue
                    content = stream.read(max(0, total_bytes - total) + 1)
                cost = max(len(content), 4096)
                if total + cost <= total_bytes:  # a file over what is left of the budget is left out
                    found[relative], total = content, total + cost
        return found

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
        """Stop whatever is left of the kernel, delete its cgroup and folders."""
        if self.cgroup is not None:
            self.cgroup.remove()
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.private, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()
