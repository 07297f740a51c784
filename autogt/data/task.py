"""``Task``: what is learned and how it is scored.

A task carries its data (a list of PyG ``Data`` graphs for graph-level tasks, one ``Data`` for
node-level tasks), its split, and cheap meta-features the bank uses for task similarity.

Example:
    >>> from autogt.data import load_task
    >>> task = load_task("esol")                     # doctest: +SKIP
    >>> task.level, task.kind, task.metric           # doctest: +SKIP
    ('graph', 'regression', 'rmse')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch

__all__ = ["Task", "TaskError", "METRICS", "KINDS", "LEVELS"]

Level = Literal["graph", "node"]
Kind = Literal["binary", "multilabel", "multiclass", "regression"]
Metric = Literal["rocauc", "accuracy", "rmse", "mae"]

LEVELS = ("graph", "node")
KINDS = ("binary", "multilabel", "multiclass", "regression")
METRICS = ("rocauc", "accuracy", "rmse", "mae")
DEFAULT_METRIC = {"binary": "rocauc", "multilabel": "rocauc", "multiclass": "accuracy", "regression": "rmse"}
MAXIMIZE = {"rocauc": True, "accuracy": True, "rmse": False, "mae": False}


class TaskError(ValueError):
    """Bad data or task description (empty graph set, unknown column, unparseable file...)."""


@dataclass(eq=False)
class Task:
    """A learning task with its data and split.

    Attributes:
        name: bundled name or file stem.
        level: ``graph`` or ``node``.
        kind: ``binary``, ``multilabel``, ``multiclass`` or ``regression``.
        metric: ``rocauc``, ``accuracy``, ``rmse`` or ``mae``.
        num_outputs: width of the model output (tasks for binary/multilabel/regression, classes for multiclass).
        node_dim: node feature width; ``node_categorical`` when features are integer categories (atoms).
        edge_dim: edge feature width (0 when graphs have none); ``edge_categorical`` likewise.
        graphs: graph-level data: a list of ``torch_geometric.data.Data`` (``y`` of shape ``(1, num_outputs)``,
            NaN marks a missing label). Node-level data: a one-element list whose graph has ``train_mask``...
        split: ``{"train": idx, "valid": idx, "test": idx}``; graph indices (graph-level) or node indices.
        split_name: how the split was made (``scaffold``, ``random``, ``public``...).
        meta: cheap meta-features (sizes, degrees, label stats, homophily...).
        fingerprint: content hash of the source data and the split.
        label_names: names of the target columns / classes.
        atom_vocab, bond_vocab: per-column category counts for categorical features (for embeddings).
    """

    name: str
    level: Level
    kind: Kind
    metric: Metric
    num_outputs: int
    node_dim: int
    edge_dim: int
    graphs: list[Any]
    split: dict[str, torch.Tensor]
    split_name: str = "custom"
    node_categorical: bool = False
    edge_categorical: bool = False
    atom_vocab: tuple[int, ...] = ()
    bond_vocab: tuple[int, ...] = ()
    meta: dict[str, float] = field(default_factory=dict)
    fingerprint: str = ""
    label_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise TaskError(f"level: {self.level!r} is not allowed; choose one of {', '.join(LEVELS)}")
        if self.kind not in KINDS:
            raise TaskError(f"kind: {self.kind!r} is not allowed; choose one of {', '.join(KINDS)}")
        if self.metric not in METRICS:
            raise TaskError(f"metric: {self.metric!r} is not allowed; choose one of {', '.join(METRICS)}")
        if not self.graphs:
            raise TaskError(f"task {self.name!r} has no graphs")
        for key in ("train", "valid", "test"):
            if key not in self.split:
                raise TaskError(f"split: missing {key!r} indices")

    @property
    def maximize(self) -> bool:
        """Whether a larger metric is better."""
        return MAXIMIZE[self.metric]

    def describe(self) -> dict[str, Any]:
        """JSON-able description stored in checkpoints and the bank (no data)."""
        return {
            "name": self.name,
            "level": self.level,
            "kind": self.kind,
            "metric": self.metric,
            "num_outputs": self.num_outputs,
            "node_dim": self.node_dim,
            "edge_dim": self.edge_dim,
            "node_categorical": self.node_categorical,
            "edge_categorical": self.edge_categorical,
            "atom_vocab": list(self.atom_vocab),
            "bond_vocab": list(self.bond_vocab),
            "split_name": self.split_name,
            "fingerprint": self.fingerprint,
            "label_names": list(self.label_names),
            "meta": dict(self.meta),
        }

    def stats(self) -> dict[str, float]:
        """Size statistics that the cost model needs (mean nodes, mean edges, sum of n^2 per graph...)."""
        keys = ("num_graphs", "nodes_mean", "edges_mean", "nodes_sq_mean", "nodes_max")
        return {k: float(self.meta[k]) for k in keys if k in self.meta}
