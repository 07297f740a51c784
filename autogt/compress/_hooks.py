"""Apply gate values to an unmodified :class:`~autogt.models.AutoGTModel` with forward hooks.

Nothing in :mod:`autogt.models` is changed; gates act through hooks on existing submodules
(see :mod:`autogt.compress._layout` for the semantics):

- heads: forward pre-hook on ``attn.o`` scales its ``[n, heads * head_dim]`` input per head;
- neurons: forward pre-hook on ``fc2`` scales its ``[n, ffn]`` input;
- local / attention blocks: forward hooks on ``local_norm`` / ``attn_norm`` (the branch outputs)
  weight each branch and add ``(1 - z_l)(1 - z_a) res`` so a closed pair is exactly "no branch";
- FFN block: forward hook on ``ffn_norm`` mixes its output with the FFN input;
- layer: forward hook on the ``GTLayer`` mixes its output with its input;
- hidden channels: the same hooks multiply by the channel mask, plus hooks on the node / PE / edge
  encoders, the activations of ``pre`` and of the head MLP;
- edges: the local ops get per-edge message weights (:func:`~autogt.compress._edges.patch_edge_weights`).

Example:
    >>> from autogt.models import builtin_spec, build_model
    >>> from autogt.testing.layers import molecule_task, random_graphs
    >>> from autogt.compress._layout import GateValues, make_layout
    >>> task = molecule_task(); spec = builtin_spec("gps")
    >>> model = build_model(spec, task).eval(); layout = make_layout(spec, task)
    >>> hooks = GateHooks(model, layout)
    >>> hooks.values = GateValues.ones(layout)
    >>> model(random_graphs([4, 6], task, pe_dim=16)).shape
    torch.Size([2, 2])
    >>> hooks.remove()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from autogt.compress._edges import patch_edge_weights
from autogt.compress._layout import GateLayout, GateValues, LayerGates

__all__ = ["GateHooks"]

_ACT_TYPES = (nn.ReLU, nn.GELU, nn.ELU, nn.PReLU, nn.Tanh, nn.Sigmoid, nn.Identity)


def _one(v: Tensor | None) -> Tensor | float:
    return 1.0 if v is None else v


class GateHooks:
    """Forward hooks applying :class:`GateValues` to a model (see module docstring).

    Attributes:
        values: the gate values used by the next forward (``None``: hooks pass everything through).
        edge_weight: per-edge weights ``[e]`` for the next forward's batch, or ``None``.
        edge_fn: optional ``fn(data) -> weights [e] | None`` called before every forward.
    """

    def __init__(self, model: Any, layout: GateLayout) -> None:
        self.model: Any = model
        self.layout = layout
        self.values: GateValues | None = None
        self.edge_fn: Callable[[Any], Tensor | None] | None = None
        self._handles: list[Any] = []
        self._ctx: dict[int, dict[str, Tensor]] = {}
        self._edges = patch_edge_weights(model) if layout.edges else None
        self._install()

    # ------------------------------------------------------------------ helpers
    def _hidden(self, t: Tensor, sl: slice | None = None) -> Tensor:
        v = self.values
        if v is None or v.hidden is None:
            return t
        mask = v.hidden if sl is None else v.hidden[sl]
        return t * mask.to(t.dtype)

    def _gates(self, i: int) -> LayerGates | None:
        v = self.values
        return v.layers[i] if v is not None else None

    def _hook(self, module: nn.Module, fn: Callable[..., Any], pre: bool = False, kwargs: bool = False) -> None:
        if pre:
            self._handles.append(module.register_forward_pre_hook(fn, with_kwargs=kwargs))
        else:
            self._handles.append(module.register_forward_hook(fn))

    # ------------------------------------------------------------------ install
    def _install(self) -> None:
        m, lay = self.model, self.layout
        self._hook(m, self._model_pre, pre=True)
        if lay.hidden:
            self._install_hidden()
        for i, (layer, slots) in enumerate(zip(m.layers, lay.layers, strict=True)):
            self._install_layer(i, layer, slots)

    def _install_hidden(self) -> None:
        m, lay = self.model, self.layout
        node_sl = slice(0, lay.node_width) if lay.pe_concat else None
        pe_sl = slice(lay.node_width, lay.hidden) if lay.pe_concat else None
        if lay.encoders:
            if m.node_encoder is not None:
                self._hook(m.node_encoder, lambda mod, inp, out: self._hidden(out, node_sl))
            if m.pe_encoder is not None:
                self._hook(m.pe_encoder, lambda mod, inp, out: self._hidden(out, pe_sl))
        for mod in m.pre:
            if isinstance(mod, _ACT_TYPES):
                self._hook(mod, lambda mod, inp, out: self._hidden(out))
        for key, enc in m.edge_encoders.items():
            if int(key) == lay.hidden:
                self._hook(enc, lambda mod, inp, out: self._hidden(out))
        for layer in m.layers:
            edge_lin = getattr(layer.local, "edge_lin", None) if layer.local is not None else None
            if isinstance(edge_lin, nn.Linear):
                self._hook(edge_lin, lambda mod, inp, out: self._hidden(out))
        for mod in m.head:
            if isinstance(mod, _ACT_TYPES):
                self._hook(mod, lambda mod, inp, out: self._hidden(out))

    def _install_layer(self, i: int, layer: Any, slots: Any) -> None:
        ctx = self._ctx.setdefault(i, {})
        has_local = layer.local is not None and not layer.local_identity
        has_attn = layer.attn is not None
        # branches whose gates decide whether "res" replaces them (only when no ungated branch exists)
        gated = [b for b, present, g in (("local", has_local, slots.local), ("attn", has_attn, slots.attn)) if present]
        ungated_identity = layer.local is not None and layer.local_identity
        need_x = bool(gated) or slots.layer

        if need_x:
            def layer_pre(mod: nn.Module, args: tuple[Any, ...]) -> None:
                ctx["x"] = args[0]
            self._hook(layer, layer_pre, pre=True)

        def branch(name: str) -> Callable[..., Tensor]:
            last = name == gated[-1]

            def hook(mod: nn.Module, inp: Any, out: Tensor) -> Tensor:
                g = self._gates(i)
                if g is None:
                    return out
                z = _one(getattr(g, name))
                out = self._hidden(out) * z
                if last and not ungated_identity:
                    keep_res: Tensor | float = 1.0
                    for b in gated:
                        keep_res = keep_res * (1.0 - _one(getattr(g, b)))
                    if isinstance(keep_res, Tensor) or keep_res != 0.0:
                        x = ctx["x"]
                        res = x if layer.res_proj is None else layer.res_proj(x)
                        out = out + keep_res * res
                return out
            return hook

        if has_local:
            self._hook(layer.local_norm, branch("local"))
        if has_attn:
            self._hook(layer.attn_norm, branch("attn"))
            if slots.heads:
                d = slots.head_dim

                def heads_pre(mod: nn.Module, args: tuple[Any, ...]) -> tuple[Tensor, ...] | None:
                    g = self._gates(i)
                    if g is None or g.heads is None:
                        return None
                    scale = g.heads.to(args[0].dtype).repeat_interleave(d)  # [H * D]
                    return (args[0] * scale,)
                self._hook(layer.attn.o, heads_pre, pre=True)
        if layer.ffn_dim > 0:
            # the FFN input is kept for the FFN gate, which may also close when all its neurons close
            def fc1_pre(mod: nn.Module, args: tuple[Any, ...]) -> None:
                ctx["h"] = args[0]

            def ffn_out(mod: nn.Module, inp: Any, out: Tensor) -> Tensor:
                g = self._gates(i)
                if g is None:
                    return out
                out = self._hidden(out)
                if g.ffn is not None:
                    out = g.ffn * out + (1.0 - g.ffn) * ctx["h"]
                return out

            self._hook(layer.fc1, fc1_pre, pre=True)
            self._hook(layer.ffn_norm, ffn_out)
            if slots.neurons:
                def fc2_pre(mod: nn.Module, args: tuple[Any, ...]) -> tuple[Tensor, ...] | None:
                    g = self._gates(i)
                    if g is None or g.neurons is None:
                        return None
                    return (args[0] * g.neurons.to(args[0].dtype),)
                self._hook(layer.fc2, fc2_pre, pre=True)
        if slots.layer:
            def layer_out(mod: nn.Module, inp: Any, out: Tensor) -> Tensor:
                g = self._gates(i)
                if g is None or g.layer is None:
                    return out
                return g.layer * out + (1.0 - g.layer) * ctx["x"]
            self._hook(layer, layer_out)

    # ------------------------------------------------------------------ model-level
    def _model_pre(self, mod: nn.Module, args: tuple[Any, ...]) -> None:
        if self._edges is None:
            return
        weight = None
        if self.values is not None and self.edge_fn is not None:
            weight = self.edge_fn(args[0])
        self._edges.set(weight)

    def remove(self) -> None:
        """Remove every hook and restore the local ops' forwards."""
        for h in self._handles:
            h.remove()
        self._handles = []
        if self._edges is not None:
            self._edges.remove()
            self._edges = None
        self._ctx.clear()


def capture_layer_outputs(model: Any) -> tuple[list[Tensor], list[Any]]:
    """Record every ``GTLayer`` output of the next forwards into a list; returns ``(outputs, handles)``.

    Hooks registered after the gate hooks see gated outputs.
    """
    outs: list[Tensor] = []
    handles = [layer.register_forward_hook(lambda mod, inp, out: outs.append(out)) for layer in model.layers]
    return outs, handles


def hidden_mask_value(values: GateValues | None) -> Tensor | None:
    """The hidden mask of ``values`` (``None`` when there is none)."""
    return None if values is None else values.hidden


def zero_like_gates(values: GateValues) -> GateValues:
    """All-closed values with the same structure (handy in tests)."""
    return values.map(torch.zeros_like)
