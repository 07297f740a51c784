"""Typed values at the compression boundary: :class:`Target`, :class:`PruneConfig`, :class:`PruneResult`.

Targets are *what the pruned model may cost*:

- ``flops=F``: the pruned model has ``F`` times the dense model's FLOPs (``flops=0.5`` = half the FLOPs,
  a 50% reduction); ``F`` in ``(0, 1]``. FLOPs are :func:`autogt.hardware.flops.count_flops` on the task's
  average graph (plus the edge filter when edges are pruned).
- ``params=P``: ``P`` times the dense parameter count.
- ``latency_ms=L``: at most ``L`` milliseconds predicted by :func:`autogt.hardware.predict_latency` on the
  device profile ``PruneConfig.device`` (default ``cpu``) for one batch of ``spec.batch_size`` graphs.
- ``latency=R``: ``R`` times the dense model's predicted latency on that profile.

Several targets separated by commas (:func:`parse_targets`) prune to the first and keep the others as
upper bounds: ``flops=0.3,latency=0.4`` removes 70% of the FLOPs and, among the ways to do so, picks
one whose predicted latency is at most 0.4x the dense model's. FLOPs alone do not see that on a CPU an
attention head costs more time per FLOP than an FFN neuron, so a FLOPs-only mask keeps the slow parts.

Example:
    >>> Target.parse("flops=0.5")
    Target(metric='flops', value=0.5)
    >>> Target.parse("latency_ms=2.5").metric
    'latency_ms'
    >>> [str(t) for t in parse_targets("flops=0.3,latency=0.4")]
    ['flops=0.3', 'latency=0.4']
    >>> PruneConfig(method="taylor").method
    'taylor'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from autogt.models.spec import ArchSpec

__all__ = ["Target", "PruneConfig", "PruneResult", "METHODS", "parse_targets"]

METHODS = ("l0", "magnitude", "taylor")
_KINDS = ("flops", "params", "latency_ms", "latency")
_FRACTIONS = ("flops", "params", "latency")


@dataclass(frozen=True)
class Target:
    """A cost target (see module docstring).

    Attributes:
        metric: ``flops``, ``params``, ``latency`` or ``latency_ms``.
        value: fraction of the dense cost (flops, params, latency) or milliseconds (latency_ms).
    """

    metric: str
    value: float

    def __post_init__(self) -> None:
        if self.metric not in _KINDS:
            raise ValueError(f"target: {self.metric!r} is not allowed; choose one of {', '.join(_KINDS)}")
        if not math.isfinite(self.value) or self.value <= 0:
            raise ValueError(f"target: {self.metric} must be > 0, got {self.value}")
        if self.metric in _FRACTIONS and self.value > 1:
            raise ValueError(f"target: {self.metric}={self.value} is a fraction of the dense model; use a value in "
                             f"(0, 1] (e.g. {self.metric}=0.5 keeps half)")

    @classmethod
    def parse(cls, text: str | Target) -> Target:
        """``flops=0.5``, ``params=0.3``, ``latency=0.4`` or ``latency_ms=2.5``.

        Raises:
            ValueError: malformed text, unknown metric or out-of-range value.
        """
        if isinstance(text, Target):
            return text
        key, sep, value = str(text).partition("=")
        if not sep:
            raise ValueError(f"target: expected METRIC=VALUE (flops=0.5, params=0.5, latency=0.5, latency_ms=3), "
                             f"got {text!r}")
        try:
            number = float(value)
        except ValueError as exc:
            raise ValueError(f"target: {value!r} is not a number") from exc
        return cls(key.strip(), number)

    @property
    def cost_metric(self) -> str:
        """The :class:`~autogt.compress.CostModel` metric that measures this target."""
        return "latency_ms" if self.metric == "latency" else self.metric

    def ratio(self, dense: float) -> float:
        """The target as a fraction of the dense cost ``dense``."""
        if self.metric == "latency_ms":
            return min(1.0, self.value / dense) if dense > 0 else 1.0
        return self.value

    def __str__(self) -> str:
        return f"{self.metric}={self.value:g}"


def parse_targets(text: str | Target | Sequence[str | Target]) -> tuple[Target, ...]:
    """Targets from ``"flops=0.3,latency=0.4"`` (or a sequence): the first is the target, the others bounds.

    Raises:
        ValueError: no target, a malformed one, or the same metric twice.
    """
    if isinstance(text, Target):
        return (text,)
    parts = [p for p in (text.split(",") if isinstance(text, str) else text)]
    targets = tuple(Target.parse(p.strip() if isinstance(p, str) else p) for p in parts
                    if not (isinstance(p, str) and not p.strip()))
    if not targets:
        raise ValueError(f"target: expected METRIC=VALUE[,METRIC=VALUE...], got {text!r}")
    metrics = [t.cost_metric for t in targets]
    if len(set(metrics)) != len(metrics):
        raise ValueError(f"target: {text!r} constrains the same quantity twice")
    return targets


@dataclass(frozen=True)
class PruneConfig:
    """How to prune.

    Attributes:
        method: ``l0`` (hard-concrete gates, Lagrangian, distillation), ``magnitude`` or ``taylor``
            (Torch-Pruning DepGraph baselines over heads and FFN neurons).
        epochs: mask-training epochs (``l0``).
        finetune_epochs: fine-tuning epochs of the pruned model (every method).
        seed: seeds gates, batch order and dropout.
        granularities: what L0 gates may remove: ``heads neurons attn local ffn layers hidden``.
        edges: also learn an input-edge filter (the graph-data dimension).
        device: device *profile* for latency targets and predicted latency (``cpu``, ``h100``, a JSON path...).
        latency_batch: graphs per forward for predicted and measured latency (default ``spec.batch_size``).
        torch_device: where training runs (``cpu`` / ``cuda``).
        max_steps: cap on mask-training steps (tests, quick runs).
        warmup: fraction of the gate-learning steps (those before ``harden``) over which the target ramps
            from 1 to its value.
        harden: fraction of mask-training steps, at the end, spent with the gates frozen at the final 0/1
            mask (the one that is physically removed) while the weights keep learning from the teacher, so
            the removed model is the one that was trained rather than a binarised copy of a stochastic one.
        gate_lr, lambda_lr: learning rates of ``log_alpha`` and of the Lagrange multipliers.
        weight_lr: learning rate of the weights during mask training (default ``spec.lr``).
        distill_weight, hidden_weight, task_weight, temperature: distillation and task-loss mix.
        init_log_alpha: initial gate location (3.0: every gate starts open).
        edge_init: initial bias of the edge scorer (1.0: every edge kept, ``P(z != 0) = 0.93``).
        relinearize: how many times the latency surrogate of a ``latency``/``latency_ms`` target is re-fitted
            around the current mask while the gates learn (0: only the fit around the dense model).
        tolerance: the final exact cost may end this far (a fraction of dense) below the target.
        recalibrate: re-estimate BatchNorm statistics of the pruned model on the training split before
            fine-tuning (every method).
        latency_repeats: timed forwards for measured latency (median).
        progress: show progress bars (stderr).
        trust_pickle: allow ``torch.load(weights_only=False)`` of a plain-PyTorch checkpoint (runs code!).
        entry_point: ``module:function`` building a plain-PyTorch module whose weights are in the checkpoint.
        bank: write the result to :class:`autogt.bank.Bank` when that package is importable.
    """

    method: str = "l0"
    epochs: int = 10
    finetune_epochs: int = 5
    seed: int = 0
    granularities: tuple[str, ...] = ("heads", "neurons", "attn", "local", "ffn", "layers", "hidden")
    edges: bool = False
    device: str | None = None
    latency_batch: int | None = None
    torch_device: str = "cpu"
    max_steps: int | None = None
    warmup: float = 0.5
    harden: float = 0.25
    gate_lr: float = 0.1
    lambda_lr: float = 0.05
    weight_lr: float | None = None
    distill_weight: float = 1.0
    hidden_weight: float = 0.1
    task_weight: float = 0.5
    temperature: float = 2.0
    init_log_alpha: float = 3.0
    edge_init: float = 1.0
    relinearize: int = 8
    tolerance: float = 0.02
    recalibrate: bool = True
    latency_repeats: int = 20
    progress: bool = False
    trust_pickle: bool = False
    entry_point: str | None = None
    bank: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method: {self.method!r} is not allowed; choose one of {', '.join(METHODS)}")
        if self.epochs < 0 or self.finetune_epochs < 0:
            raise ValueError("epochs / finetune_epochs: must be >= 0")
        if not 0.0 <= self.warmup <= 1.0:
            raise ValueError(f"warmup: must be in [0, 1], got {self.warmup}")
        if not 0.0 <= self.harden < 1.0:
            raise ValueError(f"harden: must be in [0, 1), got {self.harden}")
        if self.relinearize < 0:
            raise ValueError(f"relinearize: must be >= 0, got {self.relinearize}")
        object.__setattr__(self, "granularities", tuple(self.granularities))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PruneResult:
    """What :func:`autogt.compress.prune` produced.

    Attributes:
        spec: the pruned architecture.
        model: the pruned model (a :class:`~autogt.compress.FilteredModel` when edges are pruned), eval mode.
        before, after: ``metric val test params flops latency_ms`` (and ``latency_pred_ms`` with a device
            profile) of the dense and the pruned model, measured the same way in the same run.
        layers: per dense layer: blocks, heads and FFN neurons before and after.
        target: the target as given; ``target_ratio`` as a fraction of dense; ``achieved_ratio`` the exact
            cost ratio of the pruned spec in the target's metric (the first target when there are several).
        constraints: one ``{"target", "target_ratio", "achieved_ratio"}`` per target, bounds included.
        edges: ``{"kept_fraction", "rule", "filter"}`` when edges were pruned.
        method: ``l0``, ``magnitude`` or ``taylor``.
        checkpoint: path of the pruned checkpoint (``None`` without ``out``).
        report_json, report_md: report files (``None`` without ``out``).
        history: per mask-training step: loss, expected cost ratio, target, multipliers.
        notes: granularities that were unavailable and why.
    """

    spec: ArchSpec
    model: nn.Module
    before: dict[str, Any]
    after: dict[str, Any]
    layers: list[dict[str, Any]] = field(default_factory=list)
    target: str = ""
    target_ratio: float = 1.0
    achieved_ratio: float = 1.0
    edges: dict[str, Any] | None = None
    method: str = "l0"
    checkpoint: str | None = None
    report_json: str | None = None
    report_md: str | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    constraints: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """``{"before", "after", "checkpoint"}`` plus target, method and the pruned spec (JSON-able)."""
        return {
            "before": dict(self.before), "after": dict(self.after), "checkpoint": self.checkpoint,
            "method": self.method, "target": self.target, "target_ratio": self.target_ratio,
            "achieved_ratio": self.achieved_ratio, "spec": self.spec.to_dict(), "edges": _edges_public(self.edges),
            "layers": self.layers, "notes": list(self.notes), "timings": dict(self.timings),
            "constraints": [dict(c) for c in self.constraints],
        }


def _edges_public(edges: dict[str, Any] | None) -> dict[str, Any] | None:
    if edges is None:
        return None
    return {k: v for k, v in edges.items() if k != "filter"}
