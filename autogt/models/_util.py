"""Small tensor helpers shared by the model family: scatter/segment ops, norms and activations.

Everything is pure torch (no torch-scatter / torch-sparse), so models run wherever torch runs.
Nodes of a batch are assumed grouped by graph (PyG ``Batch`` layout: ``batch`` sorted, ``ptr`` the
offsets of each graph).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "dropout",
    "scatter_sum",
    "scatter_mean",
    "scatter_max",
    "segment_softmax",
    "sym_norm",
    "BatchNorm",
    "make_norm",
    "make_act",
    "norm_params",
    "act_params",
]


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Inverted dropout with the distribution of ``F.dropout``, drawn cheaply.

    On CPU the keep mask compares 16-bit uniform integers with ``p`` (the four lanes of one full-range
    64-bit draw of the generator, so a quarter of the generator calls of ``rand_like``; the drop rate is
    ``p`` rounded to a multiple of 1/65536, the scale ``1 / (1 - p)``): about 2x faster than ``rand_like >= p`` and 3.5x
    faster than the ``bernoulli_`` that ``F.dropout`` draws, on the small tensors of a molecular GPS model,
    where dropout was the largest single cost of a training step. Elsewhere it is ``rand_like >= p``.
    Both draw from torch's default generator, so ``torch.manual_seed`` makes them reproducible.

    Example:
        >>> x = torch.ones(10_000)
        >>> y = dropout(x, 0.25)
        >>> torch.allclose(y.unique(), torch.tensor([0.0, 4 / 3])), abs(float((y == 0).float().mean()) - 0.25) < 0.03
        (True, True)
    """
    if not training or p <= 0.0:
        return x
    if p >= 1.0:
        return torch.zeros_like(x)
    if x.device.type == "cpu":
        n = x.numel()
        thr = round(p * 65536)
        if 0 < thr < 65536:
            bits = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(2**63), None)  # 64 random bits each
            lanes = bits.view(torch.int16)[:n].view(x.shape)  # uniform over [-32768, 32767]
            keep = lanes.ge_(thr - 32768)  # P(drop) = thr / 65536
            return x * keep.to(x.dtype).mul_(1.0 / (1.0 - p))
    return x * torch.rand_like(x).ge_(p).mul_(1.0 / (1.0 - p))


def scatter_sum(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    """Sum rows of ``src`` into ``dim_size`` buckets.

    Shapes:
        src ``[e, *]``, index ``[e]`` -> ``[dim_size, *]``.
    """
    out = src.new_zeros((dim_size, *src.shape[1:]))
    return out.index_add_(0, index, src)


def scatter_mean(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    """Mean of the rows of ``src`` per bucket (empty buckets give 0).

    Shapes:
        src ``[e, *]``, index ``[e]`` -> ``[dim_size, *]``.
    """
    total = scatter_sum(src, index, dim_size)
    count = torch.bincount(index, minlength=dim_size).clamp_min(1).to(src.dtype)  # [dim_size]
    return total / count.view(-1, *([1] * (src.dim() - 1)))


def scatter_max(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    """Elementwise max of the rows of ``src`` per bucket (empty buckets give 0).

    Shapes:
        src ``[e, *]``, index ``[e]`` -> ``[dim_size, *]``.
    """
    idx = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
    out = src.new_zeros((dim_size, *src.shape[1:]))
    return out.scatter_reduce(0, idx, src, reduce="amax", include_self=False)


def segment_softmax(scores: Tensor, index: Tensor, dim_size: int) -> Tensor:
    """Softmax of ``scores`` over the entries that share an ``index`` (e.g. edges into one node).

    Shapes:
        scores ``[e, *]``, index ``[e]`` -> ``[e, *]``.
    """
    idx = index.view(-1, *([1] * (scores.dim() - 1))).expand_as(scores)
    peak = scores.new_full((dim_size, *scores.shape[1:]), float("-inf"))
    peak = peak.scatter_reduce(0, idx, scores, reduce="amax", include_self=True)  # [dim_size, *]
    ex = (scores - peak[index].detach()).exp()  # the shift cancels; detach keeps the graph small
    den = scatter_sum(ex, index, dim_size)[index]
    return ex / den.clamp_min(1e-16)


def sym_norm(
    edge_index: Tensor, num_nodes: int, *, self_loops: bool, dtype: torch.dtype
) -> tuple[Tensor, Tensor, Tensor]:
    """Symmetric normalisation ``D^-1/2 A D^-1/2`` (``A + I`` when ``self_loops``), as in GCN.

    Existing self loops are dropped first when ``self_loops`` is set, so every node has exactly one.
    Degrees are in-degrees (messages flow ``edge_index[0] -> edge_index[1]``).

    Shapes:
        edge_index ``[2, e]`` -> ``(src [e'], dst [e'], weight [e'])``.
    """
    src, dst = edge_index[0], edge_index[1]
    if self_loops:
        keep = src != dst
        loop = torch.arange(num_nodes, device=edge_index.device)
        src = torch.cat([src[keep], loop])
        dst = torch.cat([dst[keep], loop])
    deg = torch.zeros(num_nodes, dtype=dtype, device=edge_index.device)
    deg.index_add_(0, dst, torch.ones(dst.numel(), dtype=dtype, device=edge_index.device))
    dinv = deg.pow(-0.5)
    dinv = torch.where(torch.isinf(dinv), torch.zeros_like(dinv), dinv)
    return src, dst, dinv[src] * dinv[dst]


class BatchNorm(nn.BatchNorm1d):
    """``BatchNorm1d`` that falls back to running statistics for a training batch of one row.

    Keeps a last mini-batch holding a single graph (virtual-node / pooled features) from failing.

    Shapes:
        ``[n, dim] -> [n, dim]``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.training and x.size(0) <= 1:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)


def make_norm(kind: str, dim: int) -> nn.Module:
    """``batch`` -> :class:`BatchNorm`, ``layer`` -> ``LayerNorm``, ``none`` -> ``Identity``."""
    if kind == "batch":
        return BatchNorm(dim)
    if kind == "layer":
        return nn.LayerNorm(dim)
    return nn.Identity()


def norm_params(kind: str, dim: int) -> int:
    """Parameter count of :func:`make_norm`."""
    return 2 * dim if kind in ("batch", "layer") else 0


_ACTS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "prelu": nn.PReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


def make_act(name: str) -> nn.Module:
    """A fresh activation module by name (``relu gelu elu prelu tanh sigmoid identity``)."""
    return _ACTS[name]()


def act_params(name: str) -> int:
    """Parameter count of :func:`make_act` (``prelu`` has one slope)."""
    return 1 if name == "prelu" else 0
