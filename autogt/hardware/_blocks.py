"""Split an ``ArchSpec`` into the blocks a :class:`~autogt.hardware.DeviceProfile` has measured.

A *block* is one lookup in a measured table (:class:`~autogt.hardware._table.BlockTable`), keyed by:

============== ============================================================ =========================
key            what was measured (eval mode, one forward)                   axes
============== ============================================================ =========================
``local:OP``   ``GTLayer(local=OP, attn=none, ffn=0, norm=batch, act=relu)``  width [heads] batch nodes
``attn:KIND``  ``GTLayer(local=none, attn=KIND, ffn=0, norm=batch)``          width heads batch nodes
``ffn``        ``GTLayer(local=none, attn=none, ffn=F, norm=batch, act=relu)`` width ffn batch nodes
``overhead``   a whole model with one ``skip`` layer: atom encoder, mean pool,  width batch nodes
               one head layer and the forward's glue
``edge``       the bond encoder at the op's width                            width batch nodes
``pe:KIND``    the PE encoder (``pe_dim`` 16)                                width batch nodes
``vn``         one virtual-node update (two-layer model with minus without)    width batch nodes
``linear``     ``Linear(w, w)`` on every node (projections, pre/post layers)  width batch nodes
``norm:KIND``  ``batch`` / ``layer`` norm on every node                       width batch nodes
``act:NAME``   an activation on every node                                   width batch nodes
``pool:KIND``  a readout                                                     width batch nodes
============== ============================================================ =========================

``heads`` is an axis of a local op only when its FLOPs depend on it (``gat``, ``gatv2``). ``nodes`` is
the mean graph size of the batch and ``batch`` the number of graphs.

A layer that differs from the measured one is expressed as the measured block plus signed *deltas*:
``norm=layer`` adds ``norm:layer - norm:batch``, ``act=gelu`` adds ``act:gelu - act:relu`` (at the FFN
width inside the FFN), ``norm=none`` subtracts ``norm:batch``. Shapes the measured configurations do not
have (``in_dim != out_dim``, ``cheb``'s ``K``, projections) are looked up at their *FLOP-equivalent
width*: the width whose measured configuration has the same analytic FLOPs (``sqrt(in * out)`` for a
``Linear``); a fixed per-call overhead is then not multiplied, as a FLOP ratio would. Attention with
square projections is looked up at ``heads * head_dim`` so that the measured head width matches (an
explicit ``head_dim`` included). Only another edge density scales a local op by its FLOP ratio.

Example:
    >>> from autogt.models import builtin_spec
    >>> from autogt.models.plan import make_plan
    >>> spec = builtin_spec("gps")
    >>> task = {"level": "graph", "num_outputs": 1, "node_dim": 9, "edge_dim": 3, "node_categorical": True,
    ...         "edge_categorical": True, "atom_vocab": [119, 5, 12, 12, 10, 6, 6, 2, 2], "bond_vocab": [5, 7, 2]}
    >>> blocks = decompose(spec, make_plan(spec, task), nodes=24.0, edges=52.0, nodes_sq=690.0, batch=32)
    >>> sorted({b.key for b in blocks if b.layer == 0})
    ['attn:full', 'ffn', 'local:gine']
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

from autogt.models.layer import needs_res
from autogt.models.ops._base import op_attr
from autogt.models.plan import ModelPlan
from autogt.models.spec import ACTS, ArchSpec, LayerSpec
from autogt.registry import get, names

__all__ = [
    "Block",
    "decompose",
    "block_axes",
    "block_keys",
    "nominal_layer",
    "uses_heads",
    "REF_NORM",
    "REF_ACT",
    "REF_POOL",
    "REF_PE_DIM",
    "GROUPS",
]

REF_NORM = "batch"
REF_ACT = "relu"
REF_POOL = "mean"
REF_PE_DIM = 16
GROUPS = ("local", "attn", "ffn", "other")
"""Correction groups: every block's latency is summed into one of these."""


