"""Task kind inference, label preparation and metric checks.

Rules (``kind=None``):

- every known label value is 0 or 1 -> ``binary`` (one column) or ``multilabel`` (several columns);
- one column of integers with more than two distinct values (at most ``MAX_CLASSES``) -> ``multiclass``;
- anything else -> ``regression``.

Multiclass labels are stored as class indices ``0..C-1`` (the sorted distinct values), still as a float
``y`` of width 1 with NaN for missing; ``num_outputs`` is then ``C``.

Example:
    >>> import numpy as np
    >>> infer_kind(np.array([[0.0], [1.0], [np.nan]]))
    'binary'
    >>> infer_kind(np.array([[0.0, 1.0], [1.0, np.nan]]))
    'multilabel'
    >>> infer_kind(np.array([[0.0], [2.0], [5.0]]))
    'multiclass'
    >>> infer_kind(np.array([[0.5], [2.0]]))
    'regression'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autogt.data.task import DEFAULT_METRIC, KINDS, METRICS, TaskError

__all__ = ["infer_kind", "prepare_labels", "resolve_metric", "MAX_CLASSES", "METRICS_FOR_KIND"]

MAX_CLASSES = 100
"""More distinct integer values than this in one column is treated as regression."""

METRICS_FOR_KIND = {
    "binary": ("rocauc", "accuracy"),
    "multilabel": ("rocauc", "accuracy"),
    "multiclass": ("accuracy",),
    "regression": ("rmse", "mae"),
}


def infer_kind(y: np.ndarray) -> str:
    """Infer ``binary``/``multilabel``/``multiclass``/``regression`` from a ``(rows, tasks)`` label array."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    known = y[~np.isnan(y)]
    if known.size == 0:
        raise TaskError("no label values: every target cell is missing")
    if np.isin(known, (0.0, 1.0)).all():
        return "binary" if y.shape[1] == 1 else "multilabel"
    if y.shape[1] == 1 and np.array_equal(known, np.round(known)):
        n_classes = len(np.unique(known))
        if 2 < n_classes <= MAX_CLASSES:
            return "multiclass"
    return "regression"


def prepare_labels(
    y: np.ndarray, kind: str | None, names: Sequence[str]
) -> tuple[str, np.ndarray, int, tuple[str, ...]]:
    """Check labels against ``kind`` (inferred when ``None``) and encode them.

    Args:
        y: ``(rows, tasks)`` float labels, NaN for missing.
        kind: requested kind or ``None``.
        names: target column names.

    Returns:
        ``(kind, y as float32 (rows, tasks), num_outputs, label_names)``; multiclass labels become class
        indices and ``label_names`` the class values.
    """
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    if kind is None:
        kind = infer_kind(y)
    if kind not in KINDS:
        raise TaskError(f"kind: {kind!r} is not allowed; choose one of {', '.join(KINDS)}")
    known = y[~np.isnan(y)]
    if known.size == 0:
        raise TaskError("no label values: every target cell is missing")
    if kind in ("binary", "multilabel"):
        if not np.isin(known, (0.0, 1.0)).all():
            bad = np.unique(known[~np.isin(known, (0.0, 1.0))])[:5]
            raise TaskError(f"kind {kind!r} needs labels in {{0, 1}}; found values such as {bad.tolist()}")
        if kind == "binary" and y.shape[1] > 1:
            raise TaskError(f"kind 'binary' takes one target column, got {y.shape[1]}; use kind='multilabel'")
        return kind, y.astype(np.float32), y.shape[1], tuple(names)
    if kind == "multiclass":
        if y.shape[1] != 1:
            raise TaskError(f"kind 'multiclass' takes one target column, got {y.shape[1]} ({', '.join(names)})")
        if not np.array_equal(known, np.round(known)):
            raise TaskError("kind 'multiclass' needs integer class labels; found non-integer values")
        classes = np.unique(known)
        out = np.full_like(y, np.nan)
        ok = ~np.isnan(y)
        out[ok] = np.searchsorted(classes, y[ok])
        label_names = tuple(str(int(c)) for c in classes)
        return kind, out.astype(np.float32), len(classes), label_names
    return kind, y.astype(np.float32), y.shape[1], tuple(names)


def resolve_metric(kind: str, metric: str | None) -> str:
    """Default metric of ``kind``, or check that ``metric`` suits it."""
    if metric is None:
        return DEFAULT_METRIC[kind]
    if metric not in METRICS:
        raise TaskError(f"metric: {metric!r} is not allowed; choose one of {', '.join(METRICS)}")
    allowed = METRICS_FOR_KIND[kind]
    if metric not in allowed:
        raise TaskError(f"metric {metric!r} does not suit a {kind} task; choose one of {', '.join(allowed)}")
    return metric
