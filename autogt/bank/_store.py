"""``Bank``: tasks, designs and results in one SQL database, plus the shipped read-only records.

The writable store is any SQLAlchemy URL: by default the SQLite file ``home()/bank.db`` (or
``$AUTOGT_BANK``); a PostgreSQL URL gives a bank shared by many machines. The records shipped with
autogt (files in the ``bank/`` folder at the top of the source tree) are loaded, on first read, into
an in-memory overlay that is never written; reads see both, the writable store winning on the same
``(task, design, seed, fidelity)``.

Writes are idempotent: a result whose ``(task, design, seed, fidelity)`` is stored already is ignored, unless
it has a better status (``ok`` over ``pruned`` over ``failed``), in which case it replaces the stored one. A
search whose worker was killed mid-trial records that trial as failed, and the re-queued trial that later
completes the same design must not be lost behind it.

Example:
    >>> from autogt.models.spec import ArchSpec
    >>> bank = Bank("sqlite://", shipped=False)
    >>> _ = bank.add_task(BankTask(name="toy", meta={"nodes_mean": 20.0}))
    >>> _ = bank.add_result("toy", ArchSpec(hidden=32), {"val": 0.8, "metric": "rocauc"}, seed=0, fidelity=10)
    >>> _ = bank.add_result("toy", ArchSpec(hidden=32), {"val": 0.8, "metric": "rocauc"}, seed=0, fidelity=10)
    >>> [r.val for r in bank.results("toy")]
    [0.8]
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, update

from autogt.bank import _similarity as sim
from autogt.bank._files import read_rows, shipped_files, write_rows
from autogt.bank._prior import LOWER_IS_BETTER
from autogt.bank._records import (
    BankDesign,
    BankError,
    BankRecord,
    BankResult,
    BankTask,
    _json_dumps,
    record_row,
    rows_to_records,
    task_row,
)
from autogt.bank._schema import (
    DESIGNS,
    RESULTS,
    TASKS,
    chunks,
    create_schema,
    insert_ignore,
    make_engine,
    resolve_url,
    write,
)

__all__ = ["Bank", "SHIPPED_DIR"]

SHIPPED_DIR = "bank"  # folder of shipped records at the top of the source tree
STATUS_RANK = {"failed": 0, "pruned": 1, "ok": 2}  # a stored result is replaced only by a better status


def insert_results(conn: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert result rows, ignoring keys already stored, except that a row replaces a stored one of the same
    ``(task, design, seed, fidelity)`` with a worse status (:data:`STATUS_RANK`)."""
    insert_ignore(conn, RESULTS, rows)
    better = [r for r in rows if STATUS_RANK.get(r["status"], 0) > 0]
    if not better:
        return
    worse: dict[tuple[Any, ...], tuple[int, str]] = {}  # stored non-ok results of these tasks (few)
    cols = (RESULTS.c.id, RESULTS.c.task, RESULTS.c.design, RESULTS.c.seed, RESULTS.c.fidelity, RESULTS.c.status)
    for names in chunks(sorted({r["task"] for r in better}), 500):
        query = select(*cols).where(RESULTS.c.task.in_(names), RESULTS.c.status != "ok")
        for row in conn.execute(query):
            worse[(row.task, row.design, row.seed, row.fidelity)] = (row.id, row.status)
    for r in better:
        key = (r["task"], r["design"], r["seed"], r["fidelity"])
        hit = worse.get(key)
        if hit is not None and STATUS_RANK.get(r["status"], 0) > STATUS_RANK.get(hit[1], 0):
            conn.execute(update(RESULTS).where(RESULTS.c.id == hit[0]).values(**r))
            worse[key] = (hit[0], r["status"])


def _task_values(t: BankTask) -> dict[str, Any]:
    return {
        "name": t.name,
        "fingerprint": t.fingerprint,
        "level": t.level,
        "kind": t.kind,
        "metric": t.metric,
        "meta": _json_dumps(t.meta),
        "embeddings": _json_dumps({k: list(v) for k, v in t.embeddings.items()}),
        "description": _json_dumps(t.description),
        "source": t.source,
        "created": time.time(),
    }


