"""A throw-away PostgreSQL server for the gradebook tests: its own data folder, a Unix socket only."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

SERVER_USER = "postgres"  # initdb refuses to run as root; Debian's package creates this account


def postgres_bin(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, or in Debian's versioned folder."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def postgres_server(database: str = "gradebook") -> Iterator[str]:
    """Start a server, create ``database``, yield its SQLAlchemy URL; stop and delete everything after."""
    initdb, pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise FileNotFoundError("PostgreSQL's initdb and pg_ctl are not installed (Debian: apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="graders-postgres-"))
    data, socket = folder / "data", folder / "socket"
    socket.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, SERVER_USER)
        shutil.chown(socket, SERVER_USER)
    user = SERVER_USER if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    try:
        subprocess.run(_as_server_user([initdb, "-D", str(data), "-U", user, "--auth=trust", "--no-sync"]),
                       check=True, capture_output=True)
        options = f"-k {socket} -c listen_addresses='' -p 5432 -c fsync=off"
        subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w",
                                        "start"]), check=True, capture_output=True)
        try:
            createdb = postgres_bin("createdb") or "createdb"
            subprocess.run(_as_server_user([createdb, "-h", str(socket), "-U", user, database]), check=True,
                           capture_output=True)
            yield f"postgresql+psycopg2://{user}@/{database}?host={socket}"
        finally:
            subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
                           capture_output=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
