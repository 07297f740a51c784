"""A private, throw-away PostgreSQL server for tests and local experiments.

Starts ``postgres`` from the system package on a temporary data directory and a free loopback
port, yields a SQLAlchemy URL, and stops the server afterwards. As root, the server runs as the
``postgres`` system user (PostgreSQL refuses to run as root).

Example:
    >>> from autogt.testing.postgres import private_postgres, postgres_available
    >>> if postgres_available():                       # doctest: +SKIP
    ...     with private_postgres() as url:
    ...         print(url.startswith("postgresql://"))
    True
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "postgres_available", "private_postgres", "pg_bin"]

_SEARCH = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin",
           "/usr/lib/postgresql/14/bin", "/usr/local/bin", "/usr/bin")


def pg_bin(name: str) -> str | None:
    """Path of a PostgreSQL server binary (``initdb``, ``pg_ctl``, ``postgres``), or None."""
    for folder in _SEARCH:
        path = Path(folder) / name
        if path.exists():
            return str(path)
    return shutil.which(name)


def postgres_available() -> bool:
    """Whether a PostgreSQL server and the psycopg (v3) driver are installed."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return all(pg_bin(n) for n in ("initdb", "pg_ctl", "postgres"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running private server: ``url`` for SQLAlchemy/Optuna, ``restart()`` and ``stop()``."""

    datadir: Path
    port: int
    user: str = "postgres"
    database: str = "autogt"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        full = list(cmd)
        if os.geteuid() == 0:
            full = ["runuser", "-u", "postgres", "--", *full]
        return subprocess.run(full, check=check, capture_output=True, text=True)

    def start(self) -> None:
        pg_ctl = pg_bin("pg_ctl")
        assert pg_ctl
        opts = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(pg_ctl, "-D", str(self.datadir / "data"), "-o", opts, "-l", str(self.datadir / "log"), "-w",
                  "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        pg_ctl = pg_bin("pg_ctl")
        assert pg_ctl
        self._run(pg_ctl, "-D", str(self.datadir / "data"), "-m", mode, "-w", "stop", check=False)

    def restart(self, down_s: float = 0.0) -> None:
        """Stop the server (dropping every connection), wait ``down_s`` seconds, start it again."""
        self.stop("immediate")
        time.sleep(down_s)
        self.start()


@contextlib.contextmanager
def private_postgres() -> Iterator[PostgresServer]:
    """Start a private PostgreSQL server on a temporary directory and a loopback port."""
    if not postgres_available():
        raise RuntimeError("PostgreSQL server binaries or psycopg are not installed (apt-get install postgresql)")
    tmp = Path(tempfile.mkdtemp(prefix="autogt-pg-"))
    os.chmod(tmp, 0o777)
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
    server = PostgresServer(datadir=tmp, port=_free_port())
    initdb = pg_bin("initdb")
    assert initdb
    server._run(initdb, "-D", str(tmp / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    try:
        server.start()
        createdb = pg_bin("createdb") or "createdb"
        server._run(createdb, "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", server.database)
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(tmp, ignore_errors=True)
