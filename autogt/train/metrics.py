"""Task metrics, training losses and regression target scaling.

Metrics follow the OGB conventions so numbers are comparable with the literature:

- ``rocauc``: mean over tasks of the per-task ROC-AUC, each computed over the non-NaN labels of that
  task; tasks whose labels hold a single class are skipped. ``y_pred`` may be logits or probabilities
  (ROC-AUC only depends on the order).
- ``accuracy``: multiclass accuracy of ``argmax(y_pred)`` (or of ``y_pred`` itself when it is 1-D labels).
- ``rmse`` / ``mae``: mean over tasks of the per-task RMSE / MAE over the non-NaN targets.

A metric that is undefined on the given labels (every task single-class, no labelled entry) is
``nan`` rather than an exception, so a tiny validation split cannot crash a search.

Losses (:func:`loss_fn`) are masked: NaN labels contribute nothing. Regression targets are
standardised per task with :class:`TargetScaler` (mean/std fitted on the training split); the model
learns the standardised targets and predictions are mapped back before any metric is computed.

Example:
    >>> import numpy as np
    >>> compute_metric("rocauc", np.array([[0.0], [1.0], [np.nan]]), np.array([[-1.0], [2.0], [0.3]]))
    1.0
    >>> compute_metric("rmse", np.array([1.0, np.nan]), np.array([3.0, 0.0]))
    2.0
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["compute_metric", "loss_fn", "TargetScaler", "METRIC_NAMES"]

METRIC_NAMES = ("rocauc", "accuracy", "rmse", "mae")

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _as_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return x.float().numpy() if x.is_floating_point() else x.numpy()
    return np.asarray(x)


def _as_2d(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, 1) if x.ndim == 1 else x.reshape(x.shape[0], -1)


def compute_metric(metric: str, y_true: Any, y_pred: Any) -> float:
    """Score predictions with a task metric.

    Args:
        metric: ``rocauc``, ``accuracy``, ``rmse`` or ``mae``.
        y_true: labels, ``[N]`` or ``[N, T]`` (NaN = missing for ``rocauc``/``rmse``/``mae``); class
            indices ``[N]`` for ``accuracy``.
        y_pred: predictions of the same shape (``[N, C]`` scores for ``accuracy``); tensors or arrays.

    Returns:
        The metric as a float; ``nan`` when it is undefined for these labels.

    Raises:
        ValueError: unknown metric or mismatched shapes.

    Example:
        >>> compute_metric("accuracy", [0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
        0.6666666666666666
    """
    if metric not in METRIC_NAMES:
        raise ValueError(f"metric: {metric!r} is not allowed; choose one of {', '.join(METRIC_NAMES)}")
    t = _as_numpy(y_true)
    p = _as_numpy(y_pred)
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"y_true has {t.shape[0]} rows but y_pred has {p.shape[0]}")
    if t.shape[0] == 0:
        return math.nan
    if metric == "accuracy":
        labels = t.reshape(-1).astype(np.int64)
        pred = p.reshape(-1) if p.ndim == 1 else p.reshape(p.shape[0], -1).argmax(axis=1)
        return float(np.mean(pred.astype(np.int64) == labels))
    t2 = _as_2d(t.astype(np.float64))
    p2 = _as_2d(p.astype(np.float64))
    if t2.shape != p2.shape:
        raise ValueError(f"y_true shape {t2.shape} does not match y_pred shape {p2.shape}")
    scores: list[float] = []
    for j in range(t2.shape[1]):
        mask = ~np.isnan(t2[:, j])
        if not mask.any():
            continue
        yt, yp = t2[mask, j], p2[mask, j]
        if metric == "rocauc":
            if np.unique(yt).size < 2:  # OGB: skip tasks with a single class
                continue
            from sklearn.metrics import roc_auc_score

            if not np.isfinite(yp).all():
                return math.nan
            scores.append(float(roc_auc_score(yt, yp)))
        elif metric == "rmse":
            scores.append(float(np.sqrt(np.mean((yt - yp) ** 2))))
        else:  # mae
            scores.append(float(np.mean(np.abs(yt - yp))))
    return float(np.mean(scores)) if scores else math.nan


# ----------------------------------------------------------------------------- losses
def _masked_bce(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    target = target.reshape(pred.shape).to(pred.dtype)
    mask = ~torch.isnan(target)
    if not bool(mask.any()):
        return pred.sum() * 0.0
    return F.binary_cross_entropy_with_logits(pred[mask], target[mask])


def _masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    target = target.reshape(pred.shape).to(pred.dtype)
    mask = ~torch.isnan(target)
    if not bool(mask.any()):
        return pred.sum() * 0.0
    return F.mse_loss(pred[mask], target[mask])


def _cross_entropy(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(pred, target.reshape(-1).long())


_LOSSES: dict[str, LossFn] = {
    "binary": _masked_bce,
    "multilabel": _masked_bce,
    "multiclass": _cross_entropy,
    "regression": _masked_mse,
}


def _soft_bce(pred: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(pred, torch.sigmoid(teacher))


def _soft_ce(pred: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(pred, torch.softmax(teacher, dim=-1))


_SOFT: dict[LossFn, LossFn] = {_masked_bce: _soft_bce, _masked_mse: F.mse_loss, _cross_entropy: _soft_ce}


def soft_loss(loss: LossFn) -> LossFn:
    """The distillation counterpart of a :func:`loss_fn` loss: ``soft(pred, teacher_pred)`` fits the student's
    predictions to the teacher's (sigmoid / softmax probabilities for classification, the values themselves
    for regression) on every output, labelled or not.

    Example:
        >>> soft = soft_loss(loss_fn("regression"))
        >>> float(soft(torch.tensor([[1.0]]), torch.tensor([[3.0]])))
        4.0
    """
    if loss not in _SOFT:
        raise ValueError("soft_loss: only the losses of loss_fn() have a distillation counterpart")
    return _SOFT[loss]


def loss_fn(kind: str) -> LossFn:
    """The training loss for a task kind.

    ``binary``/``multilabel``: BCE-with-logits over non-NaN labels; ``multiclass``: cross-entropy on
    class indices; ``regression``: MSE over non-NaN targets. A batch with no label at all gives a zero
    loss that still depends on the predictions (so ``backward`` works).

    Example:
        >>> loss = loss_fn("binary")
        >>> float(loss(torch.zeros(2, 1), torch.tensor([[1.0], [float("nan")]])))  # log(2)
        0.6931471824645996
    """
    if kind not in _LOSSES:
        raise ValueError(f"kind: {kind!r} is not allowed; choose one of {', '.join(_LOSSES)}")
    return _LOSSES[kind]


# ----------------------------------------------------------------------------- target scaling
@dataclass(frozen=True)
class TargetScaler:
    """Per-task standardisation of regression targets, fitted on the training split.

    Attributes:
        mean: per-task mean of the non-NaN training targets.
        std: per-task standard deviation (population); constant tasks get 1.

    Example:
        >>> s = TargetScaler.fit(torch.tensor([[1.0], [3.0]]))
        >>> s.mean, s.std
        ((2.0,), (1.0,))
        >>> s.inverse(s.transform(torch.tensor([[5.0]]))).item()
        5.0
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, y: torch.Tensor) -> TargetScaler:
        y = y.detach().double().reshape(y.shape[0], -1).cpu()
        mask = ~torch.isnan(y)
        count = mask.sum(0).clamp(min=1)
        filled = torch.where(mask, y, torch.zeros_like(y))
        mean = filled.sum(0) / count
        var = (torch.where(mask, y - mean, torch.zeros_like(y)) ** 2).sum(0) / count
        std = var.sqrt()
        std = torch.where(std > 1e-12, std, torch.ones_like(std))
        return cls(tuple(float(v) for v in mean), tuple(float(v) for v in std))

    def _params(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = torch.tensor(self.mean, dtype=like.dtype, device=like.device)
        std = torch.tensor(self.std, dtype=like.dtype, device=like.device)
        return mean, std

    def transform(self, y: torch.Tensor) -> torch.Tensor:
        """Targets -> standardised targets (NaN stays NaN)."""
        mean, std = self._params(y)
        return (y.reshape(y.shape[0], -1) - mean) / std

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Model outputs (standardised) -> target units."""
        mean, std = self._params(y)
        return y.reshape(y.shape[0], -1) * std + mean

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetScaler:
        return cls(tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"]))
