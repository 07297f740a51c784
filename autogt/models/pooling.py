"""Graph readouts, registered under registry kind ``pooling``.

A pooling factory is ``factory(dim) -> nn.Module`` with ``forward(x, batch, num_graphs) -> [G, dim]``.
``attention`` is a gated sum: ``sum_i softmax_i(Linear(dim, 1)(x_i)) * x_i`` within each graph.
"""

from __future__ import annotations

from torch import Tensor, nn

from autogt.models._util import scatter_max, scatter_mean, scatter_sum, segment_softmax
from autogt.registry import register

__all__ = ["Pool", "AttentionPool"]


class Pool(nn.Module):
    """``mean`` / ``sum`` / ``max`` readout.

    Shapes:
        x ``[n, dim]``, batch ``[n]`` -> ``[G, dim]``.
    """

    def __init__(self, reduce: str) -> None:
        super().__init__()
        self.reduce = reduce

    def forward(self, x: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        if self.reduce == "sum":
            return scatter_sum(x, batch, num_graphs)
        if self.reduce == "max":
            return scatter_max(x, batch, num_graphs)
        return scatter_mean(x, batch, num_graphs)

    def extra_repr(self) -> str:
        return self.reduce


class AttentionPool(nn.Module):
    """Gated attention readout (Li et al. 2016).

    Shapes:
        x ``[n, dim]``, batch ``[n]`` -> ``[G, dim]``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gate = nn.Linear(dim, 1)

    def forward(self, x: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        w = segment_softmax(self.gate(x), batch, num_graphs)  # [n, 1]
        return scatter_sum(w * x, batch, num_graphs)


register("pooling", "mean", lambda dim: Pool("mean"))
register("pooling", "sum", lambda dim: Pool("sum"))
register("pooling", "max", lambda dim: Pool("max"))
register("pooling", "attention", AttentionPool)
