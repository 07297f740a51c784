"""Global attention within each graph of a batch (registry kind ``global``).

Every global op has the interface ``forward(x, batch, ptr) -> x`` (``x [n, in_dim]`` ->
``[n, out_dim]``; ``batch [n]`` graph id per node, ``ptr [G + 1]`` node offsets, nodes grouped by
graph as in a PyG ``Batch``). Attention never crosses graph boundaries.

Factories registered under kind ``global`` have the signature
``factory(in_dim, out_dim, *, heads, head_dim, layer) -> nn.Module | None`` (``none`` returns None)
and may carry ``num_params`` / ``flops`` attributes like local ops (see :mod:`autogt.models.ops._base`).

- ``full``: multi-head softmax attention, :class:`MultiHeadAttention`.
- ``performer``: FAVOR+ linear attention (Choromanski et al. 2021), :class:`PerformerAttention`,
  with orthogonal random features stored in a buffer (fixed after construction, so deterministic in
  eval mode and saved in the state dict).

Both keep separate ``q``, ``k``, ``v`` (``Linear(in_dim, heads * head_dim)``) and ``o``
(``Linear(heads * head_dim, out_dim)``) projections so heads can be removed physically; ``o`` always
sees ``[n, heads * head_dim]``.

How a batch of graphs of different sizes is attended (``impl``):

- ``auto`` (default): an :class:`AttentionPlan` sorts the graphs by size and cuts them into *blocks*
  of consecutive sizes; each block is one dense ``[G_b, heads, L_b, head_dim]`` tensor with ``L_b``
  the largest graph of the block, run through one ``scaled_dot_product_attention`` call (with a
  key-padding mask only when a graph of the block is shorter than ``L_b``; on CPU, blocks shorter than
  :data:`CPU_FUSED_MIN_LENGTH` use explicit batched products instead, see :func:`_block_attention`).
  The cut is the exact minimum of a cost model, ``sum_b G_b * C * (cell * L_b^2 + row * L_b) + call`` per block
  (:class:`BlockCost`, constants measured on CPU, reasoned for CUDA): many tiny calls lose to call
  overhead, one big padded block loses to quadratic padding, the optimum sits between, and it
  degenerates to one mask-free call for one graph or equal-sized graphs. On random batches of 64
  or 256 BBBP / HIV molecules it computes 1.04-1.16x the ideal ``sum_i n_i^2`` attention cells in
  5-15 blocks (one block padded to the largest graph, as PyG does: 6-16x).
- ``bucket``: the same machinery with fixed block lengths ``1, 2, 3, 4, 6, 8, 12, 16, 24, ...``
  (:func:`bucket_length`, at most a third of a block is padding); shapes repeat across batches.
- ``padded``: the reference, every graph padded to the largest one (``to_dense_batch``) with plain
  tensor operations; used by tests and by export (traceable, no host synchronisation).

The plan is built once per batch (one host read of the graph sizes; on CUDA that is the only
synchronisation) and cached on the ``ptr`` tensor's identity, so every layer of a forward pass and
the backward pass reuse it. All indices are built with vectorised array operations: one gather
``[P] slot -> node`` into the concatenated blocks and one scatter ``[n] node -> slot`` back,
whatever the number of blocks (a gather or slice per block would make the backward pass allocate
one ``[n, H, D]`` zero tensor per block; blocks are ``split`` views instead). For softmax attention
the backward of these gathers is a gather through the inverse index too, not a scatter-add
(:meth:`AttentionPlan.gather_rows`; exact because padding slots get exactly zero gradient). Key-padding masks are
cached per batch as additive ``0 / -inf`` tensors. In training with attention dropout the blocks use
an explicit ``softmax(QK^T / sqrt(D) + mask) V`` on head-major blocks gathered contiguous (no copies
inside the batched products) with the cheap keep mask of :func:`autogt.models._util.dropout` (the fused
CPU kernels do not drop).

An optional additive attention bias (Graphormer-style) can be passed to ``forward`` as a callable
``bias(nodes) -> [G, heads or 1, L, L]`` of the node ids ``nodes [G, L]`` of a block (padding slots
repeat a node of their own graph and are masked out afterwards); every ``impl`` calls it the same way.

:func:`attention_cost` reports the attention cells a plan really computes (``sum_b G_b L_b^2``) next
to the ideal ``sum_i n_i^2``; :func:`autogt.hardware.flops.count_flops` takes the former as the
``attn_sq_mean`` statistic.

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
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autogt.models._util import dropout, scatter_max
from autogt.models.ops._base import linear_params
from autogt.registry import register

__all__ = [
    "IMPLS",
    "AttentionPlan",
    "Block",
    "BlockCost",
    "MultiHeadAttention",
    "PerformerAttention",
    "attention_cost",
    "attention_params",
    "attention_plan",
    "bucket_length",
    "bucketed_attention",
    "bucketed_linear_attention",
    "global_op",
    "padded_attention",
    "padded_linear_attention",
    "set_attention_impl",
]

IMPLS = ("auto", "bucket", "padded")
BiasFn = Callable[[Tensor], Tensor]  # nodes [G, L] -> additive bias [G, H or 1, L, L]


# --------------------------------------------------------------------------- plans
def bucket_length(n: int) -> int:
    """Smallest length of the form ``2^k`` or ``3 * 2^k`` that is ``>= n``."""
    if n <= 2:
        return max(n, 1)
    p = 1 << (n - 1).bit_length()  # next power of two >= n
    three = 3 * (p // 4)
    return three if three >= n else p


def _bucket_lengths(sizes: np.ndarray) -> np.ndarray:
    """:func:`bucket_length` of every entry (sizes >= 1)."""
    p = np.left_shift(1, np.ceil(np.log2(np.maximum(sizes, 1))).astype(np.int64))  # next power of two
    three = 3 * (p // 4)
    return np.where(sizes <= 2, sizes, np.where(three >= sizes, three, p))


@dataclass(frozen=True)
class BlockCost:
    """Cost model of one attention block of ``G`` graphs padded to length ``L`` (microseconds).

    ``time = G * C * (cell * L^2 + row * L) + call`` with ``C = heads * head_dim``. The CPU constants
    are a fit of forward + backward ``scaled_dot_product_attention`` calls on one core (per-row work
    such as the gather, softmax bookkeeping and output copies is large next to one ``L^2`` cell at
    molecule sizes); the CUDA ones are reasoned: launch overhead dominates, arithmetic is cheap.
    """

    cell: float
    row: float
    call: float

    @staticmethod
    def for_device(device: torch.device | str, *, linear: bool = False) -> BlockCost:
        """The preset for a device type; ``linear`` drops the ``L^2`` term (kernelised attention)."""
        cuda = torch.device(device).type == "cuda"
        cost = BlockCost(cell=2e-6, row=2e-5, call=40.0) if cuda else BlockCost(cell=1.5e-4, row=7e-3, call=60.0)
        # kernelised attention: no L^2 term; a row does four feature-wide products (phi, K^T V, Q S, Q z)
        return BlockCost(0.0, cost.row * 4, cost.call) if linear else cost


@dataclass(frozen=True)
class Block:
    """One dense block of a plan: ``graphs`` graphs padded to ``length`` nodes at slots
    ``start : start + graphs * length`` of the gathered layout; ``masked`` when some are shorter."""

    start: int
    graphs: int
    length: int
    masked: bool

    @property
    def stop(self) -> int:
        return self.start + self.graphs * self.length


class _Regather(torch.autograd.Function):
    """``t.index_select(0, index)`` whose backward is ``grad.index_select(0, back)`` (rows where ``pad``
    is True zeroed), for index pairs that are inverse on the rows that carry gradient."""

    @staticmethod
    def forward(ctx: Any, t: Tensor, index: Tensor, back: Tensor, pad: Tensor | None) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(back, pad)
        return t.index_select(0, index)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:  # type: ignore[override]
        back, pad = ctx.saved_tensors
        out = grad.index_select(0, back)
        if pad is not None:
            out.masked_fill_(pad.view(-1, *([1] * (out.dim() - 1))), 0.0)
        return out, None, None, None


class AttentionPlan:
    """How the graphs of one batch are laid out as dense blocks (see the module doc).

    Attributes:
        blocks: the blocks, by increasing length.
        gather: ``[P]`` node of every slot (padding slots repeat the last node of their graph), or
            ``None`` when the layout is the identity (one block without padding).
        scatter: ``[n]`` slot of every node (``None`` for the identity).
        valid: ``[P]`` bool, True where a slot holds a real node (``None`` when no block is masked).
        num_nodes, num_slots: ``n`` and ``P``.
        cells, ideal_cells: ``sum_b G_b L_b^2`` computed and ``sum_i n_i^2`` needed.

    Shapes:
        ``ptr [G + 1]`` -> indices on ``ptr.device``.
    """

    def __init__(self, ptr: Tensor, *, strategy: str = "auto", inner: int = 64, cost: BlockCost | None = None) -> None:
        if strategy not in ("auto", "bucket"):
            raise ValueError(f"strategy: {strategy!r} is not one of 'auto', 'bucket'")
        self.device = device = ptr.device
        ptr_np = ptr.detach().cpu().numpy().astype(np.int64)  # the one host read (a sync on CUDA)
        ptr_np = ptr_np - ptr_np[:1]  # node offsets from 0
        sizes = np.diff(ptr_np)  # [G]
        n = int(ptr_np[-1]) if len(ptr_np) else 0
        order = np.argsort(sizes, kind="stable")
        order = order[sizes[order] > 0]  # non-empty graphs by size
        s = sizes[order]  # [G'] sorted sizes
        if strategy == "bucket":
            lengths = _bucket_lengths(s)
            cuts = np.flatnonzero(np.diff(lengths)) + 1
        else:
            cost = cost or BlockCost.for_device(device)
            cuts, lengths = _optimal_cuts(s, cost, inner)
        starts = np.concatenate([[0], cuts]).astype(np.int64)
        stops = np.concatenate([cuts, [len(s)]]).astype(np.int64)
        block_len = lengths[stops - 1] if len(s) else np.zeros(0, np.int64)  # [B]
        per_graph_len = np.repeat(block_len, stops - starts)  # [G'] length of each graph's block
        slot_start = np.concatenate([[0], np.cumsum(per_graph_len)[:-1]]).astype(np.int64)  # [G']
        self.num_nodes, self.num_slots = n, int(per_graph_len.sum())
        self.cells = int((per_graph_len**2).sum())
        self.ideal_cells = int((s**2).sum())
        self.blocks = tuple(
            Block(int(slot_start[a]), int(b - a), int(length), bool(s[a] < length))
            for a, b, length in zip(starts.tolist(), stops.tolist(), block_len.tolist(), strict=True)
        )
        self.identity = len(self.blocks) == 1 and not self.blocks[0].masked
        self.gather: Tensor | None = None
        self.scatter: Tensor | None = None
        self.valid: Tensor | None = None
        self._np: tuple[np.ndarray, np.ndarray] = (np.arange(n), np.ones(n, bool))  # gather, valid on the host
        self._head_major: dict[int, tuple[Tensor, Tensor, list[int]]] = {}
        self._pad_rows: dict[int, Tensor | None] = {0: None}  # heads -> slot rows to zero in scatter_rows' backward
        self._additive: dict[tuple[Any, ...], Tensor] = {}
        if self.identity or not self.blocks:
            return
        # slot -> node: graph g's slots are slot_start .. + L; padding repeats the graph's last node
        slot_graph = np.repeat(order, per_graph_len)  # [P]
        local = np.arange(self.num_slots) - np.repeat(slot_start, per_graph_len)  # [P]
        g_size = sizes[slot_graph]
        gather = ptr_np[slot_graph] + np.minimum(local, g_size - 1)  # [P]
        # node -> slot
        graph_slot = np.zeros(len(sizes), np.int64)
        graph_slot[order] = slot_start
        node_graph = np.repeat(np.arange(len(sizes)), sizes)  # [n]
        scatter = graph_slot[node_graph] + np.arange(n) - ptr_np[node_graph]  # [n]

        def dev(a: np.ndarray) -> Tensor:
            return torch.from_numpy(a).to(device, non_blocking=True)

        valid = local < g_size  # [P]
        self._np = (gather, valid)
        self.gather, self.scatter = dev(gather), dev(scatter)
        if any(b.masked for b in self.blocks):
            self.valid = dev(valid)
            self._pad_rows[0] = dev(~valid)

    def mask(self, block: Block) -> Tensor | None:
        """Key-padding mask ``[G_b, 1, 1, L_b]`` of a block (None when it has no padding)."""
        if not block.masked or self.valid is None:
            return None
        return self.valid[block.start : block.stop].view(block.graphs, 1, 1, block.length)

    def additive_mask(self, block: Block, dtype: torch.dtype, *, heads: int = 0, keys_dim: int = -1
                      ) -> Tensor | None:
        """The key-padding mask as ``0 / -inf`` scores to add, cached per batch (None without padding).

        ``heads=0``: ``[G_b, 1, 1, L_b]``; ``heads=H``: materialised ``[G_b * H, L_b, L_b]`` with the
        keys on ``keys_dim`` (-1, or -2 for the transposed scores), the ``input`` of ``baddbmm``.
        """
        mask = self.mask(block)
        if mask is None:
            return None
        key = (block.start, dtype, heads, keys_dim)
        if key not in self._additive:
            add = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, float("-inf"))
            if heads:
                g, length = block.graphs, block.length
                add = add if keys_dim == -1 else add.transpose(-1, -2)  # [G, 1, 1, L] or [G, 1, L, 1]
                add = add.expand(g, heads, length, length).reshape(g * heads, length, length)
            self._additive[key] = add
        return self._additive[key]

    def nodes(self, block: Block) -> Tensor:
        """Node ids ``[G_b, L_b]`` of a block's slots."""
        if self.gather is None:
            return torch.arange(block.graphs * block.length, device=self.device).view(block.graphs, block.length)
        return self.gather[block.start : block.stop].view(block.graphs, block.length)

    def pack(self, t: Tensor) -> Tensor:
        """Rows of ``t`` in slot order: ``[n, *] -> [P, *]``."""
        return t if self.gather is None else t.index_select(0, self.gather)

    def unpack(self, t: Tensor) -> Tensor:
        """Rows of ``t`` back in node order: ``[P, *] -> [n, *]``."""
        return t if self.scatter is None else t.index_select(0, self.scatter)

    def head_major(self, heads: int) -> tuple[Tensor, Tensor, list[int]]:
        """Indices that lay every block out as a contiguous ``[G_b, heads, L_b, D]`` tensor.

        Returns ``gather [R]`` (rows of ``[n * heads, D]`` in block, graph, head, slot order),
        ``scatter [n * heads]`` (the way back) and the rows ``G_b * heads * L_b`` of each block.
        Batched matrix products then need no copies (the node-major layout makes ``matmul`` copy
        ``q``, ``k`` and ``v`` once per block and direction).
        """
        if heads not in self._head_major:
            gather, valid = self._np
            h = np.arange(heads).reshape(1, heads, 1)
            rows, keep = [], []
            for b in self.blocks:
                nodes = gather[b.start : b.stop].reshape(b.graphs, 1, b.length)
                rows.append((nodes * heads + h).reshape(-1))  # [G_b * H * L_b]
                keep.append(np.broadcast_to(valid[b.start : b.stop].reshape(b.graphs, 1, b.length),
                                            (b.graphs, heads, b.length)).reshape(-1))
            g_rows, k_rows = np.concatenate(rows), np.concatenate(keep)
            back = np.empty(self.num_nodes * heads, np.int64)
            back[g_rows[k_rows]] = np.flatnonzero(k_rows)
            self._head_major[heads] = (torch.from_numpy(g_rows).to(self.device, non_blocking=True),
                                       torch.from_numpy(back).to(self.device, non_blocking=True),
                                       [b.graphs * heads * b.length for b in self.blocks])
            self._pad_rows[heads] = None if k_rows.all() else torch.from_numpy(~k_rows).to(self.device,
                                                                                             non_blocking=True)
        return self._head_major[heads]

    def gather_rows(self, t: Tensor, heads: int = 0) -> Tensor:
        """``pack`` (``heads=0``; ``[n, *] -> [P, *]``) or the head-major gather of :meth:`head_major`
        (``[n * heads, D] -> [R, D]``) for *softmax attention*: its backward is a gather through the
        inverse index instead of a scatter-add (about 6x cheaper on CPU). It is exact only because
        softmax attention gives padding slots exactly zero gradient (padded keys are masked with
        ``-inf``, padded queries' outputs are dropped by :meth:`scatter_rows`); use :meth:`pack`
        anywhere else.
        """
        if heads == 0 and self.gather is None:
            return t
        index, back = (self.gather, self.scatter) if heads == 0 else self.head_major(heads)[:2]
        if not (torch.is_grad_enabled() and t.requires_grad):
            return t.index_select(0, index)
        return _Regather.apply(t, index, back, None)

    def scatter_rows(self, t: Tensor, heads: int = 0) -> Tensor:
        """The way back of :meth:`gather_rows` (``[P, *] -> [n, *]`` or ``[R, D] -> [n * heads, D]``);
        its backward gathers and zeroes the padding rows instead of scatter-adding."""
        if heads == 0 and self.scatter is None:
            return t
        if heads == 0:
            index, back = self.scatter, self.gather
        else:
            back, index, _ = self.head_major(heads)
        if not (torch.is_grad_enabled() and t.requires_grad):
            return t.index_select(0, index)
        return _Regather.apply(t, index, back, self._pad_rows[heads])

    def views(self, t: Tensor) -> list[Tensor]:
        """Each block's ``[G_b, L_b, *]`` view of a packed ``[P, *]`` tensor.

        One ``split`` (its backward is one ``cat``), not a slice per block (each slice's backward
        would allocate a zero tensor of the full size).
        """
        parts = t.split([b.graphs * b.length for b in self.blocks])
        return [x.view(b.graphs, b.length, *t.shape[1:]) for b, x in zip(self.blocks, parts, strict=True)]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{b.graphs}x{b.length}{'*' if b.masked else ''}" for b in self.blocks)
        return (f"AttentionPlan(nodes={self.num_nodes}, slots={self.num_slots}, cells={self.cells} "
                f"(ideal {self.ideal_cells}), blocks=[{shapes}])")


