from __future__ import annotations

import pytest
import torch

from autogt.compress import CostModel, HardConcreteMasker, make_layout
from autogt.compress._train import Lagrangian, ramp
from autogt.models import ArchSpec, LayerSpec


def _run(task, target: float, steps: int, metric: str = "flops"):
    spec = ArchSpec(hidden=16, layers=(LayerSpec(local="gine", attn="full", heads=2, ffn=32),) * 2)
    layout = make_layout(spec, task)
    masker, cost, lag = HardConcreteMasker(layout, task), CostModel(layout, task, metric=metric), Lagrangian()
    opt_g = torch.optim.Adam(masker.parameters(), lr=0.1)
    opt_l = torch.optim.Adam(lag.parameters(), lr=0.05, maximize=True)
    s = torch.tensor(1.0)
    for step in range(steps):
        s = cost.ratio(masker.open_probs())
        loss = lag(s, ramp(step, steps // 2, target))
        opt_g.zero_grad()
        opt_l.zero_grad()
        loss.backward()
        opt_g.step()
        opt_l.step()
    return float(s.detach()), lag


@pytest.mark.parametrize("target", [0.3, 0.5, 0.7])
def test_lagrangian_drives_expected_flops_to_target(mol_task, target):
    s, lag = _run(mol_task, target, 300)
    assert s == pytest.approx(target, abs=0.02)
    assert float(lag.lambda2.detach()) > 0  # ascended


def test_params_target(mol_task):
    s, _ = _run(mol_task, 0.5, 300, metric="params")
    assert s == pytest.approx(0.5, abs=0.02)


def test_without_the_lagrangian_nothing_closes(mol_task):
    # the control: no multiplier ascent, no pull towards the target
    spec = ArchSpec(hidden=16, layers=(LayerSpec(local="gine", attn="full", heads=2, ffn=32),) * 2)
    layout = make_layout(spec, mol_task)
    masker, cost = HardConcreteMasker(layout, mol_task), CostModel(layout, mol_task)
    assert float(cost.ratio(masker.open_probs())) > 0.9


def test_ramp():
    assert ramp(0, 10, 0.5) == 1.0
    assert ramp(5, 10, 0.5) == pytest.approx(0.75)
    assert ramp(50, 10, 0.5) == 0.5
    assert ramp(3, 0, 0.4) == 0.4


def test_ramp_starts_at_the_initial_expected_ratio():
    assert ramp(0, 10, 0.5, start=0.96) == pytest.approx(0.96)
    assert ramp(10, 10, 0.5, start=0.96) == pytest.approx(0.5)


def _run_bounded(task, target: float, bound: float, steps: int = 300):
    """FLOPs to ``target`` with parameters bounded by ``bound`` (two Lagrangians, the second an inequality)."""
    spec = ArchSpec(hidden=16, layers=(LayerSpec(local="gine", attn="full", heads=2, ffn=32),) * 2)
    layout = make_layout(spec, task)
    masker = HardConcreteMasker(layout, task)
    costs = [CostModel(layout, task), CostModel(layout, task, metric="params")]
    lags = torch.nn.ModuleList([Lagrangian(), Lagrangian(bound=True)])
    opt_g = torch.optim.Adam(masker.parameters(), lr=0.1)
    opt_l = torch.optim.Adam(lags.parameters(), lr=0.05, maximize=True)
    for step in range(steps):
        p = masker.open_probs()
        ss = [c.ratio(p) for c in costs]
        loss = lags[0](ss[0], ramp(step, steps // 2, target)) + lags[1](ss[1], ramp(step, steps // 2, bound))
        opt_g.zero_grad()
        opt_l.zero_grad()
        loss.backward()
        opt_g.step()
        opt_l.step()
        for lag in lags:
            lag.project()
    return [float(s.detach()) for s in ss], lags


def test_a_bound_that_holds_changes_nothing_and_one_that_binds_is_met(mol_task):
    (flops, params), lags = _run_bounded(mol_task, 0.5, 0.95)
    assert flops == pytest.approx(0.5, abs=0.02) and params < 0.95
    assert float(lags[1].lambda1.detach()) == 0.0  # projected: a slack bound never pushes gates open
    free_params = _run_bounded(mol_task, 0.7, 1.0)[0][1]
    (flops, params), lags = _run_bounded(mol_task, 0.7, free_params - 0.15)
    assert params <= free_params - 0.15 + 0.02 and flops <= 0.7 + 0.02
    assert float(lags[1].lambda1.detach()) > 0


def test_bound_lagrangian_is_one_sided():
    lag = Lagrangian(bound=True)
    with torch.no_grad():
        lag.lambda1.fill_(-1.0)
        lag.lambda2.fill_(1.0)
    lag.project()
    assert float(lag.lambda1) == 0.0
    assert float(lag(torch.tensor(0.3), 0.5)) == 0.0  # satisfied: no quadratic pull either
    assert float(lag(torch.tensor(0.7), 0.5)) == pytest.approx(0.04)


def test_meet_target_meets_a_latency_bound_at_the_least_flops(mol_task):
    """With the target met and a latency bound exceeded, units close by latency saved per FLOP lost, not
    by score alone: the bound holds with more FLOPs kept than closing the lowest-scored units would keep."""
    from autogt.compress import GateValues, derive_spec
    from autogt.compress._train import meet_target

    spec = ArchSpec(hidden=32, layers=(LayerSpec(local="gine", attn="full", heads=4, ffn=64),) * 2)
    layout = make_layout(spec, mol_task, ("heads", "neurons"))
    flops = CostModel(layout, mol_task)
    latency = CostModel(layout, mol_task, metric="latency_ms", device="cpu", batch=256)
    raw = GateValues.ones(layout)
    scores = GateValues.ones(layout)
    for g in scores.layers:  # neurons score lowest: closing by score alone removes them first
        g.neurons = torch.linspace(0.0, 1.0, g.neurons.numel())
        g.heads = torch.linspace(2.0, 3.0, g.heads.numel())
    by_score, lat_a = meet_target(layout, raw.map(torch.clone), scores, latency, 0.8, tolerance=1.0)
    both, flops_b = meet_target(layout, raw.map(torch.clone), scores, [flops, latency], [1.0, 0.8], tolerance=1.0)
    lat_b = latency.exact(derive_spec(layout, both).spec) / latency.dense
    flops_a = flops.exact(derive_spec(layout, by_score).spec) / flops.dense
    assert lat_a <= 0.8 and lat_b <= 0.8
    assert flops_b > flops_a + 0.05
    assert sum(int((g.heads > 0).sum()) for g in both.layers) < 8  # heads went first


def test_meet_target_reopens_closed_blocks_when_it_overshot(mol_task):
    """Gates that closed for good during training can leave the mask far below the target; reopening then
    also considers whole blocks (a neuron of a closed FFN only counts once its FFN opens too)."""
    from autogt.compress import GateValues
    from autogt.compress._train import meet_target

    spec = ArchSpec(hidden=32, layers=(LayerSpec(local="gine", attn="full", heads=4, ffn=64),) * 2)
    layout = make_layout(spec, mol_task, ("heads", "neurons", "attn", "ffn"))
    flops = CostModel(layout, mol_task)
    raw = GateValues.ones(layout)
    for g in raw.layers:  # every FFN and attention block closed, fine gates too
        g.ffn, g.attn = torch.zeros(()), torch.zeros(())
        g.neurons, g.heads = torch.zeros(64), torch.zeros(4)
    scores = GateValues.ones(layout)
    start = meet_target(layout, raw.map(torch.clone), scores, flops, 1.0, tolerance=1.0)[1]  # nothing to do
    assert start < 0.7
    _values, ratio = meet_target(layout, raw.map(torch.clone), scores, flops, 0.7, tolerance=0.02)
    assert 0.7 - 0.07 <= ratio <= 0.7  # within one attention head (about 0.06 of this model's FLOPs)
