"""Where gates can go in a model: the :class:`GateLayout` of a spec, and :class:`GateValues`.

Granularities (names used by :class:`~autogt.compress.PruneConfig` ``granularities``):

=========== ==================================================================== =========================
name        what one gate removes                                                inference value
=========== ==================================================================== =========================
``heads``   one attention head (``q k v`` rows, ``o`` columns)                    kept value folded into
                                                                                 ``o`` columns
``neurons`` one FFN neuron (``fc1`` row, ``fc2`` column)                          folded into ``fc2`` columns
``attn``    a layer's whole attention block (spec ``attn="none"``)               0 or 1
``local``   a layer's whole message-passing block (spec ``local="none"``)        0 or 1
``ffn``     a layer's whole FFN (spec ``ffn=0``)                                 0 or 1
``layers``  a whole layer (the layer is dropped and its readers re-wired)         0 or 1
``hidden``  one channel of the residual stream, shared by every layer            0 or 1
``edges``   input edges, by a learned scorer on edge and endpoint features       0 or 1 (edge dropped)
=========== ==================================================================== =========================

Block and layer gates interpolate between the block and its removal, so a closed gate is *exactly* the
spec without the block: for a layer with a local branch ``P_l``, an attention branch ``P_a`` and input
``res``, ``h = z_l P_l + z_a P_a + (1 - z_l)(1 - z_a) res``; the FFN gives
``z_f norm(h + FFN(h)) + (1 - z_f) h``; a layer gives ``z_y layer(x) + (1 - z_y) x``. Such interpolations
cannot be folded into weights, so coarse gates are binarised at inference (open iff their inference value is
> 0). Fine gates (heads, neurons) keep their value, which removal folds into the weights. Effective masks
multiply: a head counts only while its attention block (and layer) is open. (The hard-concrete masker's
inference values keep, per gate vector, as many gates as the expected L0 norm says; see
:func:`~autogt.compress._gates.expected_topk`.)

Some granularities are unavailable for some models; :func:`make_layout` records why in ``notes``:
hidden gates need every layer at width ``hidden``, channel-wise norms (``batch``/``none``; LayerNorm
mixes channels), no virtual node, a node encoder (or ``pre_layers``) and local ops whose weights can be
sliced per channel (``none skip fc gcn sage graph gin gine``). Layer gates need a single input, equal
input/output width and no virtual node. Head gates are off where the local op shares ``heads`` (GAT).
Edge gates need local ops that accept per-edge weights (``gin gine gcn sage graph`` and edge-free ops).

Example:
    >>> from autogt.models import builtin_spec
    >>> from autogt.testing.layers import molecule_task
    >>> layout = make_layout(builtin_spec("gps"), molecule_task())
    >>> layout.hidden, layout.layers[0].heads, layout.layers[0].neurons
    (64, 4, 128)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from autogt.models.ops._base import op_attr
from autogt.models.plan import ModelPlan, make_plan
from autogt.models.spec import ArchSpec
from autogt.registry import get

__all__ = [
    "GRANULARITIES",
    "LayerSlots",
    "GateLayout",
    "LayerGates",
    "GateValues",
    "make_layout",
    "HIDDEN_OPS",
    "EDGE_WEIGHT_OPS",
]

GRANULARITIES = ("heads", "neurons", "attn", "local", "ffn", "layers", "hidden", "edges")
DEFAULT_GRANULARITIES = ("heads", "neurons", "attn", "local", "ffn", "layers", "hidden")
HIDDEN_OPS = ("none", "skip", "fc", "gcn", "sage", "graph", "gin", "gine")
EDGE_WEIGHT_OPS = ("none", "skip", "fc", "gcn", "sage", "graph", "gin", "gine")


@dataclass(frozen=True)
class LayerSlots:
    """The gates of one layer (0 / False = no gate of that kind).

    Attributes:
        heads: number of head gates; ``head_dim`` the width of one head.
        neurons: number of FFN neuron gates.
        local, attn, ffn, layer: whether the block / layer gate exists.
        in_dim, out_dim: the layer's widths (before pruning).
    """

    heads: int = 0
    head_dim: int = 0
    neurons: int = 0
    local: bool = False
    attn: bool = False
    ffn: bool = False
    layer: bool = False
    in_dim: int = 0
    out_dim: int = 0


@dataclass(frozen=True)
class GateLayout:
    """Every gate a model carries, derived from its spec (see module docstring).

    Attributes:
        spec: the dense architecture.
        layers: per-layer slots.
        hidden: number of hidden-channel gates (0 = none).
        node_width: channels of the stream written by the node encoder (the first ``node_width``).
        pe_concat: the PE embedding fills channels ``node_width..hidden`` (else it is added to all).
        encoders: the node / PE encoders write the stream (hidden gates mask and slice them).
        edges: whether edges are gated.
        notes: why requested granularities are unavailable.
    """

    spec: ArchSpec
    layers: tuple[LayerSlots, ...]
    hidden: int = 0
    node_width: int = 0
    pe_concat: bool = False
    encoders: bool = False
    edges: bool = False
    notes: tuple[str, ...] = ()

    def num_gates(self) -> int:
        """Total number of gates (edge scorer excluded)."""
        n = self.hidden
        for s in self.layers:
            n += s.heads + s.neurons + int(s.local) + int(s.attn) + int(s.ffn) + int(s.layer)
        return n


@dataclass
class LayerGates:
    """Gate values (or open probabilities) of one layer; ``None`` = no gate (always 1).

    Shapes:
        ``local attn ffn layer``: scalars; ``heads [H]``; ``neurons [F]``.
    """

    local: Tensor | None = None
    attn: Tensor | None = None
    heads: Tensor | None = None
    ffn: Tensor | None = None
    neurons: Tensor | None = None
    layer: Tensor | None = None

    def map(self, fn: Any) -> LayerGates:
        """Apply ``fn`` to every tensor that is set."""
        return LayerGates(**{k: (fn(v) if v is not None else None) for k, v in self.__dict__.items()})


@dataclass
class GateValues:
    """Gate values (a sample, the deterministic masks, or open probabilities) of a whole model.

    Attributes:
        layers: per-layer values.
        hidden: ``[hidden]`` channel gates or ``None``.
        edges: for open probabilities only: the expected fraction of edges kept (scalar) or ``None``.
    """

    layers: list[LayerGates] = field(default_factory=list)
    hidden: Tensor | None = None
    edges: Tensor | None = None

    def map(self, fn: Any) -> GateValues:
        """Apply ``fn`` to every tensor that is set."""
        return GateValues([g.map(fn) for g in self.layers], fn(self.hidden) if self.hidden is not None else None,
                          fn(self.edges) if self.edges is not None else None)

    def detach(self) -> GateValues:
        return self.map(lambda t: t.detach().clone())

    @classmethod
    def ones(cls, layout: GateLayout) -> GateValues:
        """All gates fully open (the dense model)."""
        one = torch.ones(())
        layers = []
        for s in layout.layers:
            layers.append(LayerGates(
                local=one.clone() if s.local else None,
                attn=one.clone() if s.attn else None,
                heads=torch.ones(s.heads) if s.heads else None,
                ffn=one.clone() if s.ffn else None,
                neurons=torch.ones(s.neurons) if s.neurons else None,
                layer=one.clone() if s.layer else None,
            ))
        hidden = torch.ones(layout.hidden) if layout.hidden else None
        return cls(layers, hidden, one.clone() if layout.edges else None)


def _shares_heads(local: str) -> bool:
    """Whether a local op's weights are laid out by ``heads`` (then attention heads cannot be pruned alone)."""
    from autogt.models.spec import LayerSpec

    factory = get("local", local)
    shapes = []
    for heads in (1, 2):
        try:
            with torch.device("meta"):
                module = factory(8, 8, heads=heads, edge_dim=0, layer=LayerSpec(local=local, heads=heads))
        except Exception:  # an op that cannot be built standalone: be conservative
            return True
        shapes.append([tuple(p.shape) for p in module.parameters()] if module is not None else [])
    return shapes[0] != shapes[1]


