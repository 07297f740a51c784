"""Fixtures for the distributed-search tests: one private PostgreSQL server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from autogt.testing.postgres import PostgresServer, postgres_available, private_postgres


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    if not postgres_available():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl, postgres) or psycopg 3 are not installed; "
                    "`apt-get install postgresql` (.ci/run does) to run the distributed tests")
    with private_postgres() as server:
        yield server
