"""Tables, engines and concurrency-safe writes of the bank (SQLAlchemy Core).

SQLite files run in WAL mode with a busy timeout; write transactions start with ``BEGIN IMMEDIATE``
so that concurrent writers queue on the lock instead of failing when upgrading a read lock, and a
write that still meets ``database is locked`` is retried with jittered back-off. Rows are written
with insert-or-ignore on the natural keys, so writing the same thing twice stores it once, from
one process or many.

Example:
    >>> engine = make_engine("sqlite://")
    >>> create_schema(engine)
    >>> sorted(METADATA.tables)
    ['bank_info', 'designs', 'results', 'tasks']
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.pool import StaticPool

__all__ = [
    "METADATA",
    "TASKS",
    "DESIGNS",
    "RESULTS",
    "SCHEMA_VERSION",
    "resolve_url",
    "make_engine",
    "create_schema",
    "write",
    "insert_ignore",
]

SCHEMA_VERSION = 1
METADATA = MetaData()

TASKS = Table(
    "tasks",
    METADATA,
    Column("name", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False, default=""),
    Column("level", String(16), nullable=False, default=""),
    Column("kind", String(16), nullable=False, default=""),
    Column("metric", String(16), nullable=False, default=""),
    Column("meta", Text, nullable=False, default="{}"),
    Column("embeddings", Text, nullable=False, default="{}"),
    Column("description", Text, nullable=False, default="{}"),
    Column("source", String(200), nullable=False, default=""),
    Column("created", Float, nullable=False, default=0.0),
)

DESIGNS = Table(
    "designs",
    METADATA,
    Column("hash", String(64), primary_key=True),
    Column("spec", Text, nullable=False),
    Column("space", String(200), nullable=False, default=""),
    Column("key", String(200), nullable=False, default=""),
    Column("params", Text, nullable=False, default="{}"),
    Column("created", Float, nullable=False, default=0.0),
    Index("ix_designs_key", "key"),
)

RESULTS = Table(
    "results",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task", String(200), nullable=False),
    Column("design", String(64), nullable=False),
    Column("seed", Integer, nullable=False, default=0),
    Column("fidelity", String(200), nullable=False, default=""),
    Column("status", String(16), nullable=False, default="ok"),
    Column("metric", String(16), nullable=False, default=""),
    Column("val", Float),
    Column("test", Float),
    Column("num_params", BigInteger),
    Column("flops", Float),
    Column("latency_ms", Float),
    Column("device", String(200), nullable=False, default=""),
    Column("source", String(200), nullable=False, default=""),
    Column("time", Float, nullable=False, default=0.0),
    Column("metrics", Text, nullable=False, default="{}"),
    UniqueConstraint("task", "design", "seed", "fidelity", name="uq_results_task_design_seed_fidelity"),
    Index("ix_results_task", "task"),
)

BANK_INFO = Table(
    "bank_info",
    METADATA,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

_CONFLICT_COLUMNS = {"tasks": ["name"], "designs": ["hash"], "results": ["task", "design", "seed", "fidelity"]}

T = TypeVar("T")


def resolve_url(url: str | os.PathLike[str] | None = None) -> str:
    """The bank URL: ``url``, else ``$AUTOGT_BANK``, else the SQLite file ``home()/bank.db``.

    A plain path (no ``://``) means a SQLite file at that path.

    Example:
        >>> resolve_url("/tmp/x.db")
        'sqlite:////tmp/x.db'
    """
    text = str(url) if url else os.environ.get("AUTOGT_BANK", "")
    if not text:
        from autogt._paths import home

        text = str(home() / "bank.db")
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _is_memory(url: str) -> bool:
    return url in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in url


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` for writes."""
    if not url.startswith("sqlite"):
        if url.startswith("postgresql://"):  # prefer psycopg 3 when it is the installed driver
            try:
                import psycopg  # noqa: F401

                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            except ImportError:
                pass
        return create_engine(url, pool_pre_ping=True)
    memory = _is_memory(url)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": 60.0, "check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("autogt_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError):
        text = str(exc).lower()
        return any(s in text for s in ("locked", "busy", "could not serialize", "deadlock", "connection"))
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def write(engine: Engine, fn: Callable[[Connection], T], *, attempts: int = 12) -> T:
    """Run ``fn(conn)`` in one write transaction, retrying on lock / busy / dropped-connection errors."""
    delay = 0.05
    for attempt in range(attempts):
        try:
            with engine.connect().execution_options(autogt_write=True) as conn, conn.begin():
                return fn(conn)
        except (OperationalError, DBAPIError) as exc:
            if attempt == attempts - 1 or not _retryable(exc):
                raise
            time.sleep(delay * (1.0 + random.random()))
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")  # pragma: no cover


def create_schema(engine: Engine) -> None:
    """Create missing tables (idempotent, safe when several processes do it at once)."""

    def _create(conn: Connection) -> None:
        METADATA.create_all(conn, checkfirst=True)
        insert_ignore(conn, BANK_INFO, [{"key": "schema_version", "value": str(SCHEMA_VERSION)}], ["key"])

    try:
        write(engine, _create)
    except (IntegrityError, OperationalError, DBAPIError) as exc:  # another process created them first
        if "already exists" not in str(exc) and not isinstance(exc, IntegrityError):
            raise
        write(engine, _create)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: list[str] | None = None,
                  *, chunk: int = 5000) -> None:
    """Insert ``rows``, skipping those whose unique key already exists (one statement per chunk)."""
    if not rows:
        return
    keys = keys or _CONFLICT_COLUMNS[table.name]
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
    else:  # generic fallback: row by row inside savepoints
        for row in rows:
            try:
                with conn.begin_nested():
                    conn.execute(insert(table), [row])
            except IntegrityError:
                pass
        return
    stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=keys)
    for start in range(0, len(rows), chunk):
        conn.execute(stmt, list(rows[start : start + chunk]))


def chunks(items: Iterable[T], size: int) -> Iterable[list[T]]:
    """Consecutive lists of at most ``size`` items."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