class Block(NamedTuple):
    """One table lookup: ``sign * scale * table[key](coords)``.

    Attributes:
        key: table key (see module docstring).
        coords: axis coordinates (``width``, ``heads``, ``ffn``, ``batch``, ``nodes``).
        group: correction group (``local``, ``attn``, ``ffn`` or ``other``).
        layer: 0-based layer index, or -1 for model-level blocks (encoders, readout, head).
        scale: multiplies the looked-up value (the FLOP ratio of another edge density; else 1).
        sign: -1 for the reference part of a delta (e.g. ``-norm:batch``).
    """

    key: str
    coords: dict[str, float]
    group: str
    layer: int = -1
    scale: float = 1.0
    sign: float = 1.0


# ----------------------------------------------------------------------------- what is measured
@functools.lru_cache(maxsize=None)
def uses_heads(op: str) -> bool:
    """Whether local op ``op``'s FLOPs depend on ``heads`` (then its table has a ``heads`` axis)."""
    fn = op_attr(get("local", op), "flops")
    if fn is None:
        return False
    layer = LayerSpec(local=op)
    kw = {"edge_dim": 0, "layer": layer, "nodes": 24.0, "edges": 52.0}
    return float(fn(64, 64, heads=1, **kw)) != float(fn(64, 64, heads=4, **kw))


def block_axes(key: str) -> tuple[str, ...]:
    """Axes of the table for ``key``."""
    family, _, name = key.partition(":")
    if family == "attn":
        return ("width", "heads", "batch", "nodes")
    if family == "local" and uses_heads(name):
        return ("width", "heads", "batch", "nodes")
    if family == "ffn":
        return ("width", "ffn", "batch", "nodes")
    return ("width", "batch", "nodes")


def block_keys() -> list[str]:
    """Every block key for the ops registered now (what a full profile measures)."""
    keys = [f"local:{op}" for op in names("local") if op != "none"]
    keys += [f"attn:{kind}" for kind in names("global") if kind != "none"]
    keys += ["ffn", "overhead", "edge", "pe:rw", "pe:lap", "vn", "linear", "norm:batch", "norm:layer"]
    keys += [f"act:{a}" for a in ACTS if a != "identity"]
    keys += [f"pool:{p}" for p in names("pooling")]
    return keys


