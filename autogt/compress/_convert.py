"""``from_module``: plain PyTorch / PyG graph transformers -> an equivalent autogt ``ArchSpec`` + state dict.

Supported kinds (anything else is refused with a message naming the module):

1. A **stack of PyG** ``GPSConv`` layers (``nn.ModuleList`` / ``nn.Sequential``). Each layer maps to
   ``LayerSpec(local="gine" | "gin", attn="full", heads, ffn=mlp width, norm, act="relu", dropout,
   attn_dropout, residual=True)``; ``nn.MultiheadAttention``'s packed ``in_proj_weight`` is split into
   ``q``/``k``/``v`` and ``out_proj`` becomes ``o``.
2. A ``torch.nn.TransformerEncoder`` (post-norm layers): ``LayerSpec(local="none", attn="full",
   norm="layer", act="relu" | "gelu")``; attention runs within each graph, as a padded batch with a key
   padding mask would.
3. A **wrapped model**: a module whose children are, in registration order, optional encoders
   (``nn.Linear`` -> ``linear``; ``nn.Embedding`` or a module of ``nn.Embedding`` columns summed, like
   OGB's ``AtomEncoder`` -> ``atom``/``bond``; a child whose name contains ``edge`` or ``bond`` encodes
   edges), exactly one stack of kind 1 or 2, and an optional head (``nn.Linear`` or ``nn.Sequential`` of
   ``Linear``/activation/``Dropout``). Its forward must take a PyG ``Batch``; ``pooling`` (default
   ``mean``) is the readout it applies between the stack and the head.

A bare stack becomes a node-level model over float node features of width ``C`` with an identity
``Linear(C, C)`` head (so the autogt model's output *is* the stack's output); its task description is
returned. Every conversion is checked numerically on example graphs (eval mode): outputs must agree
to ``atol`` or the converter refuses, so nothing silently differs.

Not representable, hence refused: GPSConv with ``layer_norm`` (PyG normalises over the whole graph),
PyG ``PerformerAttention`` (another feature map), local convolutions other than GIN/GINE, a GIN MLP
that is not ``Linear -> [norm] -> ReLU -> Linear -> ReLU`` (autogt applies the layer's activation
after the local op, and PyG's GPSConv does not), ``norm_first=True`` transformers, a final
``TransformerEncoder.norm``, non-default norm eps, ``add_bias_kv`` / ``add_zero_attn``.

Example:
    >>> import torch
    >>> enc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(16, 4, 32, batch_first=True), 2,
    ...                                   enable_nested_tensor=False)
    >>> spec, state, task = from_module(enc.eval())
    >>> spec.layers[0].attn, spec.layers[0].heads, spec.layers[0].ffn
    ('full', 4, 32)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autogt.models.spec import ArchSpec, LayerSpec

__all__ = ["from_module", "Converted", "ConversionError"]


class ConversionError(ValueError):
    """A module (or a detail of it) that autogt cannot represent exactly; the message names it."""


class Converted(NamedTuple):
    """Result of :func:`from_module` (unpacks as ``spec, state_dict, task``)."""

    spec: ArchSpec
    state_dict: dict[str, Tensor]
    task: dict[str, Any]


# ----------------------------------------------------------------------------- checks
def _is_gps(m: Any) -> bool:
    try:
        from torch_geometric.nn import GPSConv
    except ImportError:  # pragma: no cover
        return False
    return isinstance(m, GPSConv)


def _act_name(act: Any, where: str) -> str:
    if isinstance(act, nn.ReLU) or act is F.relu:
        return "relu"
    if isinstance(act, nn.GELU) and getattr(act, "approximate", "none") == "none" or act is F.gelu:
        return "gelu"
    raise ConversionError(f"{where}: activation {act!r} is not supported (relu or gelu)")


def _norm_kind(norm: Any, width: int, where: str) -> tuple[str, nn.Module | None]:
    """``(batch | layer | none, the torch module holding the parameters)``."""
    if norm is None or isinstance(norm, nn.Identity):
        return "none", None
    inner = getattr(norm, "module", norm)  # PyG BatchNorm wraps BatchNorm1d as .module
    if isinstance(inner, nn.BatchNorm1d):
        if (inner.eps != 1e-5 or inner.momentum != 0.1 or not inner.affine or not inner.track_running_stats
                or inner.num_features != width or getattr(norm, "allow_single_element", False)):
            raise ConversionError(f"{where}: BatchNorm must have eps=1e-5, momentum=0.1, affine and running stats "
                                  f"(autogt's defaults), got {inner!r}")
        return "batch", inner
    if type(norm) is nn.LayerNorm:
        if norm.eps != 1e-5 or not norm.elementwise_affine or norm.bias is None:
            raise ConversionError(f"{where}: LayerNorm must have eps=1e-5 and affine weight and bias, got {norm!r}")
        return "layer", norm
    name = type(norm).__module__ + "." + type(norm).__name__
    if "torch_geometric" in name and "LayerNorm" in name:
        raise ConversionError(f"{where}: PyG's LayerNorm ({getattr(norm, 'mode', 'graph')} mode) normalises over "
                              "the whole graph; autogt's layer norm is per node")
    raise ConversionError(f"{where}: norm {type(norm).__name__} is not supported (BatchNorm1d, LayerNorm or none)")


def _copy_norm(state: dict[str, Tensor], prefix: str, norm: nn.Module | None) -> None:
    if norm is None:
        return
    for k, v in norm.state_dict().items():
        state[f"{prefix}.{k}"] = v.detach().clone()


def _copy_linear(state: dict[str, Tensor], prefix: str, lin: Any) -> None:
    """A torch or PyG ``Linear`` (a missing bias becomes zeros, which autogt's biased Linear reproduces)."""
    weight = lin.weight.detach()
    state[f"{prefix}.weight"] = weight.clone()
    bias = getattr(lin, "bias", None)
    state[f"{prefix}.bias"] = bias.detach().clone() if bias is not None else torch.zeros(weight.shape[0])


def _copy_mha(state: dict[str, Tensor], prefix: str, mha: nn.MultiheadAttention, where: str) -> tuple[int, int]:
    if not mha._qkv_same_embed_dim:
        raise ConversionError(f"{where}: attention with kdim/vdim != embed_dim is not supported")
    if mha.bias_k is not None or mha.add_zero_attn:
        raise ConversionError(f"{where}: add_bias_kv / add_zero_attn are not supported")
    e, h = mha.embed_dim, mha.num_heads
    w = mha.in_proj_weight.detach()
    b = mha.in_proj_bias.detach() if mha.in_proj_bias is not None else torch.zeros(3 * e)
    for j, name in enumerate(("q", "k", "v")):
        state[f"{prefix}.{name}.weight"] = w[j * e:(j + 1) * e].clone()
        state[f"{prefix}.{name}.bias"] = b[j * e:(j + 1) * e].clone()
    _copy_linear(state, f"{prefix}.o", mha.out_proj)
    return h, e // h


# ----------------------------------------------------------------------------- GPSConv
def _gin_parts(conv: Any, where: str, norm_kind: str) -> tuple[str, Any, int, Any]:
    from torch_geometric.nn import GINConv, GINEConv

    if isinstance(conv, GINEConv):
        op = "gine"
    elif isinstance(conv, GINConv):
        op = "gin"
    else:
        raise ConversionError(f"{where}.conv: {type(conv).__name__} is not supported; the converter handles "
                              "GINConv / GINEConv local layers")
    if getattr(conv, "aggr", "add") != "add":
        raise ConversionError(f"{where}.conv: aggregation {conv.aggr!r} is not supported (add)")
    seq: Any = conv.nn
    mods: list[Any] = list(seq) if isinstance(seq, nn.Sequential) else [seq]
    ok = (len(mods) in (4, 5) and isinstance(mods[0], nn.Linear) and isinstance(mods[-2], nn.Linear)
          and isinstance(mods[-1], nn.ReLU) and isinstance(mods[-3], nn.ReLU))
    if not ok:
        raise ConversionError(
            f"{where}.conv.nn: expected Sequential(Linear, [norm], ReLU, Linear, ReLU); autogt applies the layer's "
            "activation after the local op, so the MLP must end with that ReLU (PyG's GPSConv adds none)")
    inner = mods[1] if len(mods) == 5 else None
    kind, inner_mod = _norm_kind(inner, mods[0].out_features, f"{where}.conv.nn[1]")
    if kind != norm_kind:
        raise ConversionError(f"{where}.conv.nn: the MLP's inner norm ({kind}) must match the layer norm "
                              f"({norm_kind}); autogt's GIN MLP uses the layer's norm")
    return op, seq, mods[0].out_features, inner_mod


def _gps_layer(conv: Any, i: int, state: dict[str, Tensor], channels: int, edge_dim: int) -> LayerSpec:
    where = f"layers[{i}] ({type(conv).__name__})"
    if conv.channels != channels:
        raise ConversionError(f"{where}: all GPSConv layers must have the same channels ({channels})")
    if not isinstance(conv.attn, nn.MultiheadAttention):
        raise ConversionError(f"{where}: attention {type(conv.attn).__name__} is not supported (attn_type='multihead'; "
                              "PyG's PerformerAttention uses another feature map than autogt's performer)")
    norm_kind, n1 = _norm_kind(conv.norm1, channels, f"{where}.norm1")
    k2, n2 = _norm_kind(conv.norm2, channels, f"{where}.norm2")
    k3, n3 = _norm_kind(conv.norm3, channels, f"{where}.norm3")
    if norm_kind == "layer" or not (norm_kind == k2 == k3):
        raise ConversionError(f"{where}: norms must be batch_norm or none, the same for all three")
    p = f"layers.{i}"
    mlp = list(conv.mlp)
    if not (len(mlp) == 5 and isinstance(mlp[0], nn.Linear) and isinstance(mlp[2], nn.Dropout)
            and isinstance(mlp[3], nn.Linear) and isinstance(mlp[4], nn.Dropout)):
        raise ConversionError(f"{where}.mlp: expected Sequential(Linear, act, Dropout, Linear, Dropout)")
    act = _act_name(mlp[1], f"{where}.mlp[1]")
    if act != "relu":
        raise ConversionError(f"{where}: act must be relu (the local GIN MLP's activation is shared)")
    local, local_out = "none", 0
    if conv.conv is not None:
        local, seq, local_out, inner = _gin_parts(conv.conv, where, norm_kind)
        state[f"{p}.local.eps"] = conv.conv.eps.detach().reshape(1).clone()
        _copy_linear(state, f"{p}.local.mlp.0", seq[0])
        _copy_norm(state, f"{p}.local.mlp.1", inner)
        _copy_linear(state, f"{p}.local.mlp.3", seq[-2])
        lin = getattr(conv.conv, "lin", None)
        if local == "gine":
            if lin is not None:
                if edge_dim == channels:
                    raise ConversionError(f"{where}.conv.lin: a per-layer edge Linear with edge_dim == channels is "
                                          "not representable (autogt adds one only when the widths differ)")
                _copy_linear(state, f"{p}.local.edge_lin", lin)
            elif edge_dim != channels:
                raise ConversionError(f"{where}.conv: edge features are {edge_dim} wide but the layer has no edge "
                                      f"Linear to {channels}")
        _copy_norm(state, f"{p}.local_norm", n1)
    heads, head_dim = _copy_mha(state, f"{p}.attn", conv.attn, f"{where}.attn")
    _copy_norm(state, f"{p}.attn_norm", n2)
    _copy_linear(state, f"{p}.fc1", mlp[0])
    _copy_linear(state, f"{p}.fc2", mlp[3])
    _copy_norm(state, f"{p}.ffn_norm", n3)
    drop = float(conv.dropout)
    if mlp[2].p != drop or mlp[4].p != drop:
        raise ConversionError(f"{where}.mlp: dropout differs from the layer dropout {drop}")
    return LayerSpec(local=local, attn="full", heads=heads, head_dim=head_dim if head_dim * heads != channels else None,
                     ffn=mlp[0].out_features, norm=norm_kind, act="relu", dropout=drop,
                     attn_dropout=float(conv.attn.dropout), residual=True,
                     local_out=local_out if local != "none" and local_out != channels else 0)


# ----------------------------------------------------------------------------- TransformerEncoder
def _tf_layer(layer: nn.TransformerEncoderLayer, i: int, state: dict[str, Tensor]) -> LayerSpec:
    where = f"layers[{i}] (TransformerEncoderLayer)"
    if layer.norm_first:
        raise ConversionError(f"{where}: norm_first=True (pre-norm) is not representable; autogt layers are post-norm")
    act = _act_name(layer.activation, f"{where}.activation")
    for name in ("norm1", "norm2"):
        kind, _m = _norm_kind(getattr(layer, name), layer.linear1.in_features, f"{where}.{name}")
        if kind != "layer":
            raise ConversionError(f"{where}.{name}: expected LayerNorm")
    p = f"layers.{i}"
    heads, head_dim = _copy_mha(state, f"{p}.attn", layer.self_attn, f"{where}.self_attn")
    _copy_norm(state, f"{p}.attn_norm", layer.norm1)
    _copy_linear(state, f"{p}.fc1", layer.linear1)
    _copy_linear(state, f"{p}.fc2", layer.linear2)
    _copy_norm(state, f"{p}.ffn_norm", layer.norm2)
    drops = {layer.dropout.p, layer.dropout1.p, layer.dropout2.p}
    if len(drops) != 1:
        raise ConversionError(f"{where}: the three dropouts must be equal, got {sorted(drops)}")
    return LayerSpec(local="none", attn="full", heads=heads, head_dim=None, ffn=layer.linear1.out_features,
                     norm="layer", act=act, dropout=drops.pop(), attn_dropout=float(layer.self_attn.dropout),
                     residual=True)


# ----------------------------------------------------------------------------- stacks
def _convs(m: Any) -> list[Any]:
    """The GPSConv layers of a stack (or the single layer)."""
    return [m] if _is_gps(m) else list(m)


def _stack_kind(m: nn.Module) -> str | None:
    if isinstance(m, nn.TransformerEncoder):
        return "transformer"
    if isinstance(m, (nn.ModuleList, nn.Sequential)) and len(m) > 0 and all(_is_gps(c) for c in m):
        return "gps"
    if _is_gps(m):
        return "gps"
    return None


def _convert_stack(stack: Any, state: dict[str, Tensor], edge_dim: int) -> tuple[list[LayerSpec], int]:
    kind = _stack_kind(stack)
    if kind == "transformer":
        assert isinstance(stack, nn.TransformerEncoder)
        if stack.norm is not None:
            raise ConversionError("TransformerEncoder.norm: a final norm after the stack is not representable")
        layers = [_tf_layer(layer, i, state) for i, layer in enumerate(stack.layers)]
        return layers, int(stack.layers[0].linear1.in_features)
    convs = _convs(stack)
    channels = int(convs[0].channels)
    return [_gps_layer(c, i, state, channels, edge_dim) for i, c in enumerate(convs)], channels


def _run_stack(stack: Any, batch: Any) -> Tensor:
    """The reference forward of a bare stack on a PyG batch."""
    if isinstance(stack, nn.TransformerEncoder):
        from torch_geometric.utils import to_dense_batch

        dense, mask = to_dense_batch(batch.x.float(), batch.batch)
        first = stack.layers[0].self_attn.batch_first
        inp = dense if first else dense.transpose(0, 1)
        out = stack(inp, src_key_padding_mask=~mask)
        out = out if first else out.transpose(0, 1)
        return out[mask]
    convs = _convs(stack)
    x = batch.x.float()
    for c in convs:
        kw = {}
        if c.conv is not None and type(c.conv).__name__ == "GINEConv":
            kw["edge_attr"] = batch.edge_attr.float()
        x = c(x, batch.edge_index, batch.batch, **kw)
    return x


def _example(task: dict[str, Any], seed: int = 0) -> Any:
    from autogt.testing.layers import random_graphs

    return random_graphs([5, 3, 8, 1, 6], task, seed=seed, edge_prob=0.4)


def _verify(ref: Callable[[Any], Tensor], spec: ArchSpec, state: dict[str, Tensor], task: dict[str, Any],
            batch: Any, atol: float, what: str) -> None:
    from autogt.models import build_model

    model = build_model(spec, task)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ConversionError(f"{what}: converted weights do not fit the autogt model: {exc}") from exc
    model.eval()
    with torch.no_grad():
        try:
            want = ref(batch)
        except Exception as exc:
            raise ConversionError(f"{what}: could not run the module on a PyG batch: {exc}") from exc
        got = model(batch)
    if want.shape != got.shape:
        raise ConversionError(f"{what}: output shape {tuple(want.shape)} != converted {tuple(got.shape)}")
    diff = float((want - got).abs().max()) if want.numel() else 0.0
    if not diff <= atol * (1.0 + float(want.abs().max()) if want.numel() else 1.0):
        raise ConversionError(f"{what}: converted outputs differ by {diff:.3g}; the module's forward does something "
                              "the converter does not model (see autogt.compress.from_module)")


def _bare(module: nn.Module, atol: float) -> Converted:
    state: dict[str, Tensor] = {}
    edge_dim = 0
    if _stack_kind(module) == "gps":
        convs = _convs(module)
        for c in convs:
            lin = getattr(c.conv, "lin", None) if c.conv is not None else None
            if lin is not None:
                edge_dim = int(lin.weight.shape[1])
            elif c.conv is not None and type(c.conv).__name__ == "GINEConv":
                edge_dim = edge_dim or int(c.channels)
    layers, channels = _convert_stack(module, state, edge_dim)
    spec = ArchSpec(hidden=channels, layers=tuple(layers), node_encoder="none", edge_encoder="none", pe="none",
                    post_layers=1, output="head")
    task = {"name": "converted", "level": "node", "kind": "regression", "metric": "mae", "num_outputs": channels,
            "node_dim": channels, "edge_dim": edge_dim, "node_categorical": False, "edge_categorical": False,
            "atom_vocab": [], "bond_vocab": []}
    state["head.1.weight"] = torch.eye(channels)
    state["head.1.bias"] = torch.zeros(channels)
    synth = {**task, "meta": {}}
    _verify(lambda b: _run_stack(module, b), spec, state, synth, _example(synth), atol, type(module).__name__)
    return Converted(spec, state, task)


def _embedding_tables(m: nn.Module) -> list[nn.Embedding] | None:
    if isinstance(m, nn.Embedding):
        return [m]
    leaves = [c for c in m.modules() if not list(c.children())]
    if leaves and all(isinstance(c, nn.Embedding) for c in leaves):
        return list(leaves)  # type: ignore[arg-type]
    return None


def _wrapped(module: nn.Module, task: Any, pooling: str, atol: float, example: Any) -> Converted:
    from autogt.models.plan import TaskInfo

    info = TaskInfo.of(task)
    children = list(module.named_children())
    pos = [j for j, (_n, c) in enumerate(children) if _stack_kind(c) is not None]
    if len(pos) != 1:
        kinds = ", ".join(f"{n} ({type(c).__name__})" for n, c in children)
        raise ConversionError(f"{type(module).__name__}: expected exactly one GPSConv stack or TransformerEncoder "
                              "among "
                              f"its children, found {len(pos)} in: {kinds or 'no children'}")
    before, (_sname, stack), after = children[:pos[0]], children[pos[0]], children[pos[0] + 1:]
    state: dict[str, Tensor] = {}
    node_enc = edge_enc = "none"
    edge_tables: list[nn.Embedding] | None = None
    edge_lin: nn.Linear | None = None
    for name, child in before:
        is_edge = "edge" in name.lower() or "bond" in name.lower()
        tables = _embedding_tables(child)
        if isinstance(child, nn.Linear):
            if is_edge:
                edge_enc, edge_lin = "linear", child
            else:
                node_enc = "linear"
                _copy_linear(state, "node_encoder.lin", child)
        elif tables is not None:
            if is_edge:
                edge_enc, edge_tables = "bond", tables
            else:
                node_enc = "atom"
                if list(info.atom_vocab) != [t.num_embeddings for t in tables]:
                    raise ConversionError(f"{name}: embedding sizes {[t.num_embeddings for t in tables]} do not match "
                                          f"the task's atom vocabulary {list(info.atom_vocab)}")
                for c, t in enumerate(tables):
                    state[f"node_encoder.embeddings.{c}.weight"] = t.weight.detach().clone()
        else:
            raise ConversionError(f"{name} ({type(child).__name__}): not a supported encoder before the stack "
                                  "(nn.Linear, nn.Embedding or a module of nn.Embedding columns)")
    kind = _stack_kind(stack)
    edge_width = 0
    if kind == "gps":
        convs = _convs(stack)
        edge_width = int(convs[0].channels) if edge_enc != "none" else info.edge_dim
    layers, channels = _convert_stack(stack, state, edge_width)
    if edge_enc == "bond":
        assert edge_tables is not None
        for c, t in enumerate(edge_tables):
            state[f"edge_encoders.{channels}.embeddings.{c}.weight"] = t.weight.detach().clone()
    elif edge_enc == "linear":
        assert edge_lin is not None
        _copy_linear(state, f"edge_encoders.{channels}.lin", edge_lin)
    head_mods: list[nn.Module] = []
    for name, child in after:
        mods = list(child) if isinstance(child, nn.Sequential) else [child]
        for m in mods:
            if not isinstance(m, (nn.Linear, nn.ReLU, nn.GELU, nn.Dropout)):
                raise ConversionError(f"{name} ({type(m).__name__}): not a supported head module "
                                      "(Linear, ReLU/GELU, Dropout)")
        head_mods += mods
    lins = [m for m in head_mods if isinstance(m, nn.Linear)]
    if not lins:
        raise ConversionError(f"{type(module).__name__}: no head (nn.Linear) after the stack")
    drops = {m.p for m in head_mods if isinstance(m, nn.Dropout)}
    if len(drops) > 1:
        raise ConversionError("head: dropouts differ")
    for j, lin in enumerate(lins):
        _copy_linear(state, f"head.{3 * j + 1}", lin)
        if j < len(lins) - 1 and lin.out_features != channels:
            raise ConversionError(f"head: hidden width {lin.out_features} must equal the stack width {channels}")
    act0 = layers[0].act
    spec = ArchSpec(hidden=channels, layers=tuple(layers), node_encoder=node_enc if node_enc != "none" else "none",
                    edge_encoder=edge_enc, pe="none", pooling=pooling, post_layers=len(lins),
                    head_dropout=drops.pop() if drops else 0.0)
    if len(lins) > 1 and any(isinstance(m, nn.GELU) for m in head_mods) != (act0 == "gelu"):
        raise ConversionError("head: its activation must be the first layer's activation")
    desc = _describe(task)
    batch = example if example is not None else _example({**desc, "meta": {}})
    _verify(lambda b: module(b), spec, state, desc, batch, atol, type(module).__name__)
    return Converted(spec, state, desc)


def _describe(task: Any) -> dict[str, Any]:
    if isinstance(task, dict):
        return dict(task)
    return dict(task.describe())


def from_module(module: nn.Module, task: Any = None, *, pooling: str = "mean", example: Any = None,
                atol: float = 1e-5) -> Converted:
    """Convert a supported plain module into an equivalent autogt spec + state dict (see module docstring).

    Args:
        module: an ``AutoGTModel``, a GPSConv stack, a ``TransformerEncoder`` or a wrapped model.
        task: the task (``Task`` or ``describe()`` dict); required for wrapped models, ignored for bare stacks.
        pooling: readout a wrapped model applies between its stack and its head.
        example: a PyG ``Batch`` to verify a wrapped model on (default: random graphs shaped like ``task``).
        atol: tolerated output difference (relative to the output scale).

    Returns:
        ``Converted(spec, state_dict, task)``: ``build_model(spec, task)`` + ``load_state_dict`` reproduces
        the module's outputs.

    Raises:
        ConversionError: an unsupported module or detail; the message names it.

    Example:
        >>> spec, state, task_desc = from_module(torch.nn.ModuleList([gps1, gps2]))   # doctest: +SKIP
    """
    from autogt.models.model import AutoGTModel

    if isinstance(module, AutoGTModel):
        return Converted(module.spec, {k: v.detach().clone() for k, v in module.state_dict().items()},
                         _describe(task) if task is not None else {})
    module = copy.deepcopy(module).eval()
    if _stack_kind(module) is not None:
        return _bare(module, atol)
    if task is None:
        raise ConversionError(f"{type(module).__name__}: not a supported module; expected an AutoGTModel, a stack of "
                              "PyG GPSConv layers, a torch.nn.TransformerEncoder, or a wrapped model (pass task=)")
    return _wrapped(module, task, pooling, atol, example)
