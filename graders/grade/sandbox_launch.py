"""Start a kernel's sandbox: run as ``python -m graders.grade.sandbox_launch [OPTIONS] -- COMMAND...``.

It runs as the grader, outside the sandbox's view: it joins the sandbox's
cgroup (``--cgroup``, each ``cgroup.procs`` file), opens the seccomp filter
for bubblewrap (``--seccomp-file``), hands the kernel's
connection file to the sandbox's user, applies the resource limits, asks to be
killed when the grader dies, and replaces itself with ``COMMAND`` (bubblewrap,
which builds the view and starts the kernel; see ``sandbox.launch_prefix``).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import signal
from pathlib import Path

from graders.grade.view import SECCOMP_FD


def apply_limits(memory: int, processes: int, file_size: int) -> None:
    """Address space (only without a cgroup), process count (only without bubblewrap: inside it ``prlimit`` sets
    it for the sandbox's user alone), file size, no core dumps."""
    for limit, value in (
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_NPROC, processes),
        (resource.RLIMIT_FSIZE, file_size),
        (resource.RLIMIT_CORE, 0),
    ):
        if value or limit == resource.RLIMIT_CORE:
            resource.setrlimit(limit, (value, value))


def connection_file(argv: list[str]) -> Path | None:
    """The kernel's ``-f CONNECTION_FILE`` argument."""
    for flag, value in zip(argv, argv[1:], strict=False):
        if flag == "-f":
            return Path(value)
    return None


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """SIGKILL this process when its parent (the grader) dies; it survives the exec of bubblewrap, whose
    ``--die-with-parent`` passes it on to the sandbox, and the sandbox's PID namespace ends with its first
    process: a grader killed by SIGKILL leaves no kernel behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--uid", type=int, default=None)
    parser.add_argument("--gid", type=int, default=None)
    parser.add_argument("--memory", type=int, default=0)
    parser.add_argument("--processes", type=int, default=0)
    parser.add_argument("--file-size", type=int, default=0)
    parser.add_argument("--cgroup", type=Path, action="append", default=[])
    parser.add_argument("--seccomp-file", type=Path, default=None)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    for procs in args.cgroup:  # before anything of the kernel's runs: every process it starts is counted
        procs.write_text(str(os.getpid()))
    if args.uid is not None:
        connection = connection_file(command)
        if connection is not None:
            os.chown(connection, args.uid, args.gid)
    if args.seccomp_file is not None:  # bubblewrap reads the filter from a descriptor it inherits
        descriptor = os.open(args.seccomp_file, os.O_RDONLY)
        os.set_inheritable(descriptor, True)
        command = [str(descriptor) if part == SECCOMP_FD else part for part in command]
    die_with_parent()
    apply_limits(args.memory, args.processes, args.file_size)
    os.chdir(args.workdir)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
