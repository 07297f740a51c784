"""Analytic parameter counts and FLOPs."""

from __future__ import annotations

import random

import pytest

from autogt.hardware.flops import count_flops, count_params
from autogt.models import ArchSpec, LayerSpec, build_model
from autogt.registry import names
from autogt.testing.layers import molecule_task, node_task

STATS = {"nodes_mean": 20.0, "edges_mean": 44.0, "nodes_sq_mean": 450.0}


def _random_spec(rng: random.Random) -> ArchSpec:
    n_layers = rng.randint(1, 4)
    layers = []
    for i in range(1, n_layers + 1):
        inputs = tuple(rng.sample(range(i), k=rng.randint(1, min(2, i)))) if rng.random() < 0.5 else (-1,)
        layers.append(LayerSpec(
            local=rng.choice(names("local")),
            attn=rng.choice(names("global")),
            heads=rng.choice([1, 2, 3]),
            head_dim=rng.choice([None, 3]),
            ffn=rng.choice([None, 0, 5]),
            dim=rng.choice([None, None, 4, 7]),
            norm=rng.choice(["batch", "layer", "none"]),
            act=rng.choice(["relu", "prelu", "gelu"]),
            residual=rng.random() < 0.6,
            inputs=inputs,
            local_out=rng.choice([0, 0, 3]),
        ))
    pe = rng.choice(["none", "rw", "lap"])
    output = "layer" if rng.random() < 0.2 else "head"
    spec = ArchSpec(
        hidden=rng.choice([6, 8]),
        layers=tuple(layers),
        pe=pe,
        pe_dim=3 if pe != "none" else 0,
        pe_hidden=rng.choice([0, 2]) if pe != "none" else 0,
        virtual_node=rng.random() < 0.3,
        pooling=rng.choice(["mean", "sum", "max", "attention"]),
        combine=rng.choice(["last", "concat", "sum", "mean"]),
        pre_layers=rng.randint(0, 2),
        post_layers=rng.randint(1, 3),
        node_encoder=rng.choice(["auto", "auto", "linear", "none"]),
        edge_encoder=rng.choice(["auto", "linear", "none"]),
    )
    return spec.replace(output="layer", combine="last", post_layers=1) if output == "layer" else spec


@pytest.mark.parametrize("seed", range(80))
def test_count_params_exact(seed):
    rng = random.Random(seed)
    task = molecule_task() if seed % 3 else {**node_task(), "edge_dim": rng.choice([0, 2])}
    spec = _random_spec(rng)
    model = build_model(spec, task)
    assert count_params(spec, task) == sum(p.numel() for p in model.parameters()), spec.to_json()
    assert count_flops(spec, STATS, task=task) > 0


def _attn_spec(hidden: int, attn: str = "full") -> ArchSpec:
    return ArchSpec(hidden=hidden, layers=(LayerSpec(local="gine", attn=attn, heads=4),) * 3, pe="rw", pe_dim=8)


def test_flops_monotone_in_hidden():
    task = molecule_task()
    flops = [count_flops(_attn_spec(h), STATS, task=task) for h in (16, 32, 64, 128)]
    assert flops == sorted(flops) and len(set(flops)) == 4
    params = [count_params(_attn_spec(h), task) for h in (16, 32, 64, 128)]
    assert params == sorted(params)


def _at(n: float, spec: ArchSpec) -> float:
    return count_flops(spec, {"nodes_mean": n, "edges_mean": 2 * n, "nodes_sq_mean": n * n}, task=molecule_task())


def _second_diff(spec: ArchSpec, n: float) -> float:
    return _at(n + 20, spec) - 2 * _at(n + 10, spec) + _at(n, spec)  # 200 b for f = c + a n + b n^2


def test_attention_flops_quadratic_in_n():
    spec = _attn_spec(32)
    assert _second_diff(spec, 10) > 0
    assert _second_diff(spec, 10) == pytest.approx(_second_diff(spec, 50))  # exactly quadratic
    assert count_flops(spec, {**STATS, "nodes_sq_mean": 2 * STATS["nodes_sq_mean"]}, task=molecule_task()) > \
        count_flops(spec, STATS, task=molecule_task())
    for linear in (_attn_spec(32, "performer"), ArchSpec(hidden=32, layers=(LayerSpec(local="gin"),))):
        assert _second_diff(linear, 10) == pytest.approx(0.0, abs=1e-9 * _at(30, linear))


def test_flops_inputs():
    task = molecule_task()
    spec = _attn_spec(16)
    from_desc = count_flops(spec, task)  # a Task.describe()-like dict with meta
    from_stats = count_flops(spec, task["meta"], task=task)
    assert from_desc == from_stats
    assert count_flops(spec, task, batch=8) == pytest.approx(8 * from_desc)
    assert count_flops(spec, STATS) > 0  # no task dims: defaults
