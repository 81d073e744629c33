"""Start a kernel inside the sandbox: run as ``python -m graders.grade.sandbox_launch``.

Called with root privileges inside fresh mount and network namespaces
(``unshare --mount --net``), it hides the given paths behind empty tmpfs
mounts, keeps the Python installation reachable, applies resource limits,
drops to the unprivileged user and replaces itself with the kernel. Without
root it applies the resource limits only.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import signal
import subprocess
import tempfile
from pathlib import Path


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _blocking_ancestor(path: Path) -> Path | None:
    """The highest ancestor of ``path`` that others may not traverse, if any."""
    for ancestor in reversed(path.parents):
        if ancestor != Path("/") and not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def hide(path: Path, keep: list[Path], stash: Path, scratch_bytes: int = 0) -> None:
    """Cover ``path`` with an empty tmpfs, bringing back only the ``keep`` paths inside it.

    With ``scratch_bytes``, the tmpfs is a writable scratch space of that size
    (for ``/tmp`` and ``/dev/shm``); otherwise it is an empty, read-only folder.
    """
    kept = [k for k in keep if k == path or path in k.parents]
    saved = []
    for inside in kept:
        target = Path(tempfile.mkdtemp(dir=stash) if inside.is_dir() else tempfile.mkstemp(dir=stash)[1])
        _mount("--bind", str(inside), str(target))
        saved.append((inside, target))
    if path.is_dir():
        options = f"mode=1777,size={scratch_bytes}" if scratch_bytes else "mode=755,size=1m"
        _mount("-t", "tmpfs", "-o", options, "tmpfs", str(path))
    else:
        _mount("--bind", "/dev/null", str(path))
    for inside, target in saved:
        if inside.is_dir() or target.is_dir():
            inside.mkdir(parents=True, exist_ok=True)
        else:
            inside.parent.mkdir(parents=True, exist_ok=True)
            inside.touch()
        _mount("--bind", str(target), str(inside))


def isolate(hidden: list[Path], scratch: list[Path], scratch_bytes: int, keep: list[Path], stash: Path) -> None:
    """Hide ``hidden``, empty ``scratch``, keep the ``keep`` paths reachable for an unprivileged user.

    ``stash`` is an empty folder outside every hidden path, where kept paths wait
    while their parent is covered; a tmpfs there keeps it empty for the host.
    """
    _mount("--make-rprivate", "/")
    _mount("-t", "tmpfs", "-o", "mode=700", "tmpfs", str(stash))
    for path in hidden:
        if path.exists():
            hide(path, keep, stash)
    for path in scratch:
        if path.is_dir():
            hide(path, keep, stash, scratch_bytes)
    for path in keep:
        blocking = _blocking_ancestor(path)
        if blocking is not None:
            hide(blocking, [path], stash)


def apply_limits(memory: int, processes: int, file_size: int) -> None:
    """Address space, process count, file size, no core dumps."""
    for limit, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_NPROC, processes),
                         (resource.RLIMIT_FSIZE, file_size), (resource.RLIMIT_CORE, 0)):
        if value:
            resource.setrlimit(limit, (value, value))


def connection_file(argv: list[str]) -> Path | None:
    """The kernel's ``-f CONNECTION_FILE`` argument."""
    for flag, value in zip(argv, argv[1:], strict=False):
        if flag == "-f":
            return Path(value)
    return None


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """SIGKILL this process when its parent dies.

    ``unshare --kill-child`` asks for that, but Linux clears the request when
    the user id changes, so it is made again after dropping privileges: a
    grader killed by SIGKILL leaves no kernel behind.
    """
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
    parser.add_argument("--hide", type=Path, action="append", default=[])
    parser.add_argument("--scratch", type=Path, action="append", default=[])
    parser.add_argument("--keep", type=Path, action="append", default=[])
    parser.add_argument("--stash", type=Path)
    parser.add_argument("kernel", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    kernel = args.kernel[1:] if args.kernel[:1] == ["--"] else args.kernel

    if os.geteuid() == 0:
        isolate([p.resolve() for p in args.hide], [p.resolve() for p in args.scratch], args.file_size,
                [p.resolve() for p in args.keep], args.stash)
        if args.uid is not None:
            connection = connection_file(kernel)
            if connection is not None:
                os.chown(connection, args.uid, args.gid)
            os.setgroups([])
            os.setgid(args.gid)
            os.setuid(args.uid)
    die_with_parent()
    apply_limits(args.memory, args.processes, args.file_size)
    os.chdir(args.workdir)
    os.execvp(kernel[0], kernel)


if __name__ == "__main__":
    main()
