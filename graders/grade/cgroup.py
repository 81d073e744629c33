"""A control group per sandbox: a memory limit on what the kernel really uses, and what it used.

TensorFlow reserves far more address space than it touches, so a limit on
address space says little about memory. A cgroup counts the pages the
sandbox's processes really hold (their page cache and ``/tmp`` files
included), stops them at the limit, and keeps the peak and the CPU time
after they end. Both cgroup versions are handled:

- version 2 (``/sys/fs/cgroup/cgroup.controllers``; current distributions):
  ``graders/SANDBOX`` under the root of the hierarchy, or under the folder
  ``GRADERS_CGROUP`` names (a tree delegated to a user who is not root);
- version 1 (one hierarchy per controller): ``graders-SANDBOX`` beside the
  grader's own group in the ``memory``, ``pids`` and ``cpuacct`` hierarchies.

Where neither can be written (a grader that is not root, with no delegated
tree), ``create`` gives None and the sandbox falls back to an address-space
limit (``sandbox.Isolation`` says so).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
# A cgroup v2 folder a grader that is not root may create groups in (``systemd-run --user -p Delegate=yes``).
DELEGATED = "GRADERS_CGROUP"
V1_CONTROLLERS = ("memory", "pids", "cpuacct")


@dataclass(frozen=True)
class CgroupUsage:
    """What a sandbox's processes used, read from its cgroup."""

    peak_memory_bytes: int | None  # the most memory charged at once (None: the kernel cannot tell)
    cpu_seconds: float | None  # user and system CPU time of every process, summed
    oom_killed: bool  # the memory limit was reached and a process was killed for it


def _own_groups() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and ``""`` -> its v2 path (``/proc/self/cgroup``)."""
    groups = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                groups[controller] = path
    return groups


def _alive(pid: int) -> bool:
    """A process of that pid exists (a pid reused since only keeps a group longer)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _parent_v2() -> Path | None:
    """The v2 folder new groups go in, with the memory and pids controllers enabled for them; None if unusable."""
    delegated = os.environ.get(DELEGATED)
    if delegated:
        parent = Path(delegated)
    elif os.geteuid() == 0 and (ROOT / "cgroup.controllers").is_file():
        parent = ROOT / "graders"
        try:
            _write(ROOT / "cgroup.subtree_control", "+memory +pids")
            parent.mkdir(exist_ok=True)
        except OSError:
            return None
    else:
        return None
    try:
        available = (parent / "cgroup.controllers").read_text().split()
        if "memory" not in available:
            return None
        _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in ("memory", "pids") if c in available))
    except OSError:
        return None
    return parent


def _parents_v1() -> dict[str, Path] | None:
    """Per v1 controller, the folder beside which new groups go (the grader's own group); None if unusable."""
    if os.geteuid() != 0:
        return None
    own = _own_groups()
    parents = {}
    for controller in V1_CONTROLLERS:
        mount = ROOT / controller
        if controller not in own or not (mount / "cgroup.procs").is_file():
            if controller == "memory":
                return None
            continue
        parents[controller] = mount / own[controller].lstrip("/")
    return parents


