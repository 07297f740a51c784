"""Training and evaluation: one (task, spec, seed, budget) run to an ``EvalResult`` and a checkpoint.

Example:
    >>> from autogt.train import Budget, compute_metric
    >>> Budget(epochs=50, patience=10).epochs
    50
    >>> compute_metric("mae", [1.0, 2.0], [1.5, 2.5])
    0.5
"""

from __future__ import annotations

import sys
import types
from typing import Any

from autogt.train.checkpoint import Checkpoint, CheckpointError, load_checkpoint, load_model, save_checkpoint
from autogt.train.evaluate import evaluate, train
from autogt.train.metrics import TargetScaler, compute_metric, loss_fn
from autogt.train.result import Budget, EvalResult

__all__ = [
    "evaluate",
    "train",
    "Budget",
    "EvalResult",
    "save_checkpoint",
    "load_checkpoint",
    "load_model",
    "Checkpoint",
    "CheckpointError",
    "compute_metric",
    "loss_fn",
    "TargetScaler",
]


class _CallableModule(types.ModuleType):
    """``autogt.train`` is both this package and the public function ``autogt.train(...)``.

    ``autogt/__init__`` resolves ``autogt.train`` lazily to the function, but importing this package sets
    the attribute ``autogt.train`` to the module; calling the module therefore calls :func:`train`, so
    ``autogt.train(spec, task)`` works whatever was imported first.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
