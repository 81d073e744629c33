"""The sandbox's view, as root and as an ordinary user: what a submission can and cannot reach.

A canary file is placed where a curious student would look (world-readable,
outside anything the sandbox shows), listeners wait on the host's loopback
and on a Unix socket, and a submission's answer cell (``sandbox_probe.py``)
tries them all while it is graded for real. Before that, the same user
outside the sandbox reads the canary and connects, so each check can fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT
from corpus import ATTACKS, write_corpus

from graders.grade.cgroup import CgroupUsage
from graders.grade.sandbox import FIRST_SANDBOX_UID, GiB, MiB, isolation
from graders.grade.seccomp import supported as seccomp_supported
from graders.grade.view import MERGED, SYSTEM, SYSTEM_FILES, bubblewrap_arguments, etc_files, python_paths
from graders.lessons.mnist_cnn.data import ENV_VAR

USER = "graders-sandbox-test"  # created when the suite runs as root
REQUIRED = os.environ.get("GRADERS_REQUIRE_SANDBOX") == "1"

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None and not REQUIRED,
    reason="bubblewrap is not installed (apt install bubblewrap); CI sets GRADERS_REQUIRE_SANDBOX=1 to fail instead",
)

LISTED = [
    "/",
    "/etc",
    "/home",
    "/root",
    "/var",
    "/var/lib",
    "/var/lib/postgresql",
    "/var/tmp",
    "/srv",
    "/opt",
    "/mnt",
    "/media",
    "/run",
    "/boot",
    "/sys",
    "/usr",
    "/usr/share",
    "/usr/local",
    "/tmp",
    "/dev",
    str(ROOT),
    str(ROOT.parent),
]
ETC = set(etc_files(0, 0, Path("/")) | {"ld.so.cache": "", "localtime": ""})
DEVICES = {
    "null",
    "zero",
    "full",
    "random",
    "urandom",
    "tty",
    "pts",
    "ptmx",
    "shm",
    "fd",
    "stdin",
    "stdout",
    "stderr",
    "core",
    "console",
    "mqueue",
}


def identities() -> list[str]:
    """``root`` (the suite is root: the probe also runs as an ordinary user) or ``self`` alone."""
    return ["root", "ordinary"] if os.geteuid() == 0 else ["ordinary"]


def _blocked_folders(paths: list[Path], uid: int) -> list[Path]:
    """Folders above ``paths`` that user ``uid`` (not their owner) may not pass through."""
    blocked = set()
    for path in paths:
        for folder in [*reversed(path.parents), path]:
            info = folder.stat()
            if info.st_uid != uid and not info.st_mode & 0o001:
                blocked.add(folder)
    return sorted(blocked)


@contextlib.contextmanager
def ordinary_user():
    """An unprivileged account (made if missing) allowed through the folders above the Python installation and
    the checkout (an ACL entry, removed afterwards); None when the suite is not root (it is ordinary itself)."""
    if os.geteuid() != 0:
        yield None
        return
    if not any(entry.pw_name == USER for entry in pwd.getpwall()):
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
    uid = pwd.getpwnam(USER).pw_uid
    blocked = _blocked_folders([Path(sys.executable), *python_paths(), ROOT], uid)
    saved = {
        folder: subprocess.run(
            ["getfacl", "--absolute-names", str(folder)], capture_output=True, text=True, check=True
        ).stdout
        for folder in blocked
    }
    try:
        for folder in blocked:
            subprocess.run(["setfacl", "-m", f"u:{USER}:x", str(folder)], check=True)
        yield USER
    finally:
        for acl in saved.values():
            subprocess.run(["setfacl", "--restore=-"], input=acl, text=True, check=True)


@contextlib.contextmanager
def home_of(user: str | None):
    """A folder the identity owns, outside pytest's own (which only its owner may enter), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="graders-test-home-"))
    folder.chmod(0o755)
    if user:
        shutil.chown(folder, user)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def as_identity(user: str | None, command: list[str], home: Path, **kwargs) -> subprocess.CompletedProcess:
    """Run ``command`` as ``user`` (None: as this process's user), with ``home`` as its HOME."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        **kwargs.pop("env", {}),
    }
    prefix = ["runuser", "-u", user, "--"] if user else []
    return subprocess.run(
        [*prefix, "env", "-i", *(f"{k}={v}" for k, v in env.items()), *command],
        capture_output=True,
        text=True,
        **kwargs,
    )


QUIET = {"list": [], "read": [], "write": [], "tcp": [], "unix": []}  # a probe that only grades (and touches memory)


def run_probe(user: str | None, home: Path, settings: dict) -> dict:
    """Grade the probe submission as ``user`` (None: this process's) with ``settings``; its report (the last line
    ``sandbox_probe.py`` prints: what the cell found, the score, the events, the resources)."""
    path = home / "settings.json"
    path.write_text(json.dumps(settings))
    path.chmod(0o644)
    probe = [sys.executable, str(Path(__file__).parent / "sandbox_probe.py"), str(path)]
    done = as_identity(user, probe, home, cwd=home, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def host():
    """Canary files (world-readable) and listeners (TCP on the loopback, a Unix socket in a folder, an abstract
    Unix socket) on the host, and the folders they are in (writable by anyone)."""
    token = secrets.token_hex(4)
    places = [Path("/var/tmp"), Path("/srv") if os.geteuid() == 0 else Path.home()]
    folders = [place / f"graders-canary-{token}" for place in places]
    for folder in folders:
        folder.mkdir(parents=True)
        folder.chmod(0o777)
        (folder / "canary.txt").write_text(f"CANARY-{token}")
        (folder / "canary.txt").chmod(0o644)
    tcp = socket.create_server(("127.0.0.1", 0))
    tcp.setblocking(False)
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(folders[0] / "socket"))
    (folders[0] / "socket").chmod(0o777)
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(f"\0graders-canary-{token}")
    for listener in (unix, abstract):
        listener.listen()
        listener.setblocking(False)
    listeners = {"tcp": tcp, "unix": unix, "abstract": abstract}
    settings = {
        "course": str(ROOT),
        "list": LISTED + [str(f) for f in folders],
        "read": [str(f / "canary.txt") for f in folders]
        + ["/etc/shadow", "/etc/hostname", str(ROOT / "source" / "numpy_forward" / "numpy_forward.ipynb")],
        # The canary folders (writable by anyone on the host), and inside the view: the folders it is built of
        "write": [str(f) for f in folders] + ["/", "/etc", "/dev", "/usr/lib", sys.prefix, str(ROOT)],
        "tcp": [["127.0.0.1", tcp.getsockname()[1]]],
        "unix": [str(folders[0] / "socket"), f"@graders-canary-{token}"],
        "touch_bytes": 200 * MiB,
    }
    yield token, folders, listeners, settings
    for listener in listeners.values():
        listener.close()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def accepted(listeners: dict) -> list[str]:
    """The listeners that took a connection since they were last asked."""
    taken = []
    for name, listener in listeners.items():
        with contextlib.suppress(BlockingIOError):
            while True:
                listener.accept()[0].close()
                taken.append(name)
    return taken


OUTSIDE = """
import json, socket, sys
settings = json.load(open(sys.argv[1]))
print(open(settings["read"][0]).read())
socket.create_connection(tuple(settings["tcp"][0]), timeout=5).close()
client = socket.socket(socket.AF_UNIX); client.connect(settings["unix"][1].replace("@", "\\0", 1)); client.close()
"""


@pytest.fixture(scope="module", params=identities())
def probed(request, host):
    """What the probe found as one identity: (identity, its report, the listeners that were reached)."""
    token, folders, listeners, settings = host
    with (
        ordinary_user() if request.param == "ordinary" else contextlib.nullcontext(None) as user,
        home_of(user) as home,
    ):
        path = home / "settings.json"
        path.write_text(json.dumps(settings))
        path.chmod(0o644)
        outside = as_identity(user, [sys.executable, "-c", OUTSIDE, str(path)], home)
        assert outside.returncode == 0 and f"CANARY-{token}" in outside.stdout, outside.stderr[-2000:]
        assert sorted(accepted(listeners)) == ["abstract", "tcp"]  # outside the sandbox, both connect
        report = run_probe(user, home, settings)
    assert report["probe"] is not None, report["events"]
    return request.param, report, accepted(listeners)


def _shown() -> list[Path]:
    return [
        *map(Path, SYSTEM),
        *map(Path, MERGED),
        *map(Path, SYSTEM_FILES),
        *python_paths(),
        *(Path("/etc") / name for name in ETC),
        Path("/dev"),
        Path("/proc"),
        Path("/tmp"),
    ]


def _may_list(folder: Path, entry: str) -> bool:
    """An entry the view may show in ``folder``: a path it shows, a folder above one, or the sandbox's own."""
    path = folder / entry
    if folder == Path("/tmp") and entry.startswith("graders-sandbox-"):
        return True
    if folder == Path("/dev"):
        return entry in DEVICES
    return any(path == shown or shown.is_relative_to(path) or path.is_relative_to(shown) for shown in _shown())


