"""Priors from the bank and the prior-aware sampler (an Optuna sampler wrapping TPE)."""

from __future__ import annotations

import optuna
import pytest

from autogt.bank import Bank, BankTask, Prior, build_prior, reliability
from autogt.bank._nasbench import dataset_meta, import_nasbench, records_for, task_name
from autogt.controllers.prior import MODE_ATTR, PriorSampler, make_prior_controller, prior_for, prior_weight
from autogt.controllers.tabular import TabularEvaluator
from autogt.registry import get
from autogt.spaces import distributions, nasbench
from autogt.testing.bank import spec_number

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _space_objective(trial):
    op = trial.suggest_categorical("op", ["gcn", "gin", "gat", "sage"])
    width = trial.suggest_int("width", 16, 256, log=True)
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    return {"gcn": 0.2, "gin": 0.9, "gat": 0.5, "sage": 0.4}[op] + width / 1000 - abs(lr - 0.01)


def test_build_prior_weights_votes_by_similarity(bank):
    for name, best in (("close", "gin"), ("far", "gat")):
        for i, op in enumerate(["gcn", "gin", "gat", "sage"]):
            bank.add_result(name, spec_number(i), {"val": 1.0 if op == best else 0.1 * i}, space="toy",
                            params={"op": op, "width": 32})
    records = {n: bank.results(n) for n in ("close", "far")}
    prior = build_prior([("close", 0.9), ("far", 0.1)], records, lambda d: d.params, top=1, n_designs=3,
                        min_distance=1, aggregate="mean", rank_by="val")
    assert prior.dims["op"] == pytest.approx({"gin": 0.9, "gat": 0.1})
    assert prior.dims["width"] == {32: 1.0}
    assert prior.designs[0] == {"op": "gin", "width": 32}
    assert len(prior.designs) == 3 and len({d["op"] for d in prior.designs}) == 3
    assert prior.tasks == (("close", 0.9), ("far", 0.1))
    # proposed designs differ in at least min_distance parameters (here only "op" varies)
    assert len(build_prior([("close", 1.0)], records, lambda d: d.params, min_distance=2).designs) == 1
    with pytest.raises(ValueError, match="aggregate"):
        build_prior([("close", 1.0)], records, lambda d: d.params, aggregate="median")
    # designs that do not fit the new space are ignored
    only_gat = build_prior([("close", 1.0)], records, lambda d: d.params if d.params["op"] == "gat" else None, top=2)
    assert list(only_gat.dims["op"]) == ["gat"] and only_gat.designs == ({"op": "gat", "width": 32},)
    assert build_prior([], {}, lambda d: d.params).empty


def test_reliability_weighs_tasks_whose_validation_ranking_predicts_test(bank):
    ops = ["gcn", "gin", "gat", "sage", "gine", "pna", "mlp", "cheb", "arma", "tag"]
    for i, op in enumerate(ops):  # "noisy": validation ranks the designs against the test ranking
        bank.add_result("noisy", spec_number(i), {"val": i / 10, "test": 1 - i / 10}, space="toy", params={"op": op})
        bank.add_result("clean", spec_number(i), {"val": 1 - i / 10, "test": 0.9 - i / 10}, space="toy",
                        params={"op": op})
    records = {n: bank.results(n) for n in ("noisy", "clean")}
    assert reliability(records["clean"]) == pytest.approx(1.0)
    assert reliability(records["noisy"]) == 0.0
    assert reliability(records["noisy"][:5]) == 1.0  # too few results: no evidence against the task
    similar = [("noisy", 0.9), ("clean", 0.5)]
    prior = build_prior(similar, records, lambda d: d.params, top=1, n_designs=1, rank_by="val")
    assert prior.dims["op"] == {"gcn": 1.0} and prior.designs[0] == {"op": "gcn"}  # clean's best
    assert prior.reliability == pytest.approx({"noisy": 0.0, "clean": 1.0})
    assert prior.tasks == (("noisy", 0.9), ("clean", 0.5))  # the report keeps the similarities
    plain = build_prior(similar, records, lambda d: d.params, top=1, n_designs=1, rank_by="val",
                        weigh_reliability=False)
    assert plain.dims["op"] == pytest.approx({"tag": 0.9 / 1.4, "gcn": 0.5 / 1.4})  # noisy's best val wins
    assert plain.to_dict()["reliability"] == {"noisy": 1.0, "clean": 1.0}


