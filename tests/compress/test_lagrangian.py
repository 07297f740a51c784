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
