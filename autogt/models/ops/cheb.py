"""``cheb``: Chebyshev spectral convolution (Defferrard et al. 2016).

``x' = sum_{k<K} T_k(L~) X W_k + b`` with ``L~ = -D^-1/2 A D^-1/2`` (symmetric normalisation,
``lambda_max = 2``) and ``K = layer.local_out`` or 2 when that is 0.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from autogt.models._util import scatter_sum, sym_norm
from autogt.models.ops._base import linear_params, local_op

__all__ = ["ChebConv"]

DEFAULT_K = 2


class ChebConv(nn.Module):
    """Chebyshev convolution of order ``k``.

    Shapes:
        x ``[n, in_dim]``, edge_index ``[2, e]`` -> ``[n, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, k: int = DEFAULT_K) -> None:
        super().__init__()
        self.lins = nn.ModuleList(nn.Linear(in_dim, out_dim, bias=False) for _ in range(k))
        self.bias = nn.Parameter(torch.zeros(out_dim))

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        n = x.size(0)
        src, dst, w = sym_norm(edge_index, n, self_loops=False, dtype=x.dtype)
        w = -w.unsqueeze(-1)  # [e, 1]: entries of L~

        def lap(h: Tensor) -> Tensor:
            return scatter_sum(h[src] * w, dst, n)  # [n, in]

        t0 = x  # T_0 x
        out = self.lins[0](t0)  # [n, out]
        if len(self.lins) > 1:
            t1 = lap(x)  # T_1 x
            out = out + self.lins[1](t1)
            for lin in self.lins[2:]:
                t0, t1 = t1, 2 * lap(t1) - t0  # T_k = 2 L~ T_{k-1} - T_{k-2}
                out = out + lin(t1)
        return out + self.bias  # [n, out]


def _k(layer: Any) -> int:
    return layer.local_out if getattr(layer, "local_out", 0) > 0 else DEFAULT_K


def _params(in_dim: int, out_dim: int, *, layer: Any, **_: Any) -> int:
    return _k(layer) * linear_params(in_dim, out_dim, bias=False) + out_dim


def _flops(in_dim: int, out_dim: int, *, layer: Any, nodes: float, edges: float, **_: Any) -> float:
    k = _k(layer)
    return k * 2.0 * nodes * in_dim * out_dim + (k - 1) * 2.0 * edges * in_dim


@local_op("cheb", num_params=_params, flops=_flops)
def cheb_op(in_dim: int, out_dim: int, *, heads: int, edge_dim: int, layer: Any) -> nn.Module:
    return ChebConv(in_dim, out_dim, _k(layer))