@pytest.mark.slow  # a real kernel per identity
def test_no_listing_shows_host_content(probed, host):
    identity, report, _ = probed
    _, folders, _, _ = host
    listings = report["probe"]["listings"]
    for folder, listing in listings.items():
        if isinstance(listing, list):
            extra = [entry for entry in listing if not _may_list(Path(folder), entry)]
            assert extra == [], f"{identity}: {folder} shows {extra}"
    for folder in [*folders, "/srv", "/home", "/opt", "/var", "/run", "/mnt", "/media", "/boot", "/sys"]:
        assert not isinstance(listings[str(folder)], list) or listings[str(folder)] == [], (identity, folder)
    assert listings["/etc"] and set(listings["/etc"]) <= ETC
    assert set(listings["/usr/share"]) <= {"zoneinfo"}
    assert any(entry.startswith("graders-sandbox-") for entry in listings["/tmp"])


@pytest.mark.slow  # a real kernel per identity
def test_canary_files_and_course_files_cannot_be_read_or_written(probed, host):
    identity, report, _ = probed
    token, folders, _, _ = host
    reads, writes = report["probe"]["reads"], report["probe"]["writes"]
    assert all(str(value).startswith("error:") for value in reads.values()), (identity, reads)
    assert f"CANARY-{token}" not in json.dumps(report)
    assert all(str(value).startswith("error:") for value in writes.values()), (identity, writes)
    assert not any((folder / "from-the-sandbox").exists() for folder in folders)