def hidden_support(spec: ArchSpec, plan: ModelPlan) -> str | None:
    """``None`` when hidden-channel gates are possible, else the reason they are not."""
    if spec.virtual_node:
        return "hidden: not with a virtual node (its MLP widths are tied to the stream)"
    if spec.output != "head":
        return "hidden: not with output='layer'"
    if plan.node_encoder == "none" and spec.pre_layers == 0:
        return "hidden: raw node features feed the first layer (no node encoder or pre_layers)"
    for i, (layer, lp) in enumerate(zip(spec.layers, plan.layers, strict=True)):
        if lp.in_dim != spec.hidden or lp.out_dim != spec.hidden:
            return f"hidden: layers[{i}] is {lp.in_dim}->{lp.out_dim} wide, not hidden={spec.hidden}"
        if layer.norm == "layer":
            return f"hidden: layers[{i}] uses LayerNorm, which mixes channels"
        if layer.local not in HIDDEN_OPS:
            return f"hidden: layers[{i}] local op {layer.local!r} cannot be sliced per channel " \
                   f"(supported: {', '.join(HIDDEN_OPS)})"
        if op_attr(get("local", layer.local), "uses_edge_attr") and plan.edge_encoder == "none" \
                and lp.edge_dim == lp.in_dim:
            return f"hidden: layers[{i}] reads raw edge features as wide as the stream"
    if spec.pe != "none" and plan.pe_concat and plan.node_width < 1:
        return "hidden: no node channels"
    return None


