"""What a sandboxed kernel sees: a bubblewrap command line built from what it needs, nothing else.

The kernel's root folder is empty but for:

- the system's programs and libraries, read-only (``/usr/bin``, ``/usr/lib``,
  ``/usr/lib64``, ``/usr/libexec``, with ``/bin``, ``/lib``... as links where
  the system has merged them into ``/usr``, else bound too) and the time zone
  files; ``/usr/share``, ``/usr/local``, ``/usr/src`` and the rest stay out;
- the Python installation the grader runs, read-only: its prefixes and
  site-packages folders, wherever they are (a folder the grader hides inside
  them is covered by an empty one);
- ``/etc`` with only what the loader and the C library read: a ``passwd`` and
  ``group`` naming the kernel's user alone, ``hosts``, ``nsswitch.conf``, the
  loader's cache and the time zone;
- the sandbox's own folder (read-write, at the same path as on the host, so
  paths the grader hands over need no translation), a private ``/tmp`` and
  ``/dev/shm`` (size-limited tmpfs under a cgroup, else folders in its own),
  a minimal ``/dev`` and its own ``/proc``.

Nothing else is writable: the root folder and ``/dev`` are made read-only
once the view is built.

Namespaces of its own for mounts, processes, IPC, the host name, and the
network (a loopback of its own: nothing of the host's listens there). See
https://github.com/containers/bubblewrap for what each option does.
"""

from __future__ import annotations

import functools
import site
import sys
import sysconfig
from pathlib import Path

SECCOMP_FD = "{seccomp-fd}"  # replaced by sandbox_launch with the descriptor of the filter it opens
SYSTEM = ("/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libexec")
MERGED = ("/bin", "/sbin", "/lib", "/lib64", "/lib32")  # links into /usr on merged systems, folders otherwise
SYSTEM_FILES = ("/usr/share/zoneinfo",)
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")  # the loader's cache; the time zone (a link, followed)
TOO_BROAD = {Path("/"), Path("/usr"), Path("/etc"), Path("/home"), Path("/root"), Path("/var"), Path("/opt")}


