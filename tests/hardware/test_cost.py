from __future__ import annotations

import pytest

from autogt.hardware import Cost, cost, count_flops, count_params, known_devices, load_profile
from autogt.models import ArchSpec, LayerSpec, builtin_spec
from autogt.registry import UnknownNameError, names


def test_cost_agrees_with_the_analytic_counts(mol_task):
    for spec in (builtin_spec("gps"), builtin_spec("gin"),
                 ArchSpec(hidden=48, layers=(LayerSpec(local="sage", attn="performer", heads=2),) * 3, pe="rw",
                          pe_dim=8)):
        c = cost(spec, mol_task, batch=16)
        assert c.params == count_params(spec, mol_task)
        assert c.flops == pytest.approx(count_flops(spec, mol_task, batch=16))
        assert c.latency_ms is None and c.memory_mb is None and c.estimate is None


def test_cost_with_a_device_and_the_default_batch(tiny_profile, mol_task):
    spec = ArchSpec(hidden=32, layers=(LayerSpec(local="gcn", attn="full"),), batch_size=24)
    c = cost(spec, mol_task, tiny_profile)
    assert isinstance(c, Cost) and c.batch == 24
    assert c.estimate == "measured-profile" and c.device == "tiny" and c.latency_ms > 0 and c.memory_mb > 0
    assert c.flops == pytest.approx(count_flops(spec, mol_task, batch=24))
    assert set(c.to_dict()) >= {"params", "flops", "latency_ms", "memory_mb", "estimate"}
    node_task = {**mol_task, "level": "node", "node_categorical": False, "edge_dim": 0, "node_dim": 16,
                 "meta": {"nodes_mean": 500.0, "edges_mean": 2000.0}}
    assert cost(spec, node_task, "h100").batch == 1  # a node-level task's single graph


def test_cost_accepts_spec_names_and_plain_stats():
    c = cost("gps", {"nodes_mean": 24.0, "edges_mean": 52.0, "nodes_sq_mean": 690.0}, "t4", batch=8)
    assert c.estimate == "roofline" and c.params == cost(builtin_spec("gps"), {"nodes_mean": 24.0}).params


def test_violations_name_the_bounds():
    c = Cost(params=1000, flops=2e6, latency_ms=12.0, memory_mb=3.0)
    assert c.violations(max_params=2000, max_latency_ms=10.0) == ["latency_ms 12 > max_latency_ms 10"]
    assert c.violations(max_memory_mb=5.0, max_flops=1e7) == []


def test_unknown_device_lists_known_names(mol_task):
    with pytest.raises(UnknownNameError) as info:
        cost(builtin_spec("gps"), mol_task, "tpu-v9")
    message = str(info.value)
    for name in ("h100", "a100", "l4", "t4", "cpu", "cuda"):
        assert name in message
    assert {"h100", "a100", "l4", "t4", "cpu", "cuda"} <= set(names("device")) <= set(known_devices())


def test_device_names_resolve():
    assert load_profile("H100").roofline.name == "h100"
    assert load_profile("cuda:0").kind == "cuda" if _has_cuda_profile() else True


def _has_cuda_profile() -> bool:
    try:
        load_profile("cuda")
    except Exception:
        return False
    return True
