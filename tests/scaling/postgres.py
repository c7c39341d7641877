"""A throw-away PostgreSQL cluster on a free loopback port, for the shared-tracking tests.

Uses Debian's PostgreSQL binaries (`.ci/run` installs the `postgresql` package where it is
missing). The cluster lives in a temporary folder owned by an unprivileged user (the server
refuses to run as root), listens on 127.0.0.1 only, and asks for a password.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

USER = "mlflow"
DATABASE = "mlflow"


def postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl live: Debian's versioned folder, else PATH."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").is_file():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


@dataclass(frozen=True)
class Postgres:
    port: int
    password: str

    @property
    def backend_uri(self) -> str:
        """The URI MLflow gets: no password in it (libpq reads PGPASSWORD)."""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{DATABASE}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *command] if owner else command


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    """initdb, start, create the mlflow database; stop and remove it all afterwards.

    The cluster gets a folder of its own under the system's temporary folder, since the
    unprivileged owner must be able to reach it (pytest's tmp_path is private to root).
    """
    bindir = postgres_bindir()
    assert bindir is not None, "PostgreSQL is not installed (apt-get install postgresql)"
    owner = None
    if os.geteuid() == 0:  # postgres will not run as root
        owner = "postgres" if _user_exists("postgres") else "nobody"
    root = Path(tempfile.mkdtemp(prefix="fakeimage-postgres-"))
    root.chmod(0o755)
    data, sockets, logs = root / "pgdata", root / "pgsocket", root / "pglog"
    for folder in (data, sockets, logs):
        folder.mkdir()
        if owner:
            shutil.chown(folder, owner)
    password = "pw-" + os.urandom(8).hex()
    password_file = root / "pwfile"
    password_file.write_text(password + "\n")
    if owner:
        shutil.chown(password_file, owner)
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", USER, "-A", "scram-sha-256"]
    initdb += ["--pwfile", str(password_file), "-E", "UTF8", "--no-instructions"]
    subprocess.run(_as_owner(initdb, owner), check=True, capture_output=True, timeout=120)
    password_file.unlink()
    port = _free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(logs / "postgres.log")]
    subprocess.run(
        _as_owner([*pg_ctl, "-o", options, "-w", "-t", "60", "start"], owner),
        check=True,
        capture_output=True,
        timeout=90,
    )
    try:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user=USER,
            password=password,
            dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")
        yield Postgres(port, password)
    finally:
        subprocess.run(
            _as_owner([*pg_ctl, "-m", "fast", "-w", "-t", "60", "stop"], owner),
            capture_output=True,
            timeout=90,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