@pytest.mark.slow  # a real kernel per identity
def test_the_accounts_the_kernel_sees_are_its_own(probed):
    identity, report, _ = probed
    names = {line.split(":")[0] for line in report["probe"]["passwd"].splitlines()}
    assert names == {"root", "student"}, identity
    if identity == "root":  # a fresh uid of its own, with no account on the host
        assert report["probe"]["uid"] >= FIRST_SANDBOX_UID
    else:
        assert report["probe"]["uid"] == (pwd.getpwnam(USER).pw_uid if os.geteuid() == 0 else os.getuid())


@pytest.mark.slow  # a real kernel per identity
def test_the_kernel_sees_only_its_own_processes(probed):
    identity, report, _ = probed
    processes = report["probe"]["processes"]  # bubblewrap's first process, then the kernel: a PID namespace
    assert processes[0] == 1 and len(processes) <= 5, (identity, processes)


@pytest.mark.slow  # a real kernel per identity
def test_no_socket_connects_loopback_included(probed):
    identity, report, reached = probed
    sockets = report["probe"]["sockets"]
    assert sockets and all(str(value).startswith("error:") for value in sockets.values()), (identity, sockets)
    assert reached == [], identity


@pytest.mark.slow  # a real kernel per identity
def test_the_submission_keeps_its_score_and_its_usage_is_recorded(probed):
    identity, report, _ = probed
    assert report["score"] == 15, report["events"]
    used = report["resources"]
    assert used["peak_memory_bytes"] >= 200 * MiB  # the probe touched 200 MiB
    assert used["cpu_seconds"] > 0 and used["wall_seconds"] > 0
    expected = isolation() if identity == "root" or os.geteuid() != 0 else None
    if expected is not None:
        assert used["measured_by"] == ("cgroup" if expected.cgroup else "process")
    sandbox_notes = [event for event in report["events"] if event.startswith("sandbox:")]
    assert len(sandbox_notes) <= 1  # missing protections are said once
    if identity == "root":
        assert sandbox_notes == [] or "memory" in sandbox_notes[0]


