"""Global attention within each graph of a batch (registry kind ``global``).

Every global op has the interface ``forward(x, batch, ptr) -> x`` (``x [n, in_dim]`` ->
``[n, out_dim]``; ``batch [n]`` graph id per node, ``ptr [G + 1]`` node offsets, nodes grouped by
graph as in a PyG ``Batch``). Attention never crosses graph boundaries.

Factories registered under kind ``global`` have the signature
``factory(in_dim, out_dim, *, heads, head_dim, layer) -> nn.Module | None`` (``none`` returns None)
and may carry ``num_params`` / ``flops`` attributes like local ops (see :mod:`autogt.models.ops._base`).

- ``full``: multi-head softmax attention, :class:`MultiHeadAttention`. The default implementation
  groups graphs into size buckets padded to the lengths ``1, 2, 3, 4, 6, 8, 12, 16, 24, 32, ...``
  (at most a third of a bucket is padding; fixed lengths also suit the CPU flash kernel better than
  odd ones) and runs ``scaled_dot_product_attention`` once per bucket with a key-padding mask (no
  mask when every graph of a bucket has the bucket's length). :func:`padded_attention` is the plain
  ``to_dense_batch`` + mask reference used by tests and for export (``impl="padded"``).
- ``performer``: FAVOR+ linear attention (Choromanski et al. 2021), :class:`PerformerAttention`,
  with orthogonal random features stored in a buffer (fixed after construction, so deterministic in
  eval mode and saved in the state dict). Per-graph sums use the same size buckets (:func:`bucketed_linear_attention`).

Both keep separate ``q``, ``k``, ``v`` (``Linear(in_dim, heads * head_dim)``) and ``o``
(``Linear(heads * head_dim, out_dim)``) projections so heads can be removed physically.

Example:
    >>> import torch
    >>> att = MultiHeadAttention(8, 8, heads=2, head_dim=4)
    >>> x, ptr = torch.randn(5, 8), torch.tensor([0, 2, 5])
    >>> att(x, torch.tensor([0, 0, 1, 1, 1]), ptr).shape
    torch.Size([5, 8])
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autogt.models._util import scatter_max
from autogt.models.ops._base import linear_params
from autogt.registry import register

__all__ = [
    "MultiHeadAttention",
    "PerformerAttention",
    "bucketed_attention",
    "bucketed_linear_attention",
    "padded_attention",
    "bucket_length",
    "global_op",
    "attention_params",
]


# --------------------------------------------------------------------------- bucketing
def bucket_length(n: int) -> int:
    """Smallest length of the form ``2^k`` or ``3 * 2^k`` that is ``>= n``."""
    if n <= 2:
        return max(n, 1)
    p = 1 << (n - 1).bit_length()  # next power of two >= n
    three = 3 * (p // 4)
    return three if three >= n else p


class _BucketPlan:
    """Per-bucket gather indices for a ``ptr``; computed once per batch and shared by all layers."""

    def __init__(self, ptr: Tensor) -> None:
        sizes = (ptr[1:] - ptr[:-1]).tolist()
        groups: dict[int, list[int]] = {}
        for g, s in enumerate(sizes):
            if s > 0:
                groups.setdefault(bucket_length(s), []).append(g)
        device = ptr.device
        self.buckets: list[tuple[Tensor, Tensor, Tensor | None]] = []  # (idx [G,L], valid [G,L], mask)
        order = []
        for length, gids in sorted(groups.items()):
            gid = torch.tensor(gids, device=device)
            start, size = ptr[gid], ptr[gid + 1] - ptr[gid]  # [G]
            ar = torch.arange(length, device=device)
            valid = ar.unsqueeze(0) < size.unsqueeze(1)  # [G, L]
            idx = torch.where(valid, start.unsqueeze(1) + ar.unsqueeze(0), start.unsqueeze(1))  # [G, L]
            full = all(sizes[i] == length for i in gids)
            mask = None if full else valid[:, None, None, :]  # [G, 1, 1, L]: key padding mask
            self.buckets.append((idx, valid, mask))
            order.append(idx[valid])
        total = int(ptr[-1])
        perm = torch.cat(order) if order else torch.zeros(0, dtype=torch.long, device=device)
        self.inverse = torch.empty_like(perm)
        self.inverse[perm] = torch.arange(total, device=device)  # position of node i in the packed output


_PLAN_CACHE: dict[str, Any] = {"ref": None, "version": -1, "plan": None}


def _plan_for(ptr: Tensor) -> _BucketPlan:
    ref = _PLAN_CACHE["ref"]
    if ref is not None and ref() is ptr and _PLAN_CACHE["version"] == ptr._version:
        return _PLAN_CACHE["plan"]
    plan = _BucketPlan(ptr)
    _PLAN_CACHE.update(ref=weakref.ref(ptr), version=ptr._version, plan=plan)
    return plan


def bucketed_attention(q: Tensor, k: Tensor, v: Tensor, ptr: Tensor, *, dropout_p: float = 0.0) -> Tensor:
    """Softmax attention within each graph, graphs grouped into size buckets.

    Shapes:
        q, k, v ``[n, H, D]``, ptr ``[G + 1]`` -> ``[n, H, D]``.
    """
    plan = _plan_for(ptr)
    pieces = []
    for idx, valid, mask in plan.buckets:
        qb, kb, vb = (t[idx].transpose(1, 2) for t in (q, k, v))  # [G, H, L, D]
        ob = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=mask, dropout_p=dropout_p)  # [G, H, L, D]
        pieces.append(ob.transpose(1, 2)[valid])  # [n_b, H, D]
    if not pieces:
        return q.new_zeros(q.shape)
    return torch.cat(pieces)[plan.inverse]  # [n, H, D]


def bucketed_linear_attention(phi_q: Tensor, phi_k: Tensor, v: Tensor, ptr: Tensor) -> Tensor:
    """Kernelised (linear) attention within each graph, ``phi(q_i) . S_g / (phi(q_i) . z_g)`` with
    ``S_g = sum_j phi(k_j) v_j^T`` and ``z_g = sum_j phi(k_j)`` over graph ``g``, computed per size bucket
    (padded keys are zeroed) so nothing of size ``n x m x D`` is materialised.

    Shapes:
        phi_q, phi_k ``[n, H, m]``, v ``[n, H, D]``, ptr ``[G + 1]`` -> ``[n, H, D]``.
    """
    plan = _plan_for(ptr)
    pieces = []
    for idx, valid, _mask in plan.buckets:
        pq = phi_q[idx]  # [G, L, H, m]
        pk = phi_k[idx] * valid[:, :, None, None].to(phi_k.dtype)  # [G, L, H, m], padded keys -> 0
        kv = torch.einsum("glhm,glhd->ghmd", pk, v[idx])  # [G, H, m, D]
        num = torch.einsum("glhm,ghmd->glhd", pq, kv)  # [G, L, H, D]
        den = torch.einsum("glhm,ghm->glh", pq, pk.sum(1)).unsqueeze(-1)  # [G, L, H, 1]
        pieces.append((num / den)[valid])  # [n_b, H, D]
    if not pieces:
        return v.new_zeros(v.shape)
    return torch.cat(pieces)[plan.inverse]  # [n, H, D]


def padded_attention(q: Tensor, k: Tensor, v: Tensor, batch: Tensor, *, dropout_p: float = 0.0,
                     training: bool = False) -> Tensor:
    """Reference: pad every graph to the largest one (``to_dense_batch``) and mask padded keys.

    Shapes:
        q, k, v ``[n, H, D]``, batch ``[n]`` -> ``[n, H, D]``.
    """
    from torch_geometric.utils import to_dense_batch

    n, h, d = q.shape
    qd, valid = to_dense_batch(q.reshape(n, h * d), batch)  # [G, L, H*D], [G, L]
    kd, _ = to_dense_batch(k.reshape(n, h * d), batch)
    vd, _ = to_dense_batch(v.reshape(n, h * d), batch)
    g, length = valid.shape
    qd, kd, vd = (t.view(g, length, h, d).transpose(1, 2) for t in (qd, kd, vd))  # [G, H, L, D]
    scores = qd @ kd.transpose(-1, -2) / math.sqrt(d)  # [G, H, L, L]
    scores = scores.masked_fill(~valid[:, None, None, :], float("-inf"))
    weights = F.dropout(scores.softmax(-1), dropout_p, training)  # [G, H, L, L]
    out = (weights @ vd).transpose(1, 2)  # [G, L, H, D]
    return out[valid]  # [n, H, D]


# --------------------------------------------------------------------------- modules
class MultiHeadAttention(nn.Module):
    """Multi-head softmax self-attention restricted to each graph.

    Args:
        in_dim, out_dim: input / output widths.
        heads, head_dim: inner width is ``heads * head_dim`` (may differ from ``in_dim``).
        dropout: dropout on the attention weights (training only).
        impl: ``bucket`` (default) or ``padded`` (the reference).

    Shapes:
        x ``[n, in_dim]``, batch ``[n]``, ptr ``[G + 1]`` -> ``[n, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, heads: int, head_dim: int, dropout: float = 0.0,
                 impl: str = "bucket") -> None:
        super().__init__()
        self.heads, self.head_dim, self.dropout, self.impl = heads, head_dim, dropout, impl
        inner = heads * head_dim
        self.q = nn.Linear(in_dim, inner)
        self.k = nn.Linear(in_dim, inner)
        self.v = nn.Linear(in_dim, inner)
        self.o = nn.Linear(inner, out_dim)

    def forward(self, x: Tensor, batch: Tensor, ptr: Tensor) -> Tensor:
        n = x.size(0)
        q = self.q(x).view(n, self.heads, self.head_dim)  # [n, H, D]
        k = self.k(x).view(n, self.heads, self.head_dim)
        v = self.v(x).view(n, self.heads, self.head_dim)
        p = self.dropout if self.training else 0.0
        if self.impl == "padded":
            out = padded_attention(q, k, v, batch, dropout_p=p, training=self.training)
        else:
            out = bucketed_attention(q, k, v, ptr, dropout_p=p)
        return self.o(out.reshape(n, self.heads * self.head_dim))  # [n, out]

    def extra_repr(self) -> str:
        return f"heads={self.heads}, head_dim={self.head_dim}, dropout={self.dropout}, impl={self.impl!r}"


