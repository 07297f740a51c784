"""Helpers for the distributed-search tests: databases, worker subprocesses, polling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from autogt.testing.postgres import PostgresServer


def make_db(server: PostgresServer, name: str) -> str:
    """Create database ``name`` on ``server``; returns its URL."""
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={server.port} user={server.user} dbname={server.database}",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://{server.user}@127.0.0.1:{server.port}/{name}"


def start_worker(study: str, storage: str, cwd: Path, *extra: str) -> subprocess.Popen[str]:
    """``python -m autogt.cli worker ... --json`` as a subprocess."""
    cmd = [sys.executable, "-m", "autogt.cli", "worker", "--study", study, "--storage", storage, "--json",
           "--poll", "0.2", *extra]
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def finish(proc: subprocess.Popen[str], timeout: float = 120.0) -> tuple[int, dict, str]:
    """Wait for a worker; -> (exit code, its --json object or {}, stderr)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"worker did not finish in {timeout}s; stderr:\n{err}") from None
    obj = json.loads(out) if out.strip() else {}
    return proc.returncode, obj, err


def wait_for(pred: Any, timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll ``pred()`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
