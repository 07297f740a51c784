"""search(): storage, budget, resume, stale trials, pruning, constraints, multi-objective, outputs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

from autogt.controllers import SearchError, join, report, search
from autogt.controllers.search import OWNER, RETRY_OF, recover_stale_trials, spent_trials
from autogt.spaces import load_space, parse_space
from autogt.train.result import EvalResult

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _load(result):
    return optuna.load_study(study_name=result.study, storage=result.storage)


def test_tabular_search_end_to_end(tmp_path):
    r = search("nasbench:cora", "nasbench_graph", trials=12, controller="tpe", out=tmp_path, progress=False)
    assert r.trials == 12 and r.storage == f"sqlite:///{(tmp_path / 'study.db').resolve()}"
    assert r.checkpoint is None and r.best is not None and r.pareto == (r.best,)
    study = _load(r)
    assert study.user_attrs["data"] == "nasbench:cora"
    assert study.user_attrs["space"] == "nasbench_graph"
    assert study.user_attrs["controller"] == "tpe" and study.user_attrs["objectives"] == ["metric"]
    assert study.user_attrs["seed"] == 0 and study.user_attrs["epochs"] == 100
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert r.best.val == max(t.value for t in complete)
    for t in study.trials:
        assert json.loads(t.user_attrs["spec"])["combine"] == "concat"
        assert t.user_attrs["metrics"]["status"] in ("ok", "failed")
        assert t.user_attrs[OWNER]["pid"] > 0
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [int(row["number"]) for row in rows] == list(range(12))
    assert {"param:link", "param:layer1.local", "val", "test", "spec"} <= set(rows[0])
    page = (tmp_path / "report.html").read_text()
    assert page.count("plotly.js v") == 1  # plotly embedded once, inline
    for section in ("Optimisation history", "Parameter importances", "Best specs", "nasbench:cora"):
        assert section in page
    d = r.to_dict()
    assert {"study", "storage", "trials", "best", "pareto", "checkpoint", "report"} <= set(d)
    assert {"spec", "val", "test"} <= set(d["best"])


def test_rerun_resumes_and_only_runs_the_missing_trials(tmp_path):
    first = search("nasbench:pubmed", "nasbench_graph", trials=5, controller="random", out=tmp_path, progress=False)
    again = search("nasbench:pubmed", "nasbench_graph", trials=5, controller="random", out=tmp_path,
                   progress=False)
    assert first.study == again.study and again.trials == 5 and len(_load(again).trials) == 5
    more = search("nasbench:pubmed", "nasbench_graph", trials=9, controller="random", out=tmp_path, progress=False)
    study = _load(more)
    assert more.trials == 9 and [t.number for t in study.trials] == list(range(9))
    # the resumed random sampler does not replay the first draws
    first_params = [t.params for t in study.trials[:5]]
    assert all(t.params not in first_params for t in study.trials[5:])


def test_resuming_with_other_data_or_space_is_refused(tmp_path):
    search("nasbench:cora", "nasbench_graph", trials=2, controller="random", out=tmp_path, progress=False,
           study="s", report=False)
    with pytest.raises(SearchError, match="started with data='nasbench:cora'"):
        search("nasbench:citeseer", "nasbench_graph", trials=2, controller="random", out=tmp_path, progress=False,
               study="s", report=False)


def test_trials_left_running_by_a_dead_process_are_failed_and_rerun(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    r = search("nasbench:cora", "nasbench_graph", trials=3, controller="random", out=tmp_path, storage=storage,
               study="s", progress=False, report=False)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    study = _load(r)
    params = {"link": "0-1-2-3", **{f"layer{i}.local": "gcn" for i in range(1, 5)}}
    study.enqueue_trial(params)
    orphan = study.ask()
    load_space("nasbench_graph").sample(orphan)  # a half-run trial: parameters suggested, never told
    import socket

    orphan.set_user_attr(OWNER, {"host": socket.gethostname(), "pid": int(dead.stdout), "start": "x"})
    alive = study.ask()  # a running trial of a live process (this one) is left alone
    load_space("nasbench_graph").sample(alive)
    alive.set_user_attr(OWNER, {"host": socket.gethostname(), "pid": __import__("os").getpid(), "start": ""})
    assert recover_stale_trials(study) == [orphan.number]
    states = {t.number: t.state for t in study.get_trials()}
    assert states[orphan.number] == TrialState.FAIL and states[alive.number] == TrialState.RUNNING
    study.tell(alive, state=TrialState.FAIL)  # tidy: a real failure, counted
    assert spent_trials(study) == 4  # 3 done + the real failure; the orphan is not counted
    done = search("nasbench:cora", "nasbench_graph", trials=6, controller="random", out=tmp_path, storage=storage,
                  study="s", progress=False, report=False)
    trials = _load(done).get_trials()
    retries = [t for t in trials if t.user_attrs.get(RETRY_OF) == orphan.number]
    assert len(retries) == 1 and retries[0].params == params and retries[0].state == TrialState.COMPLETE
    assert done.trials == 6 and spent_trials(_load(done)) == 6
    assert len([t for t in trials if t.state != TrialState.FAIL]) == 5


def test_keyboard_interrupt_fails_the_trial_and_a_rerun_repeats_it(tmp_path):
    calls = []

    def interrupted(spec, task, budget, **kw):
        calls.append(spec)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return EvalResult(status="ok", metric="accuracy", val=0.5 + len(calls) / 100)

    with pytest.raises(KeyboardInterrupt):
        search("nasbench:cora", "nasbench_graph", trials=5, controller="random", out=tmp_path, progress=False,
               evaluator=interrupted, report=False)
    r = search("nasbench:cora", "nasbench_graph", trials=5, controller="random", out=tmp_path, progress=False,
               evaluator=lambda spec, *a, **k: EvalResult(status="ok", metric="accuracy", val=0.4), report=False)
    trials = _load(r).get_trials()
    assert r.trials == 5 and sum(t.state == TrialState.COMPLETE for t in trials) == 5
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(failed) == 1 and failed[0].number == 2
    retry = [t for t in trials if t.user_attrs.get(RETRY_OF) == 2]
    assert len(retry) == 1 and retry[0].params == failed[0].params


def test_failures_count_against_the_budget(tmp_path):
    def flaky(spec, task, budget, **kw):
        if spec.layers[0].local == "gcn":
            raise RuntimeError("boom")
        return EvalResult(status="ok", metric="accuracy", val=0.5)

    r = search("nasbench:cora", "nasbench_graph", trials=25, controller="random", out=tmp_path, progress=False,
               evaluator=flaky, report=False)
    trials = _load(r).get_trials()
    assert len(trials) == 25 == r.trials
    boom = [t for t in trials if t.state == TrialState.FAIL]
    assert boom and all(t.user_attrs["metrics"]["reason"] == "RuntimeError: boom" for t in boom)


@pytest.mark.parametrize("pruner", ["median", "hyperband"])
def test_pruner_stops_bad_trials_from_epoch_values(tmp_path, pruner):
    def curve(spec, task, budget, *, callback=None, **kw):
        good = spec.layers[0].local in ("gcn", "gat", "sage")
        for epoch in range(1, budget.epochs + 1):
            value = (0.8 if good else 0.3) + epoch / 1000
            if callback(epoch, value):
                return EvalResult(status="pruned", metric="accuracy", val=value, epochs=epoch)
        return EvalResult(status="ok", metric="accuracy", val=value, epochs=budget.epochs)

    r = search("nasbench:cora", "nasbench_graph", trials=30, controller="random", epochs=10, pruner=pruner,
               out=tmp_path, progress=False, evaluator=curve, report=False)
    trials = _load(r).get_trials()
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert r.trials == 30 and pruned and _load(r).user_attrs["pruner"] == pruner
    good = {"gcn", "gat", "sage"}
    if pruner == "median":  # the median rule only ever stops the bad curves here
        assert all(json.loads(t.user_attrs["spec"])["layers"][0]["local"] not in good for t in pruned)
    assert any(json.loads(t.user_attrs["spec"])["layers"][0]["local"] in good
               for t in trials if t.state == TrialState.COMPLETE)
    assert all(t.user_attrs["metrics"]["epochs"] < 10 for t in pruned)
    assert max(t.last_step for t in pruned) <= 10


def test_multi_objective_search_returns_the_pareto_front(tmp_path):
    r = search("nasbench:computers", "nasbench_graph", trials=30, controller="nsga2",
               objectives=("metric", "params"), out=tmp_path, progress=False)
    assert r.objectives == ("metric", "params") and len(r.pareto) >= 1
    study = _load(r)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    for p in r.pareto:
        dominated = any(t.values[0] >= p.values[0] and t.values[1] <= p.values[1] and t.values != list(p.values)
                        for t in done)
        assert not dominated
    assert r.best.val == max(p.val for p in r.pareto)
    assert "Pareto front" in (tmp_path / "report.html").read_text()


def test_constraints_are_recorded_for_the_samplers(tmp_path):
    raw = json.loads(load_space("nasbench_graph").definition)
    raw["constraints"] = {"max_params": 1_000_000}
    space = parse_space(raw)
    r = search("nasbench:cora", space, trials=15, controller="tpe", out=tmp_path, progress=False, report=False)
    checked = 0
    for t in _load(r).get_trials():
        if t.state == TrialState.COMPLETE:
            violation = t.user_attrs["metrics"]["params"] - 1_000_000
            assert t.user_attrs["autogt:constraints"] == [violation]
            if hasattr(optuna.trial.Trial, "set_constraint"):  # Optuna >= 5: what the samplers read
                assert t.system_attrs["constraints:max_params"] == violation
            checked += 1
    assert checked


def test_timeout_and_join(tmp_path):
    r = search("nasbench:cora", "nasbench_graph", trials=50, controller="random", out=tmp_path, progress=False,
               timeout=0.5, tabular_delay=0.2, report=False)
    assert 1 <= r.trials < 50
    joined = join(r.study, r.storage, trials=r.trials + 2, out=str(tmp_path), progress=False, report=False)
    assert joined.trials == r.trials + 2 and joined.study == r.study


def test_report_from_storage(tmp_path):
    r = search("nasbench:photo", "nasbench_graph", trials=3, controller="random", out=tmp_path, progress=False,
               report=False)
    path = report(r.study, r.storage, tmp_path / "sub" / "r.html")
    assert path.exists() and "Best specs" in path.read_text()
    with pytest.raises(ValueError, match="storage"):
        report(r.study, None, tmp_path / "x.html")


def test_bad_arguments(tmp_path):
    with pytest.raises(SearchError, match="trials"):
        search("nasbench:cora", "nasbench_graph", trials=0, out=tmp_path)
    with pytest.raises(ValueError, match="objectives: 'accuracy' is not allowed"):
        search("nasbench:cora", "nasbench_graph", trials=1, objectives=("accuracy",), out=tmp_path)
    with pytest.raises(SearchError, match="pruner"):
        search("nasbench:cora", "nasbench_graph", trials=1, pruner="asha", out=tmp_path)


def test_device_is_a_torch_device_or_a_profile():
    import torch

    from autogt.controllers.search import split_device

    assert split_device(None) == ("cpu", None)
    assert split_device("cpu") == ("cpu", "cpu")
    assert split_device("cuda:1") == ("cuda:1", "cuda:1")
    assert split_device("h100") == ("cuda" if torch.cuda.is_available() else "cpu", "h100")
