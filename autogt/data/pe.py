"""Positional / structural encodings attached to graphs: RWSE (``pe_rw``) and Laplacian eigenvectors (``pe_lap``).

- ``rw`` (RWSE, as in GraphGPS): with the random-walk matrix :math:`P = D^{-1} A`, node ``i`` gets
  :math:`[(P^1)_{ii}, (P^2)_{ii}, \\dots, (P^k)_{ii}]`, the probability that a ``s``-step walk returns to
  its start. Isolated nodes get zeros.
- ``lap``: the ``k`` eigenvectors of the symmetric normalised Laplacian
  :math:`L = I - D^{-1/2} A D^{-1/2}` with the smallest eigenvalues, skipping the first (trivial) one;
  zero-padded when a graph has fewer than ``k + 1`` nodes. Each eigenvector's sign is fixed so that its
  first clearly non-zero entry is positive (models usually flip signs randomly while training anyway).

Small graphs (up to ``DENSE_MAX`` nodes) are processed together: grouped by size, turned into dense
batched matrices, and powered / diagonalised in one batched call. Larger graphs use sparse matrices
(row-chunked sparse products for RWSE, ``scipy.sparse.linalg.eigsh`` for eigenvectors).

Shapes:
    ``pe_rw``, ``pe_lap``: ``float32 [num_nodes, k]`` on every graph.

Example:
    >>> import torch
    >>> from torch_geometric.data import Data
    >>> triangle = Data(edge_index=torch.tensor([[0, 1, 1, 2, 2, 0], [1, 0, 2, 1, 0, 2]]), num_nodes=3)
    >>> compute_pe(triangle, "rw", 3)[0].tolist()
    [0.0, 0.5, 0.25]
    >>> compute_pe(triangle, "lap", 4).shape
    torch.Size([3, 4])
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from autogt.data.task import Task, TaskError

__all__ = ["add_pe", "compute_pe", "PE_KINDS", "DENSE_MAX"]

PE_KINDS = ("rw", "lap")
DENSE_MAX = 512
"""Graphs with at most this many nodes use the batched dense path."""

_ALIASES = {"rw": "rw", "rwse": "rw", "pe_rw": "rw", "lap": "lap", "laplacian": "lap", "lappe": "lap", "pe_lap": "lap"}
_GROUP_ELEMENTS = 1 << 22  # max B * n * n per dense batch


def _kind(kind: str) -> str:
    try:
        return _ALIASES[kind.lower()]
    except (KeyError, AttributeError):
        raise TaskError(f"pe kind: {kind!r} is not allowed; choose one of {', '.join(PE_KINDS)} (or none)") from None


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise TaskError(f"pe k: must be an integer >= 1, got {k!r}")
    return int(k)


def compute_pe(data: Any, kind: str, k: int) -> torch.Tensor:
    """Encoding of one graph as ``float32 [num_nodes, k]``.

    Args:
        data: a PyG ``Data`` (``edge_index`` and ``num_nodes`` are used).
        kind: ``rw`` (RWSE) or ``lap`` (Laplacian eigenvectors).
        k: random-walk steps or number of eigenvectors.

    Example:
        >>> import torch
        >>> from torch_geometric.data import Data
        >>> g = Data(edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=2)
        >>> compute_pe(g, "rw", 2).tolist()
        [[0.0, 1.0], [0.0, 1.0]]
    """
    return _compute_many([data], _kind(kind), _check_k(k))[0]


def add_pe(task: Task | Sequence[Any] | Any, kind: str, k: int) -> Any:
    """Attach ``pe_rw`` or ``pe_lap`` (``float32 [n, k]``) to every graph of a task, list or single graph.

    Idempotent: graphs that already hold the attribute with width ``k`` are left alone. ``kind="none"`` does
    nothing, so ``add_pe(task, spec.pe, spec.pe_dim)`` works for every spec.

    Args:
        task: a :class:`Task`, a list of ``Data`` or one ``Data`` (modified in place).
        kind: ``rw``, ``lap`` or ``none``.
        k: steps / eigenvectors.

    Returns:
        ``task`` itself.

    Example:
        >>> from autogt.data import load_task
        >>> task = add_pe(load_task("freesolv"), "rw", 8)
        >>> task.graphs[0].pe_rw.shape[1]
        8
    """
    if isinstance(kind, str) and kind.lower() == "none":
        return task
    kind = _kind(kind)
    k = _check_k(k)
    attr = f"pe_{kind}"
    if isinstance(task, Task):
        graphs = task.graphs
    elif isinstance(task, (list, tuple)):
        graphs = list(task)
    else:
        graphs = [task]
    todo = [g for g in graphs if not _has(g, attr, k)]
    if todo:
        for g, pe in zip(todo, _compute_many(todo, kind, k), strict=True):
            setattr(g, attr, pe)
    return task


def _has(g: Any, attr: str, k: int) -> bool:
    pe = getattr(g, attr, None)
    return isinstance(pe, torch.Tensor) and pe.dim() == 2 and pe.shape == (g.num_nodes, k)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Batched work on many tiny matrices is fastest (and immune to oversubscription) on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _compute_many(graphs: Sequence[Any], kind: str, k: int) -> list[torch.Tensor]:
    with _one_thread():
        return _compute_many_inner(graphs, kind, k)


def _compute_many_inner(graphs: Sequence[Any], kind: str, k: int) -> list[torch.Tensor]:
    out: list[torch.Tensor | None] = [None] * len(graphs)
    by_size: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(graphs):
        n = int(g.num_nodes)
        if n == 0:
            out[i] = torch.zeros(0, k)
        elif n <= DENSE_MAX:
            by_size[n].append(i)
        else:
            ei = g.edge_index.numpy()
            out[i] = torch.from_numpy((_rw_sparse if kind == "rw" else _lap_sparse)(ei, n, k)).float()
    for n, members in by_size.items():
        per_batch = max(1, _GROUP_ELEMENTS // (n * n))
        for start in range(0, len(members), per_batch):
            chunk = members[start : start + per_batch]
            adj = _dense_adjacency([graphs[i].edge_index for i in chunk], n)
            pe = _rw_dense(adj, k) if kind == "rw" else _lap_dense(adj, k)
            for i, row in zip(chunk, pe.float().unbind(0), strict=True):
                out[i] = row
    return out  # type: ignore[return-value]


def _dense_adjacency(edge_indices: list[torch.Tensor], n: int) -> torch.Tensor:
    """``float64 [B, n, n]`` 0/1 adjacency (``A[b, i, j] = 1`` for every edge ``i -> j``)."""
    counts = torch.tensor([ei.shape[1] for ei in edge_indices])
    adj = torch.zeros(len(edge_indices) * n * n, dtype=torch.float64)
    if int(counts.sum()):
        ei = torch.cat(edge_indices, dim=1).long()
        b = torch.repeat_interleave(torch.arange(len(edge_indices)), counts)
        adj[b * n * n + ei[0] * n + ei[1]] = 1.0
    return adj.view(len(edge_indices), n, n)


def _rw_dense(adj: torch.Tensor, k: int) -> torch.Tensor:
    deg = adj.sum(-1, keepdim=True)  # (B, n, 1)
    p = adj / deg.clamp(min=1.0)  # (B, n, n), rows of isolated nodes stay 0
    out = torch.empty(adj.shape[0], adj.shape[1], k, dtype=adj.dtype)
    m = p
    for step in range(k):
        out[:, :, step] = torch.diagonal(m, dim1=-2, dim2=-1)
        if step + 1 < k:
            m = m @ p
    return out


def _fix_sign(vecs: torch.Tensor) -> torch.Tensor:
    """Flip each eigenvector (column) so its first clearly non-zero entry is positive.

    "Clearly non-zero" means above ``1e-6`` times the column's largest magnitude, so round-off in entries
    that are zero in exact arithmetic cannot decide the sign (a rule based on the largest entry would be
    ambiguous for the many symmetric molecules whose eigenvectors have equal-magnitude entries).
    """
    mag = vecs.abs()
    big = mag > 1e-6 * mag.amax(dim=-2, keepdim=True).clamp(min=1e-30)  # (..., n, m)
    first = big.to(torch.int8).argmax(dim=-2, keepdim=True)  # first True per column
    sign = torch.sign(torch.gather(vecs, -2, first))
    sign[sign == 0] = 1.0
    return vecs * sign


def _lap_dense(adj: torch.Tensor, k: int) -> torch.Tensor:
    adj = torch.maximum(adj, adj.transpose(-1, -2))  # the Laplacian needs a symmetric adjacency
    deg = adj.sum(-1)
    dinv = torch.where(deg > 0, deg.clamp(min=1e-12).rsqrt(), torch.zeros_like(deg))
    n = adj.shape[-1]
    lap = torch.eye(n, dtype=adj.dtype) - dinv.unsqueeze(-1) * adj * dinv.unsqueeze(-2)
    _, vecs = torch.linalg.eigh(lap)  # ascending eigenvalues
    vecs = _fix_sign(vecs[..., 1 : k + 1])
    out = torch.zeros(adj.shape[0], n, k, dtype=adj.dtype)
    out[..., : vecs.shape[-1]] = vecs
    return out


def _sparse_adjacency(edge_index: np.ndarray, n: int) -> Any:
    import scipy.sparse as sp

    data = np.ones(edge_index.shape[1])
    adj = sp.csr_matrix((data, (edge_index[0], edge_index[1])), shape=(n, n))
    adj.data[:] = 1.0  # merge duplicate edges
    return adj


def _rw_sparse(edge_index: np.ndarray, n: int, k: int) -> np.ndarray:
    """Return probabilities from row-chunked products ``X <- X P`` with ``X`` = rows of the identity."""
    import scipy.sparse as sp

    adj = _sparse_adjacency(edge_index, n)
    deg = np.asarray(adj.sum(axis=1)).reshape(-1)
    p = sp.diags(np.where(deg > 0, 1.0 / np.maximum(deg, 1.0), 0.0)) @ adj  # D^-1 A
    pt = p.T.tocsr()
    out = np.zeros((n, k))
    chunk = max(1, min(n, (1 << 24) // n))
    for start in range(0, n, chunk):
        rows = np.arange(start, min(n, start + chunk))
        xt = np.zeros((n, len(rows)))  # X transposed: column j is row rows[j] of P^s
        xt[rows, np.arange(len(rows))] = 1.0
        for step in range(k):
            xt = pt @ xt  # (X P)^T = P^T X^T
            out[rows, step] = xt[rows, np.arange(len(rows))]
    return out


def _lap_sparse(edge_index: np.ndarray, n: int, k: int) -> np.ndarray:
    """Laplacian PE of a large graph, solved per connected component.

    ``L`` is block-diagonal over components, so its eigenpairs are those of the components, zero-padded.
    Solving each component separately keeps ARPACK away from the highly degenerate eigenvalue 0 of a
    graph with many components (CiteSeer has 438) and fixes a deterministic basis for it: one vector per
    component, ordered like the components.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    adj = _sparse_adjacency(edge_index, n)
    adj = adj.maximum(adj.T).tocsr()
    deg = np.asarray(adj.sum(axis=1)).reshape(-1)
    dinv = sp.diags(np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-12)), 0.0))
    lap = (sp.eye(n) - dinv @ adj @ dinv).tocsr()
    _, labels = connected_components(adj, directed=False)
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.cumsum(np.bincount(labels))[:-1])
    vals: list[np.ndarray] = []
    owners: list[tuple[np.ndarray, np.ndarray]] = []  # (component nodes, its eigenvectors)
    for nodes in groups:
        sub = lap[nodes][:, nodes]
        w, v = _smallest_eigh(sub, min(k + 1, len(nodes)))
        vals.append(w)
        owners += [(nodes, v[:, j]) for j in range(v.shape[1])]
    all_vals = np.concatenate(vals)
    # ties (e.g. one zero eigenvalue per component) keep component order; round-off cannot reorder them
    pick = np.argsort(np.round(all_vals, 8), kind="stable")[1 : k + 1]
    vecs = np.zeros((n, k))
    for col, idx in enumerate(pick):
        nodes, v = owners[idx]
        vecs[nodes, col] = v
    return _fix_sign(torch.from_numpy(vecs)).numpy()


def _smallest_eigh(lap: Any, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``m`` smallest eigenpairs of a symmetric sparse matrix (dense solver for small ones)."""
    n = lap.shape[0]
    if n <= 2 * DENSE_MAX or m >= n - 1:
        w, v = np.linalg.eigh(lap.toarray())
        return w[:m], v[:, :m]
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    v0 = np.random.default_rng(0).random(n) + 0.5  # fixed start vector: deterministic output
    try:
        # shift-invert just below 0: fast convergence to the smallest eigenvalues
        w, v = eigsh(lap.tocsc(), k=m, sigma=-1e-3, which="LM", v0=v0)
    except ArpackNoConvergence as exc:
        if n > 8000:
            raise TaskError(f"Laplacian PE: ARPACK did not converge on a {n}-node component") from exc
        w, v = np.linalg.eigh(lap.toarray())
    order = np.argsort(w, kind="stable")[:m]
    return w[order], v[:, order]
