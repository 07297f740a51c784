"""``gcn``: the graph convolution of Kipf & Welling (2017).

``x' = D^-1/2 (A + I) D^-1/2 X W + b`` (existing self loops are replaced by one per node).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from autogt.models._util import scatter_sum, sym_norm
from autogt.models.ops._base import linear_params, local_op

__all__ = ["GCNConv"]


class GCNConv(nn.Module):
    """Kipf & Welling GCN layer (Glorot weight, zero bias).

    Shapes:
        x ``[n, in_dim]``, edge_index ``[2, e]`` -> ``[n, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_dim))
        nn.init.xavier_uniform_(self.lin.weight)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        n = x.size(0)
        h = self.lin(x)  # [n, out]
        src, dst, w = sym_norm(edge_index, n, self_loops=True, dtype=h.dtype)
        return scatter_sum(h[src] * w.unsqueeze(-1), dst, n) + self.bias  # [n, out]


def _params(in_dim: int, out_dim: int, **_: Any) -> int:
    return linear_params(in_dim, out_dim)


def _flops(in_dim: int, out_dim: int, *, nodes: float, edges: float, **_: Any) -> float:
    return 2.0 * nodes * in_dim * out_dim + 2.0 * (edges + nodes) * out_dim


@local_op("gcn", num_params=_params, flops=_flops)
def gcn_op(in_dim: int, out_dim: int, *, heads: int, edge_dim: int, layer: Any) -> nn.Module:
    return GCNConv(in_dim, out_dim)
