"""The controller contract: ``ask() -> Proposal`` and ``tell(trial_number, EvalResult)``.

A controller proposes architectures from a :class:`~autogt.spaces.Space` and learns from their results.
Two methods are abstract; ``report`` (per-epoch values, for pruning) has a do-nothing default. Everything
about storage, budgets and resuming lives in :func:`autogt.controllers.search`, not here.

Example:
    >>> import optuna
    >>> from autogt.controllers import make_controller
    >>> from autogt.spaces import load_space
    >>> from autogt.train.result import EvalResult
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(direction="maximize")
    >>> ctrl = make_controller("random", load_space("nasbench_graph"), study, seed=0)
    >>> proposal = ctrl.ask()
    >>> ctrl.tell(proposal.trial_number, EvalResult(status="ok", metric="accuracy", val=0.8))
    >>> len(study.trials)
    1
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from autogt.models.spec import ArchSpec
from autogt.spaces import Space
from autogt.train.result import EvalResult

__all__ = ["Controller", "Proposal", "OBJECTIVES", "ControllerError"]

OBJECTIVES = ("metric", "params", "flops", "latency")
"""What a search can optimise: the task metric, parameter count, FLOPs, latency (ms); the last three are minimised."""


class ControllerError(ValueError):
    """Misuse of a controller (unknown trial number, trial told twice, bad objectives...)."""


@dataclass(frozen=True)
class Proposal:
    """One point to evaluate.

    Attributes:
        trial_number: the number to pass back to ``tell``.
        spec: the architecture, or ``None`` when the sampled parameters do not form a valid spec.
        params: the sampled parameters (the space's stable names).
        error: why ``spec`` is ``None``.
    """

    trial_number: int
    spec: ArchSpec | None
    params: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class Controller(abc.ABC):
    """Asks for architectures in ``space`` and is told their results.

    Attributes:
        space: the space proposals come from.
        objectives: names from :data:`OBJECTIVES`, in the order of the study's directions.
        trial_attrs: user attributes written on each new trial before it draws any parameter (the search
            loop records the trial's owner process there, so a crash while sampling leaves no anonymous trial).
    """

    space: Space
    objectives: tuple[str, ...] = ("metric",)
    trial_attrs: dict[str, Any] = {}  # noqa: RUF012  (replaced, never mutated)

    @abc.abstractmethod
    def ask(self) -> Proposal:
        """Propose the next architecture (its new trial carries :attr:`trial_attrs` before any parameter)."""

    @abc.abstractmethod
    def tell(self, trial_number: int, result: EvalResult) -> None:
        """Record the result of a proposal; each trial number is told exactly once."""

    def report(self, trial_number: int, epoch: int, value: float) -> bool:
        """Record an intermediate validation value; return True to stop (prune) the trial. Default: never."""
        return False