def test_prior_for_picks_the_k_tasks_with_the_largest_weight(bank):
    def desc(name, nodes):
        return {"name": name, "level": "graph", "kind": "binary", "metric": "rocauc",
                "meta": {"nodes_mean": nodes, "edges_mean": 2 * nodes}}

    for name, nodes in (("near", 25.0), ("middle", 40.0), ("far", 400.0)):
        bank.add_task(desc(name, nodes))
    ops = ["gcn", "gin", "gat", "sage", "gine", "pna", "mlp", "cheb", "arma", "tag"]
    for i, op in enumerate(ops):
        for name, sign in (("near", -1), ("middle", 1), ("far", 1)):  # "near" is similar but unreliable
            bank.add_result(name, spec_number(i), {"val": i / 10, "test": 0.5 + sign * i / 20}, space="toy",
                            params={"op": op})
    query = desc("new", 24.0)
    assert [t.name for t, _ in bank.similar(query, k=1)] == ["near"]
    prior = prior_for(query, bank, None, k=1, to_params=lambda d: d.params)
    assert [n for n, _ in prior.tasks] == ["middle"] and prior.designs[0] == {"op": "tag"}
    plain = prior_for(query, bank, None, k=1, to_params=lambda d: d.params, weigh_reliability=False)
    assert [n for n, _ in plain.tasks] == ["near"]


def test_prior_weight_decays_and_drops_on_disagreement():
    ws = [prior_weight(n, w0=0.9, c=10) for n in (0, 5, 10, 40)]
    assert ws == sorted(ws, reverse=True) and ws[0] == 0.9 and ws[-1] < 0.2
    agree = prior_weight(6, [0.9, 0.8, 0.85], [0.5, 0.4, 0.6])
    undecided = prior_weight(6, [0.5], [0.5, 0.4, 0.6])
    disagree = prior_weight(6, [0.5, 0.4, 0.45], [0.8, 0.9, 0.7])
    assert agree == undecided == prior_weight(6) > disagree == 0.0
    assert prior_weight(6, [0.1, 0.2], [0.5, 0.4], maximize=False) == prior_weight(6)  # minimising: prior wins


def test_sampler_tries_designs_first_and_samples_the_prior():
    prior = Prior(dims={"op": {"gin": 0.8, "gat": 0.2}, "width": {128: 1.0}},
                  designs=({"op": "gin", "width": 200, "lr": 0.01}, {"op": "gat", "width": 64, "lr": 0.01}))
    sampler = PriorSampler(prior, optuna.samplers.TPESampler(seed=0), w0=1.0, c=1e9, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_space_objective, n_trials=12)
    t = study.trials
    assert t[0].params == {"op": "gin", "width": 200, "lr": 0.01}
    assert t[1].params == {"op": "gat", "width": 64, "lr": 0.01}
    assert all(tr.system_attrs[MODE_ATTR] == "prior" for tr in t)
    later = t[2:]
    assert all(tr.params["op"] in ("gin", "gat", "gcn", "sage") for tr in later)
    assert sum(tr.params["op"] == "gin" for tr in later) >= 5
    assert all(tr.params["width"] == 128 for tr in later)
    assert len({(tr.params["op"], tr.params["width"]) for tr in t}) >= 3


