"""``gin`` (Xu et al. 2019), ``gine`` (GIN with edge features, Hu et al. 2020) and ``gin1``.

``x' = MLP((1 + eps) x + sum_j m_ij)`` with ``m_ij = x_j`` (``gin``) or ``relu(x_j + e_ij)`` (``gine``).
``eps`` is learnable (initialised to 0). The MLP is ``Linear(in, h) -> norm -> act -> Linear(h, out)``
with ``h = layer.local_out`` or ``out_dim`` when that is 0, and ``norm``/``act`` taken from the layer.
``gine`` projects edge features with a ``Linear(edge_dim, in_dim)`` only when their width differs
from ``in_dim`` (the model normally encodes edges at exactly ``in_dim``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from autogt.models._util import act_params, make_act, make_norm, norm_params, scatter_sum
from autogt.models.ops._base import linear_params, local_op

__all__ = ["GINConv", "GINLinear"]


class GINConv(nn.Module):
    """GIN / GINE convolution.

    Args:
        in_dim, out_dim: input / output widths.
        hidden: MLP hidden width.
        norm, act: MLP norm and activation names.
        edge_dim: edge feature width (``gine`` only; 0 = plain GIN messages through ``relu``).
        use_edges: ``gine`` messages ``relu(x_j + e_ij)`` instead of ``x_j``.

    Shapes:
        x ``[n, in_dim]``, edge_index ``[2, e]``, edge_attr ``[e, edge_dim]`` -> ``[n, out_dim]``.
    """

    def __init__(
        self, in_dim: int, out_dim: int, hidden: int, *, norm: str, act: str, edge_dim: int = 0, use_edges: bool = False
    ) -> None:
        super().__init__()
        self.use_edges = use_edges
        self.edge_dim = edge_dim if use_edges else 0
        self.eps = nn.Parameter(torch.zeros(1))
        self.edge_lin = nn.Linear(edge_dim, in_dim) if use_edges and edge_dim and edge_dim != in_dim else None
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden), make_norm(norm, hidden), make_act(act), nn.Linear(hidden, out_dim)
        )

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        src, dst = edge_index[0], edge_index[1]
        # in place on the freshly gathered messages: the [e, in] tensors are the largest of the layer and
        # memory-bound, so two fewer allocations are a measurable share of a small model's time
        msg = x.index_select(0, src)  # [e, in], a copy (autograd needs neither it nor its input)
        if self.use_edges:
            if self.edge_dim:
                if edge_attr is None:
                    raise ValueError("gine was built for edge features but the batch has no edge_attr")
                e = edge_attr if self.edge_lin is None else self.edge_lin(edge_attr)  # [e, in]
                msg.add_(e)
            msg.relu_()
        agg = scatter_sum(msg, dst, x.size(0))  # [n, in]
        return self.mlp(agg.add_(x * (1 + self.eps)))  # [n, out]


def _hidden(out_dim: int, layer: Any) -> int:
    return layer.local_out if getattr(layer, "local_out", 0) > 0 else out_dim


def _params(in_dim: int, out_dim: int, *, edge_dim: int, layer: Any, use_edges: bool, **_: Any) -> int:
    h = _hidden(out_dim, layer)
    total = 1 + linear_params(in_dim, h) + norm_params(layer.norm, h) + act_params(layer.act)
    total += linear_params(h, out_dim)
    if use_edges and edge_dim and edge_dim != in_dim:
        total += linear_params(edge_dim, in_dim)
    return total


def _flops(in_dim: int, out_dim: int, *, edge_dim: int, layer: Any, nodes: float, edges: float, use_edges: bool,
           **_: Any) -> float:
    h = _hidden(out_dim, layer)
    total = edges * in_dim + 2.0 * nodes * (in_dim * h + h * out_dim)
    if use_edges:
        total += 2.0 * edges * in_dim
        if edge_dim and edge_dim != in_dim:
            total += 2.0 * edges * edge_dim * in_dim
    return total


def _gin_params(in_dim: int, out_dim: int, **kw: Any) -> int:
    return _params(in_dim, out_dim, use_edges=False, **kw)


def _gine_params(in_dim: int, out_dim: int, **kw: Any) -> int:
    return _params(in_dim, out_dim, use_edges=True, **kw)


def _gin_flops(in_dim: int, out_dim: int, **kw: Any) -> float:
    return _flops(in_dim, out_dim, use_edges=False, **kw)


def _gine_flops(in_dim: int, out_dim: int, **kw: Any) -> float:
    return _flops(in_dim, out_dim, use_edges=True, **kw)


@local_op("gin", num_params=_gin_params, flops=_gin_flops)
def gin_op(in_dim: int, out_dim: int, *, heads: int, edge_dim: int, layer: Any) -> nn.Module:
    return GINConv(in_dim, out_dim, _hidden(out_dim, layer), norm=layer.norm, act=layer.act)


@local_op("gine", uses_edge_attr=True, num_params=_gine_params, flops=_gine_flops)
def gine_op(in_dim: int, out_dim: int, *, heads: int, edge_dim: int, layer: Any) -> nn.Module:
    return GINConv(
        in_dim, out_dim, _hidden(out_dim, layer), norm=layer.norm, act=layer.act, edge_dim=edge_dim, use_edges=True
    )


class GINLinear(nn.Module):
    """``gin1``: ``x' = Linear(x + sum_j x_j)``, GIN with a one-layer "MLP" and ``eps`` fixed at 0.

    This is the ``gin`` op of NAS-Bench-Graph (PyG ``GINConv(Linear(in, out))``); with it a NAS-Bench-Graph
    architecture is built with exactly the benchmark's parameters.

    Shapes:
        x ``[n, in_dim]``, edge_index ``[2, e]`` -> ``[n, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        agg = scatter_sum(x[edge_index[0]], edge_index[1], x.size(0))  # [n, in]
        return self.lin(x + agg)  # [n, out]


def _gin1_params(in_dim: int, out_dim: int, **_: Any) -> int:
    return linear_params(in_dim, out_dim)


def _gin1_flops(in_dim: int, out_dim: int, *, nodes: float, edges: float, **_: Any) -> float:
    return edges * in_dim + nodes * in_dim + 2.0 * nodes * in_dim * out_dim


@local_op("gin1", num_params=_gin1_params, flops=_gin1_flops)
def gin1_op(in_dim: int, out_dim: int, *, heads: int, edge_dim: int, layer: Any) -> nn.Module:
    return GINLinear(in_dim, out_dim)