def default_num_features(head_dim: int) -> int:
    """Random features of a performer head: ``max(16, ceil(d ln d))`` as suggested by the paper."""
    return max(16, math.ceil(head_dim * math.log(max(head_dim, 2))))


def orthogonal_features(num_features: int, dim: int, generator: torch.Generator | None = None) -> Tensor:
    """Orthogonal Gaussian random features (blocks of orthonormal rows rescaled by chi norms).

    Shapes:
        -> ``[num_features, dim]``.
    """
    blocks = []
    for _ in range(math.ceil(num_features / dim)):
        q, _r = torch.linalg.qr(torch.randn(dim, dim, generator=generator))
        blocks.append(q.T)
    w = torch.cat(blocks)[:num_features]  # [m, D]
    norms = torch.randn(num_features, dim, generator=generator).norm(dim=1, keepdim=True)  # [m, 1]
    return w * norms


class PerformerAttention(nn.Module):
    """FAVOR+ linear attention (positive random features) restricted to each graph.

    ``phi(x) = exp(w_r . x - |x|^2 / 2) / sqrt(m)`` on ``x = q / d^(1/4)`` (and ``k``), so that
    ``phi(q) . phi(k)`` estimates ``exp(q . k / sqrt(d))``. Each node's output is
    ``phi(q_i) . sum_j phi(k_j) v_j^T / (phi(q_i) . sum_j phi(k_j))`` over the nodes ``j`` of its graph.
    Stabilisers (per-query max for queries, per-graph max for keys) cancel in the ratio. ``dropout``
    is applied to the attention output before ``o`` (there is no attention matrix).

    Shapes:
        x ``[n, in_dim]``, batch ``[n]``, ptr ``[G + 1]`` -> ``[n, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, heads: int, head_dim: int, dropout: float = 0.0,
                 num_features: int | None = None, eps: float = 1e-6) -> None:
        super().__init__()
        self.heads, self.head_dim, self.dropout, self.eps = heads, head_dim, dropout, eps
        inner = heads * head_dim
        self.q = nn.Linear(in_dim, inner)
        self.k = nn.Linear(in_dim, inner)
        self.v = nn.Linear(in_dim, inner)
        self.o = nn.Linear(inner, out_dim)
        m = num_features or default_num_features(head_dim)
        self.features: Tensor
        self.register_buffer("features", orthogonal_features(m, head_dim))  # [m, D]

    def _phi(self, x: Tensor, proj: Tensor, shift: Tensor) -> Tensor:
        """Positive random features of ``x`` given ``proj = x W^T``; ``shift`` keeps the exp in range."""
        sq = (x * x).sum(-1, keepdim=True) / 2  # [n, H, 1]
        return (torch.exp(proj - sq - shift) + self.eps) / math.sqrt(self.features.size(0))  # [n, H, m]

    def forward(self, x: Tensor, batch: Tensor, ptr: Tensor) -> Tensor:
        n, g = x.size(0), ptr.numel() - 1
        scale = self.head_dim**-0.25
        q = self.q(x).view(n, self.heads, self.head_dim) * scale  # [n, H, D]
        k = self.k(x).view(n, self.heads, self.head_dim) * scale
        v = self.v(x).view(n, self.heads, self.head_dim)
        proj_q, proj_k = q @ self.features.T, k @ self.features.T  # [n, H, m]
        q_shift = proj_q.amax(-1, keepdim=True).detach()  # [n, H, 1]: per query
        k_shift = scatter_max(proj_k.amax(-1).detach(), batch, g)[batch].unsqueeze(-1)  # [n, H, 1]: per graph
        phi_q = self._phi(q, proj_q, q_shift)  # [n, H, m]
        phi_k = self._phi(k, proj_k, k_shift)  # [n, H, m]
        out = bucketed_linear_attention(phi_q, phi_k, v, ptr)  # [n, H, D]
        out = F.dropout(out, self.dropout, self.training)
        return self.o(out.reshape(n, self.heads * self.head_dim))  # [n, out]

    def extra_repr(self) -> str:
        return f"heads={self.heads}, head_dim={self.head_dim}, features={self.features.size(0)}"


# --------------------------------------------------------------------------- registry
def global_op(name: str, *, num_params: Callable[..., int] | None = None,
              flops: Callable[..., float] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: attach ``num_params`` / ``flops`` metadata and register under kind ``global``."""

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        factory.num_params = num_params  # type: ignore[attr-defined]
        factory.flops = flops  # type: ignore[attr-defined]
        register("global", name, factory)
        return factory

    return deco


