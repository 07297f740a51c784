"""Mix'n'Match: one granularity per layer under a cost budget, and the Pareto set of (cost, metric).

MatFormer observed that, among the exponentially many per-layer choices, sub-models whose granularity
is non-decreasing with depth and changes as slowly as possible are the good ones. The *least-slope*
family of an ``L``-layer model with ``G`` granularities is::

    (g, ..., g, g+1, ..., g+1)    g = 0..G-2, the last k = 0..L-1 layers at g+1,   plus (G-1, ..., G-1)

ordered by increasing cost; the heuristic takes its most expensive member within the budget (the
largest uniform granularity that fits, topped up from the last layer backwards).

Refinements for small depths (they need validation data; ``max_evals`` bounds the scored sub-models):

- ``exact``: enumerate all ``G^L`` choices (``G^L <= 4096``) and score, per budget, the most expensive
  ones within it;
- ``evolution``: per budget, mutate the best choice found so far (one layer one granularity up or down,
  or a swap of two layers) and keep children within the budget.

Every scored choice enters the candidate pool; each budget gets the best scored candidate within it
(uniform choices are always scored, so the curve is on or above them) and the result carries the
Pareto set of the pool (cost up, metric strictly better).

Example:
    >>> least_slope_family(3, 2)
    [(0, 0, 0), (0, 0, 1), (0, 1, 1), (1, 1, 1)]
    >>> costs = {c: sum(c) for c in least_slope_family(3, 2)}
    >>> heuristic_choice(costs.__getitem__, 3, 2, limit=2.0)
    (0, 1, 1)
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from autogt.elastic._base import ElasticError
from autogt.elastic._budget import CostBudget, CostModel, parse_budgets

__all__ = [
    "REFINES",
    "Candidate",
    "MixNMatchResult",
    "least_slope_family",
    "heuristic_choice",
    "pareto_front",
    "mix_n_match",
]

REFINES = ("none", "exact", "evolution")
MAX_EXACT = 4096


@dataclass(frozen=True)
class Candidate:
    """One sub-model: a granularity index per elastic layer, its cost and (when scored) its metric.

    Attributes:
        choice: granularity index per elastic layer, in depth order.
        cost: the budgeted cost (absolute: parameters, FLOPs or milliseconds).
        fraction: ``cost`` over the full model's.
        val: validation metric (``None`` when not scored).
        source: ``uniform``, ``heuristic``, ``exact`` or ``evolution``.
    """

    choice: tuple[int, ...]
    cost: float
    fraction: float
    val: float | None = None
    source: str = "heuristic"

    def to_dict(self) -> dict[str, Any]:
        return {"choice": list(self.choice), "cost": self.cost, "fraction": self.fraction, "val": self.val,
                "source": self.source}


@dataclass
class MixNMatchResult:
    """What :func:`mix_n_match` found.

    Attributes:
        key: the budgeted cost.
        full_cost: cost of the full model.
        maximize: whether a larger metric is better.
        budgets: the budgets, in the order given.
        picks: the chosen candidate of each budget (same order).
        candidates: every candidate considered (scored ones carry ``val``).
        pareto: the Pareto set of the scored candidates (of the picks when nothing was scored), by cost.
    """

    key: str
    full_cost: float
    maximize: bool
    budgets: list[CostBudget]
    picks: list[Candidate]
    candidates: list[Candidate] = field(default_factory=list)
    pareto: list[Candidate] = field(default_factory=list)


def least_slope_family(num_layers: int, num_granularities: int) -> list[tuple[int, ...]]:
    """Non-decreasing, least-slope choices in order of increasing size (see module doc)."""
    out = []
    for g in range(num_granularities - 1):
        for k in range(num_layers):
            out.append((g,) * (num_layers - k) + (g + 1,) * k)
    out.append((num_granularities - 1,) * num_layers)
    return out


def heuristic_choice(cost: Callable[[tuple[int, ...]], float], num_layers: int, num_granularities: int,
                     limit: float) -> tuple[int, ...] | None:
    """The MatFormer heuristic: the most expensive least-slope choice with ``cost <= limit`` (``None`` if none)."""
    best = None
    for choice in least_slope_family(num_layers, num_granularities):
        if cost(choice) <= limit * (1 + 1e-9):
            best = choice
    return best


def pareto_front(candidates: Sequence[Candidate], maximize: bool) -> list[Candidate]:
    """Scored candidates not dominated by a cheaper-or-equal one, by increasing cost (metric strictly improving)."""
    scored = [c for c in candidates if c.val is not None and c.val == c.val]
    sign = 1.0 if maximize else -1.0
    scored.sort(key=lambda c: (c.cost, -sign * c.val))  # type: ignore[operator]
    front: list[Candidate] = []
    for c in scored:
        if not front or sign * c.val > sign * front[-1].val:  # type: ignore[operator]
            front.append(c)
    return front


def _slope(choice: tuple[int, ...]) -> tuple[int, int]:
    ups = sum(max(0, b - a) for a, b in itertools.pairwise(choice))
    downs = sum(max(0, a - b) for a, b in itertools.pairwise(choice))
    return downs, ups


def mix_n_match(
    model: Any,
    budgets: str | CostBudget | Sequence[str | CostBudget],
    *,
    task: Any = None,
    device: Any = None,
    scorer: Any = None,
    refine: str = "none",
    max_evals: int = 32,
    seed: int = 0,
    costs: CostModel | None = None,
) -> MixNMatchResult:
    """Choose one granularity per elastic layer for each budget (all budgets on one cost).

    Args:
        model: an elastic :class:`~autogt.models.AutoGTModel` (weights are only needed for scoring).
        budgets: e.g. ``"flops=0.5"``, ``"params=25%,50%,75%"`` or :class:`CostBudget` objects.
        task: the ``Task`` (scores on its validation split) or its ``describe()`` dict (costs only).
        device: device profile for ``latency_ms`` budgets.
        scorer: a :class:`~autogt.elastic.Scorer` (built from ``task`` when that is a ``Task``).
        refine: ``none`` (heuristic + uniform), ``exact`` or ``evolution`` (see module doc).
        max_evals: at most this many scored sub-models beyond the uniform and heuristic ones.
        seed: seeds ``evolution``.
        costs: a ready :class:`CostModel` (otherwise built from the model's spec, ``task`` and ``device``).

    Returns:
        A :class:`MixNMatchResult`.

    Raises:
        ElasticError: a dense model, budgets on different costs, a budget below the smallest sub-model,
            ``latency_ms`` without a device, or ``evolution`` without validation data.

    Example:
        >>> res = mix_n_match(model, "flops=40%,60%,80%", task=task)          # doctest: +SKIP
        >>> [(c.choice, round(c.fraction, 2), c.val) for c in res.picks]      # doctest: +SKIP
    """
    from autogt.elastic._score import Scorer
    from autogt.elastic._slice import extract_model

    if refine not in REFINES:
        raise ElasticError(f"refine: {refine!r} is not allowed; choose one of {', '.join(REFINES)}")
    budget_list = parse_budgets(budgets)
    keys = {b.key for b in budget_list}
    if len(keys) != 1:
        raise ElasticError(f"mix_n_match: budgets must all be on one cost, got {', '.join(sorted(keys))}")
    key = budget_list[0].key
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ElasticError(f"mix_n_match: expected an autogt model, got {type(model).__name__}")
    if costs is None:
        if task is None:
            raise ElasticError("mix_n_match: pass task= (a Task, or its describe() dict with 'meta' size statistics)")
        costs = CostModel(spec, task.describe() if hasattr(task, "describe") else task, device)
    if scorer is None and task is not None and hasattr(task, "graphs"):
        scorer = Scorer.for_task(task, spec)
    if refine == "evolution" and scorer is None:
        raise ElasticError("refine='evolution' needs validation data (pass task= a Task)")
    num_layers, num_g = len(costs.layers), costs.num_granularities

    def cost(choice: tuple[int, ...]) -> float:
        return costs.value(choice, key)

    full = cost((num_g - 1,) * num_layers)
    smallest = cost((0,) * num_layers)
    limits = [b.limit(full) for b in budget_list]
    for b, lim in zip(budget_list, limits, strict=True):
        if lim < smallest * (1 - 1e-9):
            raise ElasticError(
                f"budget {b}: below the smallest sub-model ({key} {smallest:.4g} = {smallest / full:.1%} of the full "
                f"model's {full:.4g}); feasible: {key} >= {smallest / full:.1%}"
            )

    pool: dict[tuple[int, ...], Candidate] = {}
    evals = {"extra": 0}

    def add(choice: tuple[int, ...], source: str, *, score: bool, extra: bool = False) -> Candidate:
        cand = pool.get(choice)
        if cand is None:
            c = cost(choice)
            cand = Candidate(choice, c, c / full if full else 0.0, None, source)
        if score and scorer is not None and cand.val is None:
            if extra:
                if evals["extra"] >= max_evals:
                    pool.setdefault(choice, cand)
                    return cand
                evals["extra"] += 1
            val = scorer.score(extract_model(model, choice, costs.task))
            cand = Candidate(cand.choice, cand.cost, cand.fraction, val, cand.source)
        pool[choice] = cand
        return cand

    for g in range(num_g):
        add((g,) * num_layers, "uniform", score=True)
    heuristic = []
    for lim in limits:
        choice = heuristic_choice(cost, num_layers, num_g, lim)
        assert choice is not None  # feasibility checked above
        heuristic.append(add(choice, "heuristic", score=True))

    if refine == "exact":
        total = num_g**num_layers
        if total > MAX_EXACT:
            raise ElasticError(f"refine='exact': {num_g}^{num_layers} = {total} choices is too many "
                               f"(at most {MAX_EXACT}); use refine='evolution'")
        everything = list(itertools.product(range(num_g), repeat=num_layers))
        per_budget = max(1, max_evals // len(limits))
        for lim in limits:
            fitting = [c for c in everything if cost(c) <= lim * (1 + 1e-9)]
            fitting.sort(key=lambda c: (-cost(c), _slope(c)))
            for choice in fitting[:per_budget]:
                add(choice, "exact", score=True, extra=True)
    elif refine == "evolution":
        rng = random.Random(seed)
        per_budget = max(1, max_evals // len(limits))
        for lim, start in zip(limits, heuristic, strict=True):
            for _ in range(per_budget * 4):  # attempts; only new feasible children are scored
                if evals["extra"] >= max_evals:
                    break
                scored = [c for c in pool.values() if c.val is not None and c.cost <= lim * (1 + 1e-9)]
                scored.sort(key=lambda c: c.val if scorer.maximize else -c.val, reverse=True)  # type: ignore
                parent = list(rng.choice(scored[:3]).choice if scored else start.choice)
                i = rng.randrange(num_layers)
                if rng.random() < 0.3 and num_layers > 1:
                    j = rng.randrange(num_layers)
                    parent[i], parent[j] = parent[j], parent[i]
                else:
                    parent[i] = min(num_g - 1, max(0, parent[i] + rng.choice((-1, 1))))
                child = tuple(parent)
                if child in pool or cost(child) > lim * (1 + 1e-9):
                    continue
                add(child, "evolution", score=True, extra=True)

    candidates = sorted(pool.values(), key=lambda c: (c.cost, c.choice))
    picks = []
    for lim, heur in zip(limits, heuristic, strict=True):
        within = [c for c in candidates if c.cost <= lim * (1 + 1e-9)]
        if scorer is not None:
            best = heur
            for c in within:
                if scorer.better(c.val, best.val) or (c.val == best.val and c.cost < best.cost):
                    best = c
        elif refine == "exact":
            best = max(within, key=lambda c: (c.cost, tuple(-x for x in _slope(c.choice))))
        else:
            best = heur
        picks.append(best)
    maximize = bool(scorer.maximize) if scorer is not None else True
    pareto = pareto_front(candidates, maximize) if scorer is not None else sorted(set(picks), key=lambda c: c.cost)
    return MixNMatchResult(key, full, maximize, budget_list, picks, candidates, pareto)