def nominal_layer(key: str, point: dict[str, float]) -> tuple[LayerSpec, int, int, int]:
    """The measured ``GTLayer`` of a ``local:``/``attn:``/``ffn`` key: ``(layer, width, edge_dim, head_dim)``."""
    w = int(point["width"])
    family, _, name = key.partition(":")
    heads = int(point.get("heads", 4))
    if family == "local":
        layer = LayerSpec(local=name, attn="none", ffn=0, heads=heads, norm=REF_NORM, act=REF_ACT)
        edge_dim = w if op_attr(get("local", name), "uses_edge_attr") else 0
        return layer, w, edge_dim, 1
    if family == "attn":
        layer = LayerSpec(local="none", attn=name, ffn=0, heads=heads, norm=REF_NORM, act=REF_ACT)
        return layer, w, 0, max(1, w // heads)
    if family == "ffn":
        return LayerSpec(local="none", attn="none", ffn=int(point["ffn"]), norm=REF_NORM, act=REF_ACT), w, 0, 1
    raise ValueError(f"{key!r} is not a layer block")


# ----------------------------------------------------------------------------- FLOP ratios
def _local_flops(layer: LayerSpec, in_dim: int, out_dim: int, edge_dim: int, n: float, e: float) -> float:
    fn = op_attr(get("local", layer.local), "flops")
    if fn is None:
        return 2.0 * n * in_dim * out_dim + 2.0 * e * out_dim
    return float(fn(in_dim, out_dim, heads=layer.heads, edge_dim=edge_dim, layer=layer, nodes=n, edges=e))


def _attn_flops(layer: LayerSpec, in_dim: int, out_dim: int, head_dim: int, n: float, nsq: float) -> float:
    fn = op_attr(get("global", layer.attn), "flops")
    inner = layer.heads * head_dim
    if fn is None:
        return 2.0 * n * (3 * in_dim * inner + inner * out_dim) + 4.0 * nsq * inner
    return float(fn(in_dim, out_dim, heads=layer.heads, head_dim=head_dim, layer=layer, nodes=n, edges=0.0,
                    nodes_sq=nsq))


def _ratio(actual: float, nominal: float) -> float:
    return actual / nominal if nominal > 0 and actual > 0 else 1.0


def equivalent_width(flops_at: Callable[[float], float], target: float, guess: float) -> float:
    """The width ``w`` at which the measured configuration has ``target`` FLOPs (``flops_at`` increasing).

    Example:
        >>> round(equivalent_width(lambda w: 2.0 * w * w, 2.0 * 1433 * 16, 16.0), 1)  # Linear(1433, 16)
        151.4
    """
    if target <= 0 or flops_at(guess) <= 0:
        return guess
    lo, hi = guess, guess
    while flops_at(lo) > target and lo > 1e-3:
        lo /= 2.0
    while flops_at(hi) < target and hi < 1e7:
        hi *= 2.0
    for _ in range(30):
        mid = math.sqrt(lo * hi)
        if flops_at(mid) < target:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


@functools.lru_cache(maxsize=4096)
def _local_lookup(layer: LayerSpec, in_dim: int, out_dim: int, edge_dim: int, n: float, e: float,
                  ref_edges: float) -> tuple[float, float]:
    """``(width, scale)`` for a local op: the FLOP-equivalent width of the measured configuration (at the
    measured edge density) and the FLOP ratio of the task's edge density to the measured one."""
    key = f"local:{layer.local}"
    nominal, w, nominal_edge, _ = nominal_layer(key, {"width": out_dim, "heads": layer.heads})
    uses_edges = nominal_edge > 0
    width = float(out_dim)
    if (in_dim, edge_dim, layer.local_out) != (w, nominal_edge, 0):
        h = max(layer.heads, 1)

        def flops_at(x: float) -> float:  # measured configurations, widths a multiple of the heads
            wi = max(h, int(round(x / h)) * h)
            return _local_flops(nominal, wi, wi, wi if uses_edges else 0, n, ref_edges)

        width = equivalent_width(flops_at, _local_flops(layer, in_dim, out_dim, edge_dim, n, ref_edges), width)
    scale = 1.0
    if abs(e - ref_edges) > 0.02 * max(e, 1.0):
        scale = _ratio(_local_flops(layer, in_dim, out_dim, edge_dim, n, e),
                       _local_flops(layer, in_dim, out_dim, edge_dim, n, ref_edges))
    return width, scale


@functools.lru_cache(maxsize=4096)
def _attn_width(layer: LayerSpec, in_dim: int, out_dim: int, head_dim: int, n: float, nsq: float) -> float:
    """Width to look attention up at: ``heads * head_dim`` when the projections are square (the measured head
    width matches), else the FLOP-equivalent width of the measured configuration at the same head count."""
    inner = layer.heads * head_dim
    if in_dim == out_dim == inner:
        return float(inner)

    def flops_at(x: float) -> float:  # measured configurations: square projections, head_dim = w // heads
        wi = max(layer.heads, int(round(x / layer.heads)) * layer.heads)
        return _attn_flops(layer, wi, wi, wi // layer.heads, n, nsq)

    return equivalent_width(flops_at, _attn_flops(layer, in_dim, out_dim, head_dim, n, nsq), float(inner))


def _linear_width(in_dim: float, out_dim: float) -> float:
    """``Linear(in, out)`` has the FLOPs of ``Linear(w, w)`` at ``w = sqrt(in * out)``."""
    return math.sqrt(in_dim * out_dim)


# ----------------------------------------------------------------------------- decomposition
def _delta(out: list[Block], family: str, value: str, ref: str, coords: dict[str, float], group: str,
           layer: int) -> None:
    """``family:value - family:ref`` (nothing when equal; ``none``/``identity`` contribute 0)."""
    if value == ref:
        return
    if value not in ("none", "identity"):
        out.append(Block(f"{family}:{value}", coords, group, layer))
    out.append(Block(f"{family}:{ref}", coords, group, layer, sign=-1.0))


def decompose(spec: ArchSpec, plan: ModelPlan, *, nodes: float, edges: float, nodes_sq: float, batch: int,
              ref_degree: float | None = None) -> list[Block]:
    """The blocks of one forward of ``spec`` over ``batch`` graphs of ``nodes`` nodes and ``edges`` edges.

    Args:
        spec: the architecture; ``plan`` its resolved widths (:func:`autogt.models.plan.make_plan`).
        nodes, edges, nodes_sq: mean nodes, directed edges and squared nodes per graph.
        batch: graphs per forward (1 for a node-level task's single graph).
        ref_degree: edges per node of the batches the tables were measured on (local ops are scaled by
            the FLOP ratio when the task's density differs); ``None`` means "same as the task".
    """
    n, b = float(nodes), float(batch)
    ref_edges = float(edges) if ref_degree is None else ref_degree * n
    base = {"batch": b, "nodes": n}
    out: list[Block] = []
    level = plan.info.level
    act0 = spec.layers[0].act

    # ---- model level: encoders, pre layers, readout, head
    out.append(Block("overhead", {"width": float(spec.hidden), **base}, "other"))
    if spec.pe != "none" and plan.pe_width:
        out.append(Block(f"pe:{spec.pe}", {"width": float(plan.pe_width), **base}, "other"))
    if plan.edge_encoder in ("bond", "linear"):
        for w in plan.edge_widths:
            out.append(Block("edge", {"width": float(w), **base}, "other"))
    width = plan.enc_width
    for _ in range(spec.pre_layers):
        out.append(Block("linear", {"width": _linear_width(width, spec.hidden), **base}, "other"))
        if act0 != "identity":
            out.append(Block(f"act:{act0}", {"width": float(spec.hidden), **base}, "other"))
        width = spec.hidden

    # ---- layers
    for i, (layer, lp) in enumerate(zip(spec.layers, plan.layers, strict=True)):
        w, i_d = lp.out_dim, lp.in_dim
        c = {"width": float(w), **base}
        for pos, dim in enumerate(lp.source_dims):
            if pos > 0 and dim != i_d:
                out.append(Block("linear", {"width": _linear_width(dim, i_d), **base}, "other", i))
        if spec.virtual_node and i > 0:
            out.append(Block("vn", {"width": float(i_d), **base}, "other", i))
        factory = get("local", layer.local)
        identity = bool(op_attr(factory, "identity"))
        has_local = layer.local != "none"
        if has_local:
            lw, scale = _local_lookup(layer, i_d, w, lp.edge_dim, n, float(edges), ref_edges)
            lc = {**c, "width": lw, "heads": float(layer.heads)}  # heads: used when the table has that axis
            out.append(Block(f"local:{layer.local}", lc, "local", i, scale=scale))
            if not identity:
                _delta(out, "norm", layer.norm, REF_NORM, c, "local", i)
                _delta(out, "act", layer.act, REF_ACT, c, "local", i)
        has_attn = layer.attn != "none"
        if has_attn:
            aw = _attn_width(layer, i_d, w, lp.head_dim, n, float(nodes_sq))
            out.append(Block(f"attn:{layer.attn}", {**c, "width": aw, "heads": float(layer.heads)}, "attn", i))
            _delta(out, "norm", layer.norm, REF_NORM, c, "attn", i)
        if i_d != w and needs_res(has_local, identity, has_attn, layer.residual):
            out.append(Block("linear", {**c, "width": _linear_width(i_d, w)}, "other", i))
        ffn = layer.ffn if layer.ffn is not None else 2 * w
        if ffn > 0:
            out.append(Block("ffn", {**c, "ffn": float(ffn)}, "ffn", i))
            _delta(out, "norm", layer.norm, REF_NORM, c, "ffn", i)
            _delta(out, "act", layer.act, REF_ACT, {**c, "width": float(ffn)}, "ffn", i)

    # ---- combine, readout, head
    if spec.combine in ("sum", "mean"):
        for d in plan.leaf_dims:
            if d != plan.out_dim:
                out.append(Block("linear", {"width": _linear_width(d, plan.out_dim), **base}, "other"))
    if level == "graph" and spec.pooling != REF_POOL:
        _delta(out, "pool", spec.pooling, REF_POOL, {"width": float(plan.out_dim), **base}, "other", -1)
    rows = {"batch": b, "nodes": 1.0} if level == "graph" else base
    width = plan.out_dim
    for _ in range(spec.post_layers - 1):
        out.append(Block("linear", {"width": _linear_width(width, spec.hidden), **rows}, "other"))
        if act0 != "identity":
            out.append(Block(f"act:{act0}", {"width": float(spec.hidden), **rows}, "other"))
        width = spec.hidden
    return out

