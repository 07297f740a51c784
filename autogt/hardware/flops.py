"""Analytic cost of an architecture: parameter count and forward FLOPs.

``count_params(spec, task)`` equals ``sum(p.numel() for p in build_model(spec, task).parameters())``
exactly; it reads the same width plan as the model (:func:`autogt.models.plan.make_plan`) and each
op's ``num_params`` metadata (ops without it are instantiated once on the meta device).

``count_flops(spec, stats)`` is ``2 x multiply-adds`` of one forward pass on the task's average graph
(times ``batch`` graphs). What is counted:

- every ``Linear(i, o)`` applied to ``m`` rows: ``2 m i o`` (encoders, projections, FFN, head...);
  embedding look-ups cost one add per output value and column;
- message passing: each op's ``flops`` metadata, roughly ``edges x width`` per aggregation plus its
  linears (ops without metadata: ``2 n in out + 2 e out``);
- attention: ``q k v o`` projections plus ``4 x attn_sq_mean x heads x head_dim`` for ``QK^T`` and
  ``AV`` (so it grows with ``n^2`` per graph); the performer is linear in ``n``. ``attn_sq_mean`` is
  what the attention really computes per graph, padding included: for a batch,
  ``autogt.models.attention.attention_cost(ptr)["attn_sq_mean"]`` (blocks of similar sizes, about
  1.05-1.2 x ``nodes_sq_mean`` on molecules; ``max(n)^2`` for one padded block); when the stats do not
  give it, ``nodes_sq_mean`` (the ideal, padding-free count) is used;
- readout and virtual node sums: one add per value; the head runs once per graph (graph level) or
  per node (node level).

Not counted: activations, norms, dropout, softmax, residual adds and index bookkeeping.
``edges_mean`` counts directed edges (columns of ``edge_index``, both directions of a bond).

Example:
    >>> from autogt.models import builtin_spec
    >>> stats = {"nodes_mean": 25.0, "edges_mean": 54.0, "nodes_sq_mean": 680.0}
    >>> count_flops(builtin_spec("gps"), stats) > 0
    True
"""

from __future__ import annotations

from typing import Any

import torch

from autogt.models._util import act_params, norm_params
from autogt.models.layer import needs_res
from autogt.models.ops._base import linear_params, op_attr
from autogt.models.plan import ModelPlan, TaskInfo, make_plan
from autogt.models.spec import ArchSpec, LayerSpec
from autogt.registry import get

__all__ = ["count_params", "count_flops"]


# ----------------------------------------------------------------------------- parameters
def _op_params(kind: str, layer: LayerSpec, in_dim: int, out_dim: int, **kw: Any) -> tuple[int, bool]:
    """``(parameters, present)`` of a local / global op (``present`` is False when it builds to ``None``)."""
    name = layer.local if kind == "local" else layer.attn
    factory = get(kind, name)
    fn = op_attr(factory, "num_params")
    if fn is not None:
        return int(fn(in_dim, out_dim, layer=layer, **kw)), name != "none"
    with torch.device("meta"):
        module = factory(in_dim, out_dim, layer=layer, **kw)
    return (0, False) if module is None else (sum(p.numel() for p in module.parameters()), True)


def _layer_params(spec: ArchSpec, i: int, plan: ModelPlan) -> int:
    layer, lp = spec.layers[i], plan.layers[i]
    i_d, o_d = lp.in_dim, lp.out_dim
    identity = bool(op_attr(get("local", layer.local), "identity"))
    post = 0 if layer.prenorm else 1  # prenorm: one input norm + act, bare branches
    total, has_local = _op_params("local", layer, i_d, o_d, heads=layer.heads, edge_dim=lp.edge_dim)
    if layer.prenorm and not lp.raw_input:
        total += norm_params(layer.norm, i_d) + act_params(layer.act)
    if has_local and not identity:
        total += post * (act_params(layer.act) + norm_params(layer.norm, o_d))
    attn, has_attn = _op_params("global", layer, i_d, o_d, heads=layer.heads, head_dim=lp.head_dim)
    if has_attn:
        total += attn + post * norm_params(layer.norm, o_d)
    if i_d != o_d and needs_res(has_local, identity, has_attn, layer.residual):
        total += i_d * o_d
    ffn = layer.ffn if layer.ffn is not None else 2 * o_d
    if ffn > 0:
        total += linear_params(o_d, ffn) + act_params(layer.act) + linear_params(ffn, o_d)
        total += post * norm_params(layer.norm, o_d)
    for pos, dim in enumerate(lp.source_dims):
        if pos > 0 and dim != i_d:
            total += dim * i_d
    return total


