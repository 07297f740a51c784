from __future__ import annotations

import pytest
import torch

from autogt.hardware._measure import GraphPool, MemoryCounter, batch_stats, measure_model, time_call
from autogt.models import ArchSpec, LayerSpec


def test_memory_counter_tracks_live_tensors_and_counts():
    x = torch.randn(256, 64)
    with MemoryCounter() as mc:
        y = x @ x.T  # 256 x 256 floats
        z = y.relu()
        del y, z
        w = x.sum()
    assert mc.peak == pytest.approx(2 * 256 * 256 * 4, rel=0.01)  # y and z alive together
    assert mc.current <= 64  # everything but the scalar was freed
    assert mc.ops == 3 and mc.flops >= 2 * 256 * 64 * 256
    assert w.numel() == 1


def test_time_call_median_positive():
    assert time_call(lambda: torch.randn(64, 64) @ torch.randn(64, 64), device=torch.device("cpu"), warmup=1,
                     repeats=3, clock="cpu") > 0


def test_graph_pool_picks_batches_of_the_bucket_size(molecules):
    pool = GraphPool(molecules)
    assert 1.9 < pool.degree < 2.6  # molecule-like density
    for nodes in (12, 24):
        b = pool.batch(pool.pick(16, nodes, seed=0), torch.device("cpu"))
        n, e, _ = batch_stats(b)
        assert abs(n - nodes) / nodes < 0.15 and b.num_graphs == 16
        assert b.pe_rw.shape == (b.num_nodes, 20)


def test_measure_model_memory_counts_parameters(molecules):
    pool = GraphPool(molecules)
    b = pool.batch(pool.pick(8, None, seed=1), torch.device("cpu"))
    task = pool.description()
    small = ArchSpec(hidden=16, layers=(LayerSpec(local="gcn"),))
    big = ArchSpec(hidden=128, layers=(LayerSpec(local="gcn"),) * 2)
    lat_s, mem_s = measure_model(small, b, task, device=torch.device("cpu"), warmup=1, repeats=2, clock="wall")
    lat_b, mem_b = measure_model(big, b, task, device=torch.device("cpu"), warmup=1, repeats=2, clock="wall")
    assert lat_s > 0 and lat_b > 0 and mem_b > mem_s > 0


@pytest.mark.gpu
def test_cuda_profile_tiny_grid(molecules):
    from autogt.hardware import Grid, predict_latency, profile

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    grid = Grid(width=(16, 64), heads=(1, 4), ffn=(32, 128), batch=(1, 16), nodes=(12, 24))
    prof = profile("cuda", grid=grid, blocks=("local:gcn", "attn:full", "ffn", "overhead"), data=molecules,
                   warmup=2, repeats=5, fit_samples=10)
    assert prof.kind == "cuda" and prof.measurement["clock"] == "cuda-events"
    assert "gpu_name" in prof.hardware
    spec = ArchSpec(hidden=32, layers=(LayerSpec(local="gcn", attn="full"),))
    assert predict_latency(spec, prof, batch=8, stats={"nodes_mean": 20.0, "edges_mean": 42.0}) > 0


@pytest.mark.gpu
def test_cuda_time_call_uses_events():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = torch.randn(512, 512, device="cuda")
    assert time_call(lambda: x @ x, device=torch.device("cuda"), warmup=2, repeats=5) > 0
