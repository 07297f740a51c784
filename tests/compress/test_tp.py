"""Torch-Pruning baselines produce a valid, smaller standard autogt model."""

from __future__ import annotations

import pytest
import torch

from autogt.compress import CostModel, make_layout
from autogt.compress._tp import read_spec, tp_prune
from autogt.hardware.flops import count_params
from autogt.models import build_model
from autogt.train import load_model


@pytest.mark.parametrize("importance", ["magnitude", "taylor"])
def test_tp_baseline_is_a_valid_smaller_model(importance, tiny_task, tiny_checkpoint):
    model, ckpt = load_model(tiny_checkpoint)
    spec = ckpt.spec
    cost = CostModel(make_layout(spec, tiny_task, ()), tiny_task)
    new_spec, new_model = tp_prune(model, spec, tiny_task, cost, 0.6, importance=importance, steps=20)
    assert cost.exact(new_spec) / cost.dense <= 0.6
    assert sum(p.numel() for p in new_model.parameters()) == count_params(new_spec, tiny_task)
    heads = [layer.heads for layer in new_spec.layers]
    ffns = [layer.ffn for layer in new_spec.layers]
    assert all(h >= 1 for h in heads) and all(f >= 1 for f in ffns)
    assert sum(heads) < sum(layer.heads for layer in spec.layers) or sum(ffns) < 3 * 32
    rebuilt = build_model(new_spec, tiny_task)
    rebuilt.load_state_dict(new_model.state_dict(), strict=True)
    from torch_geometric.data import Batch

    batch = Batch.from_data_list(tiny_task.graphs[:8])
    with torch.no_grad():
        out = rebuilt.eval()(batch)
    assert torch.isfinite(out).all()
    assert read_spec(rebuilt, spec) == new_spec


def test_tp_zero_heads_never(tiny_task, tiny_checkpoint):
    model, ckpt = load_model(tiny_checkpoint)
    cost = CostModel(make_layout(ckpt.spec, tiny_task, ()), tiny_task)
    new_spec, _ = tp_prune(model, ckpt.spec, tiny_task, cost, 0.05, steps=10)  # unreachable: stops at the floor
    assert all(layer.heads >= 1 and layer.ffn >= 1 for layer in new_spec.layers)


def test_tp_baseline_on_a_gps_model_with_categorical_encoders_and_concatenated_pe(tiny_task):
    """The built-in ``gps`` layout (atom/bond embeddings, RWSE concatenated to the atom encoding) traces in
    Torch-Pruning's dependency graph (a regression: a fused encoder once fed it a concat of parameters)."""
    from autogt.models import ArchSpec, LayerSpec
    from autogt.train.loop import attach_pe

    spec = ArchSpec(hidden=16, layers=(LayerSpec(local="gine", attn="full", heads=2, ffn=32),) * 2, pe="rw",
                    pe_dim=4, pe_hidden=4, batch_size=16, post_layers=2)
    task = attach_pe(tiny_task, spec)
    model = build_model(spec, task)
    cost = CostModel(make_layout(spec, task, ()), task)
    new_spec, new_model = tp_prune(model, spec, task, cost, 0.6, importance="magnitude", steps=5)
    assert cost.exact(new_spec) / cost.dense <= 0.6
    assert sum(p.numel() for p in new_model.parameters()) == count_params(new_spec, task)
