"""The latency surrogate of ``CostModel``: fitted around the dense model, re-fitted around a mask."""

from __future__ import annotations

import pytest
import torch

from autogt.compress import CostModel, GateValues, derive_spec, make_layout
from autogt.compress._remove import finalize
from autogt.models import ArchSpec, LayerSpec


def _setup(task):
    spec = ArchSpec(hidden=64, layers=(LayerSpec(local="gine", attn="full", heads=4, ffn=128),) * 3)
    layout = make_layout(spec, task)
    return layout, CostModel(layout, task, metric="latency_ms", device="cpu", batch=256)


def _small_mask(layout, seed: int, keep: float) -> GateValues:
    """Random 0/1 mask keeping about ``keep`` of the heads, neurons and hidden channels, three blocks closed."""
    g = torch.Generator().manual_seed(seed)
    v = GateValues.ones(layout)
    for lg in v.layers:
        lg.heads = (torch.rand(lg.heads.shape, generator=g) < keep).float()
        lg.heads[0] = 1.0
        lg.neurons = (torch.rand(lg.neurons.shape, generator=g) < keep).float()
        lg.neurons[0] = 1.0
    v.hidden = (torch.rand(v.hidden.shape, generator=g) < keep).float()
    v.hidden[0] = 1.0
    v.layers[0].ffn, v.layers[1].local, v.layers[2].attn = torch.zeros(()), torch.zeros(()), torch.zeros(())
    return v


def _exact(cost, layout, values) -> float:
    return cost.exact(derive_spec(layout, finalize(layout, values)).spec)


def test_dense_fit_is_exact_at_the_dense_model(mol_task):
    layout, cost = _setup(mol_task)
    ones = GateValues.ones(layout)
    assert float(cost.expected(ones)) == pytest.approx(_exact(cost, layout, ones), rel=1e-6)
    assert _exact(cost, layout, ones) == pytest.approx(cost.dense, rel=1e-6)


def test_refit_is_exact_at_its_centre_and_closer_nearby(mol_task):
    layout, cost = _setup(mol_task)
    centre = _small_mask(layout, 0, 0.35)
    before = abs(float(cost.expected(centre)) - _exact(cost, layout, centre))
    cost.relinearize(centre)
    assert abs(float(cost.expected(centre)) - _exact(cost, layout, centre)) < 1e-6 * cost.dense
    assert before > 0.3 * _exact(cost, layout, centre)  # the dense fit is far off for a small model
    errs_dense, errs_refit = [], []
    fresh = CostModel(layout, mol_task, metric="latency_ms", device="cpu", batch=256)
    for seed in range(1, 6):  # other small models of about the same size
        m = _small_mask(layout, seed, 0.3)
        exact = _exact(cost, layout, m)
        errs_refit.append(abs(float(cost.expected(m)) - exact) / exact)
        errs_dense.append(abs(float(fresh.expected(m)) - exact) / exact)
    assert sum(errs_refit) < 0.5 * sum(errs_dense)
    assert cost.dense == fresh.dense  # ratios stay relative to the dense model


def test_refit_keeps_the_previous_coefficient_of_a_closed_block(mol_task):
    layout, cost = _setup(mol_task)
    dense_coef = dict(cost._lat[1])
    centre = GateValues.ones(layout)
    centre.layers[1].attn = torch.zeros(())
    cost.relinearize(centre)
    assert cost._lat[1]["1.attn"] == dense_coef["1.attn"]  # nothing to remove: the dense estimate stays
    opened = centre.map(torch.clone)
    opened.layers[1].attn = torch.ones(())
    assert float(cost.expected(opened)) > float(cost.expected(centre))  # reopening a block still costs time


def test_other_metrics_ignore_relinearize(mol_task):
    spec = ArchSpec(hidden=16, layers=(LayerSpec(local="gine", attn="full", heads=2, ffn=32),) * 2)
    layout = make_layout(spec, mol_task)
    cost = CostModel(layout, mol_task)
    m = GateValues.ones(layout)
    m.layers[0].attn = torch.zeros(())
    before = float(cost.expected(m))
    cost.relinearize(m)
    assert float(cost.expected(m)) == before
