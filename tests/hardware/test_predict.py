from __future__ import annotations

import time

import pytest

from autogt.hardware import predict, predict_latency, predict_memory
from autogt.hardware._blocks import decompose
from autogt.hardware._sample import sample_specs
from autogt.models import ArchSpec, LayerSpec, builtin_spec
from autogt.models.plan import make_plan


def _spec(width: int, *, attn: str = "full", depth: int = 2) -> ArchSpec:
    layer = LayerSpec(local="gcn", attn=attn, heads=4, ffn=2 * width)  # norm batch, act relu: measured as is
    return ArchSpec(hidden=width, layers=(layer,) * depth)


def test_predictor_is_fast(tiny_profile, tiny_blocks, mol_task):
    """< 1 ms per spec, for specs never predicted before (table look-ups are shared, as in a search)."""
    warm = sample_specs(30, seed=1, widths=(16, 32, 64), keys=set(tiny_blocks))
    fresh = sample_specs(60, seed=2, widths=(16, 32, 64), keys=set(tiny_blocks))
    for s in warm:
        predict(s, tiny_profile, batch=32, stats=mol_task)
    start = time.process_time()  # CPU time: other processes on a shared machine do not count
    for s in fresh:
        predict(s, tiny_profile, batch=32, stats=mol_task)
    per_call_ms = (time.process_time() - start) / len(fresh) * 1e3
    assert per_call_ms < 1.0, per_call_ms


def test_latency_is_monotone_in_width_and_batch(tiny_profile, mol_task):
    widths = (8, 16, 32, 64, 128, 256)  # below, inside and beyond the measured grid (16, 64)
    lat = [predict_latency(_spec(w), tiny_profile, batch=16, stats=mol_task) for w in widths]
    assert lat == sorted(lat) and lat[-1] > lat[0]
    batches = (1, 4, 16, 64, 256)
    lat = [predict_latency(_spec(32), tiny_profile, batch=b, stats=mol_task) for b in batches]
    assert lat == sorted(lat) and lat[-1] > lat[0]
    depth = [predict_latency(_spec(32, depth=d), tiny_profile, batch=16, stats=mol_task) for d in (1, 2, 4)]
    assert depth == sorted(depth) and depth[-1] > depth[0]


def test_memory_grows_with_batch_and_width(tiny_profile, mol_task):
    mem = [predict_memory(_spec(32), tiny_profile, batch=b, stats=mol_task) for b in (1, 16, 256)]
    assert mem == sorted(mem) and mem[-1] > mem[0]
    assert predict_memory(_spec(128), tiny_profile, batch=16, stats=mol_task) > predict_memory(
        _spec(16), tiny_profile, batch=16, stats=mol_task)


def test_prediction_tracks_measured_samples(tiny_profile):
    """On the samples it was fitted to, the corrected prediction is within a factor of two."""
    for s in tiny_profile.samples:
        stats = {"nodes_mean": s.nodes, "edges_mean": s.edges, "nodes_sq_mean": s.nodes_sq}
        p = predict(ArchSpec.from_dict(s.spec), tiny_profile, batch=s.batch, stats=stats)
        assert 0.5 < p.latency_ms / s.latency_ms < 2.0
        assert 0.5 < p.memory_mb / s.memory_mb < 2.0


def test_unmeasured_blocks_are_approximated_and_reported(tiny_profile, mol_task):
    spec = ArchSpec(hidden=32, layers=(LayerSpec(local="sage", ffn=64),))
    p = predict(spec, tiny_profile, batch=8, stats=mol_task)
    assert "local:sage" in p.approximated and p.latency_ms > 0


def test_decompose_expresses_variants_as_deltas(mol_task):
    spec = ArchSpec(hidden=32, layers=(LayerSpec(local="gcn", attn="full", norm="layer", act="gelu", ffn=128),))
    blocks = decompose(spec, make_plan(spec, mol_task), nodes=24.0, edges=52.0, nodes_sq=690.0, batch=8)
    signed = {(b.key, b.sign, b.coords["width"]) for b in blocks if b.layer == 0}
    assert ("norm:layer", 1.0, 32.0) in signed and ("norm:batch", -1.0, 32.0) in signed
    assert ("act:gelu", 1.0, 128.0) in signed and ("act:relu", -1.0, 128.0) in signed  # FFN act at FFN width
    # off-grid shapes are looked up at their FLOP-equivalent width (not multiplied by a FLOP ratio, which
    # would also multiply the fixed per-call overhead): 4 heads of 32 on a 32-wide layer sit between 32 and 128
    wide = spec.replace_layer(0, head_dim=32, heads=4)
    attn = [b for b in decompose(wide, make_plan(wide, mol_task), nodes=24.0, edges=52.0, nodes_sq=690.0,
                                 batch=8) if b.key == "attn:full"][0]
    assert 32.0 < attn.coords["width"] < 128.0 and attn.coords["heads"] == 4.0 and attn.scale == 1.0
    # raw 1433-wide features into a 16-wide GCN (the builtin gcn on Cora): the GCN of width sqrt(1433 * 16)
    cora = {"level": "node", "num_outputs": 7, "node_dim": 1433, "edge_dim": 0}
    gcn = builtin_spec("gcn")
    first = [b for b in decompose(gcn, make_plan(gcn, cora), nodes=2708.0, edges=10556.0, nodes_sq=2708.0**2,
                                  batch=1, ref_degree=10556 / 2708) if b.key == "local:gcn"][0]
    assert first.coords["width"] == pytest.approx((1433 * 16) ** 0.5, rel=0.05) and first.scale == 1.0


def test_large_graphs_stay_inside_the_grid(tiny_profile):
    """A 2,000-node graph costs a node-wise block what 2000 / n_max graphs of n_max nodes cost."""
    from autogt.hardware._predict import _coords

    table = tiny_profile.tables["local:gcn"]
    block = decompose(_spec(32), make_plan(_spec(32), {"level": "node", "num_outputs": 3, "node_dim": 32}),
                      nodes=2000.0, edges=8000.0, nodes_sq=4e6, batch=1)
    local = [b for b in block if b.key == "local:gcn"][0]
    assert _coords(table, local) == {**local.coords, "nodes": 24.0, "batch": pytest.approx(2000.0 / 24.0)}
    big = predict_latency(_spec(32), tiny_profile, stats={"nodes_mean": 2000.0, "edges_mean": 8000.0},
                          task={"level": "node", "num_outputs": 3, "node_dim": 32})
    small = predict_latency(_spec(32), tiny_profile, stats={"nodes_mean": 500.0, "edges_mean": 2000.0},
                            task={"level": "node", "num_outputs": 3, "node_dim": 32})
    assert big > 2 * small  # full attention grows with n^2 beyond the grid


def test_bad_inputs(tiny_profile, mol_task):
    with pytest.raises(ValueError, match="batch"):
        predict_latency(_spec(16), tiny_profile, batch=0, stats=mol_task)
    with pytest.raises(ValueError, match="nodes_mean"):
        predict_latency(_spec(16), tiny_profile, batch=4, stats={"edges_mean": 3.0})