@pytest.mark.slow  # a real kernel per identity
@pytest.mark.parametrize("identity", identities())
def test_the_memory_limit_stops_a_submission_that_uses_more(identity, host):
    """1 GiB allowed, 2 GiB touched: a cgroup stops the kernel at the limit; without one, MemoryError."""
    _, _, _, settings = host
    settings = {**settings, **QUIET, "touch_bytes": 2 * GiB, "limits": {"memory_bytes": 1 * GiB}}
    with ordinary_user() if identity == "ordinary" else contextlib.nullcontext(None) as user, home_of(user) as home:
        report = run_probe(user, home, settings)
    assert report["probe"] is None and report["score"] == 15
    events = "\n".join(report["events"])
    if report["resources"]["measured_by"] == "cgroup":
        assert "stopped at the memory limit of 1.0 GiB" in events and report["resources"]["memory_limit_reached"]
        assert report["resources"]["peak_memory_bytes"] >= 0.9 * GiB
    else:
        assert "MemoryError" in events


REACHING_OUT = ("read_gradebook_and_checks", "write_outside", "open_socket", "fork_bomb", "memory_bomb")


@pytest.mark.slow
def test_the_corpus_entries_that_reach_out_keep_their_scores_as_an_ordinary_user(sample_npz):
    """The adversarial corpus runs as root in test_grade_engine; its entries that read, write, connect or
    exhaust the machine run here as an ordinary user (bubblewrap in a user namespace)."""
    attacks = tuple(attack for attack in ATTACKS if attack.name in REACHING_OUT)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    with ordinary_user() as user, home_of(user) as home:
        notebooks = write_corpus(home / "submissions", attacks, listener_port=listener.getsockname()[1])
        data = home / "mnist.npz"
        shutil.copyfile(sample_npz, data)
        for path in [home / "submissions", data, *notebooks]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        done = as_identity(
            user,
            [
                sys.executable,
                "-m",
                "graders",
                "grade",
                *map(str, notebooks),
                "--assignment",
                "mnist_cnn",
                "--course",
                str(ROOT),
                "--output-dir",
                str(home / "results"),
                "--cell-timeout",
                "30",
                "--memory-gib",
                "4",
                "--max-processes",
                "400",
            ],
            home,
            cwd=home,
            env={ENV_VAR: str(data)},
            timeout=1200,
        )
        results = {
            attack.name: json.loads((home / "results" / f"{attack.name}.json").read_text())
            for attack in attacks
            if (home / "results" / f"{attack.name}.json").is_file()
        }
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for attack in attacks:
        result = results[attack.name]
        assert result["score"] == attack.expected, (attack.name, result["output"][:2000])
        outputs = result["output"] + "\n".join(test["output"] for test in result["tests"])
        assert attack.message_for(result) in outputs, (attack.name, outputs[:3000])
    with contextlib.suppress(BlockingIOError):
        assert listener.accept() is None, "a submission reached the grader's loopback"
    listener.close()


