"""Physical removal: a masked model becomes a standard, smaller autogt model.

Given the deterministic gate values (:func:`finalize`), :func:`derive_spec` writes the smaller
``ArchSpec`` (per-layer ``heads`` with an explicit ``head_dim``, ``ffn`` widths, removed blocks as
``local="none"`` / ``attn="none"`` / ``ffn=0``, removed layers dropped and their readers re-wired, a
narrower ``hidden``), and :func:`remove` builds it with ``build_model(new_spec, task)`` and fills it
with sliced weights. Surviving fine-gate values are folded into the weights (``o`` columns for heads,
``fc2`` columns for neurons), so the new model's outputs equal the masked model's deterministic outputs.

Example:
    >>> from autogt.models import builtin_spec, build_model
    >>> from autogt.testing.layers import molecule_task
    >>> from autogt.compress._layout import GateValues, make_layout
    >>> task = molecule_task(); spec = builtin_spec("gps")
    >>> layout = make_layout(spec, task)
    >>> values = GateValues.ones(layout)
    >>> values.layers[0].heads[:2] = 0.0
    >>> new_spec, _ = remove(build_model(spec, task).eval(), layout, finalize(layout, values), task)
    >>> new_spec.layers[0].heads, new_spec.layers[0].head_dim
    (2, 16)
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from autogt.compress._layout import GateLayout, GateValues, LayerGates
from autogt.models.ops._base import op_attr
from autogt.models.plan import make_plan
from autogt.models.spec import ArchSpec, LayerSpec
from autogt.registry import get

__all__ = ["finalize", "derive_spec", "remove", "Derived", "RemovalError"]

_GIN_LIKE = ("gin", "gine")


class RemovalError(RuntimeError):
    """The masked model cannot be turned into a standard one (a bug or an unsupported module)."""


def _bin(v: Tensor | None) -> Tensor | None:
    return None if v is None else (v > 0).to(torch.float32)


def finalize(layout: GateLayout, values: GateValues, scores: GateValues | None = None) -> GateValues:
    """Deterministic values made consistent and removable.

    Coarse (block, layer), hidden and edge gates become 0/1 (open iff > 0); fine gates keep their value.
    A block whose fine gates are all closed is closed; a layer whose blocks are all closed is removed
    when it can be (it is then exactly the identity); at least one node channel and one layer stay.

    Args:
        layout: the gate layout.
        values: deterministic gate values in ``[0, 1]``.
        scores: optional per-gate scores (e.g. ``log_alpha``) used to pick what stays when everything
            of a kind would close.
    """
    out_layers = []
    for i, (s, g) in enumerate(zip(layout.layers, values.layers, strict=True)):
        g = g.map(lambda t: t.detach().float().clone())
        g.local, g.attn, g.ffn, g.layer = _bin(g.local), _bin(g.attn), _bin(g.ffn), _bin(g.layer)
        if g.heads is not None:
            g.heads = g.heads.clamp(0.0, 1.0)
            if not bool((g.heads > 0).any()):
                g.attn = torch.zeros(())
        if g.neurons is not None:
            g.neurons = g.neurons.clamp(0.0, 1.0)
            if not bool((g.neurons > 0).any()):
                g.ffn = torch.zeros(())
        if g.attn is not None and float(g.attn) == 0.0 and g.heads is not None:
            g.heads = torch.zeros_like(g.heads)
        if g.ffn is not None and float(g.ffn) == 0.0 and g.neurons is not None:
            g.neurons = torch.zeros_like(g.neurons)
        if s.layer:
            spec_layer = layout.spec.layers[i]
            local_gone = spec_layer.local == "none" or op_attr(get("local", spec_layer.local), "identity") \
                or (g.local is not None and float(g.local) == 0.0)
            attn_gone = spec_layer.attn == "none" or (g.attn is not None and float(g.attn) == 0.0)
            ffn_gone = _ffn_width(layout, i) == 0 or (g.ffn is not None and float(g.ffn) == 0.0)
            identity_local = spec_layer.local != "none" and op_attr(get("local", spec_layer.local), "identity")
            if local_gone and attn_gone and ffn_gone and not identity_local:
                g.layer = torch.zeros(())
        out_layers.append(g)
    gated = [i for i, s in enumerate(layout.layers) if s.layer]
    if gated and all(_is_zero(out_layers[i].layer) for i in gated) and len(gated) == len(layout.layers):
        keep = gated[-1]
        if scores is not None and all(scores.layers[i].layer is not None for i in gated):
            keep = max(gated, key=lambda i: float(scores.layers[i].layer))  # type: ignore[arg-type]
        out_layers[keep].layer = torch.ones(())
    hidden = _bin(values.hidden)
    if hidden is not None:
        node = slice(0, layout.node_width) if layout.pe_concat else slice(0, layout.hidden)
        if not bool(hidden[node].any()):
            pick = 0
            if scores is not None and scores.hidden is not None:
                pick = int(scores.hidden[node].argmax())
            hidden[node.start + pick] = 1.0
    return GateValues(out_layers, hidden, None)


def _is_zero(t: Tensor | None) -> bool:
    return t is not None and float(t) == 0.0


def _ffn_width(layout: GateLayout, i: int) -> int:
    layer = layout.spec.layers[i]
    return layer.ffn if layer.ffn is not None else 2 * layout.layers[i].out_dim


@dataclass
class Derived:
    """What :func:`derive_spec` decided.

    Attributes:
        spec: the smaller architecture.
        new_index: old layer index -> new index (``None`` for removed layers).
        keep_hidden: kept stream channels (``None`` = all).
        keep_heads / head_scale / keep_neurons / neuron_scale: per old layer, kept indices and folded values.
    """

    spec: ArchSpec
    new_index: list[int | None]
    keep_hidden: Tensor | None
    keep_heads: list[Tensor | None] = field(default_factory=list)
    head_scale: list[Tensor | None] = field(default_factory=list)
    keep_neurons: list[Tensor | None] = field(default_factory=list)
    neuron_scale: list[Tensor | None] = field(default_factory=list)


def _rewire(spec: ArchSpec, layers: list[LayerSpec],
            removed: set[int]) -> tuple[tuple[LayerSpec, ...], list[int | None]]:
    """Drop layers (0-based ``removed``), re-pointing their readers at their single input."""
    resolved = spec.resolved_inputs()  # 1-based sources, 0 = encoded input
    repl: dict[int, int] = {}
    for i in range(len(layers)):
        if i in removed:
            repl[i + 1] = resolved[i][0]

    def final(j: int) -> int:
        while j in repl:
            j = repl[j]
        return j

    new_index: list[int | None] = []
    k = 0
    for i in range(len(layers)):
        if i in removed:
            new_index.append(None)
        else:
            new_index.append(k)
            k += 1
    out = []
    for i, layer in enumerate(layers):
        if i in removed:
            continue
        me = new_index[i]
        assert me is not None
        srcs = []
        for j in resolved[i]:
            j = final(j)
            nj = 0 if j == 0 else new_index[j - 1]
            assert nj is not None
            new_src = 0 if j == 0 else nj + 1
            srcs.append(-1 if new_src == me else new_src)
        out.append(dataclasses.replace(layer, inputs=tuple(srcs)))
    return tuple(out), new_index


def derive_spec(layout: GateLayout, values: GateValues) -> Derived:
    """The smaller spec described by finalized ``values`` (see :func:`finalize`)."""
    spec = layout.spec
    keep_h = None
    changes: dict[str, Any] = {}
    if values.hidden is not None:
        keep_h = torch.nonzero(values.hidden > 0).flatten()
        if keep_h.numel() != spec.hidden:
            changes["hidden"] = int(keep_h.numel())
            if layout.pe_concat:
                pe_kept = int((keep_h >= layout.node_width).sum())
                if pe_kept == 0:
                    changes.update(pe="none", pe_dim=0, pe_hidden=0)
                else:
                    changes["pe_hidden"] = pe_kept
        else:
            keep_h = None
    new_layers: list[LayerSpec] = []
    removed: set[int] = set()
    d = Derived(spec=spec, new_index=[], keep_hidden=keep_h)
    for i, (layer, s, g) in enumerate(zip(spec.layers, layout.layers, values.layers, strict=True)):
        ch: dict[str, Any] = {}
        kh = hs = kn = ns = None
        if g.layer is not None and float(g.layer) == 0.0:
            removed.add(i)
        if g.local is not None and float(g.local) == 0.0:
            ch["local"] = "none"
        if g.attn is not None and float(g.attn) == 0.0:
            ch["attn"] = "none"
        elif layer.attn != "none" and g.heads is not None:
            kh = torch.nonzero(g.heads > 0).flatten()
            hs = g.heads[kh]
            if kh.numel() != layer.heads:
                ch["heads"] = int(kh.numel())
                ch["head_dim"] = s.head_dim
        if g.ffn is not None and float(g.ffn) == 0.0:
            ch["ffn"] = 0
        elif g.neurons is not None:
            kn = torch.nonzero(g.neurons > 0).flatten()
            ns = g.neurons[kn]
            if kn.numel() != s.neurons:
                ch["ffn"] = int(kn.numel())
        if keep_h is not None:
            if layer.attn != "none" and ch.get("attn") != "none":
                ch["head_dim"] = s.head_dim
            if layer.ffn is None and ch.get("ffn") is None:
                ch["ffn"] = s.neurons if s.neurons else _ffn_width(layout, i)
            if layer.local in _GIN_LIKE and ch.get("local") != "none" and layer.local_out == 0:
                ch["local_out"] = s.out_dim
            if layer.dim is not None:
                ch["dim"] = None
        new_layers.append(dataclasses.replace(layer, **ch) if ch else layer)
        d.keep_heads.append(kh)
        d.head_scale.append(hs)
        d.keep_neurons.append(kn)
        d.neuron_scale.append(ns)
    if removed:
        layers_t, new_index = _rewire(spec, new_layers, removed)
    else:
        layers_t, new_index = tuple(new_layers), list(range(len(new_layers)))
    changes["layers"] = layers_t
    d.spec = spec.replace(**changes)
    d.new_index = new_index
    return d


# ----------------------------------------------------------------------------- weights
@dataclass
class _Slice:
    """How one module's weights are sliced: ``in_keep`` (columns), ``out_keep`` (rows), column scale."""

    in_keep: Tensor | None = None
    out_keep: Tensor | None = None
    in_scale: Tensor | None = None
    params: dict[str, Tensor | None] = field(default_factory=dict)  # direct 1-d params sliced by index


