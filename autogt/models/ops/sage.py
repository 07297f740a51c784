"""``sage``: GraphSAGE with mean aggregation (Hamilton et al. 2017).

``x' = W_l mean_j x_j + W_r x_i`` (``W_l`` has the bias).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from autogt.models._util import scatter_mean
from autogt.models.ops._base import linear_params, local_op

__all__ = ["SAGEConv"]


class SAGEConv(nn.Module):
    """GraphSAGE (mean) layer.

    Shapes:
        x ``[n, in_dim]``, edge_index ``[2, e]`` -> ``[n, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.lin_l = nn.Linear(in_dim, out_dim)
        self.lin_r = nn.Linear(in_dim, out_dim, bias=False)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        agg = scatter_mean(x[edge_index[0]], edge_index[1], x.size(0))  # [n, in]
        return self.lin_l(agg) + self.lin_r(x)  # [n, out]


def _params(in_dim: int, out_dim: int, **_: Any) -> int:
    return linear_params(in_dim, out_dim) + linear_params(in_dim, out_dim, bias=False)


def _flops(in_dim: int, out_dim: int, *, nodes: float, edges: float, **_: Any) -> float:
    return 4.0 * nodes * in_dim * out_dim + edges * in_dim


@local_op("sage", num_params=_params, flops=_flops)
def sage_op(in_dim: int, out_dim: int, *, heads: int, edge_dim: int, layer: Any) -> nn.Module:
    return SAGEConv(in_dim, out_dim)