def test_a_delegated_cgroup_v2_folder_gets_a_group_per_sandbox(tmp_path, monkeypatch):
    """The cgroup v2 path, on a folder laid out as the kernel lays one out (this machine's CI has cgroup v1)."""
    from graders.grade.cgroup import DELEGATED, Cgroup

    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    monkeypatch.setenv(DELEGATED, str(tmp_path))
    group = Cgroup.create(2 * GiB, 64)
    assert group is not None and group.version == 2
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+memory +pids"
    folder = group.folders[""]
    assert folder.parent == tmp_path and (folder / "memory.max").read_text() == str(2 * GiB)
    assert (folder / "pids.max").read_text() == "64" and (folder / "memory.swap.max").read_text() == "0"
    assert group.procs_files() == [folder / "cgroup.procs"]
    (folder / "memory.peak").write_text("123456789\n")
    (folder / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert group.usage() == CgroupUsage(123456789, 2.5, True)
    (tmp_path / "cgroup.controllers").write_text("cpu pids\n")
    again = Cgroup.create(2 * GiB, 64)  # no memory controller to delegate: none there (as root, cgroup v1 if any)
    assert again is None or again.version == 1 and "" not in again.folders
    if again is not None:
        again.remove()


def test_the_note_names_each_missing_protection_once():
    from graders.grade.sandbox import Isolation

    assert Isolation("root", cgroup=True).note() == ""
    without_memory = Isolation("user-namespace", cgroup=False).note()
    assert without_memory.startswith("sandbox: isolation user-namespace")
    assert "a limit on real memory" in without_memory and "filesystem" not in without_memory
    bare = Isolation("none", cgroup=False, why="bubblewrap (bwrap) is not installed").note()
    for words in (
        "filesystem view",
        "network isolation",
        "a user of its own",
        "apt install bubblewrap",
        "user.max_user_namespaces",
        "bwrap) is not installed",
    ):
        assert words in bare


def test_the_view_shows_the_python_installation_but_never_the_checkout_or_the_system_wholesale():
    paths = python_paths()
    assert any(Path(sys.executable).resolve().is_relative_to(path) for path in paths)
    assert not any(path in (Path("/"), Path("/usr"), Path("/etc"), Path("/home"), Path("/root")) for path in paths)
    assert ROOT not in paths and not any(ROOT.is_relative_to(path) for path in paths)


@pytest.mark.parametrize("scratch_bytes", [0, 64 * MiB], ids=["tmp-on-disk", "tmp-in-memory"])
def test_a_python_installation_under_tmp_is_shown_inside_the_private_tmp(scratch_bytes):
    """A checkout cloned into /tmp with its .venv: the private /tmp must not hide it (bubblewrap for real)."""
    with (
        tempfile.TemporaryDirectory(prefix="graders-python-", dir="/tmp") as python,
        tempfile.TemporaryDirectory(prefix="graders-sandbox-", dir="/tmp") as root,
        tempfile.TemporaryDirectory(prefix="graders-private-") as etc,
    ):
        (Path(python) / "marker").write_text("the interpreter's files\n")
        for folder in ("exports", ".tmp", ".shm"):
            (Path(root) / folder).mkdir()
        for name, content in etc_files(os.getuid(), os.getgid(), Path(root)).items():
            (Path(etc) / name).write_text(content)
        for folder in (python, root):
            Path(folder).chmod(0o755)
        arguments = bubblewrap_arguments(
            Path(root),
            Path(etc),
            python=[*python_paths(), Path(python)],
            user_namespace=os.geteuid() != 0,
            scratch_bytes=scratch_bytes,
        )
        done = subprocess.run(
            ["bwrap", *arguments, "--", "/bin/sh", "-c", f"cat {python}/marker; ls /tmp; touch /tmp/scratch"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        on_disk = (Path(root) / ".tmp" / "scratch").exists()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("the interpreter's files")
    above_python = {path.relative_to("/tmp").parts[0] for path in python_paths() if path.is_relative_to("/tmp")}
    assert set(done.stdout.splitlines()[1:]) == {Path(python).name, Path(root).name, *above_python}
    assert on_disk == (scratch_bytes == 0)


@pytest.mark.slow  # a kernel that cannot start
def test_a_kernel_that_cannot_start_is_a_grader_error_never_a_zero_for_the_student(host):
    """16 MiB is too little for Python itself: the submission did nothing wrong, so the grade is in doubt."""
    _, _, _, settings = host
    with home_of(None) as home:
        report = run_probe(None, home, {**settings, **QUIET, "limits": {"memory_bytes": 16 * MiB}})
    assert report["probe"] is None and report["score"] == 0
    assert any(
        event.startswith("grader error: the kernel could not start in the sandbox") for event in report["events"]
    )


@pytest.mark.slow  # a real kernel per identity
def test_the_kernel_cannot_move_its_exports_make_vsock_sockets_or_user_namespaces(probed):
    identity, report, _ = probed
    probe = report["probe"]
    assert probe["move_exports"].startswith("error:"), identity  # a mount point: EBUSY
    if seccomp_supported():
        assert all(value.startswith("error:") for value in probe["families"].values()), (identity, probe["families"])
        assert probe["user_namespace"] == -1, identity


@pytest.mark.skipif(not isolation().cgroup, reason="no cgroup can be made here (not root, none delegated)")
def test_groups_a_killed_grader_left_are_swept_and_live_ones_kept():
    from graders.grade.cgroup import Cgroup

    made = subprocess.run(  # a grader that ends without ``remove``, as a killed one would
        [
            sys.executable,
            "-c",
            "from graders.grade.cgroup import Cgroup\nprint(*Cgroup.create(2**26, 16).folders.values(), sep='\\n')",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    left = [Path(line) for line in made.stdout.split()]
    live = Cgroup.create(64 * MiB, 16)  # this process's, with a process in it
    idle = Cgroup.create(64 * MiB, 16)  # this process's, empty (its kernel not started yet)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        for procs in live.procs_files():
            procs.write_text(str(sleeper.pid))
        assert left and all(folder.exists() for folder in left)
        assert Cgroup.sweep(older_than=60) == 0  # all new
        assert Cgroup.sweep(older_than=0) >= len(left)
        assert not any(folder.exists() for folder in left)
        assert all(folder.exists() for group in (live, idle) for folder in group.folders.values())
    finally:
        sleeper.kill()
        sleeper.wait()
        live.remove()
        idle.remove()
    assert not any(folder.exists() for group in (live, idle) for folder in group.folders.values())


def test_the_files_a_notebook_wrote_are_read_back_without_following_links(tmp_path):
    """What ``autograded/`` gets of the kernel's folder: regular files it wrote, not the grader's, hidden or
    exported ones, links or pipes, and no more than the budget."""
    from graders.grade.sandbox import Limits, Sandbox

    with Sandbox(Limits(memory_bytes=2 * GiB)) as sandbox:
        root = sandbox.root
        sandbox.add_bytes(b"released", "helper.py")
        (root / "side-effect.txt").write_text("written")
        (root / "plots").mkdir()
        (root / "plots" / "loss.png").write_bytes(b"\x89PNG")
        (root / ".cache").mkdir()
        (root / ".cache" / "hidden.txt").write_text("no")
        (root / ".secret").write_text("no")
        (sandbox.exports / "object.npy").write_bytes(b"no")
        (root / "outside").symlink_to(tmp_path)
        (tmp_path / "host.txt").write_text("host")
        (root / "link.txt").symlink_to(tmp_path / "host.txt")
        os.mkfifo(root / "pipe")
        (root / "zz-big.bin").write_bytes(b"x" * 64)
        assert sandbox.written_files({"helper.py"}) == {
            "plots/loss.png": b"\x89PNG", "side-effect.txt": b"written", "zz-big.bin": b"x" * 64}
        # Each file counts at least 4 KiB, and a folder's files come before its subfolders'.
        assert sandbox.written_files({"helper.py"}, total_bytes=2 * 4096) == {
            "side-effect.txt": b"written", "zz-big.bin": b"x" * 64}
        for depth in range(12):  # deeper than 8 folders is left out
            (root / Path(*["d"] * (depth + 1))).mkdir()
        (root / Path(*["d"] * 12) / "deep.txt").write_text("too deep")
        assert "d/d/d/d/d/d/d/d/d/d/d/d/deep.txt" not in sandbox.written_files(set())
