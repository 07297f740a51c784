"""``gat`` (Velickovic et al. 2018) and ``gatv2`` (Brody et al. 2022) graph attention.

Heads: the op uses ``layer.heads`` heads. When ``out_dim`` is divisible by ``heads`` each head has
``out_dim // heads`` channels and heads are concatenated; otherwise each head has ``out_dim``
channels and heads are averaged (``concat=False``). Self loops are added (existing ones replaced).
``layer.attn_dropout`` is the dropout on the attention coefficients.

- ``gat``:   ``e_ij = LeakyReLU(a_s . W x_j + a_d . W x_i)``, messages ``W x_j``.
- ``gatv2``: ``e_ij = a . LeakyReLU(W_l x_j + W_r x_i)``, messages ``W_l x_j``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autogt.models._util import scatter_sum, segment_softmax
from autogt.models.ops._base import linear_params, local_op

__all__ = ["GATConv", "head_layout"]


def head_layout(out_dim: int, heads: int) -> tuple[int, bool]:
    """``(channels per head, concat)`` for a GAT layer of width ``out_dim`` with ``heads`` heads."""
    if out_dim % heads == 0:
        return out_dim // heads, True
    return out_dim, False


class GATConv(nn.Module):
    """GAT / GATv2 layer.

    Shapes:
        x ``[n, in_dim]``, edge_index ``[2, e]`` -> ``[n, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, heads: int, *, v2: bool = False, dropout: float = 0.0,
                 negative_slope: float = 0.2) -> None:
        super().__init__()
        self.heads = heads
        self.channels, self.concat = head_layout(out_dim, heads)
        self.v2 = v2
        self.dropout = dropout
        self.negative_slope = negative_slope
        inner = heads * self.channels
        if v2:
            self.lin_l = nn.Linear(in_dim, inner)
            self.lin_r = nn.Linear(in_dim, inner)
            self.att = nn.Parameter(torch.empty(heads, self.channels))
            nn.init.xavier_uniform_(self.att)
        else:
            self.lin = nn.Linear(in_dim, inner, bias=False)
            self.att_src = nn.Parameter(torch.empty(heads, self.channels))
            self.att_dst = nn.Parameter(torch.empty(heads, self.channels))
            nn.init.xavier_uniform_(self.lin.weight)
            nn.init.xavier_uniform_(self.att_src)
            nn.init.xavier_uniform_(self.att_dst)
        self.bias = nn.Parameter(torch.zeros(out_dim))

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        n, hh, c = x.size(0), self.heads, self.channels
        keep = edge_index[0] != edge_index[1]
        loop = torch.arange(n, device=x.device)
        src = torch.cat([edge_index[0][keep], loop])  # [e']
        dst = torch.cat([edge_index[1][keep], loop])  # [e']
        if self.v2:
            xl = self.lin_l(x).view(n, hh, c)  # [n, H, C]
            xr = self.lin_r(x).view(n, hh, c)  # [n, H, C]
            z = F.leaky_relu(xl[src] + xr[dst], self.negative_slope)  # [e', H, C]
            logits = (z * self.att).sum(-1)  # [e', H]
            values = xl
        else:
            h = self.lin(x).view(n, hh, c)  # [n, H, C]
            a_src = (h * self.att_src).sum(-1)  # [n, H]
            a_dst = (h * self.att_dst).sum(-1)  # [n, H]
            logits = F.leaky_relu(a_src[src] + a_dst[dst], self.negative_slope)  # [e', H]
            values = h
        alpha = segment_softmax(logits, dst, n)  # [e', H]
        alpha = F.dropout(alpha, self.dropout, self.training)
        out = scatter_sum(values[src] * alpha.unsqueeze(-1), dst, n)  # [n, H, C]
        out = out.reshape(n, hh * c) if self.concat else out.mean(1)  # [n, out]
        return out + self.bias


def _params(in_dim: int, out_dim: int, *, heads: int, v2: bool, **_: Any) -> int:
    c, _concat = head_layout(out_dim, heads)
    inner = heads * c
    if v2:
        return 2 * linear_params(in_dim, inner) + inner + out_dim
    return linear_params(in_dim, inner, bias=False) + 2 * inner + out_dim


def _flops(in_dim: int, out_dim: int, *, heads: int, nodes: float, edges: float, v2: bool, **_: Any) -> float:
    c, _concat = head_layout(out_dim, heads)
    inner = heads * c
    e = edges + nodes
    if v2:
        return 4.0 * nodes * in_dim * inner + 4.0 * e * inner + 2.0 * e * inner
    return 2.0 * nodes * in_dim * inner + 4.0 * nodes * inner + 4.0 * e * heads + 2.0 * e * inner


def _gat_params(in_dim: int, out_dim: int, **kw: Any) -> int:
    return _params(in_dim, out_dim, v2=False, **kw)


def _gatv2_params(in_dim: int, out_dim: int, **kw: Any) -> int:
    return _params(in_dim, out_dim, v2=True, **kw)


def _gat_flops(in_dim: int, out_dim: int, **kw: Any) -> float:
    return _flops(in_dim, out_dim, v2=False, **kw)


def _gatv2_flops(in_dim: int, out_dim: int, **kw: Any) -> float:
    return _flops(in_dim, out_dim, v2=True, **kw)


@local_op("gat", num_params=_gat_params, flops=_gat_flops)
def gat_op(in_dim: int, out_dim: int, *, heads: int, edge_dim: int, layer: Any) -> nn.Module:
    return GATConv(in_dim, out_dim, heads, v2=False, dropout=layer.attn_dropout)


@local_op("gatv2", num_params=_gatv2_params, flops=_gatv2_flops)
def gatv2_op(in_dim: int, out_dim: int, *, heads: int, edge_dim: int, layer: Any) -> nn.Module:
    return GATConv(in_dim, out_dim, heads, v2=True, dropout=layer.attn_dropout)