@functools.cache  # the same for every sandbox of this process
def python_paths() -> tuple[Path, ...]:
    """The folders of the Python installation running this process: its prefixes (the interpreter, the
    standard library) and every site-packages folder on its path, the outermost of nested ones only.

    A prefix of ``/usr`` (a distribution's own Python) adds nothing: its files are in ``SYSTEM``.
    """
    candidates = {Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    candidates.add(Path(sys.executable).resolve().parent.parent)
    candidates |= {Path(p) for p in (sysconfig.get_paths().get("stdlib"), sysconfig.get_paths().get("platstdlib")) if p}
    candidates |= {
        Path(p) for p in [*sys.path, *site.getsitepackages()] if Path(p).name in ("site-packages", "dist-packages")
    }
    resolved = set()
    for path in candidates:
        for form in (path, path.resolve()):
            if form.is_dir() and form not in TOO_BROAD and not any(form.is_relative_to(s) for s in SYSTEM):
                resolved.add(form)
    return tuple(sorted(p for p in resolved if not any(p != q and p.is_relative_to(q) for q in resolved)))


def _folders_above(paths: list[Path]) -> list[Path]:
    """Every folder above ``paths``, outermost first: created with mode 555 before anything is bound in them
    (bubblewrap's own would be 700, closed to the kernel's user; and inside the private ``/tmp``, where a folder
    above a Python installation under ``/tmp`` lies, the kernel's own user would own a writable one)."""
    above: set[Path] = set()
    for path in paths:
        above |= {parent for parent in path.parents if parent != Path("/")}
    return sorted(above, key=lambda p: (len(p.parts), str(p)))


def etc_files(uid: int, gid: int, home: Path) -> dict[str, str]:
    """``/etc`` files written for the kernel: its user and group alone, localhost, files-only lookups."""
    return {
        "passwd": f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nstudent:x:{uid}:{gid}:student:{home}:/bin/sh\n",
        "group": f"root:x:0:\nstudent:x:{gid}:\n",
        "hosts": "127.0.0.1 localhost\n::1 localhost\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
    }


def bubblewrap_arguments(
    root: Path,
    etc: Path,
    hide: tuple[Path, ...] = (),
    user_namespace: bool = False,
    python: tuple[Path, ...] | list[Path] | None = None,
    scratch_bytes: int = 0,
    seccomp: bool = False,
) -> list[str]:
    """bwrap's options (without the program and ``--``) for a kernel whose folder is ``root``.

    ``etc``: a folder of the grader's holding ``etc_files`` (bound read-only, never the kernel's to change).
    ``/tmp`` and ``/dev/shm`` are tmpfs of ``scratch_bytes`` each (counted as memory by a cgroup), or with 0 the
    folders ``.tmp`` and ``.shm`` of ``root``. ``seccomp``:
    the launcher replaces ``SECCOMP_FD`` with a descriptor of ``seccomp.program()``. ``hide``: folders covered by
    an empty one where they lie inside a folder shown (the package inside a site-packages, say).
    ``user_namespace``: a grader that is not root gets its namespaces through a user namespace of its own.
    """
    python = python_paths() if python is None else python
    shown = [*(Path(p) for p in SYSTEM if Path(p).is_dir()), *python, root]
    arguments = [
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--hostname",
        "sandbox",
    ]
    if user_namespace:  # and no nested user namespace (the seccomp filter refuses one too)
        arguments += ["--unshare-user", "--disable-userns"]
    # /tmp and /dev/shm first: a Python installation or a sandbox folder under /tmp (a checkout cloned there, with
    # its .venv) is then bound inside the private /tmp, not hidden by it.
    arguments += ["--dev", "/dev", "--proc", "/proc"]
    for scratch, folder in (("/tmp", ".tmp"), ("/dev/shm", ".shm")):
        if scratch_bytes:  # in memory, where a cgroup counts it
            arguments += ["--perms", "1777", "--size", str(scratch_bytes), "--tmpfs", scratch]
        else:  # on disk, in the sandbox's folder (without a cgroup, memory it filled would be counted nowhere)
            arguments += ["--bind", str(root / folder), scratch]
    for folder in _folders_above([*shown, Path("/etc/x"), Path("/tmp/x"), *map(Path, SYSTEM_FILES)]):
        if folder not in (Path("/tmp"), Path("/dev"), Path("/dev/shm")):  # those are mounted above
            arguments += ["--perms", "0555", "--dir", str(folder)]
    for path in SYSTEM:
        arguments += ["--ro-bind-try", path, path]
    for path in MERGED:
        link = Path(path)
        if link.is_symlink():
            arguments += ["--symlink", str(link.readlink()), path]
        elif link.is_dir():
            arguments += ["--ro-bind", path, path]
    for path in SYSTEM_FILES:
        arguments += ["--ro-bind-try", path, path]
    for path in python:
        arguments += ["--ro-bind", str(path), str(path)]
    for name in sorted(p.name for p in etc.iterdir()):
        arguments += ["--ro-bind", str(etc / name), f"/etc/{name}"]
    for path in ETC_FILES:
        arguments += ["--ro-bind-try", path, path]
    # Its folder, and the exports folder in it, are mount points: the kernel can neither rename nor replace them
    # (a link in place of exports/ would send the grader's writes into a host folder the student picked).
    arguments += ["--bind", str(root), str(root), "--bind", str(root / "exports"), str(root / "exports")]
    if seccomp:
        arguments += ["--seccomp", SECCOMP_FD]
    for path in (path.resolve() for path in hide):
        if path.is_dir() and any(path != s and path.is_relative_to(s) for s in shown if s != root):
            arguments += ["--tmpfs", str(path), "--remount-ro", str(path)]
    # The folders made above are the sandbox's own (in user-namespace mode its user owns them): read-only, so the
    # kernel writes only in its folder, /tmp and /dev/shm.
    arguments += ["--remount-ro", "/dev", "--remount-ro", "/"]
    # ipykernel would watch for the grader's pid, which a PID namespace hides (its parent is bubblewrap's first
    # process): it would stop at once. The grader's death reaches it through ``--die-with-parent`` instead.
    return [*arguments, "--unsetenv", "JPY_PARENT_PID", "--chdir", str(root)]