def _expand_heads(keep: Tensor | None, head_dim: int) -> Tensor | None:
    if keep is None:
        return None
    return (keep.unsqueeze(1) * head_dim + torch.arange(head_dim).unsqueeze(0)).flatten()


def _roles(model: Any, layout: GateLayout, d: Derived) -> dict[str, _Slice]:
    """Slicing of every old module whose weights change, keyed by the *old* module name."""
    kh = d.keep_hidden
    roles: dict[str, _Slice] = {}
    spec = layout.spec
    if kh is not None:
        if layout.encoders:
            if layout.pe_concat:
                node_keep = kh[kh < layout.node_width]
                pe_keep = kh[kh >= layout.node_width] - layout.node_width
            else:
                node_keep, pe_keep = kh, kh
            enc = model.node_encoder
            if enc is not None:
                for name, mod in enc.named_modules():
                    if isinstance(mod, (nn.Embedding, nn.Linear)):
                        roles[f"node_encoder.{name}" if name else "node_encoder"] = _Slice(out_keep=node_keep)
            if model.pe_encoder is not None:
                roles["pe_encoder.lin"] = _Slice(out_keep=pe_keep)
        first = True
        for j, mod in enumerate(model.pre):
            if isinstance(mod, nn.Linear):
                roles[f"pre.{j}"] = _Slice(in_keep=kh if (not first or layout.encoders) else None, out_keep=kh)
                first = False
        for key, enc in model.edge_encoders.items():
            if int(key) == spec.hidden:
                for name, mod in enc.named_modules():
                    if isinstance(mod, (nn.Embedding, nn.Linear)):
                        roles[f"edge_encoders.{key}.{name}"] = _Slice(out_keep=kh)
        lin_pos = [j for j, mod in enumerate(model.head) if isinstance(mod, nn.Linear)]
        n_leaves = len(model.plan.leaves) if spec.combine == "concat" else 1
        out_keep = torch.cat([kh + k * spec.hidden for k in range(n_leaves)])
        for pos, j in enumerate(lin_pos):
            last = pos == len(lin_pos) - 1
            roles[f"head.{j}"] = _Slice(in_keep=out_keep if pos == 0 else kh, out_keep=None if last else kh)
        if model.pool is not None and isinstance(getattr(model.pool, "gate", None), nn.Linear):
            roles["pool.gate"] = _Slice(in_keep=out_keep)
    for i, layer in enumerate(model.layers):
        p = f"layers.{i}"
        if kh is not None:
            for norm in ("local_norm", "attn_norm", "ffn_norm"):
                if hasattr(layer, norm):
                    roles[f"{p}.{norm}"] = _Slice(out_keep=kh)
            _local_roles(roles, f"{p}.local", layer.local, kh)
        if layer.attn is not None:
            hd = layout.layers[i].head_dim
            kq = _expand_heads(d.keep_heads[i], hd)
            hs = d.head_scale[i]
            sc = hs.repeat_interleave(hd) if hs is not None else None
            for name in ("q", "k", "v"):
                roles[f"{p}.attn.{name}"] = _Slice(in_keep=kh, out_keep=kq)
            roles[f"{p}.attn.o"] = _Slice(in_keep=kq, out_keep=kh, in_scale=sc)
        if layer.ffn_dim > 0:
            kn = d.keep_neurons[i]
            roles[f"{p}.fc1"] = _Slice(in_keep=kh, out_keep=kn)
            roles[f"{p}.fc2"] = _Slice(in_keep=kn, out_keep=kh, in_scale=d.neuron_scale[i])
    return roles


