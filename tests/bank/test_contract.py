"""The shared bank contract (autogt.testing.bank) on a SQLite file and, when available, PostgreSQL."""

from __future__ import annotations

import pytest

from autogt.testing.bank import *  # noqa: F401,F403
from autogt.testing.postgres import postgres_available, private_postgres


@pytest.fixture(scope="module")
def _postgres():
    if not postgres_available():
        pytest.skip("PostgreSQL server or psycopg not installed")
    with private_postgres() as server:
        yield server


_counter = iter(range(10**6))


@pytest.fixture(params=["sqlite", "postgresql"])
def bank_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bank.db'}"
    server = request.getfixturevalue("_postgres")
    name = f"bank{next(_counter)}"
    server._run("createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", name)
    return server.url.rsplit("/", 1)[0] + "/" + name
