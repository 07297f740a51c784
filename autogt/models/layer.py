"""``GTLayer``: one GraphGPS-style layer = local op + global attention + FFN.

Order of operations (``p = layer.dropout``, ``res = x`` or a bias-free ``Linear(in, out)`` projection
when widths differ)::

    local:  h_l = norm_l(res + dropout_p(act(local(x, edge_index, edge_attr))))   # "res +" only if residual
    attn:   h_a = norm_a(res + dropout_p(attn(x, batch, ptr)))
    h = h_l + h_a            (the branches present; ``res`` when there is neither)
    FFN:    h = norm_f(h + dropout_p(fc2(dropout_p(act(fc1(h))))))                # "h +" only if residual

So a layer with ``residual=False, attn="none", ffn=0, norm="none"`` is exactly
``dropout(act(op(x)))``. An *identity* op (``skip``) is used as is: no activation, dropout, residual
or norm around it. Ops map ``in_dim -> out_dim`` directly (DAG layers may change width); attention
maps ``in_dim -> out_dim`` through its ``o`` projection; the FFN works at ``out_dim``.

With ``layer.prenorm`` (pre-activation) the input is normalised instead and the branches are left bare::

    z = dropout_p(act(norm_in(x)))           # z = x when the layer reads raw node features
    h = local(z) (+ res) + attn(z) (+ res)   # the branches present
    FFN:    h = (h +) fc2(dropout_p(act(fc1(h))))

``local_norm``/``attn_norm``/``ffn_norm`` are then ``nn.Identity`` (kept so that hooks on branch
outputs, as in :mod:`autogt.compress`, see the same places).
"""

from __future__ import annotations

from torch import Tensor, nn

from autogt.models._util import dropout, make_act, make_norm
from autogt.models.ops._base import op_attr
from autogt.models.spec import LayerSpec
from autogt.registry import get

__all__ = ["GTLayer", "needs_res"]


def needs_res(has_local: bool, identity: bool, has_attn: bool, residual: bool) -> bool:
    """Whether a layer uses its (possibly projected) input ``res``: residual branches, or no branch at all."""
    return (residual and ((has_local and not identity) or has_attn)) or not (has_local or has_attn)


class GTLayer(nn.Module):
    """Local message passing + global attention + FFN, each with residual and norm (see module doc).

    Args:
        layer: the layer's spec.
        in_dim, out_dim: input / output width.
        edge_dim: width of the ``edge_attr`` passed to the local op (0 = none).
        head_dim: attention head width.
        elastic: nested FFN granularities (``ArchSpec.elastic``); non-empty makes the FFN a
            :class:`~autogt.elastic.NestedFFN` over the same ``fc1``/``fc2`` (state dicts unchanged).

    Shapes:
        x ``[n, in_dim]``, edge_index ``[2, e]``, edge_attr ``[e, edge_dim]``, batch ``[n]``,
        ptr ``[G + 1]`` -> ``[n, out_dim]``.
    """

    def __init__(self, layer: LayerSpec, in_dim: int, out_dim: int, *, edge_dim: int = 0, head_dim: int = 1,
                 elastic: tuple[float, ...] = (), raw_input: bool = False) -> None:
        super().__init__()
        self.spec = layer
        self.in_dim, self.out_dim = in_dim, out_dim
        self.residual, self.dropout = layer.residual, layer.dropout
        self.prenorm = layer.prenorm
        post = "none" if self.prenorm else layer.norm  # prenorm: identity norms after the branches
        self.in_norm: nn.Module | None = None
        if self.prenorm and not raw_input:
            self.in_norm = make_norm(layer.norm, in_dim)
            self.in_act = make_act(layer.act)
        factory = get("local", layer.local)
        self.local = factory(in_dim, out_dim, heads=layer.heads, edge_dim=edge_dim, layer=layer)
        self.local_identity = bool(op_attr(factory, "identity"))
        if self.local is not None and not self.local_identity:
            self.local_act = make_act("identity" if self.prenorm else layer.act)
            self.local_norm = make_norm(post, out_dim)
        self.attn = get("global", layer.attn)(in_dim, out_dim, heads=layer.heads, head_dim=head_dim, layer=layer)
        if self.attn is not None:
            self.attn_norm = make_norm(post, out_dim)
        uses_res = needs_res(self.local is not None, self.local_identity, self.attn is not None, layer.residual)
        self.res_proj = nn.Linear(in_dim, out_dim, bias=False) if in_dim != out_dim and uses_res else None
        ffn = layer.ffn if layer.ffn is not None else 2 * out_dim
        self.ffn_dim = ffn
        if ffn > 0:
            self.fc1 = nn.Linear(out_dim, ffn)
            self.ffn_act = make_act(layer.act)
            self.fc2 = nn.Linear(ffn, out_dim)
            self.ffn_norm = make_norm(post, out_dim)
        self.nested: nn.Module | None = None  # parameter-free granularity switch (autogt.elastic)
        if ffn > 0 and elastic:
            from autogt.elastic._nested import NestedFFN  # lazy: autogt.elastic imports autogt.models

            self.nested = NestedFFN(ffn, elastic)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None, batch: Tensor | None = None,
                ptr: Tensor | None = None) -> Tensor:
        p, train = self.dropout, self.training
        res = x if self.res_proj is None else self.res_proj(x)  # [n, out] (unused when not needed)
        if self.in_norm is not None:  # prenorm: normalise the input, leave the branches bare
            x = dropout(self.in_act(self.in_norm(x)), p, train)
        parts = []
        if self.local is not None:
            h = self.local(x, edge_index, edge_attr)  # [n, out]
            if not self.local_identity:
                h = self.local_act(h) if self.prenorm else dropout(self.local_act(h), p, train)
                if self.residual:
                    h = h + res
                h = self.local_norm(h)
            parts.append(h)
        if self.attn is not None:
            if batch is None or ptr is None:
                raise ValueError("global attention needs batch and ptr")
            h = self.attn(x, batch, ptr)  # [n, out]
            if not self.prenorm:
                h = dropout(h, p, train)
            if self.residual:
                h = h + res
            parts.append(self.attn_norm(h))
        h = res if not parts else parts[0] if len(parts) == 1 else parts[0] + parts[1]
        if self.ffn_dim > 0:
            if self.nested is not None:  # elastic: only the first m hidden units of fc1/fc2
                f = self.nested(h, self.fc1, self.ffn_act, self.fc2, p, train)  # [n, out]
            else:
                f = self.fc2(dropout(self.ffn_act(self.fc1(h)), p, train))  # [n, out]
            if not self.prenorm:
                f = dropout(f, p, train)
            h = self.ffn_norm(h + f if self.residual else f)
        return h

    def extra_repr(self) -> str:
        s = self.spec
        return f"{self.in_dim}->{self.out_dim}, local={s.local!r}, attn={s.attn!r}, ffn={self.ffn_dim}, norm={s.norm!r}"