def _layer_gate_ok(spec: ArchSpec, plan: ModelPlan, i: int) -> bool:
    if spec.virtual_node:
        return False
    lp = plan.layers[i]
    if len(lp.sources) != 1 or lp.in_dim != lp.out_dim:
        return False
    last = i == len(spec.layers) - 1
    if spec.output == "layer" and last:
        return False
    leaves = plan.leaves
    if (i + 1) in leaves:
        # removing a leaf keeps the readout only for a plain stack whose last layer reads the previous one
        return spec.combine == "last" and last and lp.sources[0] == i and i > 0
    return True


def edge_support(spec: ArchSpec) -> str | None:
    """``None`` when input edges can be gated, else the reason."""
    bad = sorted({layer.local for layer in spec.layers if layer.local not in EDGE_WEIGHT_OPS})
    if bad:
        return f"edges: local op(s) {', '.join(bad)} do not take per-edge weights " \
               f"(supported: {', '.join(EDGE_WEIGHT_OPS)})"
    if all(layer.local in ("none", "skip", "fc") for layer in spec.layers):
        return "edges: no layer passes messages along edges"
    return None


def make_layout(spec: ArchSpec, task: Any, granularities: tuple[str, ...] | list[str] = DEFAULT_GRANULARITIES,
                ) -> GateLayout:
    """The gates ``spec`` can carry on ``task`` for the requested ``granularities``.

    Args:
        spec: the dense architecture.
        task: a ``Task``, its ``describe()`` dict or a ``TaskInfo``.
        granularities: any of ``heads neurons attn local ffn layers hidden edges``.

    Raises:
        ValueError: an unknown granularity name.
    """
    unknown = sorted(set(granularities) - set(GRANULARITIES))
    if unknown:
        raise ValueError(f"granularities: unknown {', '.join(unknown)}; choose from {', '.join(GRANULARITIES)}")
    want = set(granularities)
    plan = make_plan(spec, task)
    notes: list[str] = []
    slots = []
    for i, (layer, lp) in enumerate(zip(spec.layers, plan.layers, strict=True)):
        local_factory = get("local", layer.local)
        has_local = layer.local != "none" and not op_attr(local_factory, "identity")
        has_attn = layer.attn != "none"
        ffn = layer.ffn if layer.ffn is not None else 2 * lp.out_dim
        heads = 0
        if "heads" in want and has_attn and layer.heads > 1:
            if _shares_heads(layer.local):
                notes.append(f"heads: layers[{i}] local op {layer.local!r} shares 'heads' with attention")
            else:
                heads = layer.heads
        layer_gate = "layers" in want and _layer_gate_ok(spec, plan, i)
        slots.append(LayerSlots(
            heads=heads,
            head_dim=lp.head_dim,
            neurons=ffn if "neurons" in want and ffn > 1 else 0,
            local="local" in want and has_local,
            attn="attn" in want and has_attn,
            ffn="ffn" in want and ffn > 0,
            layer=layer_gate,
            in_dim=lp.in_dim,
            out_dim=lp.out_dim,
        ))
    hidden = 0
    if "hidden" in want:
        reason = hidden_support(spec, plan)
        if reason is None:
            hidden = spec.hidden
        else:
            notes.append(reason)
    edges = False
    if "edges" in want:
        reason = edge_support(spec)
        if reason is None and plan.info.level != "graph":
            reason = "edges: only graph-level tasks (an edge filter runs on each new graph)"
        if reason is None:
            edges = True
        else:
            notes.append(reason)
    pe_concat = spec.pe != "none" and plan.pe_concat
    node_width = plan.node_width if pe_concat else spec.hidden
    return GateLayout(spec=spec, layers=tuple(slots), hidden=hidden, node_width=node_width, pe_concat=pe_concat,
                      encoders=hidden > 0 and plan.node_encoder != "none", edges=edges, notes=tuple(notes))


def without(layout: GateLayout, **changes: Any) -> GateLayout:
    """A copy of ``layout`` with fields changed (e.g. ``edges=False``)."""
    return replace(layout, **changes)
