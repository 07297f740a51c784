"""The NNI adapter speaks NNI's tuner API (tested with a fake tuner; NNI itself is optional)."""

from __future__ import annotations

import sys

import optuna
import pytest
from fake_nni_tuner import FakeTuner

from autogt.controllers import ControllerError, NNIMissingError, make_controller, search
from autogt.controllers._nni import make_nni_tuner, tuner_class_path
from autogt.spaces import load_space
from autogt.train.result import EvalResult

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_adapter_calls_the_tuner_api_in_order():
    space = load_space("gps")
    tuner = FakeTuner(seed=0)
    study = optuna.create_study(direction="maximize")
    ctrl = make_controller("nni:fake", space, study, tuner=tuner)
    assert tuner.space == space.to_nni()
    statuses = ["ok", "failed", "ok", "pruned", "ok"]
    for i, status in enumerate(statuses):
        proposal = ctrl.ask()
        assert proposal.trial_number == i and proposal.spec is not None
        # the proposal is the tuner's point (snapped to the grid, inactive keys dropped)
        assert proposal.params == space.from_nni(tuner.generated[i])
        val = 0.5 + i / 10 if status == "ok" else None
        ctrl.tell(i, EvalResult(status=status, metric="accuracy", val=val))
    assert [(pid, value) for pid, _, value in tuner.results] == [(0, 0.5), (2, 0.7), (4, 0.9)]
    assert tuner.results[1][1] is tuner.generated[2]  # the tuner gets back its own parameters
    assert tuner.ended == [(0, True), (1, False), (2, True), (3, False), (4, True)]
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL", "COMPLETE", "PRUNED", "COMPLETE"]


def test_nni_controller_through_search(tmp_path, monkeypatch):
    made = []

    def fake_make(name, *, maximize=True, seed=0):
        made.append((name, maximize, seed))
        return FakeTuner(seed=seed)

    monkeypatch.setattr("autogt.controllers._nni.make_nni_tuner", fake_make)
    r = search("nasbench:cora", "nasbench_graph", trials=6, controller="nni:TPE", out=tmp_path, progress=False,
               report=False)
    assert made == [("TPE", True, 0)]
    study = optuna.load_study(study_name=r.study, storage=r.storage)
    assert r.trials == 6 and len(study.trials) == 6 and study.user_attrs["controller"] == "nni:TPE"
    assert r.best is not None and r.best.val == max(t.value for t in study.trials if t.value is not None)


def test_single_objective_only_and_incomplete_tuners_are_refused():
    space = load_space("nasbench_graph")
    with pytest.raises(ControllerError, match="single objective"):
        make_controller("nni:fake", space, optuna.create_study(directions=["maximize", "minimize"]),
                        objectives=("metric", "params"), tuner=FakeTuner())
    with pytest.raises(ControllerError, match="missing NNI tuner method update_search_space"):
        make_controller("nni:fake", space, optuna.create_study(), tuner=object())


def test_missing_nni_gives_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "nni", None)  # import nni -> ImportError, installed or not
    with pytest.raises(ImportError, match=r"needs NNI, which is not installed: pip install 'autogt\[nni\]'"):
        make_controller("nni:TPE", load_space("nasbench_graph"), optuna.create_study())
    with pytest.raises(NNIMissingError):
        make_nni_tuner("Random")


def test_tuner_names():
    assert tuner_class_path("TPE") == "nni.algorithms.hpo.tpe_tuner.TpeTuner"
    assert tuner_class_path("evolution") == "nni.algorithms.hpo.evolution_tuner.EvolutionTuner"
    assert tuner_class_path("my.pkg.Tuner") == "my.pkg.Tuner"
    with pytest.raises(ControllerError, match="builtin tuners: anneal"):
        tuner_class_path("nosuch")
