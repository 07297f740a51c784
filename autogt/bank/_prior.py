"""Transfer priors: what similar bank tasks say about a new task's search space (pure functions).

A :class:`Prior` holds, for each search-space parameter, a similarity-weighted distribution over its
values (how often each value appears among the best designs of each similar task), and a short list
of concrete designs to try first: designs ranked by their similarity-weighted quantile across the
similar tasks (a design good on every similar task beats one that is best on a single task).

Each similar task's weight is its similarity times its :func:`reliability`: the rank agreement of
validation and test results across its designs. On a task whose validation ranking barely predicts
its test ranking (a small or noisy split) the ranking of designs is mostly noise, and it should not
steer a new task however similar it looks.

Designs are matched across tasks by their space ``key`` and turned into the new space's parameters by
a ``to_params(design) -> dict | None`` function (``None``: the design does not fit the new space).

Example:
    >>> from autogt.bank._records import BankDesign, BankRecord, BankResult
    >>> def rec(task, k, v):
    ...     d = BankDesign(hash=k, spec_json="{}", key=k, params={"op": k})
    ...     return BankRecord(BankResult(task=task, design=k, val=v, metric="accuracy"), d)
    >>> records = {"a": [rec("a", "gcn", 0.9), rec("a", "gin", 0.5)], "b": [rec("b", "gcn", 0.8), rec("b", "gin", 0.7)]}
    >>> p = build_prior([("a", 1.0), ("b", 0.5)], records, lambda d: dict(d.params), top=1)
    >>> p.dims["op"], p.designs[0]
    ({'gcn': 1.0}, {'op': 'gcn'})
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autogt.bank._records import BankDesign, BankRecord

__all__ = ["Prior", "build_prior", "quantiles", "reliability", "task_weights", "LOWER_IS_BETTER"]

LOWER_IS_BETTER = ("rmse", "mae")
ToParams = Callable[[BankDesign], "Mapping[str, Any] | None"]


@dataclass(frozen=True)
class Prior:
    """A transfer prior over a search space.

    Attributes:
        tasks: ``(task name, similarity)`` of the bank tasks it was built from, most similar first.
        dims: parameter -> value -> probability (each inner dict sums to 1).
        designs: concrete parameter dicts to try first, best first.
        reliability: task name -> the :func:`reliability` its weight was multiplied by.
    """

    tasks: tuple[tuple[str, float], ...] = ()
    dims: dict[str, dict[Any, float]] = field(default_factory=dict)
    designs: tuple[dict[str, Any], ...] = ()
    reliability: dict[str, float] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.dims and not self.designs

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what ``search --json`` reports under ``"prior"``)."""
        return {
            "tasks": [[n, s] for n, s in self.tasks],
            "dims": {k: [[v, p] for v, p in d.items()] for k, d in self.dims.items()},
            "designs": [dict(d) for d in self.designs],
            "reliability": dict(self.reliability),
        }


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return value