def count_params(spec: ArchSpec, task: Any) -> int:
    """Exact number of parameters of ``build_model(spec, task)``, computed without building it.

    Args:
        spec: the architecture.
        task: a ``Task``, its ``describe()`` dict or a :class:`~autogt.models.plan.TaskInfo`.
    """
    plan = make_plan(spec, task)
    info = plan.info
    act0 = spec.layers[0].act
    head_act = act0 if spec.head_act == "auto" else spec.head_act
    total = act_params(spec.readout_act)
    if plan.node_encoder == "atom":
        total += sum(info.atom_vocab) * plan.node_width
    elif plan.node_encoder == "linear":
        total += linear_params(info.node_dim, plan.node_width)
    if spec.pe != "none":
        total += linear_params(spec.pe_dim, plan.pe_width)
    width = plan.enc_width
    for _ in range(spec.pre_layers):
        total += linear_params(width, spec.hidden) + act_params(act0)
        width = spec.hidden
    for w in plan.edge_widths:
        total += sum(info.bond_vocab) * w if plan.edge_encoder == "bond" else linear_params(info.edge_dim, w)
    total += sum(_layer_params(spec, i, plan) for i in range(len(spec.layers)))
    if spec.virtual_node:
        total += plan.layers[0].in_dim
        for i in range(1, len(spec.layers)):
            w_in, w, norm = plan.layers[i - 1].in_dim, plan.layers[i].in_dim, spec.layers[i].norm
            total += linear_params(w_in, 2 * w) + norm_params(norm, 2 * w)
            total += linear_params(2 * w, w) + norm_params(norm, w)
    if spec.combine in ("sum", "mean"):
        total += sum(d * plan.out_dim for d in plan.leaf_dims if d != plan.out_dim)
    if info.level == "graph" and spec.pooling == "attention":
        total += linear_params(plan.out_dim, 1)
    if spec.output == "head":
        width = plan.out_dim
        for _ in range(spec.post_layers - 1):
            total += linear_params(width, spec.hidden) + act_params(head_act)
            width = spec.hidden
        total += linear_params(width, info.num_outputs)
    return total


# ----------------------------------------------------------------------------- FLOPs
def _stats_and_task(stats: Any, task: Any) -> tuple[dict[str, float], Any]:
    if hasattr(stats, "meta") and hasattr(stats, "level"):  # a Task
        return dict(stats.meta), task if task is not None else stats
    if isinstance(stats, dict) and isinstance(stats.get("meta"), dict):  # Task.describe()
        return dict(stats["meta"]), task if task is not None else stats
    return dict(stats), task


def _default_task(spec: ArchSpec, stats: dict[str, float]) -> TaskInfo:
    return TaskInfo(
        level=str(stats.get("level", "graph")),
        num_outputs=int(stats.get("num_outputs", 1)),
        node_dim=int(stats.get("node_dim", spec.hidden)),
        edge_dim=int(stats.get("edge_dim", 0)),
    )


def _local_flops(layer: LayerSpec, in_dim: int, out_dim: int, edge_dim: int, n: float, e: float) -> float:
    fn = op_attr(get("local", layer.local), "flops")
    if fn is None:
        return 2.0 * n * in_dim * out_dim + 2.0 * e * out_dim
    return float(fn(in_dim, out_dim, heads=layer.heads, edge_dim=edge_dim, layer=layer, nodes=n, edges=e))


def _global_flops(layer: LayerSpec, in_dim: int, out_dim: int, head_dim: int, n: float, e: float,
                  nsq: float) -> float:
    if layer.attn == "none":
        return 0.0
    fn = op_attr(get("global", layer.attn), "flops")
    inner = layer.heads * head_dim
    if fn is None:
        return 2.0 * n * (3 * in_dim * inner + inner * out_dim) + 4.0 * nsq * inner
    return float(fn(in_dim, out_dim, heads=layer.heads, head_dim=head_dim, layer=layer, nodes=n, edges=e, nodes_sq=nsq))