def test_enqueued_trials_are_marked_fixed():
    prior = Prior(dims={"op": {"gin": 1.0}})
    study = optuna.create_study(direction="maximize", sampler=PriorSampler(prior, seed=0, w0=1.0, c=1e9))
    study.enqueue_trial({"op": "gcn", "width": 16, "lr": 0.001})
    study.optimize(_space_objective, n_trials=3)
    assert [t.system_attrs[MODE_ATTR] for t in study.trials] == ["fixed", "prior", "prior"]
    assert study.trials[0].params["op"] == "gcn"


def test_empty_prior_is_exactly_the_base_sampler():
    plain = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=3), direction="maximize")
    plain.optimize(_space_objective, n_trials=15)
    wrapped = optuna.create_study(sampler=PriorSampler(Prior(), optuna.samplers.TPESampler(seed=3), seed=3),
                                  direction="maximize")
    wrapped.optimize(_space_objective, n_trials=15)
    assert [t.params for t in plain.trials] == [t.params for t in wrapped.trials]
    assert all(t.system_attrs[MODE_ATTR] == "base" for t in wrapped.trials)


def test_empty_bank_gives_an_empty_prior(bank):
    prior = prior_for(BankTask(name="new"), bank, nasbench.space_for("cora"))
    assert prior.empty and prior.tasks == ()


def test_misleading_prior_costs_little():
    """A prior that points at the worst value: its weight collapses and the search recovers."""
    bad = Prior(dims={"op": {"gcn": 1.0}}, designs=tuple({"op": "gcn", "width": w, "lr": 0.01} for w in (16, 20, 24)))
    found = []
    for seed in range(3):
        sampler = PriorSampler(bad, optuna.samplers.TPESampler(seed=seed), seed=seed)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(_space_objective, n_trials=30)
        found.append(study.best_value)
        assert sampler.weight(study) < 0.1
        modes = [t.system_attrs[MODE_ATTR] for t in study.trials]
        assert modes[-10:].count("prior") <= 2
    assert min(found) > 0.9  # gin was found anyway


@pytest.fixture(scope="module")
def nb_bank(tmp_path_factory):
    """Proteins (all 2,021 archs) and the first 3,000 architectures of citeseer."""
    bank = Bank(tmp_path_factory.mktemp("nb") / "nb.db", shipped=False)
    import_nasbench(bank, ["proteins"])
    subset = {k: nasbench.decode_hash(k) for k in sorted(nasbench.bench("citeseer"))[:3000]}
    bank.add_task(dataset_meta("citeseer"))
    bank.add_records([], records_for("citeseer", archs=subset))
    return bank


def test_prior_for_nasbench_and_search(nb_bank):
    space = nasbench.space_for("cora")
    prior = prior_for(dataset_meta("cora"), nb_bank, space, k=2)
    assert [n for n, _ in prior.tasks] == [task_name("citeseer"), task_name("proteins")]
    dists = distributions(space)
    assert set(prior.dims) == set(dists)
    assert all(v in dists[k].choices for k, d in prior.dims.items() for v in d)
    assert 1 <= len(prior.designs) <= 10
    for design in prior.designs:
        space.to_spec(design)  # valid parameters of the new space
    # the registered controller runs a tabular search with it
    factory = get("controller", "prior")
    assert factory is make_prior_controller
    study = optuna.create_study(direction="maximize")
    controller = factory(space, study, seed=0, prior=prior)
    evaluator = TabularEvaluator("cora")
    for _ in range(12):
        proposal = controller.ask()
        controller.tell(proposal.trial_number, evaluator(proposal.spec))
    assert study.trials[0].params == prior.designs[0]
    assert len(study.trials) == 12 and study.best_value > 0.7


def test_search_takes_an_open_bank_and_reads_only_it(nb_bank, tmp_path):
    from autogt.controllers import search

    result = search("nasbench:cora", "nasbench_graph", trials=3, prior="bank", bank=nb_bank, out=tmp_path / "s",
                    progress=False, report=False)
    used = [name for name, _ in result.prior["tasks"]]
    assert used and set(used) <= {task_name("citeseer"), task_name("proteins")}  # no shipped molecular task
