"""Expected cost of a gated model as a differentiable function of the gates' open probabilities.

:class:`CostModel` mirrors :func:`autogt.hardware.flops.count_flops` / ``count_params`` term by term,
with every width, head count and FFN width replaced by its expectation under the gates
(``E[hidden] = sum_c P(z_c != 0)``, ``E[heads] = sum_h P(z_h != 0)``, ...) and every block scaled by
``P(block) * P(layer)``. Products of independent gates use the product of expectations (as in CoFi),
so the model is exact whenever the probabilities are 0/1: for any finalized mask,
``expected(mask) == count_flops(pruned_spec)`` (a test checks this). The local and global ops' own
``flops`` / ``num_params`` metadata are called with tensor-valued widths, so new ops with arithmetic
metadata are covered automatically. Edge gates scale ``edges_mean`` by the expected kept fraction.

Latency (``metric="latency_ms"``) uses :func:`autogt.hardware.predict_latency` on a device profile:
the predictor is not differentiable, so :class:`CostModel` fits a linear surrogate around the dense
model by finite differences of the predictor (one removal per block, half of the heads / neurons /
hidden channels / edges), ``latency ~ L0 + sum_k c_k (q_k(P) - q_k(1))``. Mask training re-fits it
around the current mask from time to time (:meth:`CostModel.relinearize`), and the final mask is checked
and corrected with the predictor itself (:func:`autogt.compress._train.meet_target`).

Example:
    >>> from autogt.models import builtin_spec
    >>> from autogt.hardware.flops import count_flops
    >>> from autogt.testing.layers import molecule_task
    >>> from autogt.compress._layout import GateValues, make_layout
    >>> task = molecule_task(); spec = builtin_spec("gps")
    >>> cm = CostModel(make_layout(spec, task), task)
    >>> abs(float(cm.expected(GateValues.ones(cm.layout))) - count_flops(spec, task)) < 1e-3
    True
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from autogt.compress._layout import GateLayout, GateValues, LayerGates
from autogt.models._util import act_params, norm_params
from autogt.models.layer import needs_res
from autogt.models.ops._base import linear_params, op_attr
from autogt.models.plan import TaskInfo, make_plan
from autogt.registry import get

__all__ = ["CostModel", "METRICS", "task_stats"]

METRICS = ("flops", "params", "latency_ms")
Num = Any  # float | Tensor


def task_stats(task: Any) -> dict[str, float]:
    """``nodes_mean``, ``edges_mean``, ``nodes_sq_mean`` of a ``Task``, ``describe()`` dict or stats dict."""
    if hasattr(task, "meta") and hasattr(task, "level"):
        meta = dict(task.meta)
    elif isinstance(task, dict) and isinstance(task.get("meta"), dict):
        meta = dict(task["meta"])
    elif isinstance(task, dict):
        meta = dict(task)
    else:
        meta = {}
    n = float(meta.get("nodes_mean", 0.0))
    return {"nodes_mean": n, "edges_mean": float(meta.get("edges_mean", 0.0)),
            "nodes_sq_mean": float(meta.get("nodes_sq_mean", n * n))}


def _p(v: Tensor | None, present: bool = True) -> Num:
    """Open probability of a scalar gate (1 without gate, 0 when the block is absent)."""
    if not present:
        return 0.0
    return 1.0 if v is None else v


def _count(v: Tensor | None, default: int) -> Num:
    return default if v is None else v.sum()


class CostModel:
    """Expected FLOPs, parameters or predicted latency of a gated model (see module docstring).

    Args:
        layout: the gates.
        task: ``Task`` / ``describe()`` dict (dimensions and size statistics).
        metric: ``flops``, ``params`` or ``latency_ms``.
        device: device profile for ``latency_ms`` (anything ``autogt.hardware.load_profile`` takes).
        batch: graphs per forward for latency (default ``spec.batch_size``).
        edge_filter_flops: FLOPs per average graph of the edge filter (added when edges are gated).
    """

    def __init__(self, layout: GateLayout, task: Any, *, metric: str = "flops", device: Any = None,
                 batch: int | None = None, edge_filter_flops: float = 0.0) -> None:
        if metric not in METRICS:
            raise ValueError(f"metric: {metric!r} is not allowed; choose one of {', '.join(METRICS)}")
        self.layout, self.metric = layout, metric
        self.info = TaskInfo.of(task)
        self.plan = make_plan(layout.spec, self.info)
        self.stats = task_stats(task)
        self.edge_filter_flops = float(edge_filter_flops) if layout.edges else 0.0
        self.device, self.batch = device, batch
        self._lat: tuple[float, dict[str, float], dict[str, Num]] | None = None
        if metric == "latency_ms":
            if device is None:
                raise ValueError("a latency target needs a device profile (device=...)")
            self._lat = self._fit_latency()
        ones = GateValues.ones(layout)
        # the dense model has no edge filter: its cost is the all-open cost without the filter's share
        self.dense = float(self.expected(ones)) - (self.edge_filter_flops if metric == "flops" else 0.0)

    # ------------------------------------------------------------------ public
    def expected(self, p: GateValues) -> Tensor:
        """Expected cost (scalar tensor, differentiable in ``p``) for open probabilities ``p``."""
        if self.metric == "flops":
            return torch.as_tensor(self._flops(p), dtype=torch.float32)
        if self.metric == "params":
            return torch.as_tensor(self._params(p), dtype=torch.float32)
        return torch.as_tensor(self._latency(p), dtype=torch.float32)

    def ratio(self, p: GateValues) -> Tensor:
        """``expected(p) / dense``."""
        return self.expected(p) / self.dense

    def exact(self, spec: Any, edge_keep: float = 1.0, *, filtered: bool | None = None) -> float:
        """The real cost of a (pruned) spec with the same task and statistics.

        Args:
            spec: the architecture.
            edge_keep: fraction of edges the edge filter keeps.
            filtered: whether an edge filter runs in front of the model (default: when edges are gated);
                its FLOPs are then added.
        """
        stats = dict(self.stats)
        stats["edges_mean"] = stats["edges_mean"] * edge_keep
        if self.metric == "flops":
            from autogt.hardware.flops import count_flops

            extra = self.edge_filter_flops if (self.layout.edges if filtered is None else filtered) else 0.0
            return float(count_flops(spec, stats, task=self.info)) + extra
        if self.metric == "params":
            from autogt.hardware.flops import count_params

            return float(count_params(spec, self.info))
        from autogt.hardware import predict_latency

        return float(predict_latency(spec, self.device, batch=self.batch, stats=stats, task=self.info))

    # ------------------------------------------------------------------ widths
    def _widths(self, p: GateValues) -> dict[str, Num]:
        lay, spec, plan = self.layout, self.layout.spec, self.plan
        if p.hidden is None:
            return {"W": spec.hidden, "node": plan.node_width, "pe": plan.pe_width, "enc": plan.enc_width}
        w: Any = p.hidden.sum()
        if lay.encoders:
            node: Any
            pe: Any
            if lay.pe_concat:
                node, pe = p.hidden[: lay.node_width].sum(), p.hidden[lay.node_width:].sum()
            else:
                node, pe = w, (w if spec.pe != "none" else 0)
            enc = w
        else:
            node, pe, enc = plan.node_width, plan.pe_width, plan.enc_width
        return {"W": w, "node": node, "pe": pe, "enc": enc}

    def _layer_dims(self, i: int, W: Num) -> tuple[Num, Num]:
        lp = self.plan.layers[i]
        if self.layout.hidden:
            return W, W
        return lp.in_dim, lp.out_dim

    def _cost_layer(self, i: int) -> Any:
        """The LayerSpec used to cost layer ``i`` (GIN's MLP width pinned when the stream narrows)."""
        layer = self.layout.spec.layers[i]
        if self.layout.hidden and layer.local in ("gin", "gine") and layer.local_out == 0:
            return dataclasses.replace(layer, local_out=self.plan.layers[i].out_dim)
        return layer

    def _branch_probs(self, i: int, g: LayerGates) -> tuple[Num, Num, bool, bool]:
        layer = self.layout.spec.layers[i]
        identity = bool(op_attr(get("local", layer.local), "identity"))
        has_local, has_attn = layer.local != "none", layer.attn != "none"
        p_local = _p(g.local, has_local) if not identity else (1.0 if has_local else 0.0)
        p_attn = _p(g.attn, has_attn)
        return p_local, p_attn, identity, has_local

    def _res_prob(self, i: int, p_local: Num, p_attn: Num, identity: bool) -> Num:
        """``P(needs_res)`` under independent branch gates (exact at 0/1)."""
        layer = self.layout.spec.layers[i]
        total: Num = 0.0
        for a in (0, 1):
            for b in (0, 1):
                pa = p_local if a else 1.0 - p_local
                pb = p_attn if b else 1.0 - p_attn
                if needs_res(bool(a), identity, bool(b), layer.residual):
                    total = total + pa * pb
        return total

    def _edge_enc_prob(self, p: GateValues, width: int) -> Num:
        """Probability that an edge encoder at ``width`` still exists (some edge-aware op is kept)."""
        none_left: Num = 1.0
        for i, (layer, lp) in enumerate(zip(self.layout.spec.layers, self.plan.layers, strict=True)):
            if op_attr(get("local", layer.local), "uses_edge_attr") and lp.in_dim == width:
                g = p.layers[i]
                none_left = none_left * (1.0 - _p(g.layer) * _p(g.local))
        return 1.0 - none_left

    # ------------------------------------------------------------------ FLOPs
    def _flops(self, p: GateValues) -> Num:
        lay, spec, plan, info = self.layout, self.layout.spec, self.plan, self.info
        n, nsq = self.stats["nodes_mean"], self.stats["nodes_sq_mean"]
        e = self.stats["edges_mean"] * (p.edges if p.edges is not None else 1.0)
        wd = self._widths(p)
        W = wd["W"]
        total: Num = 0.0
        if plan.node_encoder == "atom":
            total = total + n * wd["node"] * len(info.atom_vocab)
        elif plan.node_encoder == "linear":
            total = total + 2.0 * n * info.node_dim * wd["node"]
        if spec.pe != "none":
            total = total + 2.0 * n * spec.pe_dim * wd["pe"]
        width = wd["enc"]
        for _ in range(spec.pre_layers):
            total = total + 2.0 * n * width * W
            width = W
        for w in plan.edge_widths:
            wt = W if lay.hidden and w == spec.hidden else w
            enc = e * wt * len(info.bond_vocab) if plan.edge_encoder == "bond" else 2.0 * e * info.edge_dim * wt
            total = total + self._edge_enc_prob(p, w) * enc
        for i, (layer, lp) in enumerate(zip(spec.layers, plan.layers, strict=True)):
            g = p.layers[i]
            i_d, o_d = self._layer_dims(i, W)
            lt: Num = 0.0
            for pos, dim in enumerate(lp.source_dims):
                if pos > 0:
                    lt = lt + n * i_d + (2.0 * n * dim * i_d if dim != lp.in_dim else 0.0)
            p_local, p_attn, identity, has_local = self._branch_probs(i, g)
            cl = self._cost_layer(i)
            edge_dim = i_d if lp.edge_dim == lp.in_dim else lp.edge_dim
            if has_local:
                fn = op_attr(get("local", layer.local), "flops")
                if fn is None:
                    local = 2.0 * n * i_d * o_d + 2.0 * e * o_d
                else:
                    local = fn(i_d, o_d, heads=layer.heads, edge_dim=edge_dim, layer=cl, nodes=n, edges=e)
                lt = lt + p_local * local
            if layer.attn != "none":
                heads = _count(g.heads, layer.heads)
                fn = op_attr(get("global", layer.attn), "flops")
                if fn is None:
                    inner = heads * lp.head_dim
                    att = 2.0 * n * (3 * i_d * inner + inner * o_d) + 4.0 * nsq * inner
                else:
                    att = fn(i_d, o_d, heads=heads, head_dim=lp.head_dim, layer=cl, nodes=n, edges=e, nodes_sq=nsq)
                lt = lt + p_attn * att
            if lp.in_dim != lp.out_dim:
                lt = lt + self._res_prob(i, p_local, p_attn, identity) * 2.0 * n * i_d * o_d
            ffn0 = layer.ffn if layer.ffn is not None else 2 * lp.out_dim
            if ffn0 > 0:
                lt = lt + _p(g.ffn) * 4.0 * n * o_d * _count(g.neurons, ffn0)
            total = total + _p(g.layer) * lt
        if spec.virtual_node:
            for i in range(1, len(spec.layers)):
                w_in, w = plan.layers[i - 1].in_dim, plan.layers[i].in_dim
                total = total + n * w_in + 2.0 * (w_in * 2 * w + 2 * w * w) + n * w
        out_w: Num = plan.out_dim
        if lay.hidden:
            out_w = W * (len(plan.leaves) if spec.combine == "concat" else 1)
        if spec.combine in ("sum", "mean"):
            total = total + sum(2.0 * n * d * plan.out_dim for d in plan.leaf_dims if d != plan.out_dim)
            total = total + n * out_w * (len(plan.leaf_dims) - 1)
        rows = n if info.level == "node" else 1.0
        if info.level == "graph":
            total = total + n * out_w * (3.0 if spec.pooling == "attention" else 1.0)
        if spec.output == "head":
            width = out_w
            for _ in range(spec.post_layers - 1):
                total = total + 2.0 * rows * width * W
                width = W
            total = total + 2.0 * rows * width * info.num_outputs
        return total + self.edge_filter_flops

    # ------------------------------------------------------------------ parameters
    def _params(self, p: GateValues) -> Num:
        lay, spec, plan, info = self.layout, self.layout.spec, self.plan, self.info
        wd = self._widths(p)
        W = wd["W"]
        act0 = spec.layers[0].act
        total: Num = 0.0
        if plan.node_encoder == "atom":
            total = total + sum(info.atom_vocab) * wd["node"]
        elif plan.node_encoder == "linear":
            total = total + linear_params(info.node_dim, wd["node"])
        if spec.pe != "none":
            total = total + linear_params(spec.pe_dim, wd["pe"])
        width = wd["enc"]
        for _ in range(spec.pre_layers):
            total = total + linear_params(width, W) + act_params(act0)
            width = W
        for w in plan.edge_widths:
            wt = W if lay.hidden and w == spec.hidden else w
            enc = sum(info.bond_vocab) * wt if plan.edge_encoder == "bond" else linear_params(info.edge_dim, wt)
            total = total + self._edge_enc_prob(p, w) * enc
        for i, (layer, lp) in enumerate(zip(spec.layers, plan.layers, strict=True)):
            g = p.layers[i]
            i_d, o_d = self._layer_dims(i, W)
            p_local, p_attn, identity, has_local = self._branch_probs(i, g)
            cl = self._cost_layer(i)
            lt: Num = 0.0
            if has_local:
                edge_dim = i_d if lp.edge_dim == lp.in_dim else lp.edge_dim
                local = self._op_params("local", cl, i_d, o_d, heads=layer.heads, edge_dim=edge_dim)
                if not identity:
                    local = local + act_params(layer.act) + norm_params(layer.norm, o_d)
                lt = lt + p_local * local
            if layer.attn != "none":
                heads = _count(g.heads, layer.heads)
                att = self._op_params("global", cl, i_d, o_d, heads=heads, head_dim=lp.head_dim)
                lt = lt + p_attn * (att + norm_params(layer.norm, o_d))
            if lp.in_dim != lp.out_dim:
                lt = lt + self._res_prob(i, p_local, p_attn, identity) * i_d * o_d
            ffn0 = layer.ffn if layer.ffn is not None else 2 * lp.out_dim
            if ffn0 > 0:
                f = _count(g.neurons, ffn0)
                ffn = linear_params(o_d, f) + act_params(layer.act) + linear_params(f, o_d)
                ffn = ffn + norm_params(layer.norm, o_d)
                lt = lt + _p(g.ffn) * ffn
            for pos, dim in enumerate(lp.source_dims):
                if pos > 0 and dim != lp.in_dim:
                    lt = lt + dim * lp.in_dim
            total = total + _p(g.layer) * lt
        if spec.virtual_node:
            total = total + plan.layers[0].in_dim
            for i in range(1, len(spec.layers)):
                w_in, w, norm = plan.layers[i - 1].in_dim, plan.layers[i].in_dim, spec.layers[i].norm
                total = total + linear_params(w_in, 2 * w) + norm_params(norm, 2 * w)
                total = total + linear_params(2 * w, w) + norm_params(norm, w)
        out_w: Num = plan.out_dim
        if lay.hidden:
            out_w = W * (len(plan.leaves) if spec.combine == "concat" else 1)
        if spec.combine in ("sum", "mean"):
            total = total + sum(d * plan.out_dim for d in plan.leaf_dims if d != plan.out_dim)
        if info.level == "graph" and spec.pooling == "attention":
            total = total + linear_params(out_w, 1)
        if spec.output == "head":
            width = out_w
            for _ in range(spec.post_layers - 1):
                total = total + linear_params(width, W) + act_params(act0)
                width = W
            total = total + linear_params(width, info.num_outputs)
        return total

    def _op_params(self, kind: str, layer: Any, i_d: Num, o_d: Num, **kw: Any) -> Num:
        name = layer.local if kind == "local" else layer.attn
        factory = get(kind, name)
        fn = op_attr(factory, "num_params")
        if fn is not None:
            return fn(i_d, o_d, layer=layer, **kw)
        with torch.device("meta"):
            args = {k: (int(v) if isinstance(v, Tensor) else v) for k, v in kw.items()}
            module = factory(int(i_d), int(o_d), layer=layer, **args)
        return 0 if module is None else sum(q.numel() for q in module.parameters())

    # ------------------------------------------------------------------ latency surrogate
    def _quantities(self, p: GateValues) -> dict[str, Num]:
        q: dict[str, Num] = {}
        spec = self.layout.spec
        for i, (s, g) in enumerate(zip(self.layout.layers, p.layers, strict=True)):
            y = _p(g.layer)
            q[f"{i}.local"] = y * _p(g.local)
            q[f"{i}.attn"] = y * _p(g.attn)
            q[f"{i}.ffn"] = y * _p(g.ffn)
            q[f"{i}.layer"] = y
            if s.heads:
                q[f"{i}.heads"] = y * _p(g.attn) * _count(g.heads, s.heads) / s.heads
            if s.neurons:
                q[f"{i}.neurons"] = y * _p(g.ffn) * _count(g.neurons, s.neurons) / s.neurons
        if self.layout.hidden:
            q["hidden"] = _count(p.hidden, spec.hidden) / spec.hidden
        if self.layout.edges:
            q["edges"] = p.edges if p.edges is not None else 1.0
        return q

    def relinearize(self, around: GateValues) -> None:
        """Refit the latency surrogate around the mask ``around`` (deterministic gate values); other metrics
        are exact and ignore it. The fit around the dense model drifts as the model shrinks: it adds up savings
        that really multiply (fewer heads *and* fewer hidden channels), so a small model's latency is
        underestimated; re-fitting where the gates are keeps the surrogate exact at the current mask.

        Example:
            >>> from autogt.models import builtin_spec
            >>> from autogt.testing.layers import molecule_task
            >>> from autogt.compress._layout import make_layout
            >>> from autogt.compress._remove import derive_spec, finalize
            >>> task = molecule_task(); layout = make_layout(builtin_spec("gps"), task)
            >>> cm = CostModel(layout, task, metric="latency_ms", device="cpu")
            >>> mask = GateValues.ones(layout); mask.layers[0].attn = torch.zeros(())
            >>> cm.relinearize(mask)
            >>> exact = cm.exact(derive_spec(layout, finalize(layout, mask)).spec)
            >>> abs(float(cm.expected(mask)) - exact) < 1e-6
            True
        """
        if self.metric == "latency_ms":
            self._lat = self._fit_latency(around)

    def _fit_latency(self, around: GateValues | None = None) -> tuple[float, dict[str, float], dict[str, Num]]:
        """``(latency at the centre, coefficient per quantity, the centre's quantities)`` by finite differences
        of the predictor: an open block or layer removed, half of the open heads / neurons / hidden channels
        removed. Coefficients that cannot be measured at the centre (a closed block, a single open head) keep
        their previous value (ultimately the one fitted around the dense model)."""
        from autogt.compress._remove import derive_spec, finalize

        lay = self.layout
        centre = (GateValues.ones(lay) if around is None
                  else finalize(lay, around.detach()).map(lambda t: (t > 0).float()))
        prev = dict(self._lat[1]) if self._lat is not None else {}

        def lat(values: GateValues, edge_keep: float = 1.0) -> float:
            spec = derive_spec(lay, finalize(lay, values)).spec
            return self.exact(spec, edge_keep)

        def without(i: int | None, key: str, drop: Tensor | None = None) -> float:
            """Latency of the centre with gate ``key`` of layer ``i`` closed (entries ``drop`` of a vector)."""
            v = centre.map(torch.clone)
            if i is None:
                assert v.hidden is not None and drop is not None
                v.hidden.index_fill_(0, drop, 0.0)
            elif drop is None:
                setattr(v.layers[i], key, torch.zeros(()))
            else:
                getattr(v.layers[i], key).index_fill_(0, drop, 0.0)
            return lat(v)

        base = lat(centre)
        q0 = self._quantities(centre)
        coef = dict(prev)  # what cannot be measured at this centre keeps its previous value
        for i, (s, g) in enumerate(zip(lay.layers, centre.layers, strict=True)):
            for key in ("local", "attn", "ffn"):
                if getattr(s, key) and float(getattr(g, key)) > 0:
                    coef[f"{i}.{key}"] = base - without(i, key)
            for key, n in (("heads", s.heads), ("neurons", s.neurons)):
                if not n:
                    continue
                idx = torch.nonzero(getattr(g, key) > 0).flatten()
                drop = idx[: len(idx) // 2]
                if len(drop) and n > 1:
                    coef[f"{i}.{key}"] = (base - without(i, key, drop)) * n / len(drop)
            if s.layer and float(g.layer) > 0:
                inner = sum(coef.get(f"{i}.{k}", 0.0) * float(q0.get(f"{i}.{k}", 0.0))
                            for k in ("local", "attn", "ffn", "heads", "neurons"))
                coef[f"{i}.layer"] = base - without(i, "layer") - inner
        if lay.hidden:
            assert centre.hidden is not None
            idx = torch.nonzero(centre.hidden > 0).flatten()
            drop = idx[1::2]
            if len(drop):
                coef["hidden"] = (base - without(None, "hidden", drop)) * lay.hidden / len(drop)
        if lay.edges and "edges" not in coef:
            coef["edges"] = (base - lat(centre, 0.5)) / 0.5
        return base, coef, q0

    def _latency(self, p: GateValues) -> Num:
        assert self._lat is not None
        base, coef, q1 = self._lat  # q1: the quantities at the centre of the fit
        q = self._quantities(p)
        total: Num = base
        for k, c in coef.items():
            if k in q:
                total = total + c * (q[k] - q1[k])
        return total
