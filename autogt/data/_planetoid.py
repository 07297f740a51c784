"""Bundled Planetoid citation graphs (Cora, CiteSeer) from plain ``.npz`` arrays.

The arrays were converted once from the published raw files by :mod:`autogt.data._planetoid_convert`
and checked against PyG's ``Planetoid`` loader. They are read with ``np.load(allow_pickle=False)``.

Example:
    >>> from autogt.data import load_task
    >>> task = load_task("cora")
    >>> task.graphs[0].num_nodes, task.num_outputs, [len(task.split[k]) for k in ("train", "valid", "test")]
    (2708, 7, [140, 500, 1000])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from autogt.data._cache import file_digest
from autogt.data._pyg import node_task
from autogt.data.task import Task, TaskError

__all__ = ["read_npz", "planetoid_task"]

_KEYS = ("x", "edge_index", "y", "train_index", "val_index", "test_index")


def read_npz(path: str | Path) -> Any:
    """Read a converted Planetoid ``.npz`` into a PyG ``Data`` with raw (unnormalised) features and masks."""
    from torch_geometric.data import Data

    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in _KEYS}
    except (OSError, KeyError, ValueError) as exc:
        raise TaskError(f"cannot read Planetoid arrays from {path}: {exc}") from exc
    n = arrays["y"].shape[0]
    data = Data(
        x=torch.from_numpy(arrays["x"]).float(),
        edge_index=torch.from_numpy(arrays["edge_index"]).long(),
        y=torch.from_numpy(arrays["y"]).long(),
    )
    for key, mask in (("train_index", "train_mask"), ("val_index", "val_mask"), ("test_index", "test_mask")):
        m = torch.zeros(n, dtype=torch.bool)
        m[torch.from_numpy(arrays[key]).long()] = True
        setattr(data, mask, m)
    return data


def planetoid_task(
    path: str | Path,
    *,
    name: str,
    split: str | dict[str, Any] | None = None,
    seed: int = 0,
    kind: str | None = None,
    metric: str | None = None,
    normalize_features: bool | None = None,
) -> Task:
    """Node-classification task from a converted Planetoid ``.npz``.

    Args:
        path: the ``.npz`` file.
        name: task name.
        split: ``public`` (default: Kipf & Welling's 20 per class / 500 / 1000), ``random`` (seeded, same
            per-class train count and valid/test sizes as the public split) or a dict of node indices.
        seed, kind, metric: see :func:`autogt.data.load_task`.
        normalize_features: row-normalise features as PyG's ``NormalizeFeatures`` (default ``True``).
    """
    normalize = True if normalize_features is None else bool(normalize_features)
    data = read_npz(path)
    content = f"{file_digest(Path(path))}|normalize={normalize}"
    return node_task(
        data,
        split=split,
        seed=seed,
        kind=kind,
        metric=metric,
        name=name,
        normalize_features=normalize,
        content=content,
    )
