"""Optimisers and learning-rate schedules: ``make_optimizer`` (fused where possible) and ``ArchSpec.lr_schedule``."""

from __future__ import annotations

import pytest
import torch
from train_standins import PooledMLP

from autogt.models.spec import ArchSpec, SpecError
from autogt.train import Budget, evaluate
from autogt.train.loop import LRSchedule


def _rates(kind: str, vals: list[float | None], *, patience: int = 0, maximize: bool = False) -> list[float]:
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=0.1)
    schedule = LRSchedule(ArchSpec(lr=0.1, lr_schedule=kind), opt, epochs=len(vals), patience=patience,
                          maximize=maximize)
    out = []
    for v in vals:
        w.sum().backward()
        opt.step()
        schedule.step(v)
        out.append(opt.param_groups[0]["lr"])
    return out


def test_constant_and_cosine():
    assert _rates("constant", [1.0] * 5) == [0.1] * 5
    cos = _rates("cosine", [None] * 10)
    assert all(a > b for a, b in zip(cos[:-1], cos[1:], strict=True))  # strictly decreasing ...
    assert cos[-1] == pytest.approx(0.001)  # ... down to lr / 100 at the last epoch


def test_plateau_halves_after_a_third_of_the_patience_and_ignores_unvalidated_epochs():
    # patience 9 -> 3 validated epochs without improvement; minimising
    rates = _rates("plateau", [1.0, 0.9, 0.95, 0.95, None, 0.95, 0.95, 0.5], patience=9)
    assert rates[:6] == [0.1] * 6
    assert rates[6] == pytest.approx(0.05)  # 4th validated epoch without improvement on 0.9
    up = _rates("plateau", [0.5, 0.6, 0.7, 0.8, 0.9], patience=3, maximize=True)
    assert up == [0.1] * 5  # improving when maximising: never cut


def test_unknown_schedule_is_a_spec_error_naming_the_choices():
    with pytest.raises(SpecError, match="lr_schedule.*cosine"):
        ArchSpec(lr_schedule="step")
    assert "lr_schedule" not in ArchSpec().to_dict()  # default omitted: existing hashes unchanged


def test_evaluate_applies_the_schedule(regression_task):
    budget = Budget(epochs=6, patience=0, latency_repeats=0)

    def run(kind: str) -> list[float]:
        torch.manual_seed(0)
        return evaluate(ArchSpec(hidden=16, lr=0.05, batch_size=16, lr_schedule=kind), regression_task,
                        budget, model=PooledMLP(4, 1)).history

    constant, cosine = run("constant"), run("cosine")
    assert constant[0] == cosine[0]  # first epoch at the same rate
    assert constant[1:] != cosine[1:]  # then the rates differ


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_make_optimizer_is_fused_and_steps_like_the_default(optimizer):
    from autogt.train.loop import make_optimizer

    spec = ArchSpec(optimizer=optimizer, lr=0.01, weight_decay=0.01)
    torch.manual_seed(0)
    a = torch.nn.Linear(8, 4)
    b = torch.nn.Linear(8, 4)
    b.load_state_dict(a.state_dict())
    fused = make_optimizer(spec, a.parameters())
    assert fused.defaults["fused"] is True
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    extra = {"momentum": spec.momentum} if optimizer == "sgd" else {}
    plain = kinds[optimizer](b.parameters(), lr=0.01, weight_decay=0.01, **extra)
    x = torch.randn(16, 8)
    for _ in range(5):
        for model, opt in ((a, fused), (b, plain)):
            opt.zero_grad()
            model(x).square().sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5)
