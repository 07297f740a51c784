"""``Budget`` and ``EvalResult``: the input and output boundary of the evaluator."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Budget", "EvalResult", "Status"]

Status = Literal["ok", "failed", "pruned"]


@dataclass(frozen=True)
class Budget:
    """How much training one evaluation may spend.

    Attributes:
        epochs: maximum epochs.
        patience: stop after this many epochs without validation improvement (0 = never).
        time_s: wall-clock limit for training (0 = none).
        min_epochs: never stop early before this many epochs.
        eval_every: evaluate on validation every this many epochs.
        latency_repeats: timed repeats for the inference latency measurement (0 = skip).
    """

    epochs: int = 100
    patience: int = 20
    time_s: float = 0.0
    min_epochs: int = 0
    eval_every: int = 1
    latency_repeats: int = 10

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs: must be >= 1, got {self.epochs}")
        if self.patience < 0:
            raise ValueError(f"patience: must be >= 0, got {self.patience}")


@dataclass
class EvalResult:
    """Metrics, cost and status of one (task, spec, seed, budget) evaluation.

    ``val`` and ``test`` are the task metric at the epoch with the best validation value.
    """

    status: Status
    metric: str
    val: float | None = None
    test: float | None = None
    params: int = 0
    flops: float = 0.0
    latency_ms: float | None = None
    epochs: int = 0
    train_time_s: float = 0.0
    reason: str = ""
    seed: int = 0
    spec_hash: str = ""
    task: str = ""
    history: list[float] = field(default_factory=list)
    checkpoint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalResult:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
