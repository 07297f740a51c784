"""``graph``: GraphConv, the 1-WL / k-GNN layer of Morris et al. (2019).

``x' = W_1 x_i + W_2 sum_j x_j`` (``W_2`` has the bias).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from autogt.models._util import scatter_sum
from autogt.models.ops._base import linear_params, local_op

__all__ = ["GraphConv"]


class GraphConv(nn.Module):
    """GraphConv layer.

    Shapes:
        x ``[n, in_dim]``, edge_index ``[2, e]`` -> ``[n, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.lin_rel = nn.Linear(in_dim, out_dim)
        self.lin_root = nn.Linear(in_dim, out_dim, bias=False)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        agg = scatter_sum(x[edge_index[0]], edge_index[1], x.size(0))  # [n, in]
        return self.lin_rel(agg) + self.lin_root(x)  # [n, out]


def _params(in_dim: int, out_dim: int, **_: Any) -> int:
    return linear_params(in_dim, out_dim) + linear_params(in_dim, out_dim, bias=False)


def _flops(in_dim: int, out_dim: int, *, nodes: float, edges: float, **_: Any) -> float:
    return 4.0 * nodes * in_dim * out_dim + edges * in_dim


@local_op("graph", num_params=_params, flops=_flops)
def graph_op(in_dim: int, out_dim: int, *, heads: int, edge_dim: int, layer: Any) -> nn.Module:
    return GraphConv(in_dim, out_dim)
