"""Typed bank records and the pure functions that turn them into flat rows and back.

A bank holds three kinds of things:

- :class:`BankTask`: a task by name, with its fingerprint, meta-features and embeddings.
- :class:`BankDesign`: an architecture by content hash (``ArchSpec.hash()``), with its canonical JSON,
  the search space it came from, a space-level ``key`` (e.g. the NAS-Bench-Graph architecture hash,
  shared by the same architecture across data sets) and the space parameters that produced it.
- :class:`BankResult`: one evaluation of a design on a task: metrics, cost (parameters, FLOPs, latency
  and the device it was measured on), seed, fidelity, source and time. ``(task, design, seed,
  fidelity)`` is unique.

:class:`BankRecord` pairs a result with its design; it is what :meth:`Bank.results` returns.

Example:
    >>> from autogt.models.spec import ArchSpec
    >>> d = BankDesign.from_spec(ArchSpec(hidden=32), space="demo")
    >>> d.key == d.hash and d.spec == ArchSpec(hidden=32)
    True
    >>> fidelity_key(50), fidelity_key({"epochs": 50, "patience": 5})
    ('epochs=50', 'epochs=50,patience=5')
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from autogt.models.spec import ArchSpec

__all__ = [
    "BankError",
    "BankTask",
    "BankDesign",
    "BankResult",
    "BankRecord",
    "fidelity_key",
    "task_row",
    "record_row",
    "rows_to_records",
    "ROW_COLUMNS",
]


class BankError(ValueError):
    """Bad bank input (unknown task, unreadable file, missing optional dependency...)."""


def _json_dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _json_loads(text: Any, default: Any) -> Any:
    if text is None or (isinstance(text, float) and math.isnan(text)) or text == "":
        return default
    if isinstance(text, (dict, list)):
        return text
    return json.loads(text)


def _finite_or_none(x: Any) -> float | None:
    if x is None:
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def spec_hash(spec_json: str) -> str:
    """``ArchSpec.hash()`` computed from already-canonical JSON (saves a second serialisation)."""
    return hashlib.sha256(spec_json.encode()).hexdigest()[:16]


def fidelity_key(fidelity: Any) -> str:
    """Canonical text for a fidelity: ``None`` -> ``""``, an int -> ``epochs=N``, a mapping or a
    ``Budget`` -> sorted ``key=value`` pairs (a Budget contributes ``epochs`` and ``patience``), a
    string as it is.

    Example:
        >>> fidelity_key(None), fidelity_key("tabular"), fidelity_key(10)
        ('', 'tabular', 'epochs=10')
    """
    if fidelity is None:
        return ""
    if isinstance(fidelity, str):
        return fidelity
    if isinstance(fidelity, bool):
        raise BankError(f"fidelity: expected int, str, mapping or Budget, got {fidelity!r}")
    if isinstance(fidelity, int):
        return f"epochs={fidelity}"
    if isinstance(fidelity, Mapping):
        return ",".join(f"{k}={fidelity[k]}" for k in sorted(fidelity))
    if hasattr(fidelity, "epochs") and hasattr(fidelity, "patience"):  # autogt.train.Budget
        return f"epochs={fidelity.epochs},patience={fidelity.patience}"
    raise BankError(f"fidelity: expected int, str, mapping or Budget, got {type(fidelity).__name__}")


@dataclass(frozen=True)
class BankTask:
    """A task as the bank knows it (no data).

    Attributes:
        name: unique task name (``bbbp``, ``nasbench/cora``...).
        fingerprint: content hash of the data and split (``Task.fingerprint``).
        level, kind, metric: as in ``Task``.
        meta: meta-features (``Task.meta``).
        embeddings: named task embeddings, e.g. ``{"fisher": (...)}``.
        description: ``Task.describe()`` or any JSON-able description.
        source: where the task entry came from (``evaluate``, ``nasbench``, a file name...).
    """

    name: str
    fingerprint: str = ""
    level: str = ""
    kind: str = ""
    metric: str = ""
    meta: dict[str, float] = field(default_factory=dict)
    embeddings: dict[str, tuple[float, ...]] = field(default_factory=dict)
    description: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise BankError("task: a name is required")
        object.__setattr__(self, "meta", {str(k): float(v) for k, v in dict(self.meta).items()})
        object.__setattr__(
            self, "embeddings", {str(k): tuple(float(x) for x in v) for k, v in dict(self.embeddings).items()}
        )

    @classmethod
    def from_task(cls, task: Any, *, name: str | None = None, source: str = "") -> BankTask:
        """From a ``Task``, a ``Task.describe()`` dict or a ``BankTask`` (returned as is unless renamed)."""
        if isinstance(task, BankTask):
            return task if name is None else BankTask(**{**task.to_dict(), "name": name})
        desc = task.describe() if hasattr(task, "describe") else dict(task)
        return cls(
            name=name or str(desc.get("name", "")),
            fingerprint=str(desc.get("fingerprint", "") or ""),
            level=str(desc.get("level", "") or ""),
            kind=str(desc.get("kind", "") or ""),
            metric=str(desc.get("metric", "") or ""),
            meta={k: v for k, v in dict(desc.get("meta", {}) or {}).items() if _finite_or_none(v) is not None},
            embeddings=dict(desc.get("embeddings", {}) or {}),
            description={k: v for k, v in desc.items() if k not in ("embeddings",)},
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class BankDesign:
    """A design: an ``ArchSpec`` stored by content hash.

    Attributes:
        hash: ``ArchSpec.hash()`` of ``spec_json``.
        spec_json: canonical ArchSpec JSON.
        space: the search space that proposed it (``""`` if unknown).
        key: space-level identity shared across tasks; defaults to ``hash``. NAS-Bench-Graph designs
            use the package's architecture hash, because their ArchSpecs carry per-data-set
            hyper-parameters and so differ between data sets.
        params: the space parameters that produced the spec (used to map designs into priors).
    """

    hash: str
    spec_json: str
    space: str = ""
    key: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.hash:
            raise BankError("design: a hash is required")
        if not self.key:
            object.__setattr__(self, "key", self.hash)

    @classmethod
    def from_spec(
        cls, spec: ArchSpec, *, space: str = "", key: str = "", params: Mapping[str, Any] | None = None
    ) -> BankDesign:
        """The design of ``spec`` (hash and canonical JSON computed here)."""
        text = spec.to_json()
        return cls(hash=spec_hash(text), spec_json=text, space=space, key=key, params=dict(params or {}))

    @property
    def spec(self) -> ArchSpec:
        return ArchSpec.from_json(self.spec_json)


@dataclass(frozen=True)
class BankResult:
    """One evaluation of a design on a task.

    Attributes:
        task: task name.
        design: design hash.
        seed: training seed.
        fidelity: canonical fidelity text (see :func:`fidelity_key`).
        status: ``ok``, ``failed`` or ``pruned``.
        metric: the task metric name; ``val``/``test`` are its values.
        num_params, flops, latency_ms: cost; ``device`` is where latency was measured.
        source: who produced it (``evaluate``, ``search``, ``nasbench``, a file...).
        time: unix time of the evaluation.
        metrics: any further metrics (JSON-able).
    """

    task: str
    design: str
    seed: int = 0
    fidelity: str = ""
    status: str = "ok"
    metric: str = ""
    val: float | None = None
    test: float | None = None
    num_params: int | None = None
    flops: float | None = None
    latency_ms: float | None = None
    device: str = ""
    source: str = ""
    time: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.task or not self.design:
            raise BankError("result: task and design are required")
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "val", _finite_or_none(self.val))
        object.__setattr__(self, "test", _finite_or_none(self.test))
        object.__setattr__(self, "flops", _finite_or_none(self.flops))
        object.__setattr__(self, "latency_ms", _finite_or_none(self.latency_ms))
        if self.num_params is not None:
            object.__setattr__(self, "num_params", int(self.num_params))
        if not self.time:
            object.__setattr__(self, "time", time.time())

    @property
    def unique_key(self) -> tuple[str, str, int, str]:
        return (self.task, self.design, self.seed, self.fidelity)

    @classmethod
    def from_eval(
        cls,
        task: str,
        design: str,
        result: Any,
        *,
        seed: int | None = None,
        fidelity: Any = None,
        source: str = "",
        device: str = "",
        metric: str = "",
    ) -> BankResult:
        """From an ``EvalResult`` or a metrics mapping (``{"val": .., "test": .., "metric": ..}``)."""
        if isinstance(result, Mapping):
            data = dict(result)
            extra = {
                k: v
                for k, v in data.items()
                if k not in ("val", "test", "metric", "status", "num_params", "params", "flops", "latency_ms", "seed")
            }
            return cls(
                task=task,
                design=design,
                seed=int(seed if seed is not None else data.get("seed", 0)),
                fidelity=fidelity_key(fidelity),
                status=str(data.get("status", "ok")),
                metric=str(data.get("metric", metric)),
                val=data.get("val"),
                test=data.get("test"),
                num_params=data.get("num_params", data.get("params")),
                flops=data.get("flops"),
                latency_ms=data.get("latency_ms"),
                device=device,
                source=source,
                metrics=extra,
            )
        extra = dict(getattr(result, "extra", {}) or {})
        extra.update({"epochs": result.epochs, "train_time_s": result.train_time_s})
        if result.reason:
            extra["reason"] = result.reason
        return cls(
            task=task,
            design=design,
            seed=int(seed if seed is not None else result.seed),
            fidelity=fidelity_key(fidelity),
            status=result.status,
            metric=result.metric or metric,
            val=result.val,
            test=result.test,
            num_params=result.params or None,
            flops=result.flops or None,
            latency_ms=result.latency_ms,
            device=device,
            source=source,
            metrics=extra,
        )


@dataclass(frozen=True)
class BankRecord:
    """A result together with its design (what :meth:`Bank.results` returns)."""

    result: BankResult
    design: BankDesign

    @property
    def val(self) -> float | None:
        return self.result.val

    @property
    def key(self) -> str:
        return self.design.key


# ------------------------------------------------------------------ flat rows (export / import)
ROW_COLUMNS = (
    "record", "task", "task_fingerprint", "task_level", "task_kind", "task_metric", "task_meta",
    "task_embeddings", "task_description", "task_source",
    "design", "design_space", "design_key", "design_spec", "design_params",
    "seed", "fidelity", "status", "metric", "val", "test", "num_params", "flops", "latency_ms",
    "device", "source", "time", "metrics",
)  # fmt: skip
"""Columns of an exported file. ``record`` is ``task`` (task columns filled) or ``result``."""

_JSON_COLUMNS = ("task_meta", "task_embeddings", "task_description", "design_params", "metrics")


def task_row(task: BankTask, *, nested: bool = False) -> dict[str, Any]:
    """The flat row of a task; ``nested=True`` keeps dict columns as dicts (JSONL) instead of JSON text."""
    enc = (lambda x: x) if nested else _json_dumps
    row: dict[str, Any] = dict.fromkeys(ROW_COLUMNS)
    row.update(
        record="task",
        task=task.name,
        task_fingerprint=task.fingerprint,
        task_level=task.level,
        task_kind=task.kind,
        task_metric=task.metric,
        task_meta=enc(task.meta),
        task_embeddings=enc({k: list(v) for k, v in task.embeddings.items()}),
        task_description=enc(task.description),
        task_source=task.source,
    )
    return row


def record_row(record: BankRecord, *, nested: bool = False) -> dict[str, Any]:
    """The flat row of a result and its design."""
    enc = (lambda x: x) if nested else _json_dumps
    r, d = record.result, record.design
    row: dict[str, Any] = dict.fromkeys(ROW_COLUMNS)
    row.update(
        record="result",
        task=r.task,
        design=d.hash,
        design_space=d.space,
        design_key=d.key,
        design_spec=d.spec_json,
        design_params=enc(d.params),
        seed=r.seed,
        fidelity=r.fidelity,
        status=r.status,
        metric=r.metric,
        val=r.val,
        test=r.test,
        num_params=r.num_params,
        flops=r.flops,
        latency_ms=r.latency_ms,
        device=r.device,
        source=r.source,
        time=r.time,
        metrics=enc(r.metrics),
    )
    return row


def _text(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return str(x)


def _opt_int(x: Any) -> int | None:
    v = _finite_or_none(x)
    return None if v is None else int(v)


def rows_to_records(rows: list[dict[str, Any]], *, source: str = "") -> tuple[list[BankTask], list[BankRecord]]:
    """Parse flat rows (from CSV, JSONL or parquet) into tasks and records.

    Rows whose ``record`` is ``task`` define tasks; every other row is a result. Tasks named only by
    results get a bare entry. ``source`` fills empty ``source`` fields.
    """
    tasks: dict[str, BankTask] = {}
    records: list[BankRecord] = []
    for i, row in enumerate(rows):
        try:
            name = _text(row.get("task"))
            if _text(row.get("record")) == "task":
                tasks[name] = BankTask(
                    name=name,
                    fingerprint=_text(row.get("task_fingerprint")),
                    level=_text(row.get("task_level")),
                    kind=_text(row.get("task_kind")),
                    metric=_text(row.get("task_metric")),
                    meta=_json_loads(row.get("task_meta"), {}),
                    embeddings=_json_loads(row.get("task_embeddings"), {}),
                    description=_json_loads(row.get("task_description"), {}),
                    source=_text(row.get("task_source")) or source,
                )
                continue
            design = BankDesign(
                hash=_text(row.get("design")),
                spec_json=_text(row.get("design_spec")),
                space=_text(row.get("design_space")),
                key=_text(row.get("design_key")),
                params=_json_loads(row.get("design_params"), {}),
            )
            result = BankResult(
                task=name,
                design=design.hash,
                seed=_opt_int(row.get("seed")) or 0,
                fidelity=_text(row.get("fidelity")),
                status=_text(row.get("status")) or "ok",
                metric=_text(row.get("metric")),
                val=row.get("val"),
                test=row.get("test"),
                num_params=_opt_int(row.get("num_params")),
                flops=row.get("flops"),
                latency_ms=row.get("latency_ms"),
                device=_text(row.get("device")),
                source=_text(row.get("source")) or source,
                time=_finite_or_none(row.get("time")) or 0.0,
                metrics=_json_loads(row.get("metrics"), {}),
            )
        except (BankError, ValueError, TypeError) as exc:
            raise BankError(f"row {i}: {exc}") from exc
        records.append(BankRecord(result=result, design=design))
    for rec in records:
        if rec.result.task not in tasks:
            tasks[rec.result.task] = BankTask(name=rec.result.task, source=source)
    return list(tasks.values()), records
