"""Latency and memory prediction from a :class:`~autogt.hardware.DeviceProfile` (no device needed).

Measured profile::

    blocks = decompose(spec)                                   # autogt.hardware._blocks
    g[group] = sum(sign * scale * table[key].latency_ms(coords) for blocks of that group)
    raw = sum(g.values())
    latency_ms = exp(c + a * log(raw) + sum(b[group] * g[group] / raw))      # the learned correction

The correction (``sklearn.linear_model.Ridge(positive=True)`` on the log of whole-model measurements)
keeps the block sum and re-scales it slightly according to which kind of block dominates; ``a`` and every
``b`` are non-negative. Graphs larger than the grid's largest are re-batched at the same node count for
node-wise blocks, and attention beyond the grid adds its extra FLOPs at the measured throughput.

Memory is the parameters and inputs (``static_mb``) plus the activation peak (``activation_mb``): layer
outputs stay alive until the readout (the model keeps them for the layer DAG), so the peak is the largest
``kept outputs + one block's transient peak`` over the layers; a non-negative linear correction maps the
two to the measured peak.

Roofline profile: the same blocks, each costed by
:func:`autogt.hardware._roofline.combine_roofline` from count tables (ops, FLOPs, bytes) of a measured
profile, or from analytic counts when none exists.

Example:
    >>> from autogt.models import builtin_spec
    >>> stats = {"nodes_mean": 24.0, "edges_mean": 52.0, "nodes_sq_mean": 690.0}
    >>> predict_latency(builtin_spec("gps"), "h100", batch=32, stats=stats) > 0
    True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autogt.hardware._blocks import GROUPS, Block, decompose
from autogt.hardware._device import Correction, DeviceProfile, load_profile, measured_profiles
from autogt.hardware._roofline import (
    DEFAULT_REF_DEGREE,
    RooflineSpec,
    combine_roofline,
    nominal_counts,
    roofline_block_ms,
)
from autogt.hardware._table import BlockTable
from autogt.models.plan import ModelPlan, TaskInfo, make_plan
from autogt.models.spec import ArchSpec

__all__ = [
    "Prediction",
    "predict",
    "predict_latency",
    "predict_memory",
    "resolve_task",
    "latency_features",
    "memory_features",
    "fit_correction",
    "fit_roofline",
    "LATENCY_FEATURES",
    "MEMORY_FEATURES",
]

LATENCY_FEATURES = ("lograw", *(f"frac_{g}" for g in GROUPS))
"""Latency correction: ``log(latency) = c + a * log(sum of blocks) + sum_g b_g * share_g`` (a, b >= 0), i.e. the
block sum, slightly re-scaled according to which kind of block dominates (FFN-heavy models run slower in a
whole model than their FFN blocks alone, from allocator and cache effects)."""
MEMORY_FEATURES = ("static_mb", "activation_mb", "const")
_MB = float(2**20)


@dataclass(frozen=True)
class Prediction:
    """Predicted cost of one forward.

    Attributes:
        latency_ms, memory_mb: the predictions.
        estimate: ``measured-profile`` or ``roofline``.
        groups: raw per-group latency sums before the correction (ms).
        approximated: block keys the profile has no table for (costed from the ``linear`` table by FLOPs).
    """

    latency_ms: float
    memory_mb: float
    estimate: str
    groups: dict[str, float] = field(default_factory=dict)
    approximated: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- task and stats
@functools.lru_cache(maxsize=1)
def _default_task() -> dict[str, Any]:
    """BBBP's description: a shipped profile's copy when one was measured on it (fast), else loaded."""
    ref = _count_reference()
    task = ref.reference.get("task") if ref is not None else None
    if isinstance(task, dict) and task.get("name") == "bbbp" and isinstance(task.get("meta"), dict):
        return task
    from autogt.data import load_task

    return load_task("bbbp").describe()


@dataclass(frozen=True)
class _Stats:
    info: TaskInfo
    nodes: float
    edges: float
    nodes_sq: float


def resolve_task(stats: Any = None, task: Any = None, profile: DeviceProfile | None = None) -> _Stats:
    """Task dimensions and per-graph size statistics from a ``Task``, a ``Task.describe()`` dict or a plain
    stats dict (``nodes_mean``, ``edges_mean``, ``nodes_sq_mean``).

    Dimensions come from ``task`` when given, else from ``stats`` when it is a task, else from the profile's
    reference task, else from bundled BBBP (molecules). ``stats=None`` uses the reference task's statistics.
    """
    ref = (profile.reference.get("task") if profile is not None else None) or None
    if stats is None:
        stats = task if task is not None else (ref or _default_task())
    if hasattr(stats, "meta") and hasattr(stats, "level"):  # a Task
        meta, dims = dict(stats.meta), stats
    elif isinstance(stats, Mapping) and isinstance(stats.get("meta"), Mapping):  # Task.describe()
        meta, dims = dict(stats["meta"]), stats
    elif isinstance(stats, Mapping):
        meta, dims = dict(stats), None
    else:
        raise TypeError(f"stats: expected a Task, its describe() dict or a stats dict, got {type(stats).__name__}")
    if task is not None:
        dims = task
    if dims is None:
        dims = ref or _default_task()
    info = TaskInfo.of(dims)
    if "nodes_mean" not in meta:
        raise ValueError("stats: 'nodes_mean' is required (also 'edges_mean', 'nodes_sq_mean')")
    n = float(meta["nodes_mean"])
    return _Stats(info, n, float(meta.get("edges_mean", 0.0)), float(meta.get("nodes_sq_mean", n * n)))


def _batch(spec: ArchSpec, info: TaskInfo, batch: int | None) -> int:
    if batch is not None:
        if batch < 1:
            raise ValueError(f"batch: must be >= 1, got {batch}")
        return int(batch)
    return 1 if info.level == "node" else int(spec.batch_size)


# ----------------------------------------------------------------------------- table look-ups
def _coords(table: BlockTable, block: Block) -> dict[str, float]:
    """Look-up coordinates; graphs larger than the grid's largest are re-batched at the same node count.

    Every block but attention costs the same for ``B`` graphs of ``n`` nodes as for ``B * n / n_max`` graphs
    of ``n_max`` nodes (it sees the same nodes and edges), which stays inside the measured grid for large
    graphs (a node-level task's single graph) instead of extrapolating along the graph-size axis.
    """
    c = block.coords
    if block.key.startswith("attn:"):
        return c
    top = table.axis_max("nodes")
    if top is None or c["nodes"] <= top:
        return c
    return {**c, "batch": c["batch"] * c["nodes"] / top, "nodes": top}


def _linear_fallback(profile: DeviceProfile, block: Block, ref_degree: float) -> float:
    """A block without a table: the ``linear`` table scaled by the FLOP ratio."""
    lin = profile.tables.get("linear")
    if lin is None:
        raise ValueError(f"profile {profile.name!r} has no table for {block.key!r} nor a 'linear' table")
    coords = {"width": block.coords["width"], "batch": block.coords["batch"], "nodes": block.coords["nodes"]}
    _, flops, _ = nominal_counts(block, ref_degree)
    _, lin_flops, _ = nominal_counts(Block("linear", coords, "other"), ref_degree)
    return lin.lookup("latency_ms", coords) * (flops / lin_flops if lin_flops > 0 else 1.0)


def _attention_beyond_grid(table: BlockTable, block: Block) -> float:
    """Attention on graphs larger than the grid's largest (``n_max``): the value at ``n_max`` plus the extra
    FLOPs (``n^2`` per graph) at the throughput measured at the largest measured batch of ``n_max``-node
    graphs, where attention is throughput-bound rather than launch-bound."""
    c = block.coords
    top, b_max = table.axis_max("nodes"), table.axis_max("batch")
    assert top is not None and b_max is not None
    at_top = {**c, "nodes": top}

    def flops(nodes: float, batch: float) -> float:
        probe = Block(block.key, {**c, "nodes": nodes, "batch": batch}, block.group)
        return nominal_counts(probe, DEFAULT_REF_DEGREE, nodes_sq=nodes * nodes)[1]

    rate = flops(top, b_max) / table.lookup("latency_ms", {**at_top, "batch": b_max})  # FLOPs per ms
    extra = max(flops(c["nodes"], c["batch"]) - flops(top, c["batch"]), 0.0)
    return table.lookup("latency_ms", at_top) + extra / rate


def _group_sums(profile: DeviceProfile, blocks: list[Block], ref_degree: float) -> tuple[dict[str, float], list[str]]:
    groups = dict.fromkeys(GROUPS, 0.0)
    missing: list[str] = []
    tables = profile.tables
    for b in blocks:
        table = tables.get(b.key)
        if table is None:
            value = _linear_fallback(profile, b, ref_degree)
            missing.append(b.key)
        elif b.key.startswith("attn:") and b.coords["nodes"] > (table.axis_max("nodes") or math.inf):
            value = _attention_beyond_grid(table, b)
        else:
            value = table.lookup("latency_ms", _coords(table, b))
        groups[b.group] += b.sign * b.scale * value
    return groups, missing


def latency_features(spec: ArchSpec, groups: Mapping[str, float]) -> dict[str, float]:
    """Correction features: per-group sums (ms), their total's log (``lograw``), each group's share of the
    total (``frac_GROUP``), the layer count and a constant."""
    g = {k: max(float(groups.get(k, 0.0)), 0.0) for k in GROUPS}
    raw = max(sum(g.values()), 1e-9)
    return {**g, "lograw": math.log(raw), **{f"frac_{k}": v / raw for k, v in g.items()},
            "layers": float(len(spec.layers)), "const": 1.0}


@functools.lru_cache(maxsize=1)
def _count_reference() -> DeviceProfile | None:
    """A measured profile with count tables (CPU first), for rooflines."""
    found = [p for p in measured_profiles() if any(t.has("ops") for t in p.tables.values())]
    found.sort(key=lambda p: (p.kind != "cpu", p.name))
    return found[0] if found else None


def _ref_degree(prof: DeviceProfile) -> float:
    """Edges per node of the batches behind the tables used (a roofline uses the count reference's)."""
    if prof.tables:
        return prof.ref_degree or DEFAULT_REF_DEGREE
    ref = _count_reference()
    return (ref.ref_degree if ref is not None else None) or DEFAULT_REF_DEGREE


def _block_counts(block: Block, ref: DeviceProfile | None, ref_degree: float) -> tuple[float, float, float]:
    table = ref.tables.get(block.key) if ref is not None else None
    if table is not None and table.has("ops"):
        c = _coords(table, block)
        return table.lookup("ops", c), table.lookup("flops", c), table.lookup("bytes", c)
    return nominal_counts(block, ref_degree)


def _roofline_parts(spec_r: RooflineSpec, blocks: list[Block], ref_degree: float,
                    dtype: str = "fp32") -> list[tuple[float, float, float, float]]:
    """``(sign, compute_ms, memory_ms, launch_ms)`` per block at unit efficiencies."""
    ref = _count_reference()
    out = []
    for b in blocks:
        parts = roofline_block_ms(_block_counts(b, ref, ref_degree), b.scale, spec_r, dtype)
        out.append((b.sign, *parts))
    return out


# ----------------------------------------------------------------------------- memory
def _input_bytes(info: TaskInfo, spec: ArchSpec, n_total: float, e_total: float, batch: int) -> float:
    node = info.node_dim * (8 if info.node_categorical else 4)
    edge = info.edge_dim * (8 if info.edge_categorical else 4)
    pe = 4 * spec.pe_dim if spec.pe != "none" else 0
    return n_total * (node + 8 + pe) + e_total * (16 + edge) + 8 * (batch + 1) + 4 * batch * info.num_outputs


@functools.lru_cache(maxsize=8192)
def _params(spec: ArchSpec, info: TaskInfo) -> int:
    from autogt.hardware.flops import count_params

    return int(count_params(spec, info))


def memory_features(spec: ArchSpec, plan: ModelPlan, blocks: list[Block], st: _Stats, batch: int,
                    mem_of: Any) -> dict[str, float]:
    """``static_mb`` (parameters + inputs) and ``activation_mb`` (peak of kept outputs + one block's transient)."""
    n_total, e_total = batch * st.nodes, batch * st.edges
    static = 4.0 * _params(spec, plan.info) + _input_bytes(plan.info, spec, n_total, e_total, batch)
    kept = 4.0 * n_total * plan.w0 + sum(4.0 * e_total * w for w in plan.edge_widths)
    peak = 0.0
    per_layer: dict[int, float] = {}
    for b in blocks:
        if b.sign < 0:
            continue
        value = b.scale * mem_of(b) * _MB
        if b.layer < 0:
            peak = max(peak, value)
        else:
            per_layer[b.layer] = max(per_layer.get(b.layer, 0.0), value)
    for i, lp in enumerate(plan.layers):
        layer = spec.layers[i]
        both = layer.local != "none" and layer.attn != "none"
        transient = per_layer.get(i, 0.0) + (4.0 * n_total * lp.out_dim if both else 0.0)
        peak = max(peak, kept + transient)
        kept += 4.0 * n_total * lp.out_dim
    return {"static_mb": static / _MB, "activation_mb": peak / _MB, "const": 1.0}


# ----------------------------------------------------------------------------- predict
def predict(spec: ArchSpec, device: Any, *, batch: int | None = None, stats: Any = None,
            task: Any = None) -> Prediction:
    """Latency and memory of one inference forward of ``spec`` on ``device`` (see module docstring).

    Args:
        spec: the architecture.
        device: anything :func:`~autogt.hardware.load_profile` takes.
        batch: graphs per forward (default: ``spec.batch_size``; 1 for node-level tasks).
        stats: a ``Task``, ``Task.describe()`` dict or stats dict (``nodes_mean``, ``edges_mean``,
            ``nodes_sq_mean``); default: the profile's reference task (BBBP).
        task: task dimensions when ``stats`` is a plain dict (default: the reference task).
    """
    prof = load_profile(device)
    st = resolve_task(stats, task, prof)
    plan = make_plan(spec, st.info)
    b = _batch(spec, st.info, batch)
    ref_degree = _ref_degree(prof)
    blocks = decompose(spec, plan, nodes=st.nodes, edges=st.edges, nodes_sq=st.nodes_sq, batch=b,
                       ref_degree=ref_degree)
    if prof.tables:
        groups, missing = _group_sums(prof, blocks, ref_degree)
        feats = latency_features(spec, groups)
        corr = prof.latency_correction
        latency = corr(feats) if corr is not None else sum(groups.values())

        def mem_of(blk: Block) -> float:
            t = prof.tables.get(blk.key)
            return t.lookup("memory_mb", _coords(t, blk)) if t is not None and t.has("memory_mb") else 0.0
    else:
        assert prof.roofline is not None
        spec_r, missing = prof.roofline, []
        groups = dict.fromkeys(GROUPS, 0.0)
        for blk, (sign, c, m, k) in zip(blocks, _roofline_parts(spec_r, blocks, ref_degree), strict=True):
            groups[blk.group] += sign * combine_roofline((c, m, k), spec_r)
        latency = sum(groups.values())
        ref = _count_reference()

        def mem_of(blk: Block) -> float:
            t = ref.tables.get(blk.key) if ref is not None else None
            if t is not None and t.has("memory_mb"):
                return t.lookup("memory_mb", _coords(t, blk))
            return nominal_counts(blk, ref_degree)[2] / 2 / _MB  # about half the traffic is written
    mfeats = memory_features(spec, plan, blocks, st, b, mem_of)
    mcorr = prof.memory_correction
    memory = mcorr(mfeats) if mcorr is not None else mfeats["static_mb"] + mfeats["activation_mb"]
    return Prediction(latency_ms=max(float(latency), 1e-6), memory_mb=max(float(memory), 0.0),
                      estimate=prof.estimate, groups=groups, approximated=tuple(sorted(set(missing))))


def predict_latency(spec: ArchSpec, device: Any, *, batch: int | None = None, stats: Any = None,
                    task: Any = None) -> float:
    """Predicted inference latency (ms) of one forward over ``batch`` graphs; see :func:`predict`.

    Example:
        >>> from autogt.models import builtin_spec
        >>> stats = {"nodes_mean": 24.0, "edges_mean": 52.0, "nodes_sq_mean": 690.0}
        >>> small = predict_latency(builtin_spec("gps"), "t4", batch=8, stats=stats)
        >>> small < predict_latency(builtin_spec("gps"), "t4", batch=256, stats=stats)
        True
    """
    return predict(spec, device, batch=batch, stats=stats, task=task).latency_ms


def predict_memory(spec: ArchSpec, device: Any, *, batch: int | None = None, stats: Any = None,
                   task: Any = None) -> float:
    """Predicted peak memory (MB) of one inference forward: parameters, inputs and activations.

    Example:
        >>> from autogt.models import builtin_spec
        >>> predict_memory(builtin_spec("gin"), "a100", batch=32, stats={"nodes_mean": 24.0}) > 1.0
        True
    """
    return predict(spec, device, batch=batch, stats=stats, task=task).memory_mb


# ----------------------------------------------------------------------------- fitting
def fit_correction(rows: Sequence[Mapping[str, float]], targets: Sequence[float], features: tuple[str, ...], *,
                   space: str = "linear", alpha: float = 1.0) -> Correction:
    """Fit a :class:`Correction` with non-negative coefficients (scikit-learn).

    ``space="linear"``: ``LinearRegression(positive=True)`` without intercept (add a ``const`` feature),
    weighted by ``1 / y^2`` so that it minimises relative error. ``space="log"``: ``Ridge(alpha,
    positive=True)`` on ``log(y)`` with a free intercept.

    Example:
        >>> rows = [{"a": float(i), "const": 1.0} for i in range(1, 6)]
        >>> c = fit_correction(rows, [2.0 * i + 1.0 for i in range(1, 6)], ("a", "const"))
        >>> [round(v, 3) for v in c.coef]
        [2.0, 1.0]
    """
    import numpy as np
    from sklearn.linear_model import LinearRegression, Ridge

    if len(rows) < 2:
        raise ValueError(f"need at least 2 samples to fit a correction, got {len(rows)}")
    x = np.array([[float(r.get(f, 0.0)) for f in features] for r in rows])
    y = np.array(targets, dtype=float)
    if np.any(y <= 0):
        raise ValueError("targets must be positive")
    if space == "log":
        model = Ridge(alpha=alpha, positive=True).fit(x, np.log(y))
        intercept = float(model.intercept_)
        pred = np.exp(x @ model.coef_ + intercept)
    elif space == "linear":
        model = LinearRegression(positive=True, fit_intercept=False).fit(x, y, sample_weight=1.0 / y**2)
        intercept = 0.0
        pred = x @ model.coef_
    else:
        raise ValueError(f"space: {space!r} is not allowed; choose one of linear, log")
    mape = float(np.mean(np.abs(pred - y) / y))
    return Correction(tuple(features), tuple(float(c) for c in model.coef_), intercept, space=space, fit_mape=mape,
                      samples=len(rows))


def fit_roofline(profile: DeviceProfile, spec_r: RooflineSpec, task: Any = None) -> dict[str, float]:
    """Roofline efficiencies (``compute_eff``, ``bandwidth_eff``, ``launch_us``) fitted to ``profile``'s
    whole-model samples: each block counts as compute- or memory-bound under the default efficiencies and
    ``measured = compute / compute_eff + memory / bandwidth_eff + ops * launch`` is fitted non-negatively."""
    rows, targets = [], []
    ref_degree = _ref_degree(profile)
    for s in profile.samples:
        spec = ArchSpec.from_dict(s.spec)
        st = resolve_task({"nodes_mean": s.nodes, "edges_mean": s.edges, "nodes_sq_mean": s.nodes_sq}, task, profile)
        plan = make_plan(spec, st.info)
        blocks = decompose(spec, plan, nodes=s.nodes, edges=s.edges, nodes_sq=s.nodes_sq, batch=s.batch,
                           ref_degree=ref_degree)
        comp = mem = ops = 0.0
        for sign, c, m, k in _roofline_parts(spec_r, blocks, ref_degree):
            if c / spec_r.compute_eff >= m / spec_r.bandwidth_eff:
                comp += sign * c
            else:
                mem += sign * m
            ops += sign * k / max(spec_r.launch_us * 1e-3, 1e-12)
        rows.append({"compute": max(comp, 0.0), "memory": max(mem, 0.0), "ops": max(ops, 0.0)})
        targets.append(s.latency_ms)
    corr = fit_correction(rows, targets, ("compute", "memory", "ops"))
    c_comp, c_mem, c_ops = corr.coef
    return {
        "compute_eff": min(1.0, 1.0 / c_comp) if c_comp > 0 else 1.0,
        "bandwidth_eff": min(1.0, 1.0 / c_mem) if c_mem > 0 else 1.0,
        "launch_us": c_ops * 1e3,
        "fit_mape": float(corr.fit_mape or 0.0),
    }


def mape(pred: list[float], true: list[float]) -> float:
    """Mean absolute percentage error (fraction)."""
    return sum(abs(p - t) / t for p, t in zip(pred, true, strict=True)) / max(len(true), 1)

