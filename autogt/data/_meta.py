"""Cheap, vectorised meta-features and content fingerprints of tasks.

Conventions (kept identical for graph and node tasks):

- ``edges_mean`` counts *directed* edges as stored in ``edge_index``: an undirected bond stored in both
  directions counts twice. ``degree_mean``/``degree_std`` are over all nodes of all graphs, using the
  out-degree in ``edge_index`` (so ``degree_mean == sum(edges) / sum(nodes)``).
- ``nodes_sq_mean`` is the mean of ``n_i ** 2`` (what dense attention costs per graph).
- Label statistics ignore NaN (missing) labels; ``label_missing_rate`` is the NaN fraction.

Example:
    >>> import numpy as np
    >>> m = structure_meta(np.array([3, 5]), np.array([4, 8]), np.array([0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 7, 6]))
    >>> m["nodes_mean"], m["nodes_sq_mean"], m["edges_mean"], m["degree_mean"]
    (4.0, 17.0, 6.0, 1.5)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import torch

__all__ = ["structure_meta", "label_meta", "homophily", "fingerprint", "hash_tensors"]


def structure_meta(num_nodes: np.ndarray, num_edges: np.ndarray, src: np.ndarray) -> dict[str, float]:
    """Size and degree statistics.

    Args:
        num_nodes: nodes per graph ``(G,)``.
        num_edges: directed edges per graph ``(G,)``.
        src: global source node id of every directed edge (``edge_index[0]`` shifted by graph offsets).
    """
    n = num_nodes.astype(np.float64)
    total = int(num_nodes.sum())
    deg = np.bincount(src, minlength=total).astype(np.float64) if total else np.zeros(1)
    return {
        "num_graphs": float(len(num_nodes)),
        "nodes_mean": float(n.mean()),
        "nodes_std": float(n.std()),
        "nodes_max": float(n.max()),
        "nodes_min": float(n.min()),
        "nodes_sq_mean": float((n**2).mean()),
        "edges_mean": float(num_edges.astype(np.float64).mean()),
        "degree_mean": float(deg.mean()),
        "degree_std": float(deg.std()),
    }


def label_meta(y: np.ndarray, kind: str) -> dict[str, float]:
    """Label statistics of a ``(rows, tasks)`` float array with NaN for missing values."""
    y = np.asarray(y, dtype=np.float64)
    y = y.reshape(len(y), -1)
    known = y[~np.isnan(y)]
    out = {"label_missing_rate": float(np.isnan(y).mean()) if y.size else 0.0}
    if known.size == 0:
        return out
    if kind in ("binary", "multilabel"):
        out["label_pos_rate"] = float(known.mean())
    elif kind == "multiclass":
        counts = np.bincount(known.astype(np.int64))
        p = counts[counts > 0] / counts.sum()
        out["label_majority_rate"] = float(p.max())
        out["label_entropy"] = float(-(p * np.log(p)).sum())
    else:
        out["label_mean"] = float(known.mean())
        out["label_std"] = float(known.std())
    return out


def homophily(edge_index: torch.Tensor, y: torch.Tensor) -> float:
    """Edge homophily: fraction of edges (ignoring those touching unlabelled nodes) joining equal labels."""
    src, dst = edge_index
    ok = (y[src] >= 0) & (y[dst] >= 0)
    if int(ok.sum()) == 0:
        return float("nan")
    return float((y[src][ok] == y[dst][ok]).double().mean())


def hash_tensors(tensors: Iterable[torch.Tensor | None], h: hashlib._Hash | None = None) -> hashlib._Hash:
    """Feed tensors' dtype, shape and bytes into a SHA-256 hash."""
    h = h or hashlib.sha256()
    for t in tensors:
        if t is None:
            h.update(b"none")
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h


def fingerprint(content: str, kind: str, split_name: str, split: dict[str, torch.Tensor]) -> str:
    """16-hex fingerprint of the data content hash, the task kind and the split indices."""
    h = hashlib.sha256(f"{content}|{kind}|{split_name}".encode())
    hash_tensors([split["train"], split["valid"], split["test"]], h)
    return h.hexdigest()[:16]
