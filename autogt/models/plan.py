"""Resolve an ``ArchSpec`` against a task into concrete widths (shared by the model and the cost model).

:func:`make_plan` decides every width once: encoders, each layer's input/output width, the edge
encodings each edge-aware op needs, and the leaf projections. :func:`~autogt.models.build_model` and
:func:`~autogt.hardware.flops.count_params` both read the plan, so they cannot disagree.

Width rules:
    - Encoded input (``w0``): ``hidden`` for ``atom``/``linear`` encoders (with ``pe_hidden > 0`` the
      node embedding is ``hidden - pe_hidden`` wide and the PE embedding fills the rest); for ``none``
      the raw ``node_dim`` features (``node_dim + pe_hidden`` with a concatenated PE). ``pre_layers``
      map it to ``hidden``.
    - Layer ``i`` reads the sum of its inputs; its input width is the width of its *first* input and
      other inputs of a different width go through a bias-free ``Linear`` projection.
    - Edge-aware ops (factory ``uses_edge_attr``) get edges encoded at their input width (one edge
      encoder per distinct width); with ``edge_encoder="none"`` they get the raw ``edge_dim`` features.
    - ``output="layer"``: the last layer is ``num_outputs`` wide and there is no head.
    - Leaves: ``concat`` concatenates; ``sum``/``mean`` project narrower leaves (bias-free) to the widest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autogt.models.ops._base import op_attr
from autogt.models.spec import ArchSpec, SpecError
from autogt.registry import get

__all__ = ["TaskInfo", "LayerPlan", "ModelPlan", "make_plan"]


@dataclass(frozen=True)
class TaskInfo:
    """The parts of a task that shape a model."""

    level: str = "graph"
    kind: str = "regression"
    num_outputs: int = 1
    node_dim: int = 0
    edge_dim: int = 0
    node_categorical: bool = False
    edge_categorical: bool = False
    atom_vocab: tuple[int, ...] = ()
    bond_vocab: tuple[int, ...] = ()

    @classmethod
    def of(cls, task: Any) -> TaskInfo:
        """From a ``Task``, its ``describe()`` dict, or a ``TaskInfo``."""
        if isinstance(task, TaskInfo):
            return task
        get_ = task.get if isinstance(task, dict) else (lambda k, d=None: getattr(task, k, d))
        missing = [k for k in ("level", "num_outputs", "node_dim") if get_(k) is None]
        if missing:
            raise ValueError(f"task description lacks {', '.join(missing)}")
        return cls(
            level=str(get_("level")),
            kind=str(get_("kind", "regression")),
            num_outputs=int(get_("num_outputs", 0)),
            node_dim=int(get_("node_dim", 0)),
            edge_dim=int(get_("edge_dim", 0) or 0),
            node_categorical=bool(get_("node_categorical", False)),
            edge_categorical=bool(get_("edge_categorical", False)),
            atom_vocab=tuple(int(v) for v in (get_("atom_vocab", ()) or ())),
            bond_vocab=tuple(int(v) for v in (get_("bond_vocab", ()) or ())),
        )


@dataclass(frozen=True)
class LayerPlan:
    """Widths of one layer: ``in_dim -> out_dim``; ``edge_dim`` of the edges its op gets (0 = none);
    ``sources`` the resolved inputs and ``source_dims`` their widths; ``raw_input``: the layer reads the raw,
    unencoded node features (directly or through ``skip`` layers), where a ``prenorm`` layer applies no
    input norm."""

    in_dim: int
    out_dim: int
    edge_dim: int
    head_dim: int
    sources: tuple[int, ...]
    source_dims: tuple[int, ...]
    raw_input: bool = False


@dataclass(frozen=True)
class ModelPlan:
    """Every width of a model (see module docstring)."""

    info: TaskInfo
    node_encoder: str  # atom | linear | none
    node_width: int  # output width of the node encoder (raw node_dim for none)
    pe_width: int  # width of the PE embedding (0 = no PE)
    pe_concat: bool
    enc_width: int  # after encoder + PE, before pre_layers
    w0: int  # encoded input fed to the layers (after pre_layers)
    edge_encoder: str  # bond | linear | none (raw) | absent
    edge_widths: tuple[int, ...]  # distinct widths edges are encoded at
    layers: tuple[LayerPlan, ...]
    leaves: tuple[int, ...]
    leaf_dims: tuple[int, ...]
    out_dim: int  # combined node representation width


def _resolve_node_encoder(spec: ArchSpec, info: TaskInfo) -> str:
    enc = spec.node_encoder
    if enc == "auto":
        enc = "atom" if info.node_categorical and info.atom_vocab else "linear"
    if enc == "atom" and not info.atom_vocab:
        raise SpecError("node_encoder: 'atom' needs a task with categorical node features (atom_vocab); "
                        "choose one of auto, linear, none")
    return enc


def _resolve_edge_encoder(spec: ArchSpec, info: TaskInfo) -> str:
    if info.edge_dim <= 0:
        return "absent"
    enc = spec.edge_encoder
    if enc == "auto":
        enc = "bond" if info.edge_categorical and info.bond_vocab else "linear"
    if enc == "bond" and not info.bond_vocab:
        raise SpecError("edge_encoder: 'bond' needs a task with categorical edge features (bond_vocab); "
                        "choose one of auto, linear, none")
    return enc


def make_plan(spec: ArchSpec, task: Any) -> ModelPlan:
    """Resolve ``spec`` against ``task`` (a ``Task``, ``Task.describe()`` dict or :class:`TaskInfo`).

    Raises:
        SpecError: inconsistent widths (e.g. ``pe_hidden >= hidden``) or an encoder the task cannot use.
        UnknownNameError: a local or global op that is not registered.
    """
    info = TaskInfo.of(task)
    if info.level not in ("graph", "node"):
        raise ValueError(f"task level: {info.level!r} is not allowed; choose one of graph, node")
    node_enc = _resolve_node_encoder(spec, info)
    pe_width = 0
    pe_concat = spec.pe != "none" and spec.pe_hidden > 0
    if node_enc == "none":
        node_width = info.node_dim
        if spec.pe != "none":
            pe_width = spec.pe_hidden if pe_concat else node_width
        enc_width = node_width + (pe_width if pe_concat else 0)
    else:
        if pe_concat and spec.pe_hidden >= spec.hidden:
            raise SpecError(f"pe_hidden: must be < hidden ({spec.hidden}), got {spec.pe_hidden}")
        node_width = spec.hidden - spec.pe_hidden if pe_concat else spec.hidden
        if spec.pe != "none":
            pe_width = spec.pe_hidden if pe_concat else spec.hidden
        enc_width = spec.hidden
    w0 = spec.hidden if spec.pre_layers > 0 else enc_width

    edge_enc = _resolve_edge_encoder(spec, info)
    out_dims: list[int] = [w0]
    raw: list[bool] = [node_enc == "none" and spec.pe == "none" and spec.pre_layers == 0]
    layers: list[LayerPlan] = []
    edge_widths: set[int] = set()
    last = len(spec.layers) - 1
    for i, (layer, srcs) in enumerate(zip(spec.layers, spec.resolved_inputs(), strict=True)):
        factory = get("local", layer.local)
        get("global", layer.attn)  # fail early on an unknown global op
        src_dims = tuple(out_dims[j] for j in srcs)
        in_dim = src_dims[0]
        out_dim = info.num_outputs if spec.output == "layer" and i == last else layer.width(spec.hidden)
        head_dim = layer.head_dim if layer.head_dim is not None else max(1, out_dim // layer.heads)
        edge_dim = 0
        if op_attr(factory, "uses_edge_attr") and edge_enc != "absent":
            edge_dim = info.edge_dim if edge_enc == "none" else in_dim
            if edge_enc != "none":
                edge_widths.add(in_dim)
        raw_input = len(srcs) == 1 and raw[srcs[0]]
        layers.append(LayerPlan(in_dim, out_dim, edge_dim, head_dim, srcs, src_dims, raw_input))
        out_dims.append(out_dim)
        raw.append(raw_input and bool(op_attr(factory, "identity")) and layer.attn == "none"
                   and layer.ffn_width(spec.hidden) == 0)
    leaves = tuple(spec.leaves())
    leaf_dims = tuple(out_dims[j] for j in leaves)
    out_dim = sum(leaf_dims) if spec.combine == "concat" else max(leaf_dims)
    return ModelPlan(
        info=info,
        node_encoder=node_enc,
        node_width=node_width,
        pe_width=pe_width,
        pe_concat=pe_concat,
        enc_width=enc_width,
        w0=w0,
        edge_encoder=edge_enc,
        edge_widths=tuple(sorted(edge_widths)),
        layers=tuple(layers),
        leaves=leaves,
        leaf_dims=leaf_dims,
        out_dim=out_dim,
    )