def _local_roles(roles: dict[str, _Slice], p: str, op: Any, kh: Tensor) -> None:
    if op is None:
        return
    from autogt.models.ops.basic import FC, Skip
    from autogt.models.ops.gcn import GCNConv
    from autogt.models.ops.gin import GINConv
    from autogt.models.ops.graph import GraphConv
    from autogt.models.ops.sage import SAGEConv

    if isinstance(op, GINConv):
        roles[f"{p}.mlp.0"] = _Slice(in_keep=kh)
        roles[f"{p}.mlp.3"] = _Slice(out_keep=kh)
        if op.edge_lin is not None:
            roles[f"{p}.edge_lin"] = _Slice(out_keep=kh)
    elif isinstance(op, GCNConv):
        roles[f"{p}.lin"] = _Slice(in_keep=kh, out_keep=kh)
        roles[p] = _Slice(params={"bias": kh})
    elif isinstance(op, SAGEConv):
        roles[f"{p}.lin_l"] = _Slice(in_keep=kh, out_keep=kh)
        roles[f"{p}.lin_r"] = _Slice(in_keep=kh, out_keep=kh)
    elif isinstance(op, GraphConv):
        roles[f"{p}.lin_rel"] = _Slice(in_keep=kh, out_keep=kh)
        roles[f"{p}.lin_root"] = _Slice(in_keep=kh, out_keep=kh)
    elif isinstance(op, FC):
        roles[f"{p}.lin"] = _Slice(in_keep=kh, out_keep=kh)
    elif isinstance(op, Skip):
        if op.proj is not None:
            raise RemovalError(f"{p}: a projecting skip cannot be sliced per channel")
    else:
        raise RemovalError(f"{p}: {type(op).__name__} cannot be sliced per channel")


