"""Input-edge gates (the GTSP "graph data" dimension): a learned edge scorer and the exported edge filter.

Graphs at inference are new, so an edge's gate cannot be a free parameter: its hard-concrete location
is a learned function of the edge,

    log_alpha(e) = b + sum_c B_c[bond_c(e)] + sum_c (A_c[atom_c(src)] + A_c[atom_c(dst)])

(one scalar per category of each bond / atom feature column; for float features the tables become
``Linear(dim, 1)`` maps). It is symmetric in the endpoints, so both directions of a bond share a gate.
During mask training every message along ``e`` is multiplied by a hard-concrete sample ``z_e``
(the local ops' aggregation is re-implemented with per-edge weights; see :func:`weighted_forward`).
At inference the gate is deterministic and binary: ``e`` is kept iff ``P(z_e != 0) > 1/2``, i.e.
``log_alpha(e) > (2/3) log(1/11)`` (the median of the gate's training distribution is then open), which
keeps the kept fraction consistent with the expected L0 norm the Lagrangian drove to the target.

Export: the pruned model is a standard autogt model that expects already-filtered graphs. The scorer
is a few hundred numbers, stored as JSON in the pruned checkpoint's metadata (``extra["edge_filter"]``)
and applied by :class:`EdgeFilter`, a PyG-style transform (``filter(data) -> data`` with the dropped
edges removed from ``edge_index``, ``edge_attr`` and any other per-edge attribute; node attributes such
as precomputed positional encodings are untouched, so compute PE *before* filtering, as during
training). :func:`autogt.compress.load_pruned` returns the model wrapped with its filter.
:meth:`EdgeFilter.rule` describes the learned rule; when the atom tables are all zero it reduces to a
list of bond categories to drop.

Example:
    >>> import torch
    >>> from torch_geometric.data import Data
    >>> scorer = EdgeScorer(node_vocab=(3,), edge_vocab=(2,), init=3.0)
    >>> with torch.no_grad():
    ...     _ = scorer.edge_tables[0].weight[1].fill_(-10.0)   # bond category 1 is dropped
    >>> g = Data(x=torch.zeros(3, 1, dtype=torch.long), edge_index=torch.tensor([[0, 1], [1, 2]]),
    ...          edge_attr=torch.tensor([[0], [1]]))
    >>> EdgeFilter.from_scorer(scorer)(g).edge_index.tolist()
    [[0], [1]]
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autogt.compress._gates import BETA, LIMIT_L, LIMIT_R

__all__ = ["EdgeScorer", "EdgeFilter", "FilteredModel", "weighted_forward", "patch_edge_weights", "KEEP_THRESHOLD"]

KEEP_THRESHOLD = BETA * math.log(-LIMIT_L / LIMIT_R)
"""An edge is kept iff its score is above this (``(2/3) log(1/11)``), i.e. iff ``P(z_e != 0) > 1/2``: the
rule agrees with the expected L0 norm that the Lagrangian controls (a "deterministic gate > 0" rule would keep
every edge whose gate is merely uncertain)."""


class EdgeScorer(nn.Module):
    """Per-edge hard-concrete location from edge features and endpoint node features (see module doc).

    Args:
        node_vocab / edge_vocab: category counts per column for categorical features (empty = none).
        node_dim / edge_dim: widths for float features (used when the vocab is empty).
        init: initial bias (a large value starts with every edge kept).

    Shapes:
        x ``[n, node cols]``, edge_index ``[2, e]``, edge_attr ``[e, edge cols]`` -> ``[e]``.
    """

    def __init__(self, *, node_vocab: tuple[int, ...] | list[int] = (), edge_vocab: tuple[int, ...] | list[int] = (),
                 node_dim: int = 0, edge_dim: int = 0, init: float = 3.0) -> None:
        super().__init__()
        self.node_vocab = tuple(int(v) for v in node_vocab)
        self.edge_vocab = tuple(int(v) for v in edge_vocab)
        self.node_dim, self.edge_dim = int(node_dim), int(edge_dim)
        self.bias = nn.Parameter(torch.tensor(float(init)))
        self.node_tables = nn.ModuleList(nn.Embedding(v, 1) for v in self.node_vocab)
        self.edge_tables = nn.ModuleList(nn.Embedding(v, 1) for v in self.edge_vocab)
        self.node_lin = nn.Linear(self.node_dim, 1, bias=False) if not self.node_vocab and self.node_dim else None
        self.edge_lin = nn.Linear(self.edge_dim, 1, bias=False) if not self.edge_vocab and self.edge_dim else None
        for m in [*self.node_tables, *self.edge_tables, self.node_lin, self.edge_lin]:
            if m is not None:
                nn.init.zeros_(m.weight)

    @classmethod
    def for_task(cls, info: Any, init: float = 3.0) -> EdgeScorer:
        """A scorer matching a task's features (``TaskInfo``, ``Task`` or ``describe()`` dict)."""
        from autogt.models.plan import TaskInfo

        ti = TaskInfo.of(info)
        return cls(node_vocab=ti.atom_vocab if ti.node_categorical else (),
                   edge_vocab=ti.bond_vocab if ti.edge_categorical else (),
                   node_dim=ti.node_dim, edge_dim=ti.edge_dim, init=init)

    @staticmethod
    def _table_sum(tables: nn.ModuleList, vocab: tuple[int, ...], x: Tensor) -> Tensor:
        if x.dim() == 1:
            x = x.unsqueeze(-1)
        upper = torch.tensor([v - 1 for v in vocab], device=x.device)
        x = torch.minimum(x.long().clamp_min(0), upper)  # [m, C], as the categorical encoders clamp
        out = tables[0](x[:, 0]).squeeze(-1)
        for c, t in enumerate(tables[1:], start=1):
            out = out + t(x[:, c]).squeeze(-1)
        return out  # [m]

    def node_scores(self, x: Tensor) -> Tensor | None:
        """Per-node contribution ``[n]`` (``None`` without node terms)."""
        if self.node_tables:
            return self._table_sum(self.node_tables, self.node_vocab, x)
        if self.node_lin is not None:
            return self.node_lin(x.float().reshape(x.size(0), -1)).squeeze(-1)
        return None

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        score = self.bias.expand(edge_index.size(1))  # [e]
        node = self.node_scores(x)
        if node is not None:
            score = score + node[edge_index[0]] + node[edge_index[1]]
        if edge_attr is not None and self.edge_tables:
            score = score + self._table_sum(self.edge_tables, self.edge_vocab, edge_attr)
        elif edge_attr is not None and self.edge_lin is not None:
            score = score + self.edge_lin(edge_attr.float().reshape(edge_attr.size(0), -1)).squeeze(-1)
        return score

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters (see :meth:`EdgeFilter.from_dict`)."""
        return {
            "format": "autogt-edge-filter", "version": 1, "threshold": KEEP_THRESHOLD,
            "bias": float(self.bias.detach()),
            "node_vocab": list(self.node_vocab), "edge_vocab": list(self.edge_vocab),
            "node_dim": self.node_dim, "edge_dim": self.edge_dim,
            "node_tables": [_table(t) for t in self.node_tables],
            "edge_tables": [_table(t) for t in self.edge_tables],
            "node_lin": self.node_lin.weight.detach().squeeze(0).tolist() if self.node_lin is not None else None,
            "edge_lin": self.edge_lin.weight.detach().squeeze(0).tolist() if self.edge_lin is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EdgeScorer:
        """Inverse of :meth:`to_dict`."""
        if data.get("format") != "autogt-edge-filter":
            raise ValueError(f"not an autogt edge filter (format {data.get('format')!r})")
        s = cls(node_vocab=data["node_vocab"], edge_vocab=data["edge_vocab"], node_dim=data["node_dim"],
                edge_dim=data["edge_dim"], init=data["bias"])
        with torch.no_grad():
            for t, w in zip(list(s.node_tables) + list(s.edge_tables), data["node_tables"] + data["edge_tables"],
                            strict=True):
                _set_table(t, w)
            if s.node_lin is not None:
                s.node_lin.weight.copy_(torch.tensor(data["node_lin"]).unsqueeze(0))
            if s.edge_lin is not None:
                s.edge_lin.weight.copy_(torch.tensor(data["edge_lin"]).unsqueeze(0))
        return s


def _table(t: Any) -> list[float]:
    return t.weight.detach().squeeze(-1).tolist()


def _set_table(t: Any, values: list[float]) -> None:
    t.weight.copy_(torch.tensor(values).unsqueeze(-1))


class EdgeFilter:
    """Drops the edges a trained :class:`EdgeScorer` closes; a PyG-style transform (``data -> data``).

    Example:
        >>> filt = EdgeFilter.from_dict(ckpt.extra["edge_filter"])   # doctest: +SKIP
        >>> small = filt(graph)                                       # doctest: +SKIP
    """

    def __init__(self, scorer: EdgeScorer, threshold: float = KEEP_THRESHOLD) -> None:
        self.scorer = scorer.eval()
        self.threshold = float(threshold)

    @classmethod
    def from_scorer(cls, scorer: EdgeScorer) -> EdgeFilter:
        return cls(EdgeScorer.from_dict(scorer.to_dict()))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EdgeFilter:
        return cls(EdgeScorer.from_dict(data), float(data.get("threshold", KEEP_THRESHOLD)))

    def to_dict(self) -> dict[str, Any]:
        return {**self.scorer.to_dict(), "threshold": self.threshold}

    @torch.no_grad()
    def keep_mask(self, data: Any) -> Tensor:
        """Boolean ``[e]``: which edges survive."""
        return self.scorer(data.x, data.edge_index, getattr(data, "edge_attr", None)) > self.threshold

    def __call__(self, data: Any) -> Any:
        keep = self.keep_mask(data)
        out = data.clone()
        num_edges = data.edge_index.size(1)
        for key, value in data.items():
            if key == "edge_index":
                out.edge_index = value[:, keep]
            elif isinstance(value, Tensor) and value.dim() >= 1 and value.size(0) == num_edges \
                    and data.is_edge_attr(key):
                out[key] = value[keep]
        return out

    def flops(self, nodes: float, edges: float) -> float:
        """Additions of one filter pass over a graph (table look-ups and sums)."""
        node_cols = len(self.scorer.node_vocab) or self.scorer.node_dim
        edge_cols = len(self.scorer.edge_vocab) or self.scorer.edge_dim
        return float(nodes * node_cols + edges * (edge_cols + 3))

    def rule(self, tol: float = 1e-6) -> str:
        """A readable description; a pure bond-category rule when the node tables are all zero."""
        d = self.to_dict()
        node_zero = all(abs(v) <= tol for row in d["node_tables"] for v in row) and not any(d["node_lin"] or [])
        if node_zero and d["edge_tables"] and len(d["edge_tables"]) == 1:
            drop = [i for i, w in enumerate(d["edge_tables"][0]) if d["bias"] + w <= self.threshold]
            return f"drop edges whose bond category (column 0) is in {drop}" if drop else "keep every edge"
        return (f"keep edge (u, v) iff bias + bond terms + atom(u) + atom(v) > {self.threshold:.4f} "
                f"(bias {d['bias']:.3f}; tables in the checkpoint's extra['edge_filter'])")


class FilteredModel(nn.Module):
    """A pruned model behind its edge filter: ``model(filter(batch))``.

    Shapes:
        as the wrapped model.
    """

    def __init__(self, model: nn.Module, edge_filter: EdgeFilter | None) -> None:
        super().__init__()
        self.model = model
        self.edge_filter = edge_filter

    def forward(self, data: Any) -> Tensor:
        if self.edge_filter is not None:
            data = self.edge_filter(data)
        return self.model(data)


# ----------------------------------------------------------------------------- per-edge weights in local ops
def _gin_forward(self: Any, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
    w = getattr(self, "_autogt_edge_weight", None)
    if w is None:
        return self._autogt_orig_forward(x, edge_index, edge_attr)
    from autogt.models._util import scatter_sum

    src, dst = edge_index[0], edge_index[1]
    msg = x[src]  # [e, in]
    if self.use_edges:
        if self.edge_dim:
            if edge_attr is None:
                raise ValueError("gine was built for edge features but the batch has no edge_attr")
            msg = msg + (edge_attr if self.edge_lin is None else self.edge_lin(edge_attr))
        msg = F.relu(msg)
    agg = scatter_sum(msg * w.unsqueeze(-1), dst, x.size(0))  # [n, in]
    return self.mlp((1 + self.eps) * x + agg)


def _gcn_forward(self: Any, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
    w = getattr(self, "_autogt_edge_weight", None)
    if w is None:
        return self._autogt_orig_forward(x, edge_index, edge_attr)
    from autogt.models._util import scatter_sum

    n = x.size(0)
    h = self.lin(x)  # [n, out]
    keep = edge_index[0] != edge_index[1]
    loop = torch.arange(n, device=x.device)
    src = torch.cat([edge_index[0][keep], loop])
    dst = torch.cat([edge_index[1][keep], loop])
    ew = torch.cat([w[keep].to(h.dtype), torch.ones(n, dtype=h.dtype, device=x.device)])  # [e']
    deg = torch.zeros(n, dtype=h.dtype, device=x.device).index_add_(0, dst, ew)
    dinv = deg.pow(-0.5)
    dinv = torch.where(torch.isinf(dinv), torch.zeros_like(dinv), dinv)
    norm = dinv[src] * ew * dinv[dst]
    return scatter_sum(h[src] * norm.unsqueeze(-1), dst, n) + self.bias


def _weighted_mean(x: Tensor, edge_index: Tensor, w: Tensor) -> Tensor:
    from autogt.models._util import scatter_sum

    n = x.size(0)
    total = scatter_sum(x[edge_index[0]] * w.unsqueeze(-1), edge_index[1], n)  # [n, in]
    count = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(0, edge_index[1], w.to(x.dtype))
    return total / count.clamp_min(1.0).unsqueeze(-1)


def _sage_forward(self: Any, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
    w = getattr(self, "_autogt_edge_weight", None)
    if w is None:
        return self._autogt_orig_forward(x, edge_index, edge_attr)
    return self.lin_l(_weighted_mean(x, edge_index, w)) + self.lin_r(x)


def _graph_forward(self: Any, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
    w = getattr(self, "_autogt_edge_weight", None)
    if w is None:
        return self._autogt_orig_forward(x, edge_index, edge_attr)
    from autogt.models._util import scatter_sum

    agg = scatter_sum(x[edge_index[0]] * w.unsqueeze(-1), edge_index[1], x.size(0))
    return self.lin_rel(agg) + self.lin_root(x)


def weighted_forward(module: nn.Module) -> Callable[..., Tensor] | None:
    """The edge-weighted forward for a local op module (``None`` for ops that ignore edges or are unsupported)."""
    from autogt.models.ops.gcn import GCNConv
    from autogt.models.ops.gin import GINConv
    from autogt.models.ops.graph import GraphConv
    from autogt.models.ops.sage import SAGEConv

    table: dict[type, Callable[..., Tensor]] = {GINConv: _gin_forward, GCNConv: _gcn_forward,
                                                SAGEConv: _sage_forward, GraphConv: _graph_forward}
    return table.get(type(module))


class patch_edge_weights:  # noqa: N801  (used like a function returning a handle)
    """Give the local ops of ``model`` per-edge weights: set ``handle.weight`` before a forward.

    The ops' own forwards are shadowed by instance attributes (no class or file is changed);
    :meth:`remove` restores them.
    """

    def __init__(self, model: Any) -> None:
        self.modules: list[Any] = []
        for layer in getattr(model, "layers", []):
            op = getattr(layer, "local", None)
            if op is None:
                continue
            fwd = weighted_forward(op)
            if fwd is None:
                continue
            op._autogt_orig_forward = op.forward  # type: ignore[assignment]
            op.forward = types.MethodType(fwd, op)  # type: ignore[method-assign]
            op._autogt_edge_weight = None
            self.modules.append(op)

    def set(self, weight: Tensor | None) -> None:
        for op in self.modules:
            op._autogt_edge_weight = weight

    def remove(self) -> None:
        for op in self.modules:
            for attr in ("forward", "_autogt_orig_forward", "_autogt_edge_weight"):
                if attr in op.__dict__:
                    delattr(op, attr)
        self.modules = []