def attention_params(in_dim: int, out_dim: int, *, heads: int, head_dim: int, **_: Any) -> int:
    """Parameters of ``q``, ``k``, ``v`` and ``o``."""
    inner = heads * head_dim
    return 3 * linear_params(in_dim, inner) + linear_params(inner, out_dim)


def _proj_flops(in_dim: int, out_dim: int, inner: int, nodes: float) -> float:
    return 2.0 * nodes * (3 * in_dim * inner + inner * out_dim)


def _full_flops(in_dim: int, out_dim: int, *, heads: int, head_dim: int, nodes: float, nodes_sq: float,
                **_: Any) -> float:
    inner = heads * head_dim
    return _proj_flops(in_dim, out_dim, inner, nodes) + 4.0 * nodes_sq * inner  # QK^T and AV


def _performer_flops(in_dim: int, out_dim: int, *, heads: int, head_dim: int, nodes: float, **_: Any) -> float:
    inner, m = heads * head_dim, default_num_features(head_dim)
    # two feature maps, K^T V, Q (K^T V), normaliser
    return _proj_flops(in_dim, out_dim, inner, nodes) + 2.0 * nodes * inner * m * 4 + 2.0 * nodes * heads * m


def _zero(*_: Any, **__: Any) -> int:
    return 0


@global_op("none", num_params=_zero, flops=_zero)
def none_global(in_dim: int, out_dim: int, *, heads: int, head_dim: int, layer: Any) -> None:
    """No global mixing."""
    return None


@global_op("full", num_params=attention_params, flops=_full_flops)
def full_global(in_dim: int, out_dim: int, *, heads: int, head_dim: int, layer: Any) -> nn.Module:
    return MultiHeadAttention(in_dim, out_dim, heads, head_dim, dropout=layer.attn_dropout)


@global_op("performer", num_params=attention_params, flops=_performer_flops)
def performer_global(in_dim: int, out_dim: int, *, heads: int, head_dim: int, layer: Any) -> nn.Module:
    return PerformerAttention(in_dim, out_dim, heads, head_dim, dropout=layer.attn_dropout)