def _slice_tensor(name: str, t: Tensor, role: _Slice, module: nn.Module) -> Tensor:
    """Slice one parameter/buffer ``name`` (local to ``module``) by ``role``."""
    if name in role.params:
        keep = role.params[name]
        return t if keep is None else t[keep]
    if isinstance(module, nn.Linear):
        if name == "weight":
            if role.out_keep is not None:
                t = t[role.out_keep]
            if role.in_keep is not None:
                t = t[:, role.in_keep]
            if role.in_scale is not None:
                t = t * role.in_scale.to(t.dtype).unsqueeze(0)
            return t
        if name == "bias":
            return t if role.out_keep is None else t[role.out_keep]
    if isinstance(module, nn.Embedding) and name == "weight":
        return t if role.out_keep is None else t[:, role.out_keep]
    if isinstance(module, (nn.BatchNorm1d, nn.LayerNorm)):
        if t.dim() == 0 or role.out_keep is None:
            return t
        return t[role.out_keep]
    return t


_LAYER_KEY = re.compile(r"^layers\.(\d+)\.")
_INPROJ_KEY = re.compile(r"^in_projs\.(\d+)_(\d+)\.")
_LEAF_KEY = re.compile(r"^leaf_projs\.(\d+)\.")
_EDGE_KEY = re.compile(r"^edge_encoders\.(\d+)\.")


def _old_name(new_name: str, d: Derived, old_hidden: int, new_hidden: int) -> str:
    return _old_key(new_name + ".", d, old_hidden, new_hidden)[:-1]