class Cgroup:
    """The cgroup (v2) or cgroups (v1, one per controller) of one sandbox."""

    def __init__(self, folders: dict[str, Path], version: int):
        self.folders, self.version = folders, version  # controller ("" for v2) -> folder

    @classmethod
    def create(cls, memory_bytes: int, processes: int) -> Cgroup | None:
        """A new group limited to ``memory_bytes`` (no swap beyond it) and ``processes`` tasks; None where no
        cgroup can be created here."""
        name = f"sandbox-{os.getpid()}-{secrets.token_hex(6)}"  # its creator's pid: ``sweep`` spares live ones
        parent = _parent_v2()
        if parent is not None:
            folder = parent / name
            try:
                folder.mkdir()
                _write(folder / "memory.max", str(memory_bytes))
                with contextlib.suppress(OSError):  # no swap accounting: nothing to limit
                    _write(folder / "memory.swap.max", "0")
                with contextlib.suppress(OSError):
                    _write(folder / "pids.max", str(processes))
            except OSError:
                with contextlib.suppress(OSError):
                    folder.rmdir()
                return None
            return cls({"": folder}, 2)
        parents = _parents_v1()
        if not parents:
            return None
        folders: dict[str, Path] = {}
        try:
            for controller, above in parents.items():
                folder = above / f"graders-{name}"
                folder.mkdir()
                folders[controller] = folder
            _write(folders["memory"] / "memory.limit_in_bytes", str(memory_bytes))
            with contextlib.suppress(OSError):  # memsw exists only with swap accounting
                _write(folders["memory"] / "memory.memsw.limit_in_bytes", str(memory_bytes))
            if "pids" in folders:
                _write(folders["pids"] / "pids.max", str(processes))
        except OSError:
            cls(folders, 1).remove()
            return None
        return cls(folders, 1)

    def procs_files(self) -> list[Path]:
        """The ``cgroup.procs`` files a process writes its pid to, to join (``sandbox_launch --cgroup``)."""
        return [folder / "cgroup.procs" for folder in self.folders.values()]

    def _read(self, controller: str, name: str) -> str | None:
        try:
            return (self.folders[controller] / name).read_text()
        except (OSError, KeyError):
            return None

    def _key(self, controller: str, name: str, key: str) -> int | None:
        """One ``key value`` line of a flat-keyed file."""
        for line in (self._read(controller, name) or "").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == key:
                return int(parts[1])
        return None

    def usage(self) -> CgroupUsage:
        """Peak memory, CPU time and whether the limit killed something, so far (still readable once the
        processes have ended, until ``remove``)."""
        if self.version == 2:
            peak = self._read("", "memory.peak")
            cpu = self._key("", "cpu.stat", "usage_usec")
            oom = self._key("", "memory.events", "oom_kill")
            return CgroupUsage(int(peak) if peak else None, cpu / 1e6 if cpu is not None else None, bool(oom))
        peak = self._read("memory", "memory.max_usage_in_bytes")
        cpu = self._read("cpuacct", "cpuacct.usage")
        oom = self._key("memory", "memory.oom_control", "oom_kill")
        failures = self._read("memory", "memory.failcnt")
        return CgroupUsage(
            int(peak) if peak else None,
            int(cpu) / 1e9 if cpu else None,
            bool(oom) if oom is not None else bool(failures and int(failures)),
        )

    def pids(self) -> list[int]:
        """The processes still in the group."""
        text = self._read("" if self.version == 2 else "memory", "cgroup.procs") or ""
        return [int(pid) for pid in text.split()]

    @staticmethod
    def sweep(older_than: float = 600.0) -> int:
        """Delete the empty groups of sandboxes whose grader was killed (``remove`` never ran): groups named by
        ``create`` whose creating process is gone, made more than ``older_than`` seconds ago; how many were
        deleted. A live grader's groups, empty or not, are never touched."""
        parents = [(folder, "sandbox-*") for folder in [_parent_v2()] if folder is not None]
        parents += [(folder, "graders-sandbox-*") for folder in (_parents_v1() or {}).values()]
        removed = 0
        for parent, pattern in parents:
            for folder in parent.glob(pattern):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    creator = int(folder.name.removeprefix("graders-").split("-")[1])
                    if _alive(creator) or time.time() - folder.stat().st_ctime < older_than:
                        continue
                    if not (folder / "cgroup.procs").read_text().strip():
                        folder.rmdir()
                        removed += 1
        return removed

    def remove(self, wait: float = 5.0) -> None:
        """Kill what is left in the group and delete it (a folder that stays busy is left for the kernel to
        free with its last process)."""
        deadline = time.monotonic() + wait
        for folder in reversed(list(self.folders.values())):
            while True:
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    for pid in self.pids():
                        with contextlib.suppress(OSError):
                            os.kill(pid, signal.SIGKILL)
                    time.sleep(0.05)
