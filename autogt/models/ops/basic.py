"""Edge-free ops: ``none`` (no local op), ``fc`` (a Linear, ignores edges) and ``skip`` (identity).

``skip`` is the identity when widths match, otherwise a bias-free ``Linear(in_dim, out_dim)``
projection; the layer applies no activation, dropout or residual around it.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from autogt.models.ops._base import linear_params, local_op

__all__ = ["FC", "Skip"]


class FC(nn.Module):
    """A per-node ``Linear``; the graph structure is ignored.

    Shapes:
        x ``[n, in_dim]`` -> ``[n, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        return self.lin(x)


class Skip(nn.Module):
    """Identity (or a bias-free projection when ``in_dim != out_dim``).

    Shapes:
        x ``[n, in_dim]`` -> ``[n, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_dim, out_dim, bias=False) if in_dim != out_dim else None

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        return x if self.proj is None else self.proj(x)


def _none_params(in_dim: int, out_dim: int, **_: Any) -> int:
    return 0


def _none_flops(in_dim: int, out_dim: int, **_: Any) -> float:
    return 0.0


@local_op("none", num_params=_none_params, flops=_none_flops)
def none_op(in_dim: int, out_dim: int, *, heads: int, edge_dim: int, layer: Any) -> None:
    """No local op: the layer is attention and/or FFN only."""
    return None


def _fc_params(in_dim: int, out_dim: int, **_: Any) -> int:
    return linear_params(in_dim, out_dim)


def _fc_flops(in_dim: int, out_dim: int, *, nodes: float, **_: Any) -> float:
    return 2.0 * nodes * in_dim * out_dim


@local_op("fc", num_params=_fc_params, flops=_fc_flops)
def fc_op(in_dim: int, out_dim: int, *, heads: int, edge_dim: int, layer: Any) -> nn.Module:
    return FC(in_dim, out_dim)


def _skip_params(in_dim: int, out_dim: int, **_: Any) -> int:
    return 0 if in_dim == out_dim else in_dim * out_dim


def _skip_flops(in_dim: int, out_dim: int, *, nodes: float, **_: Any) -> float:
    return 0.0 if in_dim == out_dim else 2.0 * nodes * in_dim * out_dim


@local_op("skip", identity=True, num_params=_skip_params, flops=_skip_flops)
def skip_op(in_dim: int, out_dim: int, *, heads: int, edge_dim: int, layer: Any) -> nn.Module:
    return Skip(in_dim, out_dim)