def _old_key(new_name: str, d: Derived, old_hidden: int, new_hidden: int) -> str:
    inv = {new: old for old, new in enumerate(d.new_index) if new is not None}
    m = _LAYER_KEY.match(new_name)
    if m:
        return f"layers.{inv[int(m.group(1))]}." + new_name[m.end():]
    m = _INPROJ_KEY.match(new_name)
    if m:
        return f"in_projs.{inv[int(m.group(1))]}_{m.group(2)}." + new_name[m.end():]
    m = _LEAF_KEY.match(new_name)
    if m:
        return f"leaf_projs.{inv[int(m.group(1)) - 1] + 1}." + new_name[m.end():]
    m = _EDGE_KEY.match(new_name)
    if m and int(m.group(1)) == new_hidden and d.keep_hidden is not None:
        return f"edge_encoders.{old_hidden}." + new_name[m.end():]
    return new_name


def remove(model: nn.Module, layout: GateLayout, values: GateValues, task: Any) -> tuple[ArchSpec, nn.Module]:
    """Build the smaller model for finalized ``values`` and fill it with sliced, gate-folded weights.

    Args:
        model: the dense ``AutoGTModel`` (no hooks need to be attached; only its weights are read).
        layout: its gate layout.
        values: finalized deterministic values (:func:`finalize`).
        task: what ``build_model`` needs (``Task`` or ``describe()`` dict).

    Returns:
        ``(new_spec, new_model)`` with ``new_model`` in eval mode.

    Raises:
        RemovalError: a weight whose new shape cannot be produced (a bug or an unsupported op).
    """
    from autogt.models import build_model

    d = derive_spec(layout, values)
    new_model = build_model(d.spec, task)
    roles = _roles(model, layout, d)
    old_modules = dict(model.named_modules())
    new_hidden = d.spec.hidden
    with torch.no_grad():
        for new_name, new_mod in new_model.named_modules():
            own = list(new_mod.named_parameters(recurse=False)) + list(new_mod.named_buffers(recurse=False))
            if not own:
                continue
            old_name = _old_name(new_name, d, layout.spec.hidden, new_hidden)
            old_mod = old_modules.get(old_name)
            if old_mod is None or type(old_mod) is not type(new_mod):
                raise RemovalError(f"{new_name}: no matching module {old_name!r} in the dense model")
            role = roles.get(old_name, _Slice())
            old_own = dict(old_mod.named_parameters(recurse=False)) | dict(old_mod.named_buffers(recurse=False))
            for pname, new_t in own:
                if pname not in old_own or old_own[pname] is None:
                    raise RemovalError(f"{new_name}.{pname}: missing in the dense model")
                src = _slice_tensor(pname, old_own[pname].detach(), role, old_mod)
                if src.shape != new_t.shape:
                    raise RemovalError(f"{new_name}.{pname}: sliced shape {tuple(src.shape)} != "
                                       f"expected {tuple(new_t.shape)}")
                new_t.copy_(src)
    new_model.train(model.training)
    return d.spec, new_model.eval()


def layer_summary(layout: GateLayout, values: GateValues, d: Derived) -> list[dict[str, Any]]:
    """Per old layer: what was kept (for reports)."""
    rows = []
    for i, layer in enumerate(layout.spec.layers):
        new_i = d.new_index[i]
        nl = d.spec.layers[new_i] if new_i is not None else None
        ffn0 = _ffn_width(layout, i)
        rows.append({
            "layer": i,
            "kept": nl is not None,
            "local": f"{layer.local}->{nl.local if nl else 'removed'}",
            "attn": f"{layer.attn}->{nl.attn if nl else 'removed'}",
            "heads_before": layer.heads if layer.attn != "none" else 0,
            "heads_after": (nl.heads if nl is not None and nl.attn != "none" else 0),
            "ffn_before": ffn0,
            "ffn_after": (nl.ffn_width(d.spec.hidden) if nl is not None else 0),
        })
    return rows


def plan_of(spec: ArchSpec, task: Any) -> Any:
    """``make_plan`` (re-exported for callers that only import this module)."""
    return make_plan(spec, task)


def gates_from(layers: list[LayerGates]) -> GateValues:
    """Wrap per-layer gates into :class:`GateValues` (helper for tests)."""
    return GateValues(layers)
