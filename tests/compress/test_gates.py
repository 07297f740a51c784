from __future__ import annotations

import math

import pytest
import torch

from autogt.compress import HardConcrete
from autogt.compress._gates import BETA, LIMIT_L, LIMIT_R, deterministic_gate, open_prob, sample_gate


def test_constants_follow_cofi():
    assert BETA == pytest.approx(2 / 3)
    assert (LIMIT_L, LIMIT_R) == (-0.1, 1.1)


@pytest.mark.parametrize("log_alpha", [-3.0, -1.0, 0.0, 0.7, 2.5])
def test_expected_l0_matches_monte_carlo(log_alpha):
    la = torch.full((200_000,), log_alpha)
    z = sample_gate(la, generator=torch.Generator().manual_seed(0))
    empirical = float((z > 0).float().mean())
    formula = float(open_prob(torch.tensor(log_alpha)))
    # P(z != 0) = sigmoid(log_alpha - beta * log(-l / r))
    assert formula == pytest.approx(1 / (1 + math.exp(-(log_alpha - BETA * math.log(0.1 / 1.1)))))
    assert empirical == pytest.approx(formula, abs=5e-3)


def test_samples_in_range_with_exact_zeros_and_ones():
    z = sample_gate(torch.zeros(50_000), generator=torch.Generator().manual_seed(1))
    assert float(z.min()) == 0.0 and float(z.max()) == 1.0
    assert bool(((z >= 0) & (z <= 1)).all())
    assert 0.05 < float((z == 0).float().mean()) < 0.5 and 0.05 < float((z == 1).float().mean()) < 0.5


def test_deterministic_values():
    la = torch.tensor([-10.0, math.log(1 / 11), 0.0, 2.0, 10.0])
    z = deterministic_gate(la)
    assert z[0] == 0.0 and z[-1] == 1.0
    assert float(z[1]) == pytest.approx(0.0, abs=1e-6)  # the keep threshold: sigmoid = 1/12
    assert float(z[2]) == pytest.approx(0.5)  # sigmoid(0) * 1.2 - 0.1
    assert float(z[3]) == pytest.approx(min(1.0, 1.2 / (1 + math.exp(-2.0)) - 0.1))
    gate = HardConcrete(5, init=0.0, init_std=0.0).eval()
    assert torch.equal(gate(), gate())  # no randomness at inference
    assert torch.allclose(gate(), torch.full((5,), 0.5))


def test_gradients_flow_to_log_alpha():
    gate = HardConcrete(8, init=0.0)
    (gate.sample().sum() + gate.open_prob().sum()).backward()
    assert gate.log_alpha.grad is not None and bool((gate.log_alpha.grad != 0).any())


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one gate"):
        HardConcrete(0)
    with pytest.raises(ValueError, match="stretch interval"):
        HardConcrete(2, l=0.1)


def test_mean_gate_matches_monte_carlo():
    from autogt.compress._gates import mean_gate

    la = torch.tensor([-2.0, 0.0, 1.5])
    mc = sample_gate(la.repeat(100_000, 1), generator=torch.Generator().manual_seed(3)).mean(0)
    assert torch.allclose(mean_gate(la, points=512), mc, atol=5e-3)


def test_expected_topk_keeps_the_expected_l0_count():
    from autogt.compress._gates import expected_topk

    la = torch.tensor([4.0, -4.0, 0.5, -1.0, -2.0, 3.0])
    k = round(float(open_prob(la).sum()))
    z = expected_topk(la)
    assert int((z > 0).sum()) == k
    kept = set(torch.topk(la, k).indices.tolist())
    assert {i for i, v in enumerate(z.tolist()) if v > 0} == kept  # the largest log_alpha stay
    assert bool(((z >= 0) & (z <= 1)).all()) and float(z[0]) == 1.0
    assert float(expected_topk(torch.tensor([-2.0]))[0]) == 0.0 and float(expected_topk(torch.tensor([-1.0]))[0]) > 0