def count_flops(spec: ArchSpec, stats: Any, *, batch: int = 1, task: Any = None) -> float:
    """FLOPs (2 x multiply-adds) of one forward pass over ``batch`` average graphs (see module doc).

    Args:
        spec: the architecture.
        stats: a dict with ``nodes_mean``, ``edges_mean`` and ``nodes_sq_mean`` (mean over graphs of
            ``n_i^2``; defaults to ``nodes_mean^2``), optionally ``attn_sq_mean`` (attention cells
            really computed per graph, see the module doc; defaults to ``nodes_sq_mean``), or a
            ``Task`` / ``Task.describe()`` dict whose ``meta`` holds them.
        batch: number of graphs (the result scales linearly).
        task: task dimensions when ``stats`` is a plain dict (otherwise taken from ``stats`` keys
            ``level``, ``num_outputs``, ``node_dim``, ``edge_dim``, defaulting to a graph-level task
            with ``node_dim = hidden``, one output and no edge features).
    """
    meta, task = _stats_and_task(stats, task)
    n = float(meta.get("nodes_mean", 0.0))
    e = float(meta.get("edges_mean", 0.0))
    nsq = float(meta.get("nodes_sq_mean", n * n))
    nsq = float(meta.get("attn_sq_mean", nsq))  # cells attention really computes (padding included)
    plan = make_plan(spec, task if task is not None else _default_task(spec, meta))
    info = plan.info
    total = 0.0
    if plan.node_encoder == "atom":
        total += n * plan.node_width * len(info.atom_vocab)
    elif plan.node_encoder == "linear":
        total += 2.0 * n * info.node_dim * plan.node_width
    if spec.pe != "none":
        total += 2.0 * n * spec.pe_dim * plan.pe_width
    width = plan.enc_width
    for _ in range(spec.pre_layers):
        total += 2.0 * n * width * spec.hidden
        width = spec.hidden
    for w in plan.edge_widths:
        total += e * w * len(info.bond_vocab) if plan.edge_encoder == "bond" else 2.0 * e * info.edge_dim * w
    for layer, lp in zip(spec.layers, plan.layers, strict=True):
        i_d, o_d = lp.in_dim, lp.out_dim
        for pos, dim in enumerate(lp.source_dims):
            if pos > 0:
                total += n * i_d + (2.0 * n * dim * i_d if dim != i_d else 0.0)
        total += _local_flops(layer, i_d, o_d, lp.edge_dim, n, e)
        total += _global_flops(layer, i_d, o_d, lp.head_dim, n, e, nsq)
        has_local, has_attn = layer.local != "none", layer.attn != "none"
        identity = bool(op_attr(get("local", layer.local), "identity"))
        if i_d != o_d and needs_res(has_local, identity, has_attn, layer.residual):
            total += 2.0 * n * i_d * o_d
        ffn = layer.ffn if layer.ffn is not None else 2 * o_d
        total += 4.0 * n * o_d * ffn
    if spec.virtual_node:
        for i in range(1, len(spec.layers)):
            w_in, w = plan.layers[i - 1].in_dim, plan.layers[i].in_dim
            total += n * w_in + 2.0 * (w_in * 2 * w + 2 * w * w) + n * w
    if spec.combine in ("sum", "mean"):
        total += sum(2.0 * n * d * plan.out_dim for d in plan.leaf_dims if d != plan.out_dim)
        total += n * plan.out_dim * (len(plan.leaf_dims) - 1)
    rows = n if info.level == "node" else 1.0
    if info.level == "graph":
        total += n * plan.out_dim * (3.0 if spec.pooling == "attention" else 1.0)
    if spec.output == "head":
        width = plan.out_dim
        for _ in range(spec.post_layers - 1):
            total += 2.0 * rows * width * spec.hidden
            width = spec.hidden
        total += 2.0 * rows * width * info.num_outputs
    return total * batch
