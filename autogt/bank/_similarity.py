"""Task similarity: pure functions over meta-features, embeddings and anchor results.

Three signals, cheapest first:

- **meta-features** (:func:`meta_similarity`): ``Task.meta`` plus a few description fields, size-like
  ones log-transformed, each standardised over the pool of tasks compared; similarity is
  ``1 / (1 + rms z-distance)`` over the features both tasks have, with level/kind/metric mismatches
  counted as a distance of 2 each.
- **embeddings** (:func:`embedding_similarity`): e.g. the anchor-model Fisher embedding of
  :func:`autogt.bank.anchor_embedding`; cosine similarity of standardised vectors mapped to ``[0, 1]``.
- **anchor ranks** (:func:`rank_similarity`): Kendall tau between the results of the same anchor
  designs on two tasks (GraphGym style), mapped to ``[0, 1]`` as ``(1 + tau) / 2``.

All similarities lie in ``[0, 1]``; 1 means "looks the same".

Example:
    >>> a = {"nodes_mean": 25.0, "edges_mean": 54.0}
    >>> b = {"nodes_mean": 24.0, "edges_mean": 52.0}
    >>> c = {"nodes_mean": 2500.0, "edges_mean": 9000.0}
    >>> sims = meta_similarity(a, {"b": b, "c": c})
    >>> sims["b"] > sims["c"]
    True
    >>> rank_similarity({"x": 1.0, "y": 2.0, "z": 3.0}, {"x": 0.1, "y": 0.2, "z": 0.3})
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["task_features", "meta_similarity", "embedding_similarity", "rank_similarity", "combine"]

# size-like meta-features compared on a log scale
_LOG_KEYS = {
    "num_graphs", "nodes_mean", "nodes_std", "nodes_max", "nodes_min", "nodes_sq_mean", "edges_mean",
    "degree_mean", "degree_std", "node_dim", "edge_dim", "num_outputs",
}  # fmt: skip
_CATEGORICAL = ("level", "kind", "metric")
_MISMATCH = 2.0  # z-distance charged for a differing categorical feature


def task_features(meta: Mapping[str, float], description: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Numeric features of a task: its meta-features (size-like ones as ``log1p``) plus ``node_dim``,
    ``edge_dim`` and ``num_outputs`` from its description; non-finite values are dropped.

    Example:
        >>> task_features({"nodes_mean": math.e - 1, "homophily": 0.8}, {"num_outputs": 0})
        {'nodes_mean': 1.0, 'homophily': 0.8, 'num_outputs': 0.0}
    """
    out: dict[str, float] = {}
    merged: dict[str, Any] = dict(meta)
    for key in ("node_dim", "edge_dim", "num_outputs"):
        if description and key in description and key not in merged:
            merged[key] = description[key]
    for key, value in merged.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(v):
            continue
        out[key] = math.log1p(max(v, 0.0)) if key in _LOG_KEYS else v
    return out


def meta_similarity(
    query: Mapping[str, float],
    pool: Mapping[str, Mapping[str, float]],
    *,
    query_cats: Mapping[str, str] | None = None,
    pool_cats: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, float]:
    """Similarity of ``query``'s features to each entry of ``pool`` (name -> features).

    Features are standardised over ``pool`` plus ``query``; a feature with zero spread is ignored.
    ``query_cats``/``pool_cats`` hold categorical fields (``level``, ``kind``, ``metric``): each
    mismatch adds a z-distance of 2.
    """
    everyone = [query, *pool.values()]
    keys = sorted({k for f in everyone for k in f})
    mean: dict[str, float] = {}
    std: dict[str, float] = {}
    for k in keys:
        vals = np.array([f[k] for f in everyone if k in f], dtype=np.float64)
        s = float(vals.std())
        if len(vals) >= 2 and s > 1e-12:
            mean[k], std[k] = float(vals.mean()), s
    out: dict[str, float] = {}
    for name, feats in pool.items():
        sq: list[float] = []
        for k in mean:
            if k in query and k in feats:
                sq.append(((query[k] - feats[k]) / std[k]) ** 2)
        if query_cats and pool_cats and name in pool_cats:
            for c in _CATEGORICAL:
                a, b = query_cats.get(c, ""), pool_cats[name].get(c, "")
                if a and b:
                    sq.append(0.0 if a == b else _MISMATCH**2)
        if not sq:
            out[name] = 0.0
            continue
        out[name] = 1.0 / (1.0 + math.sqrt(sum(sq) / len(sq)))
    return out


def embedding_similarity(query: Sequence[float], pool: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Cosine similarity, mapped to ``[0, 1]``, of standardised embeddings (same length only).

    Each coordinate is standardised over ``pool`` plus ``query`` so that no single large-scale
    coordinate dominates; entries of a different length get similarity 0.
    """
    q = np.asarray(query, dtype=np.float64)
    same = {n: np.asarray(v, dtype=np.float64) for n, v in pool.items() if len(v) == len(q)}
    out = {n: 0.0 for n in pool}
    if not same or q.size == 0:
        return out
    mat = np.stack([q, *same.values()])
    mat = np.nan_to_num(mat)
    std = mat.std(0)
    std[std < 1e-12] = 1.0
    mat = (mat - mat.mean(0)) / std
    qz = mat[0]
    for name, row in zip(same, mat[1:], strict=True):
        denom = float(np.linalg.norm(qz) * np.linalg.norm(row))
        cos = float(qz @ row) / denom if denom > 1e-12 else 0.0
        out[name] = (1.0 + cos) / 2.0
    return out


def _kendall_tau(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall tau-b (ties handled), O(n^2) — anchor sets are small."""
    n = len(x)
    conc = disc = tx = ty = 0
    for i in range(n):
        dx = np.sign(x[i + 1 :] - x[i])
        dy = np.sign(y[i + 1 :] - y[i])
        prod = dx * dy
        conc += int((prod > 0).sum())
        disc += int((prod < 0).sum())
        tx += int(((dx == 0) & (dy != 0)).sum())
        ty += int(((dy == 0) & (dx != 0)).sum())
    denom = math.sqrt((conc + disc + tx) * (conc + disc + ty))
    return (conc - disc) / denom if denom > 0 else 0.0


def rank_similarity(query: Mapping[str, float], other: Mapping[str, float], *, min_common: int = 3) -> float:
    """``(1 + Kendall tau) / 2`` over the anchor keys both tasks have results for.

    Returns 0.5 ("no information") when fewer than ``min_common`` anchors are shared.
    """
    common = [k for k in query if k in other and query[k] is not None and other[k] is not None]
    if len(common) < min_common:
        return 0.5
    x = np.array([float(query[k]) for k in common])
    y = np.array([float(other[k]) for k in common])
    return (1.0 + _kendall_tau(x, y)) / 2.0


def combine(*parts: tuple[Mapping[str, float], float]) -> dict[str, float]:
    """Weighted mean of several similarity maps (``(sims, weight)`` pairs) over the names they share.

    Example:
        >>> combine(({"a": 1.0, "b": 0.0}, 1.0), ({"a": 0.5, "b": 0.5}, 1.0))
        {'a': 0.75, 'b': 0.25}
    """
    names = None
    for sims, _ in parts:
        names = set(sims) if names is None else names & set(sims)
    total = sum(w for _, w in parts) or 1.0
    return {n: sum(s[n] * w for s, w in parts) / total for n in sorted(names or ())}
