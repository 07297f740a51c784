"""PyG inputs -> ``Task``: one ``Data`` (node task) or a ``Dataset`` / list of ``Data`` (graph task).

Example:
    >>> import torch
    >>> from torch_geometric.data import Data
    >>> from autogt.data import load_task
    >>> ei = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]])
    >>> g = Data(x=torch.randn(4, 3), edge_index=ei, y=torch.tensor([0, 1, 2, 0]))
    >>> task = load_task(g, split={"train": [0, 1], "valid": [2], "test": [3]})
    >>> task.level, task.kind, task.num_outputs
    ('node', 'multiclass', 3)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from autogt.data._featurize import ATOM_VOCAB, BOND_VOCAB
from autogt.data._labels import prepare_labels, resolve_metric
from autogt.data._meta import fingerprint, hash_tensors, homophily, label_meta, structure_meta
from autogt.data._splits import check_split, random_node_split, random_split, scaffold_split
from autogt.data.task import Task, TaskError

__all__ = ["node_task", "graph_list_task", "normalize_rows"]

_MASKS = ("train_mask", "val_mask", "test_mask")


def normalize_rows(x: torch.Tensor) -> torch.Tensor:
    """Row-normalise features to sum to one, exactly as PyG's ``NormalizeFeatures`` (GCN setting).

    Example:
        >>> normalize_rows(torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])).tolist()
        [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]
    """
    if x.numel() == 0:
        return x
    x = x - x.min()
    return x / x.sum(dim=-1, keepdim=True).clamp(min=1.0)


def _mask_index(mask: torch.Tensor) -> torch.Tensor:
    if mask.dim() == 2:  # several stored splits (e.g. WikiCS): use the first
        mask = mask[:, 0]
    return mask.bool().nonzero().view(-1)


def _node_labels(data: Any, kind: str | None) -> tuple[str, torch.Tensor, int, tuple[str, ...], np.ndarray]:
    """Returns ``(kind, y for the graph, num_outputs, label_names, y as float (N, T) for stats)``."""
    y = data.y
    n = data.num_nodes
    if y is None:
        raise TaskError("node task: the graph has no 'y'")
    if y.shape[0] != n:
        raise TaskError(f"node task: y has {y.shape[0]} rows but the graph has {n} nodes")
    integer = not torch.is_floating_point(y) and y.dtype != torch.bool
    if integer and y.dim() == 1 and kind in (None, "multiclass"):
        labelled = y[y >= 0]
        if labelled.numel() == 0:
            raise TaskError("node task: no labelled node (all labels are negative)")
        num_classes = int(labelled.max()) + 1
        stats = y.double().view(-1, 1).numpy().copy()
        stats[stats < 0] = np.nan
        return "multiclass", y.long(), num_classes, tuple(str(c) for c in range(num_classes)), stats
    ymat = y.double().view(n, -1).numpy().copy()
    if integer:
        ymat[ymat < 0] = np.nan
    kind, y32, num_outputs, names = prepare_labels(ymat, kind, [f"y{i}" for i in range(ymat.shape[1])])
    if kind == "multiclass":
        out = torch.from_numpy(np.nan_to_num(y32[:, 0], nan=-1.0)).long()
        return kind, out, num_outputs, names, y32
    return kind, torch.from_numpy(y32), num_outputs, names, y32


def node_task(
    data: Any,
    *,
    split: str | dict[str, Any] | None = None,
    seed: int = 0,
    kind: str | None = None,
    metric: str | None = None,
    name: str | None = None,
    normalize_features: bool = False,
    content: str | None = None,
) -> Task:
    """Build a node-level task from one PyG ``Data`` with ``x``, ``edge_index`` and ``y``.

    Splits: ``public`` uses the graph's ``train_mask``/``val_mask``/``test_mask``; ``random`` draws
    ``len(train) // num_classes`` training nodes per class and as many valid/test nodes as the masks hold
    (Planetoid-style), or a random 80/10/10 split of the labelled nodes when the graph has no masks; a dict
    gives explicit node indices. ``None`` means ``public`` if masks exist, else ``random``. The returned
    graph is a shallow copy whose masks match the chosen split.

    Args:
        data: the graph.
        split, seed, kind, metric, name: see :func:`autogt.data.load_task`.
        normalize_features: row-normalise ``x`` as PyG's ``NormalizeFeatures``.
        content: content hash of the source (computed from the tensors when ``None``).
    """
    g = copy.copy(data)
    n = g.num_nodes
    if g.edge_index is None:
        raise TaskError("node task: the graph has no edge_index")
    if g.x is None:
        g.x = torch.ones(n, 1)
    elif g.x.dim() == 1:
        g.x = g.x.unsqueeze(-1)
    if normalize_features:
        g.x = normalize_rows(g.x.float())
    kind, y, num_outputs, label_names, y_stats = _node_labels(g, kind)
    metric = resolve_metric(kind, metric)
    g.y = y
    if content is None:
        content = hash_tensors([g.x, g.edge_index, g.edge_attr, y]).hexdigest()

    has_masks = all(getattr(g, m, None) is not None for m in _MASKS)
    if split is None:
        split = "public" if has_masks else "random"
    if isinstance(split, str):
        if split == "public":
            if not has_masks:
                raise TaskError("split 'public' needs train_mask/val_mask/test_mask on the graph; use split='random'")
            parts = zip(("train", "valid", "test"), _MASKS, strict=True)
            split_idx = check_split({k: _mask_index(getattr(g, m)) for k, m in parts}, n)
        elif split == "random":
            if has_masks and kind == "multiclass":
                sizes = [int(_mask_index(getattr(g, m)).numel()) for m in _MASKS]
                split_idx = random_node_split(y, max(1, sizes[0] // num_outputs), sizes[1], sizes[2], seed)
            else:
                labelled = torch.from_numpy(np.flatnonzero(~np.isnan(y_stats).all(axis=1)))
                part = random_split(labelled.numel(), seed)
                split_idx = {k: labelled[v].sort().values for k, v in part.items()}
        else:
            raise TaskError(f"split: {split!r} is not allowed for node tasks; choose one of public, random")
        split_name = split
    else:
        split_idx, split_name = check_split(split, n), "custom"
    for key, mask in zip(("train", "valid", "test"), _MASKS, strict=True):
        m = torch.zeros(n, dtype=torch.bool)
        m[split_idx[key]] = True
        setattr(g, mask, m)

    ei = g.edge_index
    meta = structure_meta(np.array([n]), np.array([ei.shape[1]]), ei[0].numpy())
    meta.update(label_meta(y_stats, kind))
    edge_dim = 0 if g.edge_attr is None else int(_as_2d(g.edge_attr).shape[1])
    meta.update(
        num_outputs=float(num_outputs),
        feature_dim=float(g.x.shape[1]),
        edge_dim=float(edge_dim),
        num_tasks=float(y_stats.shape[1]),
    )
    if kind == "multiclass":
        meta["num_classes"] = float(num_outputs)
        meta["homophily"] = homophily(ei, y)
    x_categorical = not torch.is_floating_point(g.x)
    return Task(
        name=name or "graph",
        level="node",
        kind=kind,  # type: ignore[arg-type]
        metric=metric,  # type: ignore[arg-type]
        num_outputs=num_outputs,
        node_dim=int(g.x.shape[1]),
        edge_dim=edge_dim,
        graphs=[g],
        split=split_idx,
        split_name=split_name,
        node_categorical=x_categorical,
        atom_vocab=_vocab(g.x, ATOM_VOCAB) if x_categorical else (),
        meta=meta,
        fingerprint=fingerprint(content, kind, split_name, split_idx),
        label_names=label_names,
    )


def _as_2d(t: torch.Tensor) -> torch.Tensor:
    """``[n]`` -> ``[n, 1]``; ``[n, ...]`` -> ``[n, prod(...)]`` (also for ``n == 0``)."""
    return t.unsqueeze(-1) if t.dim() == 1 else t.flatten(1)


def _vocab(x: torch.Tensor, known: tuple[int, ...]) -> tuple[int, ...]:
    """Category counts of integer features: ``known`` if they fit it, else ``max + 1`` per column."""
    x = _as_2d(x)
    if x.numel() == 0:
        return tuple(known) if x.shape[1] == len(known) else (1,) * x.shape[1]
    top = x.max(dim=0).values
    if x.shape[1] == len(known) and bool((top < torch.tensor(known)).all()) and int(x.min()) >= 0:
        return tuple(known)
    return tuple(int(t) + 1 for t in top)


def graph_list_task(
    graphs: Sequence[Any],
    *,
    split: str | dict[str, Any] | None = None,
    seed: int = 0,
    kind: str | None = None,
    metric: str | None = None,
    name: str | None = None,
) -> Task:
    """Build a graph-level task from PyG graphs, each with ``edge_index`` and a graph label ``y``.

    ``y`` may be a scalar, ``[T]`` or ``[1, T]``; it is stored as ``float[1, T]`` (class index for
    multiclass), NaN for missing. Graphs without ``x`` get a constant feature ``ones(n, 1)``. Splits:
    ``random`` (80/10/10, seeded), ``scaffold`` (needs a ``smiles`` string on every graph), or a dict;
    ``None`` picks ``scaffold`` for classification graphs that carry SMILES, else ``random``.
    Graphs are shallow copies; the input objects are not modified.
    """
    graphs = [copy.copy(g) for g in graphs]
    if not graphs:
        raise TaskError("graph task: the data set has no graphs")
    ys: list[np.ndarray] = []
    for i, g in enumerate(graphs):
        if g.edge_index is None:
            raise TaskError(f"graph {i} has no edge_index")
        if g.y is None:
            raise TaskError(f"graph {i} has no label 'y'")
        if g.x is None:
            g.x = torch.ones(g.num_nodes, 1)
        ys.append(g.y.detach().double().reshape(-1).numpy())
    widths = {len(v) for v in ys}
    if len(widths) != 1:
        raise TaskError(f"graph task: graphs have labels of different widths {sorted(widths)}")
    feat_dims = {tuple(g.x.shape[1:]) for g in graphs}
    if len(feat_dims) != 1:
        raise TaskError(f"graph task: graphs have node features of different shapes {sorted(feat_dims)}")
    ymat = np.stack(ys)
    kind, y32, num_outputs, label_names = prepare_labels(ymat, kind, [f"y{i}" for i in range(ymat.shape[1])])
    metric = resolve_metric(kind, metric)
    y_t = torch.from_numpy(y32)
    for g, row in zip(graphs, torch.split(y_t, 1), strict=True):
        g.y = row

    n = len(graphs)
    has_smiles = all(isinstance(getattr(g, "smiles", None), str) for g in graphs)
    if split is None:
        split = "scaffold" if has_smiles and kind != "regression" else "random"
    if isinstance(split, str):
        if split == "scaffold":
            if not has_smiles:
                raise TaskError("split 'scaffold' needs a 'smiles' string on every graph; use split='random'")
            split_idx = scaffold_split(_scaffolds([g.smiles for g in graphs]))
        elif split == "random":
            split_idx = random_split(n, seed)
        else:
            raise TaskError(f"split: {split!r} is not allowed for graph tasks; choose one of scaffold, random")
        split_name = split
    else:
        split_idx, split_name = check_split(split, n), "custom"

    num_nodes = np.array([g.num_nodes for g in graphs], dtype=np.int64)
    num_edges = np.array([g.edge_index.shape[1] for g in graphs], dtype=np.int64)
    offsets = np.cumsum(num_nodes) - num_nodes
    src = np.concatenate([g.edge_index[0].numpy() + o for g, o in zip(graphs, offsets, strict=True)])
    meta = structure_meta(num_nodes, num_edges, src.astype(np.int64))
    meta.update(label_meta(y32, kind))

    x0 = graphs[0].x
    node_dim = int(_as_2d(x0).shape[1])
    node_cat = not torch.is_floating_point(x0)
    with_edges = [g.edge_attr for g in graphs if g.edge_attr is not None]
    edge_dim = int(_as_2d(with_edges[0]).shape[1]) if with_edges else 0
    edge_cat = bool(with_edges) and not torch.is_floating_point(with_edges[0])
    meta.update(
        num_outputs=float(num_outputs),
        num_tasks=float(ymat.shape[1]),
        feature_dim=float(node_dim),
        edge_dim=float(edge_dim),
    )
    if kind == "multiclass":
        meta["num_classes"] = float(num_outputs)
    atom_vocab = _vocab(torch.cat([_as_2d(g.x) for g in graphs]), ATOM_VOCAB) if node_cat else ()
    bond_vocab = _vocab(torch.cat([_as_2d(e) for e in with_edges]), BOND_VOCAB) if edge_cat else ()
    h = hash_tensors([])
    for g in graphs:
        hash_tensors([g.x, g.edge_index, g.edge_attr, g.y], h)
    return Task(
        name=name or "graphs",
        level="graph",
        kind=kind,  # type: ignore[arg-type]
        metric=metric,  # type: ignore[arg-type]
        num_outputs=num_outputs,
        node_dim=node_dim,
        edge_dim=edge_dim,
        graphs=graphs,
        split=split_idx,
        split_name=split_name,
        node_categorical=node_cat,
        edge_categorical=edge_cat,
        atom_vocab=atom_vocab,
        bond_vocab=bond_vocab,
        meta=meta,
        fingerprint=fingerprint(h.hexdigest(), kind, split_name, split_idx),
        label_names=label_names,
    )


def _scaffolds(smiles: list[str]) -> list[str]:
    from rdkit import Chem

    from autogt.data._featurize import _scaffold, quiet_rdkit

    out = []
    with quiet_rdkit():
        for s in smiles:
            mol = Chem.MolFromSmiles(s)
            out.append(_scaffold(mol) if mol is not None else s)
    return out