def _optimal_cuts(s: np.ndarray, cost: BlockCost, inner: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut the sorted sizes ``s`` into contiguous blocks of least total :class:`BlockCost`.

    Exact dynamic programme over the distinct sizes (a block boundary never splits equal sizes),
    ``O(S^2)`` with ``S`` distinct sizes, vectorised over the block start. Returns the cut positions
    in ``s`` and the block length of every graph's position (``lengths[stop - 1]`` is a block's).
    """
    if len(s) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    values, first = np.unique(s, return_index=True)  # distinct sizes and where they start in s
    ends = np.append(first[1:], len(s))  # exclusive end of each distinct size in s
    nd = len(values)
    before = np.append(0, ends).astype(np.float64)  # graphs before distinct value i (i = 0..nd)
    per_graph = inner * (cost.cell * values.astype(np.float64) ** 2 + cost.row * values)  # [nd]
    best = np.zeros(nd + 1)
    arg = np.zeros(nd + 1, np.int64)
    for j in range(1, nd + 1):  # best[j]: cheapest cut of the first j distinct values
        c = best[:j] + (before[j] - before[:j]) * per_graph[j - 1] + cost.call  # block = values i..j-1
        i = int(np.argmin(c))
        best[j], arg[j] = c[i], i
    bounds = []
    j = nd
    while j > 0:
        bounds.append(j)
        j = int(arg[j])
    bounds.reverse()  # exclusive ends (in distinct values) of the blocks
    cuts = np.array([ends[b - 1] for b in bounds[:-1]], np.int64)
    return cuts, s.astype(np.int64)


_PLAN_CACHE: list[tuple[weakref.ref[Tensor], int, dict[tuple[Any, ...], AttentionPlan]]] = []
_PLAN_CACHE_SIZE = 4  # batches remembered (a forward pass needs one; interleaved batches a few)


def attention_plan(ptr: Tensor, *, strategy: str = "auto", inner: int = 64, linear: bool = False) -> AttentionPlan:
    """The :class:`AttentionPlan` of a batch, cached on ``ptr`` (same tensor, unmodified -> same plan).

    Args:
        ptr: ``[G + 1]`` node offsets.
        strategy: ``auto`` (cost-optimal blocks) or ``bucket`` (fixed lengths, :func:`bucket_length`).
        inner: ``heads * head_dim`` (weights the per-block call overhead against padding).
        linear: cost model of kernelised attention (no ``L^2`` term).
    """
    plans = None
    for i, (ref, version, cached) in enumerate(_PLAN_CACHE):
        if ref() is ptr and version == ptr._version:
            plans = cached
            _PLAN_CACHE.insert(0, _PLAN_CACHE.pop(i))  # most recently used first
            break
    if plans is None:
        plans = {}
        _PLAN_CACHE[:] = [e for e in _PLAN_CACHE if e[0]() is not None][: _PLAN_CACHE_SIZE - 1]
        _PLAN_CACHE.insert(0, (weakref.ref(ptr), ptr._version, plans))
    key = (strategy, inner if strategy == "auto" else 0, linear)
    if key not in plans:
        cost = BlockCost.for_device(ptr.device, linear=linear)
        plans[key] = AttentionPlan(ptr, strategy=strategy, inner=inner, cost=cost)
    return plans[key]


def attention_cost(ptr: Tensor, *, impl: str = "auto", inner: int = 64) -> dict[str, float]:
    """Attention cells a batch really computes under ``impl`` next to the ideal ``sum_i n_i^2``.

    Returns ``{"cells", "ideal_cells", "ratio", "slots", "nodes", "blocks", "attn_sq_mean"}``;
    ``attn_sq_mean = cells / G`` is the statistic :func:`autogt.hardware.flops.count_flops` uses
    for the ``QK^T`` and ``AV`` products (``padded``: ``G * max(n_i)^2``).

    Example:
        >>> attention_cost(torch.tensor([0, 3, 5]), impl="padded")["cells"]
        18.0
    """
    if impl not in IMPLS:
        raise ValueError(f"impl: {impl!r} is not one of {', '.join(IMPLS)}")
    sizes = (ptr[1:] - ptr[:-1]).cpu().numpy().astype(np.int64)
    g = max(len(sizes), 1)
    if impl == "padded":
        length = int(sizes.max()) if len(sizes) else 0
        cells, ideal, slots, blocks = len(sizes) * length**2, int((sizes**2).sum()), len(sizes) * length, 1
    else:
        plan = AttentionPlan(ptr, strategy=impl, inner=inner)
        cells, ideal, slots, blocks = plan.cells, plan.ideal_cells, plan.num_slots, len(plan.blocks)
    return {"cells": float(cells), "ideal_cells": float(ideal), "ratio": cells / max(ideal, 1),
            "slots": float(slots), "nodes": float(sizes.sum()), "blocks": float(blocks),
            "attn_sq_mean": cells / g}


# --------------------------------------------------------------------------- kernels
#: On CPU, dropout-free blocks of at least this many nodes use the fused ``scaled_dot_product_attention``
#: (memory-lean for long graphs); shorter ones the explicit products, which measured faster there for every
#: molecular batch tried (``benchmarks/attention.py``, tables 2 and 5).
CPU_FUSED_MIN_LENGTH = 128


def _block_attention(plan: AttentionPlan, block: Block, q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None,
                     dropout_p: float) -> Tensor:
    """Softmax attention of one dense block of ``plan``, padded keys masked, ``bias`` added to the scores.

    Without dropout, on CUDA or for blocks of at least :data:`CPU_FUSED_MIN_LENGTH` nodes, this is one fused
    ``scaled_dot_product_attention`` call. Otherwise it is an explicit ``softmax(QK^T / sqrt(D) + mask) V``
    (the fused CPU kernels do not drop, and on the short blocks of molecules they are slower) on contiguous
    head-major blocks: one ``baddbmm`` adds the cached mask, and on CPU blocks shorter than 16 are
    computed as ``K Q^T`` with the softmax over keys on dim -2, because ATen's last-dim softmax is
    several times slower on rows shorter than a vector register.

    Shapes:
        q, k, v ``[G, H, L, D]``, bias ``[G, H or 1, L, L]`` -> ``[G, H, L, D]``.
    """
    g, h, length, d = q.shape
    if dropout_p <= 0.0 and (q.device.type != "cpu" or length >= CPU_FUSED_MIN_LENGTH):
        attn_mask = plan.additive_mask(block, q.dtype)  # [G, 1, 1, L] or None
        if bias is not None:
            attn_mask = bias if attn_mask is None else bias + attn_mask
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    q3, k3, v3 = (t.reshape(g * h, length, d) for t in (q, k, v))  # views of contiguous blocks
    scale = d**-0.5
    keys_dim = -2 if q.device.type == "cpu" and length < 16 else -1
    a, b = (k3, q3) if keys_dim == -2 else (q3, k3)
    add = plan.additive_mask(block, q.dtype, heads=h, keys_dim=keys_dim)  # [G*H, L, L] or None
    scores = torch.baddbmm(add, a, b.transpose(1, 2), alpha=scale) if add is not None else \
        torch.bmm(a, b.transpose(1, 2)).mul_(scale)  # [G*H, L, L], keys on keys_dim
    if bias is not None:
        full = bias.expand(g, h, length, length).reshape(g * h, length, length)
        scores = scores + (full if keys_dim == -1 else full.transpose(1, 2))
    weights = scores.softmax(keys_dim)
    if keys_dim == -2:
        weights = weights.transpose(1, 2)  # [G*H, L_q, L_k] (a view)
    return torch.bmm(dropout(weights, dropout_p) if dropout_p > 0.0 else weights, v3).view(g, h, length, d)


def bucketed_attention(q: Tensor, k: Tensor, v: Tensor, ptr: Tensor, *, dropout_p: float = 0.0,
                       strategy: str = "auto", bias: BiasFn | None = None) -> Tensor:
    """Softmax attention within each graph, graphs laid out as dense blocks (:func:`attention_plan`).

    Args:
        q, k, v: per-node queries, keys and values.
        ptr: node offsets of the graphs.
        dropout_p: dropout on the attention weights (pass 0 in eval mode).
        strategy: ``auto`` or ``bucket`` (see the module doc).
        bias: optional additive score bias ``bias(nodes [G, L]) -> [G, H or 1, L, L]``.

    Shapes:
        q, k, v ``[n, H, D]``, ptr ``[G + 1]`` -> ``[n, H, D]``.
    """
    n, h, d = q.shape
    plan = attention_plan(ptr, strategy=strategy, inner=h * d)
    if not plan.blocks:
        return q.new_zeros(q.shape)
    outs = []
    if (dropout_p > 0.0 or q.device.type == "cpu") and not plan.identity:  # contiguous [G, H, L, D] blocks
        rows = plan.head_major(h)[2]
        qs, ks, vs = (plan.gather_rows(t.reshape(n * h, d), h).split(rows) for t in (q, k, v))
        for block, qb, kb, vb in zip(plan.blocks, qs, ks, vs, strict=True):
            shape = (block.graphs, h, block.length, d)
            ab = bias(plan.nodes(block)) if bias is not None else None  # [G_b, H|1, L_b, L_b]
            ob = _block_attention(plan, block, qb.view(shape), kb.view(shape), vb.view(shape), ab, dropout_p)
            outs.append(ob.reshape(-1, d))  # [G_b * H * L_b, D]
        out = outs[0] if len(outs) == 1 else torch.cat(outs)
        return plan.scatter_rows(out, h).view(n, h, d)
    qs, ks, vs = (plan.views(plan.gather_rows(t)) for t in (q, k, v))  # [G_b, L_b, H, D] per block
    for block, qb, kb, vb in zip(plan.blocks, qs, ks, vs, strict=True):
        ab = bias(plan.nodes(block)) if bias is not None else None  # [G_b, H|1, L_b, L_b]
        ob = _block_attention(plan, block, qb.transpose(1, 2), kb.transpose(1, 2), vb.transpose(1, 2), ab,
                              dropout_p)  # [G_b, H, L_b, D]
        outs.append(ob.transpose(1, 2).reshape(block.graphs * block.length, h, d))  # [G_b * L_b, H, D]
    return plan.scatter_rows(outs[0] if len(outs) == 1 else torch.cat(outs))  # [n, H, D]


def bucketed_linear_attention(phi_q: Tensor, phi_k: Tensor, v: Tensor, ptr: Tensor, *,
                              strategy: str = "auto") -> Tensor:
    """Kernelised (linear) attention within each graph, ``phi(q_i) . S_g / (phi(q_i) . z_g)`` with
    ``S_g = sum_j phi(k_j) v_j^T`` and ``z_g = sum_j phi(k_j)`` over graph ``g``, computed per block
    of a linear-cost :func:`attention_plan` (padded keys are zeroed), so nothing of size
    ``n x m x D`` is materialised.

    Shapes:
        phi_q, phi_k ``[n, H, m]``, v ``[n, H, D]``, ptr ``[G + 1]`` -> ``[n, H, D]``.
    """
    n, h, d = v.shape
    plan = attention_plan(ptr, strategy=strategy, inner=h * d, linear=True)
    if not plan.blocks:
        return v.new_zeros(v.shape)
    qs, ks, vs = (plan.views(plan.pack(t)) for t in (phi_q, phi_k, v))  # [G_b, L_b, H, m | D] per block
    outs = []
    for block, qb, kb, vb in zip(plan.blocks, qs, ks, vs, strict=True):
        mask = plan.mask(block)
        if mask is not None:
            kb = kb * mask.view(block.graphs, block.length, 1, 1).to(kb.dtype)  # padded keys -> 0
        kv = torch.einsum("glhm,glhd->ghmd", kb, vb)  # [G, H, m, D]
        num = torch.einsum("glhm,ghmd->glhd", qb, kv)  # [G, L, H, D]
        den = torch.einsum("glhm,ghm->glh", qb, kb.sum(1)).unsqueeze(-1)  # [G, L, H, 1]
        outs.append((num / den).reshape(block.graphs * block.length, h, d))
    return plan.unpack(outs[0] if len(outs) == 1 else torch.cat(outs))  # [n, H, D]


def _dense_nodes(batch: Tensor, num_graphs: int | None = None) -> tuple[Tensor, Tensor]:
    """Node ids of ``to_dense_batch`` slots (padding repeats the graph's last node) and the valid mask.

    Shapes:
        batch ``[n]`` -> ``[G, L]`` long, ``[G, L]`` bool.
    """
    from torch_geometric.utils import to_dense_batch

    ids = torch.arange(batch.numel(), device=batch.device)
    nodes, valid = to_dense_batch(ids, batch, fill_value=-1, batch_size=num_graphs)  # [G, L]
    last = nodes.max(dim=1, keepdim=True).values.clamp_min(0)  # [G, 1]
    return torch.where(valid, nodes, last), valid


def padded_attention(q: Tensor, k: Tensor, v: Tensor, batch: Tensor, *, dropout_p: float = 0.0,
                     training: bool = False, bias: BiasFn | None = None) -> Tensor:
    """Reference: pad every graph to the largest one (``to_dense_batch``) and mask padded keys.

    Plain tensor operations, no host-side plan (the layout export and tests compare against).

    Shapes:
        q, k, v ``[n, H, D]``, batch ``[n]`` -> ``[n, H, D]``.
    """
    nodes, valid = _dense_nodes(batch)  # [G, L]
    qd, kd, vd = (t[nodes].transpose(1, 2) for t in (q, k, v))  # [G, H, L, D]
    scores = qd @ kd.transpose(-1, -2) / math.sqrt(q.size(-1))  # [G, H, L, L]
    if bias is not None:
        scores = scores + bias(nodes)
    scores = scores.masked_fill(~valid[:, None, None, :], float("-inf"))
    weights = dropout(scores.softmax(-1), dropout_p, training)  # [G, H, L, L]
    out = (weights @ vd).transpose(1, 2)  # [G, L, H, D]
    return out[valid]  # [n, H, D]


def padded_linear_attention(phi_q: Tensor, phi_k: Tensor, v: Tensor, batch: Tensor) -> Tensor:
    """Reference of :func:`bucketed_linear_attention` on ``to_dense_batch`` padding.

    Shapes:
        phi_q, phi_k ``[n, H, m]``, v ``[n, H, D]``, batch ``[n]`` -> ``[n, H, D]``.
    """
    nodes, valid = _dense_nodes(batch)  # [G, L]
    pq, vd = phi_q[nodes], v[nodes]  # [G, L, H, m], [G, L, H, D]
    pk = phi_k[nodes] * valid[:, :, None, None].to(phi_k.dtype)
    kv = torch.einsum("glhm,glhd->ghmd", pk, vd)  # [G, H, m, D]
    num = torch.einsum("glhm,ghmd->glhd", pq, kv)  # [G, L, H, D]
    den = torch.einsum("glhm,ghm->glh", pq, pk.sum(1)).unsqueeze(-1)  # [G, L, H, 1]
    return (num / den)[valid]  # [n, H, D]


# --------------------------------------------------------------------------- modules
def _check_impl(impl: str) -> str:
    if impl not in IMPLS:
        raise ValueError(f"impl: {impl!r} is not one of {', '.join(IMPLS)}")
    return impl


class MultiHeadAttention(nn.Module):
    """Multi-head softmax self-attention restricted to each graph.

    Args:
        in_dim, out_dim: input / output widths.
        heads, head_dim: inner width is ``heads * head_dim`` (may differ from ``in_dim``).
        dropout: dropout on the attention weights (training only).
        impl: ``auto`` (default), ``bucket`` or ``padded`` (the reference); see the module doc.
            Change it later with :func:`set_attention_impl` or by assigning ``module.impl``.

    Shapes:
        x ``[n, in_dim]``, batch ``[n]``, ptr ``[G + 1]`` -> ``[n, out_dim]``; the optional ``bias``
        callable maps node ids ``[G, L]`` to ``[G, heads or 1, L, L]``.
    """

    def __init__(self, in_dim: int, out_dim: int, heads: int, head_dim: int, dropout: float = 0.0,
                 impl: str = "auto") -> None:
        super().__init__()
        self.heads, self.head_dim, self.dropout, self.impl = heads, head_dim, dropout, _check_impl(impl)
        inner = heads * head_dim
        self.q = nn.Linear(in_dim, inner)
        self.k = nn.Linear(in_dim, inner)
        self.v = nn.Linear(in_dim, inner)
        self.o = nn.Linear(inner, out_dim)

    def forward(self, x: Tensor, batch: Tensor, ptr: Tensor, bias: BiasFn | None = None) -> Tensor:
        n = x.size(0)
        q = self.q(x).view(n, self.heads, self.head_dim)  # [n, H, D]
        k = self.k(x).view(n, self.heads, self.head_dim)
        v = self.v(x).view(n, self.heads, self.head_dim)
        p = self.dropout if self.training else 0.0
        if self.impl == "padded":
            out = padded_attention(q, k, v, batch, dropout_p=p, training=self.training, bias=bias)
        else:
            out = bucketed_attention(q, k, v, ptr, dropout_p=p, strategy=self.impl, bias=bias)
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

    Args:
        in_dim, out_dim, heads, head_dim, dropout: as :class:`MultiHeadAttention`.
        num_features: random features per head (default :func:`default_num_features`).
        eps: added to the features (keeps the normaliser positive).
        impl: ``auto`` / ``bucket`` (blocks of a linear-cost plan) or ``padded`` (reference).

    Shapes:
        x ``[n, in_dim]``, batch ``[n]``, ptr ``[G + 1]`` -> ``[n, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, heads: int, head_dim: int, dropout: float = 0.0,
                 num_features: int | None = None, eps: float = 1e-6, impl: str = "auto") -> None:
        super().__init__()
        self.heads, self.head_dim, self.dropout, self.eps = heads, head_dim, dropout, eps
        self.impl = _check_impl(impl)
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
        if self.impl == "padded":
            out = padded_linear_attention(phi_q, phi_k, v, batch)  # [n, H, D]
        else:
            out = bucketed_linear_attention(phi_q, phi_k, v, ptr, strategy=self.impl)  # [n, H, D]
        out = dropout(out, self.dropout, self.training)
        return self.o(out.reshape(n, self.heads * self.head_dim))  # [n, out]

    def extra_repr(self) -> str:
        return f"heads={self.heads}, head_dim={self.head_dim}, features={self.features.size(0)}, impl={self.impl!r}"


def set_attention_impl(model: nn.Module, impl: str) -> int:
    """Set ``impl`` on every global attention module of ``model``; returns how many were changed.

    A setting of the built model, independent of its spec (e.g. ``padded`` before export).

    Example:
        >>> set_attention_impl(nn.Sequential(MultiHeadAttention(4, 4, heads=1, head_dim=4)), "padded")
        1
    """
    _check_impl(impl)
    count = 0
    for module in model.modules():
        if isinstance(module, MultiHeadAttention | PerformerAttention):
            module.impl = impl
            count += 1
    return count


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
