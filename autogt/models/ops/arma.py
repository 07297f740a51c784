"""``arma``: ARMA graph convolution (Bianchi et al. 2021) with one iteration per stack.

``x' = mean_k ReLU(A^ X W_k + X V_k + b_k)`` over ``K = layer.local_out`` stacks (1 when 0),
``A^ = D^-1/2 A D^-1/2`` without self loops.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from autogt.models._util import scatter_sum, sym_norm
from autogt.models.ops._base import linear_params, local_op

__all__ = ["ARMAConv"]


class ARMAConv(nn.Module):
    """ARMA layer with ``stacks`` parallel stacks of depth 1.

    Shapes:
        x ``[n, in_dim]``, edge_index ``[2, e]`` -> ``[n, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, stacks: int = 1) -> None:
        super().__init__()
        self.stacks, self.out_dim = stacks, out_dim
        self.init_lin = nn.Linear(in_dim, stacks * out_dim, bias=False)
        self.root_lin = nn.Linear(in_dim, stacks * out_dim)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        n = x.size(0)
        src, dst, w = sym_norm(edge_index, n, self_loops=False, dtype=x.dtype)
        h = self.init_lin(x)  # [n, K*out]
        h = scatter_sum(h[src] * w.unsqueeze(-1), dst, n) + self.root_lin(x)  # [n, K*out]
        return F.relu(h).view(n, self.stacks, self.out_dim).mean(1)  # [n, out]


def _stacks(layer: Any) -> int:
    return layer.local_out if getattr(layer, "local_out", 0) > 0 else 1


def _params(in_dim: int, out_dim: int, *, layer: Any, **_: Any) -> int:
    k = _stacks(layer)
    return linear_params(in_dim, k * out_dim, bias=False) + linear_params(in_dim, k * out_dim)


def _flops(in_dim: int, out_dim: int, *, layer: Any, nodes: float, edges: float, **_: Any) -> float:
    k = _stacks(layer)
    return 4.0 * nodes * in_dim * k * out_dim + 2.0 * edges * k * out_dim


@local_op("arma", num_params=_params, flops=_flops)
def arma_op(in_dim: int, out_dim: int, *, heads: int, edge_dim: int, layer: Any) -> nn.Module:
    return ARMAConv(in_dim, out_dim, _stacks(layer))
