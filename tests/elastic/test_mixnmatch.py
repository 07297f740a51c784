from __future__ import annotations

import itertools

import pytest
from elastic_helpers import tiny_spec

from autogt.elastic import (
    Candidate,
    CostBudget,
    CostModel,
    ElasticError,
    Scorer,
    heuristic_choice,
    least_slope_family,
    mix_n_match,
    pareto_front,
    parse_budgets,
)
from autogt.train import load_model


def _non_decreasing(choice):
    return all(a <= b for a, b in itertools.pairwise(choice))


def test_parse_budgets():
    assert parse_budgets("flops=0.5") == [CostBudget("flops", 0.5, True)]
    assert parse_budgets("params=25%,50%,75%") == [CostBudget("params", v, True) for v in (0.25, 0.5, 0.75)]
    assert parse_budgets("latency_ms=2") == [CostBudget("latency_ms", 2.0, False)]
    assert parse_budgets("params=20000") == [CostBudget("params", 20000.0, False)]
    assert str(CostBudget("flops", 0.5, True)) == "flops=50%"
    for bad, match in (("speed=0.5", "unknown cost"), ("flops=abc", "not a number"), ("0.5", "no KEY"),
                       ("flops=0", "must be > 0"), ("", "none given")):
        with pytest.raises(ElasticError, match=match):
            parse_budgets(bad)


def test_least_slope_family_is_ordered_non_decreasing_and_least_slope():
    fam = least_slope_family(4, 4)
    assert len(fam) == 3 * 4 + 1 and fam[0] == (0,) * 4 and fam[-1] == (3,) * 4
    for a, b in itertools.pairwise(fam):
        assert _non_decreasing(a) and _non_decreasing(b)
        assert max(a) - min(a) <= 1  # least slope: at most one step across depth
        assert sum(b) - sum(a) == 1  # each member adds one granularity step to one layer


@pytest.mark.parametrize("key, device", [("params", None), ("flops", None), ("latency_ms", "cpu")])
def test_heuristic_respects_budget_and_is_monotone(bin_task, key, device):
    costs = CostModel(tiny_spec(), bin_task.describe(), device)
    full = costs.value(None, key)
    fam_costs = [costs.value(c, key) for c in least_slope_family(3, 4)]
    assert fam_costs == sorted(fam_costs)  # cost grows along the family
    prev = None
    lo = costs.value(0, key) / full
    for frac in [lo + (1 - lo) * t for t in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)]:
        choice = heuristic_choice(lambda c: costs.value(c, key), 3, 4, frac * full)
        assert choice is not None and _non_decreasing(choice)
        assert costs.value(choice, key) <= frac * full * (1 + 1e-9)
        if prev is not None:
            assert costs.value(choice, key) >= costs.value(prev, key)
        prev = choice
    assert heuristic_choice(lambda c: costs.value(c, key), 3, 4, 0.99 * costs.value(0, key)) is None


def test_pareto_front():
    cands = [Candidate((0,), 1.0, 0.1, 0.6), Candidate((1,), 2.0, 0.2, 0.55), Candidate((2,), 3.0, 0.3, 0.7),
             Candidate((3,), 3.0, 0.3, 0.65), Candidate((4,), 4.0, 0.4, None)]
    assert [c.choice for c in pareto_front(cands, maximize=True)] == [(0,), (2,)]
    assert [c.choice for c in pareto_front(cands, maximize=False)] == [(0,), (1,)]


@pytest.fixture(scope="module")
def trained(elastic_ckpt, bin_task):
    model, ckpt = load_model(elastic_ckpt)
    scorer = Scorer.for_task(bin_task, ckpt.spec)
    return model, scorer


def test_mix_n_match_budgets_pareto_and_uniform(trained, bin_task):
    model, scorer = trained
    budgets = [f"flops={p}%" for p in (56, 60, 64, 68, 72, 76, 80, 85, 90, 95, 100)]
    res = mix_n_match(model, budgets, task=bin_task, scorer=scorer)
    assert len(res.picks) == len(budgets) and res.key == "flops"
    for budget, pick in zip(res.budgets, res.picks, strict=True):
        assert pick.cost <= budget.limit(res.full_cost) * (1 + 1e-9)
        uniform_within = [c for c in res.candidates if c.source == "uniform" and c.cost <= pick.cost * (1 + 1e-9)]
        assert all(pick.val >= u.val for u in uniform_within)  # on or above the uniform points
    vals = [p.val for p in res.picks]
    assert vals == sorted(vals)  # a larger budget is never worse
    front = res.pareto
    assert [c.cost for c in front] == sorted(c.cost for c in front)
    assert all(b.val > a.val for a, b in itertools.pairwise(front))
    assert {c.source for c in res.candidates} >= {"uniform", "heuristic"}


def test_mix_n_match_refinements(trained, bin_task):
    model, scorer = trained
    base = mix_n_match(model, "params=80%", task=bin_task, scorer=scorer)
    exact = mix_n_match(model, "params=80%", task=bin_task, scorer=scorer, refine="exact", max_evals=6)
    evo = mix_n_match(model, "params=80%", task=bin_task, scorer=scorer, refine="evolution", max_evals=6, seed=1)
    for res in (exact, evo):
        assert res.picks[0].val >= base.picks[0].val
        assert len([c for c in res.candidates if c.val is not None]) > len(base.candidates)
        assert res.picks[0].cost <= 0.8 * res.full_cost * (1 + 1e-9)


def test_mix_n_match_without_data_uses_the_heuristic(trained, bin_task):
    model, _ = trained
    res = mix_n_match(model, "params=70%,90%", task=bin_task.describe())
    assert all(p.val is None and p.source in ("heuristic", "uniform") for p in res.picks)
    assert all(_non_decreasing(p.choice) for p in res.picks)
    exact = mix_n_match(model, "params=70%", task=bin_task.describe(), refine="exact")
    assert exact.picks[0].cost >= res.picks[0].cost  # exact uses the budget at least as well


def test_mix_n_match_errors(trained, bin_task):
    model, _ = trained
    desc = bin_task.describe()
    with pytest.raises(ElasticError, match="below the smallest sub-model"):
        mix_n_match(model, "params=10%", task=desc)
    with pytest.raises(ElasticError, match="one cost"):
        mix_n_match(model, ["params=90%", "flops=90%"], task=desc)
    with pytest.raises(ElasticError, match="device profile"):
        mix_n_match(model, "latency_ms=5", task=desc)
    with pytest.raises(ElasticError, match="validation data"):
        mix_n_match(model, "params=90%", task=desc, refine="evolution")
    with pytest.raises(ElasticError, match="refine"):
        mix_n_match(model, "params=90%", task=desc, refine="random")
