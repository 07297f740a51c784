"""Cost budgets (``flops=0.5``, ``params=25%,50%``, ``latency_ms=2``) and the cost of a granularity choice.

Every cost comes from :func:`autogt.hardware.cost` (the one cost function shared with search
constraints and pruning targets): ``params`` exact, ``flops`` of one forward over ``spec.batch_size``
average graphs, ``latency_ms`` the latency predicted for that forward on a device profile.

Budget values: a fraction of the full model (``0.5``, any value <= 1), a percentage (``50%``) or an
absolute number (a value > 1: parameters, FLOPs or milliseconds). ``latency_ms`` values are absolute
milliseconds unless given as a percentage.

Example:
    >>> parse_budgets("params=25%,50%")
    [CostBudget(key='params', value=0.25, relative=True), CostBudget(key='params', value=0.5, relative=True)]
    >>> CostBudget.parse("latency_ms=2").limit(full=10.0)
    2.0
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autogt.elastic._base import ElasticError, granularities
from autogt.elastic._nested import Choice, resolve_choice
from autogt.elastic._slice import elastic_layers, slice_spec
from autogt.models.spec import ArchSpec

__all__ = ["KEYS", "CostBudget", "parse_budgets", "CostModel"]

KEYS = ("params", "flops", "latency_ms")
_NUMBER = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class CostBudget:
    """An upper bound on one cost.

    Attributes:
        key: ``params``, ``flops`` or ``latency_ms``.
        value: the bound: a fraction of the full model's cost when ``relative``, else absolute.
        relative: whether ``value`` is a fraction of the full model.
    """

    key: str
    value: float
    relative: bool

    def __post_init__(self) -> None:
        if self.key not in KEYS:
            raise ElasticError(f"budget: unknown cost {self.key!r}; choose one of {', '.join(KEYS)}")
        if not self.value > 0:
            raise ElasticError(f"budget {self.key}: must be > 0, got {self.value}")

    @classmethod
    def parse(cls, text: str) -> CostBudget:
        """One ``KEY=VALUE`` (see module doc)."""
        budgets = parse_budgets(text)
        if len(budgets) != 1:
            raise ElasticError(f"budget: expected one KEY=VALUE, got {text!r}")
        return budgets[0]

    def limit(self, full: float) -> float:
        """The absolute bound given the full model's cost."""
        return self.value * full if self.relative else self.value

    def __str__(self) -> str:
        if self.relative:
            return f"{self.key}={self.value * 100:g}%"
        return f"{self.key}={self.value:g}"


def _value(key: str, text: str) -> CostBudget:
    m = _NUMBER.match(text)
    if not m:
        raise ElasticError(f"budget {key}: {text!r} is not a number (use e.g. 0.5, 50% or an absolute count)")
    value, pct = float(m.group(1)), bool(m.group(2))
    if pct:
        return CostBudget(key, value / 100.0, True)
    if key == "latency_ms":
        return CostBudget(key, value, False)
    return CostBudget(key, value, value <= 1.0)


def parse_budgets(spec: str | CostBudget | Sequence[str | CostBudget]) -> list[CostBudget]:
    """Budgets from ``"flops=0.5"``, ``"params=25%,50%,75%"``, a ``CostBudget`` or a list of those.

    Raises:
        ElasticError: an unknown key, a malformed value or an empty list.
    """
    if isinstance(spec, CostBudget):
        return [spec]
    items = [spec] if isinstance(spec, str) else list(spec)
    out: list[CostBudget] = []
    for item in items:
        if isinstance(item, CostBudget):
            out.append(item)
            continue
        key = None
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            if "=" in part:
                key, _, part = (s.strip() for s in part.partition("="))
            if key is None:
                raise ElasticError(f"budget: {part!r} has no KEY= (use e.g. flops=0.5 or params=25%,50%)")
            out.append(_value(key, part))
    if not out:
        raise ElasticError("budget: none given (use e.g. --budget flops=0.5)")
    return out


@dataclass
class CostModel:
    """Costs of the sub-models of one elastic spec on one task (cached per choice).

    Args:
        spec: the elastic spec.
        task: a ``Task`` or its ``describe()`` dict (with ``meta`` size statistics).
        device: a device profile name or object for ``latency_ms`` (``None``: no latency).

    Example:
        >>> costs = CostModel(elastic_spec, task_info, device="cpu")  # doctest: +SKIP
        >>> costs(0)["flops"] / costs(None)["flops"]                  # doctest: +SKIP
        0.68
    """

    spec: ArchSpec
    task: Any
    device: Any = None
    _cache: dict[tuple[int, ...], dict[str, Any]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.layers = elastic_layers(self.spec, self.task)
        self.num_granularities = len(granularities(self.spec))
        if not self.layers:
            raise ElasticError("spec is dense (elastic is empty) or has no FFN: nothing to choose")
        if self.device is not None:
            from autogt.hardware import load_profile

            self.device = load_profile(self.device)

    def key(self, choice: Choice) -> tuple[int, ...]:
        return resolve_choice(choice, len(self.layers), self.num_granularities)

    def __call__(self, choice: Choice) -> dict[str, Any]:
        """``{"params", "flops", "latency_ms", "memory_mb", "estimate", "device", "batch"}`` of the sub-model."""
        key = self.key(choice)
        if key not in self._cache:
            self._cache[key] = self.of_spec(slice_spec(self.spec, key, self.task))
        return self._cache[key]

    def of_spec(self, spec: ArchSpec) -> dict[str, Any]:
        """The costs of any (dense) spec on this task and device."""
        from autogt.hardware import cost

        task = self.task.describe() if hasattr(self.task, "describe") else self.task
        return cost(spec, task, self.device).to_dict()

    def value(self, choice: Choice, key: str) -> float:
        """One cost of the sub-model at ``choice``.

        Raises:
            ElasticError: ``latency_ms`` without a device.
        """
        if key == "latency_ms" and self.device is None:
            raise ElasticError("budget latency_ms needs a device profile (e.g. --device cpu)")
        return float(self(choice)[key])