def _design_values(d: BankDesign) -> dict[str, Any]:
    return {"hash": d.hash, "spec": d.spec_json, "space": d.space, "key": d.key, "params": _json_dumps(d.params),
            "created": time.time()}


def _result_values(r: BankResult) -> dict[str, Any]:
    return {
        "task": r.task, "design": r.design, "seed": r.seed, "fidelity": r.fidelity, "status": r.status,
        "metric": r.metric, "val": r.val, "test": r.test, "num_params": r.num_params, "flops": r.flops,
        "latency_ms": r.latency_ms, "device": r.device, "source": r.source, "time": r.time,
        "metrics": _json_dumps(r.metrics),
    }  # fmt: skip


def _task_from_row(row: Any) -> BankTask:
    return BankTask(
        name=row.name, fingerprint=row.fingerprint, level=row.level, kind=row.kind, metric=row.metric,
        meta=json.loads(row.meta), embeddings=json.loads(row.embeddings), description=json.loads(row.description),
        source=row.source,
    )  # fmt: skip


def _record_from_row(row: Any) -> BankRecord:
    design = BankDesign(hash=row.design, spec_json=row.spec, space=row.space, key=row.key,
                        params=json.loads(row.params))
    result = BankResult(
        task=row.task, design=row.design, seed=row.seed, fidelity=row.fidelity, status=row.status,
        metric=row.metric, val=row.val, test=row.test, num_params=row.num_params, flops=row.flops,
        latency_ms=row.latency_ms, device=row.device, source=row.source, time=row.time or 1e-9,
        metrics=json.loads(row.metrics),
    )  # fmt: skip
    return BankRecord(result=result, design=design)


def merge_task(old: BankTask, new: BankTask) -> BankTask:
    """``new`` over ``old``: non-empty fields of ``new`` win; embeddings and meta are merged."""
    return BankTask(
        name=old.name,
        fingerprint=new.fingerprint or old.fingerprint,
        level=new.level or old.level,
        kind=new.kind or old.kind,
        metric=new.metric or old.metric,
        meta={**old.meta, **new.meta},
        embeddings={**old.embeddings, **new.embeddings},
        description=new.description or old.description,
        source=old.source or new.source,
    )