def quantiles(values: Sequence[float], *, lower_is_better: bool = False) -> np.ndarray:
    """Quantile rank in ``(0, 1]`` of each value (1 = best), ties sharing their mean rank.

    Example:
        >>> quantiles([0.1, 0.3, 0.2]).tolist()
        [0.3333333333333333, 1.0, 0.6666666666666666]
    """
    v = np.asarray(values, dtype=np.float64)
    if lower_is_better:
        v = -v
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v), dtype=np.float64)
    ranks[order] = np.arange(1, len(v) + 1)
    # average ties
    _, inv, counts = np.unique(v, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    ranks = sums[inv] / counts[inv]
    return ranks / max(len(v), 1)


def reliability(records: Sequence[BankRecord], *, min_results: int = 8, full: float = 0.5) -> float:
    """How far a task's validation ranking of designs predicts its test ranking: ``rho / full`` clipped to
    ``[0, 1]``, with ``rho`` the Spearman correlation of validation and test values over the records
    holding both. A task with ``rho >= full`` (a moderate agreement) counts fully; below that its weight
    falls linearly to 0 at ``rho <= 0``.

    Returns 1 (no evidence against the task) when fewer than ``min_results`` records have both values.

    Example:
        >>> from autogt.bank._records import BankDesign, BankRecord, BankResult
        >>> def rec(i, val, test):
        ...     d = BankDesign(hash=str(i), spec_json="{}", key=str(i))
        ...     return BankRecord(BankResult(task="t", design=str(i), val=val, test=test, metric="rmse"), d)
        >>> round(reliability([rec(i, i, 2 * i) for i in range(10)]), 6)
        1.0
        >>> reliability([rec(i, i, 10 - i) for i in range(10)])   # validation ranks say nothing
        0.0
        >>> round(reliability([rec(i, i, (i * 7) % 10) for i in range(10)]), 3)  # a weak agreement: rho 0.27
        0.545
    """
    pairs = [(r.val, r.result.test) for r in records if r.val is not None and r.result.test is not None]
    if len(pairs) < max(min_results, 2):
        return 1.0
    a = quantiles([v for v, _ in pairs])
    b = quantiles([t for _, t in pairs])
    if a.std() < 1e-12 or b.std() < 1e-12:
        return 1.0
    rho = float(np.corrcoef(a, b)[0, 1])
    return float(min(max(rho / full, 0.0), 1.0))


def task_weights(
    similar: Sequence[tuple[str, float]],
    records: Mapping[str, Sequence[BankRecord]],
    *,
    power: float = 1.0,
    weigh_reliability: bool = True,
    reliabilities: Mapping[str, float] | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """``(weights, reliabilities)`` of the tasks in ``similar`` that have records: ``similarity ** power``
    times :func:`reliability` (1 with ``weigh_reliability=False``); ``reliabilities`` supplies values
    already computed."""
    known = reliabilities or {}
    rel = {name: (known[name] if name in known else reliability(records[name])) if weigh_reliability else 1.0
           for name, _ in similar if records.get(name)}
    weights = {name: max(float(s), 0.0) ** power * rel[name] for name, s in similar if name in rel}
    return weights, rel


def build_prior(
    similar: Sequence[tuple[str, float]],
    records: Mapping[str, Sequence[BankRecord]],
    to_params: ToParams,
    *,
    top: int = 20,
    n_designs: int = 5,
    min_distance: int = 1,
    candidates: int = 200,
    rank_by: str = "val+test",
    aggregate: str = "logit",
    power: float = 1.0,
    weigh_reliability: bool = True,
    reliabilities: Mapping[str, float] | None = None,
) -> Prior:
    """Build a :class:`Prior` from similar tasks and their records.

    Args:
        similar: ``(task name, similarity)`` pairs; similarities are the weights.
        records: task name -> its ``ok`` records.
        to_params: maps a stored design to the new space's parameters (``None`` = not representable).
        top: designs per similar task that vote in the per-parameter distributions.
        n_designs: concrete designs to propose.
        min_distance: proposed designs differ from each other in at least this many parameters.
        candidates: best designs per similar task considered for the concrete list.
        rank_by: ``val``, or ``val+test`` (mean of the validation and test quantiles where a test value
            exists: less noisy rankings of the similar tasks' designs).
        aggregate: how a design's quantiles on the similar tasks are combined: ``mean`` or ``logit``
            (mean log-odds, which rewards designs that are near the top everywhere).
        power: similarities are raised to this power before weighting (larger: trust the closest more).
        weigh_reliability: multiply each task's weight by its :func:`reliability`.
        reliabilities: task name -> reliability computed already (see :func:`task_weights`).
    """
    if rank_by not in ("val", "val+test"):
        raise ValueError(f"rank_by: {rank_by!r} is not allowed; choose val or val+test")
    if aggregate not in ("mean", "logit"):
        raise ValueError(f"aggregate: {aggregate!r} is not allowed; choose mean or logit")
    weights, rel = task_weights(similar, records, power=power, weigh_reliability=weigh_reliability,
                                reliabilities=reliabilities)
    tasks = tuple(sorted(((n, float(s)) for n, s in similar), key=lambda x: -x[1]))
    if not weights or sum(weights.values()) <= 0:
        return Prior(tasks=tasks, reliability=rel)
    params_cache: dict[str, dict[str, Any] | None] = {}

    def params_of(rec: BankRecord) -> dict[str, Any] | None:
        k = rec.design.key
        if k not in params_cache:
            p = to_params(rec.design)
            params_cache[k] = dict(p) if p is not None else None
        return params_cache[k]

    counts: dict[str, dict[Any, float]] = {}
    score: dict[str, float] = {}
    weight_seen: dict[str, float] = {}
    shortlist: set[str] = set()
    total_w = sum(weights.values())
    for name, w in weights.items():
        if w <= 0:  # an unreliable task votes for nothing
            continue
        recs = [r for r in records[name] if r.val is not None]
        lower = bool(recs) and recs[0].result.metric in LOWER_IS_BETTER
        q = quantiles([r.val for r in recs], lower_is_better=lower)  # type: ignore[misc]
        if rank_by == "val+test" and all(r.result.test is not None for r in recs):
            q = (q + quantiles([r.result.test for r in recs], lower_is_better=lower)) / 2  # type: ignore[misc]
        contrib = _logit(q) if aggregate == "logit" else q
        order = np.argsort(-q, kind="mergesort")
        voted = 0
        for idx in order:
            if voted >= top:
                break
            params = params_of(recs[idx])
            if params is None:
                continue
            voted += 1
            for key, value in params.items():
                counts.setdefault(key, {})
                hv = _hashable(value)
                counts[key][hv] = counts[key].get(hv, 0.0) + w / top
        listed = 0
        for idx in order:
            rec = recs[idx]
            score[rec.design.key] = score.get(rec.design.key, 0.0) + w * float(contrib[idx])
            weight_seen[rec.design.key] = weight_seen.get(rec.design.key, 0.0) + w
            if listed < candidates and params_of(rec) is not None:
                shortlist.add(rec.design.key)
                listed += 1
    dims = {k: {v: c / sum(d.values()) for v, c in sorted(d.items(), key=lambda kv: -kv[1])} for k, d in counts.items()}
    # a design missing from a similar task counts as median there
    missing = 0.0 if aggregate == "logit" else 0.5
    ranked = sorted(shortlist, key=lambda k: -(score[k] + missing * (total_w - weight_seen[k])) / total_w)
    by_key = {r.design.key: r for name in weights for r in records[name]}
    designs: list[dict[str, Any]] = []
    for k in ranked:
        if len(designs) >= n_designs:
            break
        params = params_of(by_key[k])
        if params is None:
            continue
        if any(_distance(params, d) < max(min_distance, 1) for d in designs):
            continue
        designs.append(params)
    return Prior(tasks=tasks, dims=dims, designs=tuple(designs), reliability=rel)


def _logit(q: np.ndarray) -> np.ndarray:
    c = np.clip(q, 1e-4, 1 - 1e-4)
    return np.log(c / (1 - c))


def _distance(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    keys = set(a) | set(b)
    return sum(1 for k in keys if _hashable(a.get(k)) != _hashable(b.get(k)))
