"""search() with real training (autogt.train.evaluate) on a tiny synthetic graph-regression task."""

from __future__ import annotations

import json

import optuna
import pytest
import torch
from optuna.trial import TrialState

from autogt.controllers import search
from autogt.spaces import load_space, parse_space


def _toy_task():
    from torch_geometric.data import Data

    from autogt.data import load_task

    g = torch.Generator().manual_seed(0)
    graphs = []
    for i in range(48):
        n = 5 + i % 4
        edges = torch.randint(0, n, (2, 2 * n), generator=g)
        x = torch.randn(n, 4, generator=g)
        graphs.append(Data(x=x, edge_index=torch.cat([edges, edges.flip(0)], 1), y=x.sum().view(1, 1)))
    return load_task(graphs, kind="regression", name="toy")


@pytest.mark.slow
def test_search_trains_reports_epochs_and_keeps_the_best_checkpoint(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = _toy_task()
    space = load_space("gnn").fix(hidden=16, depth=2, pre_layers=1, post_layers=1, batch_size=32)
    r = search(task, space, trials=3, controller="tpe", epochs=3, pruner="median", out=tmp_path, progress=False)
    study = optuna.load_study(study_name=r.study, storage=r.storage)
    assert study.direction.name == "MINIMIZE"  # rmse
    assert r.trials == 3 and r.best is not None
    assert r.best.val == min(t.value for t in study.trials if t.state == TrialState.COMPLETE)
    assert r.checkpoint == str(tmp_path / "trials" / str(r.best.number) / "model.safetensors")
    assert (tmp_path / "trials" / str(r.best.number) / "model.safetensors").exists()
    for t in study.trials:
        assert t.intermediate_values  # per-epoch validation values went through the pruner callback
        assert t.user_attrs["metrics"]["params"] > 0


@pytest.mark.parametrize("bound, device, key", [({"max_params": 100}, None, "params"),
                                                ({"max_latency_ms": 1e-6}, "a100", "latency_ms")])
def test_specs_over_a_cost_bound_are_not_trained(tmp_path, bound, device, key):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    raw = json.loads(load_space("gnn").definition)
    raw["constraints"] = bound

    def must_not_train(*args, **kwargs):
        raise AssertionError("an infeasible spec was trained")

    from autogt.data.task import Task

    task = Task(name="toy", level="graph", kind="regression", metric="rmse", num_outputs=1, node_dim=4, edge_dim=0,
                graphs=[None], split={"train": torch.arange(1), "valid": torch.arange(1), "test": torch.arange(1)},
                meta={"nodes_mean": 6.0, "edges_mean": 12.0, "nodes_sq_mean": 40.0})
    r = search(task, parse_space(raw), trials=3, controller="tpe", out=tmp_path, progress=False, device=device,
               evaluator=must_not_train, report=False)
    trials = optuna.load_study(study_name=r.study, storage=r.storage).trials
    assert r.trials == 3 and all(t.state == TrialState.PRUNED for t in trials)
    for t in trials:
        assert t.user_attrs["metrics"]["reason"].startswith(f"constraint: {key}")
        assert t.user_attrs["autogt:constraints"][0] > 0