class Bank:
    """The task-model bank.

    Args:
        url: SQLAlchemy URL or SQLite file path; ``None`` uses ``$AUTOGT_BANK`` or ``home()/bank.db``.
        shipped: read the shipped records too: ``True`` for the ``bank/`` folder of the source tree,
            a folder or file path for others, ``False`` for none.

    Example:
        >>> bank = Bank("sqlite://", shipped=False)
        >>> bank.tasks()
        []
    """

    def __init__(self, url: str | os.PathLike[str] | None = None, *, shipped: bool | str | Path = True) -> None:
        self.url = resolve_url(url)
        self._engine: Engine = make_engine(self.url)
        create_schema(self._engine)
        if shipped is True:
            from autogt._paths import resource

            self._shipped: Path | None = resource(SHIPPED_DIR)
        else:
            self._shipped = Path(shipped) if shipped else None
        self._overlay: Engine | None = None

    def __repr__(self) -> str:
        return f"Bank({self.url!r})"

    def close(self) -> None:
        """Release database connections."""
        self._engine.dispose()
        if self._overlay is not None:
            self._overlay.dispose()

    # ------------------------------------------------------------------ writing
    def add_task(self, task: Any, *, name: str | None = None, embeddings: Mapping[str, Sequence[float]] | None = None,
                 source: str = "") -> BankTask:
        """Add or update a task (a ``Task``, its ``describe()`` dict or a ``BankTask``); returns the stored entry.

        Writing the same task twice is a no-op; new meta-features and embeddings are merged in.
        """
        new = BankTask.from_task(task, name=name, source=source)
        if embeddings:
            new = merge_task(new, BankTask(name=new.name, embeddings={k: tuple(v) for k, v in embeddings.items()}))
        return self._upsert_task(new)

    def _upsert_task(self, new: BankTask) -> BankTask:
        def _do(conn: Any) -> BankTask:
            query = select(TASKS).where(TASKS.c.name == new.name)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).first()
            if row is None:
                insert_ignore(conn, TASKS, [_task_values(new)])
                return new
            old = _task_from_row(row)
            merged = merge_task(old, new)
            if merged != old:
                values = _task_values(merged)
                values.pop("created")
                conn.execute(TASKS.update().where(TASKS.c.name == new.name).values(**values))
            return merged

        return write(self._engine, _do)

    def add_result(
        self,
        task: Any,
        spec: Any,
        result: Any,
        *,
        space: str = "",
        seed: int | None = None,
        fidelity: Any = None,
        source: str = "",
        device: str = "",
        key: str = "",
        params: Mapping[str, Any] | None = None,
    ) -> BankResult:
        """Store one result; the same ``(task, design, seed, fidelity)`` is stored once.

        Args:
            task: task name (created bare if unknown), ``Task`` or ``BankTask`` (added/merged first).
            spec: ``ArchSpec`` or ``BankDesign``.
            result: ``EvalResult`` or a metrics mapping (``val``, ``test``, ``metric``, ``num_params``...).
            space, key, params: design provenance (see :class:`BankDesign`).
            seed: defaults to the ``EvalResult``'s seed (0 for mappings).
            fidelity: ``Budget``, epochs or any text (see :func:`fidelity_key`).
            source, device: who produced it and where latency was measured.
        """
        bank_task = BankTask(name=task) if isinstance(task, str) else BankTask.from_task(task)
        if isinstance(spec, BankDesign):
            design = spec
        else:
            design = BankDesign.from_spec(spec, space=space, key=key, params=params)
        res = BankResult.from_eval(bank_task.name, design.hash, result, seed=seed, fidelity=fidelity, source=source,
                                   device=device, metric=bank_task.metric)
        if not isinstance(task, str):
            self._upsert_task(bank_task)
        self.add_records([], [BankRecord(result=res, design=design)])
        return res

    def add_records(self, tasks: Iterable[BankTask], records: Sequence[BankRecord], *, chunk: int = 20000) -> int:
        """Bulk insert-or-ignore of tasks (new names only), designs and results (a result with a better status
        replaces a stored one, see the module docstring); returns the number of new results."""
        task_rows = [_task_values(t) for t in tasks]
        task_rows += [_task_values(BankTask(name=n)) for n in {r.result.task for r in records}]
        before = self._count()

        def _tasks(conn: Any) -> None:
            insert_ignore(conn, TASKS, task_rows)

        write(self._engine, _tasks)
        for start in range(0, len(records), chunk):
            part = records[start : start + chunk]
            designs = list({r.design.hash: _design_values(r.design) for r in part}.values())
            results = [_result_values(r.result) for r in part]

            def _rest(conn: Any, designs: list[dict[str, Any]] = designs,
                      results: list[dict[str, Any]] = results) -> None:
                insert_ignore(conn, DESIGNS, designs)
                insert_results(conn, results)

            write(self._engine, _rest)
        return self._count() - before

    def _count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(RESULTS)).scalar_one())

    # ------------------------------------------------------------------ reading
    def _engines(self) -> list[Engine]:
        return [self._engine, *([self._overlay_engine()] if self._shipped else [])]

    def _overlay_engine(self) -> Engine:
        if self._overlay is None:
            overlay = make_engine("sqlite://")
            create_schema(overlay)
            for path in shipped_files(self._shipped) if self._shipped else []:
                tasks, records = rows_to_records(read_rows(path), source=f"shipped:{path.name}")
                _write_all(overlay, tasks, records)
            self._overlay = overlay
        return self._overlay

    def tasks(self) -> list[BankTask]:
        """All tasks, sorted by name (the writable store's entry wins over a shipped one)."""
        seen: dict[str, BankTask] = {}
        for engine in self._engines():
            with engine.connect() as conn:
                for row in conn.execute(select(TASKS)):
                    if row.name not in seen:
                        seen[row.name] = _task_from_row(row)
        return [seen[n] for n in sorted(seen)]

    def task(self, name: str) -> BankTask:
        """The task called ``name``; raises :class:`BankError` listing known names otherwise."""
        for engine in self._engines():
            with engine.connect() as conn:
                row = conn.execute(select(TASKS).where(TASKS.c.name == name)).first()
            if row is not None:
                return _task_from_row(row)
        known = [t.name for t in self.tasks()]
        raise BankError(f"unknown task {name!r}; known tasks: {', '.join(known) or '(none)'}")

    def counts(self) -> dict[str, int]:
        """Number of results per task name (shipped ones included, each stored result counted once)."""
        with self._engine.connect() as conn:
            out = {name: int(n) for name, n in
                   conn.execute(select(RESULTS.c.task, func.count()).group_by(RESULTS.c.task)).all()}
        if not self._shipped:
            return out
        unique = (RESULTS.c.task, RESULTS.c.design, RESULTS.c.seed, RESULTS.c.fidelity)
        with self._overlay_engine().connect() as conn:
            shipped = conn.execute(select(*unique)).all()
        names = sorted({row[0] for row in shipped})
        with self._engine.connect() as conn:
            mine = {tuple(row) for row in conn.execute(select(*unique).where(RESULTS.c.task.in_(names))).all()}
        for row in shipped:
            if tuple(row) not in mine:
                out[row[0]] = out.get(row[0], 0) + 1
        return out

    def results(self, task: str | BankTask | Any, *, keys: Iterable[str] | None = None,
                status: str | None = "ok", best: int | None = None) -> list[BankRecord]:
        """Results of ``task`` with their designs, in insertion order.

        Args:
            keys: only designs with these space keys.
            status: only results with this status (``None``: all).
            best: only the ``best`` results by ``val`` (lower is better for ``rmse``/``mae``), best first.
        """
        name = task if isinstance(task, str) else task.name
        key_list = list(keys) if keys is not None else None
        lower = False
        if best is not None:
            metric = next((t.metric for t in self.tasks() if t.name == name), "")
            lower = metric in LOWER_IS_BETTER
        seen: set[tuple[str, str, int, str]] = set()
        out: list[BankRecord] = []
        for engine in self._engines():
            query = (
                select(RESULTS, DESIGNS.c.spec, DESIGNS.c.space, DESIGNS.c.key, DESIGNS.c.params)
                .join(DESIGNS, DESIGNS.c.hash == RESULTS.c.design)
                .where(RESULTS.c.task == name)
                .order_by(RESULTS.c.id)
            )
            if status is not None:
                query = query.where(RESULTS.c.status == status)
            if key_list is not None:
                query = query.where(DESIGNS.c.key.in_(key_list))
            if best is not None:
                order = RESULTS.c.val.asc() if lower else RESULTS.c.val.desc()
                query = query.where(RESULTS.c.val.is_not(None)).order_by(None).order_by(order).limit(best)
            with engine.connect() as conn:
                rows = conn.execute(query).all()
            for row in rows:
                rec = _record_from_row(row)
                if rec.result.unique_key not in seen:
                    seen.add(rec.result.unique_key)
                    out.append(rec)
        if best is not None:
            out.sort(key=lambda r: float(r.result.val or 0.0) * (1.0 if lower else -1.0))
            out = out[:best]
        return out

    def similar(self, task: Any, k: int = 5, *, anchors: Mapping[str, float] | None = None,
                method: str = "auto") -> list[tuple[BankTask, float]]:
        """The ``k`` bank tasks most similar to ``task``, best first, with similarities in ``[0, 1]``.

        Args:
            task: a bank task name, a ``Task``/``BankTask`` or a ``describe()`` dict. A task is never
                returned as similar to itself (same name or same non-empty fingerprint).
            anchors: the query task's results on anchor designs (space key -> value), for ``anchors``.
            method: ``meta`` (meta-features), ``embedding:NAME`` (a stored embedding, e.g.
                ``embedding:fisher``), ``anchors`` (Kendall tau of anchor results), or ``auto``:
                anchors when given, mixed with meta-features; else a shared embedding; else meta.
        """
        query = self.task(task) if isinstance(task, str) else BankTask.from_task(task)
        pool = [t for t in self.tasks() if t.name != query.name
                and not (query.fingerprint and t.fingerprint == query.fingerprint)]
        if not pool:
            return []
        sims = self._similarities(query, pool, anchors, method)
        ranked = sorted(pool, key=lambda t: (-sims.get(t.name, 0.0), t.name))
        return [(t, float(sims.get(t.name, 0.0))) for t in ranked[: max(k, 0)]]

    def _similarities(self, query: BankTask, pool: list[BankTask], anchors: Mapping[str, float] | None,
                      method: str) -> dict[str, float]:
        def meta() -> dict[str, float]:
            return sim.meta_similarity(
                sim.task_features(query.meta, query.description),
                {t.name: sim.task_features(t.meta, t.description) for t in pool},
                query_cats={"level": query.level, "kind": query.kind, "metric": query.metric},
                pool_cats={t.name: {"level": t.level, "kind": t.kind, "metric": t.metric} for t in pool},
            )

        def ranks() -> dict[str, float]:
            if not anchors:
                raise BankError("method 'anchors' needs the query task's anchor results (anchors={key: value})")
            out = {}
            for t in pool:
                theirs = {r.key: r.val for r in self.results(t, keys=list(anchors)) if r.val is not None}
                out[t.name] = sim.rank_similarity(anchors, theirs)
            return out

        def embedding(name: str) -> dict[str, float]:
            if name not in query.embeddings:
                raise BankError(f"task {query.name!r} has no {name!r} embedding")
            return sim.embedding_similarity(query.embeddings[name], {t.name: t.embeddings.get(name, ()) for t in pool})

        if method == "meta":
            return meta()
        if method == "anchors":
            return ranks()
        if method.startswith("embedding:"):
            return embedding(method.split(":", 1)[1])
        if method != "auto":
            raise BankError(f"method: {method!r} is not allowed; choose one of auto, meta, anchors, embedding:NAME")
        if anchors:
            return sim.combine((ranks(), 2.0), (meta(), 1.0))
        shared = [n for n in query.embeddings if any(n in t.embeddings for t in pool)]
        if shared:
            return sim.combine((embedding(shared[0]), 1.0), (meta(), 1.0))
        return meta()

    # ------------------------------------------------------------------ files
    def export(self, path: str | os.PathLike[str], *, tasks: Iterable[str] | None = None,
               include_shipped: bool = False) -> int:
        """Write the bank (or some tasks) to a CSV / JSONL / parquet file; returns the number of rows.

        Shipped records are left out unless ``include_shipped``.
        """
        saved = self._shipped
        if not include_shipped:
            self._shipped = None
        try:
            wanted = set(tasks) if tasks is not None else None
            chosen = [t for t in self.tasks() if wanted is None or t.name in wanted]
            nested = str(path).lower().endswith((".jsonl", ".jsonl.gz"))

            def rows() -> Iterable[dict[str, Any]]:
                for t in chosen:
                    yield task_row(t, nested=nested)
                for t in chosen:
                    for rec in self.results(t, status=None):
                        yield record_row(rec, nested=nested)

            return write_rows(path, rows())
        finally:
            self._shipped = saved

    def import_(self, path: str | os.PathLike[str], *, source: str = "") -> int:
        """Load a CSV / JSONL / parquet bank file into the writable store; returns new results."""
        tasks, records = rows_to_records(read_rows(path), source=source or f"file:{Path(path).name}")
        for t in tasks:
            if t.fingerprint or t.meta or t.embeddings or t.description:
                self._upsert_task(t)
        return self.add_records(tasks, records)


def _write_all(engine: Engine, tasks: list[BankTask], records: list[BankRecord]) -> None:
    def _do(conn: Any) -> None:
        insert_ignore(conn, TASKS, [_task_values(t) for t in tasks])
        insert_ignore(conn, DESIGNS, list({r.design.hash: _design_values(r.design) for r in records}.values()))
        insert_results(conn, [_result_values(r.result) for r in records])

    write(engine, _do)
