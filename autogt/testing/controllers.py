"""Contract tests every controller must pass; reuse them by providing one fixture.

In a test module::

    from autogt.testing.controllers import *  # noqa: F401,F403

    @pytest.fixture
    def controller_factory():
        return lambda space, study, *, objectives=("metric",), seed=0: make_controller(
            "tpe", space, study, objectives=objectives, seed=seed)

The factory builds a controller over an Optuna ``study`` (it may set the study's sampler). The tests use
the NAS-Bench-Graph tabular evaluator (look-ups, no training) and a synthetic score on the conditional
``gps`` space, so the whole contract runs in seconds per controller.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import TrialState

from autogt.controllers import Controller, ControllerError, Proposal, TabularEvaluator
from autogt.models.spec import ArchSpec
from autogt.spaces import Space, load_space, nasbench
from autogt.train.result import EvalResult

__all__ = [
    "test_controller_proposals_are_specs_of_the_space",
    "test_controller_conditional_params_only_when_active",
    "test_controller_records_results_and_specs",
    "test_controller_failed_and_pruned_trials",
    "test_controller_rejects_unknown_and_repeated_tell",
    "test_controller_finds_good_architectures",
    "test_controller_is_seeded",
    "test_controller_report_hook",
    "test_controller_multi_objective_or_clear_refusal",
]

Factory = Callable[..., Controller]


def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(n_objectives: int = 1) -> optuna.Study:
    _quiet()
    return optuna.create_study(directions=["maximize"] + ["minimize"] * (n_objectives - 1))


def _score(spec: ArchSpec) -> float:
    """A deterministic synthetic score for the gps space: deeper, wider, attention-ful is better."""
    attn = sum(layer.attn != "none" for layer in spec.layers)
    return len(spec.layers) / 6 + spec.hidden / 256 + attn / 6


def _run(ctrl: Controller, n: int, evaluate: Callable[[ArchSpec], EvalResult]) -> list[tuple[Proposal, EvalResult]]:
    out = []
    for _ in range(n):
        proposal = ctrl.ask()
        assert proposal.spec is not None, proposal.error
        result = evaluate(proposal.spec)
        ctrl.tell(proposal.trial_number, result)
        out.append((proposal, result))
    return out


def _nb_space() -> Space:
    return nasbench.space_for("cora")


def test_controller_proposals_are_specs_of_the_space(controller_factory: Factory) -> None:
    space = _nb_space()
    study = _study()
    ctrl = controller_factory(space, study, objectives=("metric",), seed=0)
    assert ctrl.space is space
    evaluator = TabularEvaluator("cora")
    runs = _run(ctrl, 12, evaluator)
    numbers = [p.trial_number for p, _ in runs]
    assert numbers == sorted(set(numbers)), numbers
    for proposal, _ in runs:
        assert isinstance(proposal.spec, ArchSpec)
        assert space.to_spec(proposal.params) == proposal.spec
        assert space.active_params(proposal.params) == proposal.params
        link, ops = nasbench.from_spec(proposal.spec)
        assert proposal.params["link"] == "-".join(map(str, link))
        assert [proposal.params[f"layer{i}.local"] for i in range(1, 5)] == list(ops)


def test_controller_conditional_params_only_when_active(controller_factory: Factory) -> None:
    space = load_space("gps")
    study = _study()
    ctrl = controller_factory(space, study, objectives=("metric",), seed=1)
    runs = _run(ctrl, 15, lambda spec: EvalResult(status="ok", metric="accuracy", val=_score(spec)))
    seen_inactive_heads = False
    for proposal, _ in runs:
        depth = proposal.params["depth"]
        assert len(proposal.spec.layers) == depth
        for i in range(1, 7):
            assert (f"layer{i}.local" in proposal.params) == (i <= depth)
        for i, layer in enumerate(proposal.spec.layers, start=1):
            active = layer.attn != "none" or layer.local == "gatv2"
            assert (f"layer{i}.heads" in proposal.params) == active, proposal.params
            seen_inactive_heads |= not active
        assert ("pe_dim" in proposal.params) == (proposal.spec.pe != "none")
        trial = study.trials[proposal.trial_number]
        assert trial.params == proposal.params
    assert seen_inactive_heads


def test_controller_records_results_and_specs(controller_factory: Factory) -> None:
    study = _study()
    ctrl = controller_factory(_nb_space(), study, objectives=("metric",), seed=2)
    runs = _run(ctrl, 8, TabularEvaluator("cora"))
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 8
    for (proposal, result), trial in zip(runs, trials, strict=True):
        assert trial.number == proposal.trial_number
        expected = TrialState.COMPLETE if result.ok else TrialState.FAIL
        assert trial.state == expected
        assert ArchSpec.from_json(trial.user_attrs["spec"]) == proposal.spec
        assert trial.user_attrs["metrics"]["status"] == result.status
        if result.ok:
            assert math.isclose(trial.value, result.val)
            assert math.isclose(trial.user_attrs["metrics"]["test"], result.test)


def test_controller_failed_and_pruned_trials(controller_factory: Factory) -> None:
    study = _study()
    ctrl = controller_factory(_nb_space(), study, objectives=("metric",), seed=3)
    statuses = ["failed", "pruned", "ok"] * 5
    for i, status in enumerate(statuses):
        proposal = ctrl.ask()
        val = 0.5 + i / 100 if status == "ok" else None
        ctrl.tell(proposal.trial_number, EvalResult(status=status, metric="accuracy", val=val, reason=status))
    states = [t.state for t in study.get_trials(deepcopy=False)]
    expected = {"failed": TrialState.FAIL, "pruned": TrialState.PRUNED, "ok": TrialState.COMPLETE}
    assert states == [expected[s] for s in statuses]
    assert math.isclose(study.best_value, 0.5 + 14 / 100)
    assert ctrl.ask().spec is not None  # still proposing after failures


def test_controller_rejects_unknown_and_repeated_tell(controller_factory: Factory) -> None:
    study = _study()
    ctrl = controller_factory(_nb_space(), study, objectives=("metric",), seed=4)
    proposal = ctrl.ask()
    ok = EvalResult(status="ok", metric="accuracy", val=0.7)
    try:
        ctrl.tell(proposal.trial_number + 100, ok)
    except ControllerError:
        pass
    else:
        raise AssertionError("telling an unknown trial number must raise ControllerError")
    ctrl.tell(proposal.trial_number, ok)
    try:
        ctrl.tell(proposal.trial_number, ok)
    except ControllerError:
        pass
    else:
        raise AssertionError("telling a trial twice must raise ControllerError")
    assert len(study.trials) == 1 and study.trials[0].state == TrialState.COMPLETE


def test_controller_finds_good_architectures(controller_factory: Factory) -> None:
    evaluator = TabularEvaluator("cora")
    values = sorted(info["valid_perf"] for info in evaluator.table.values())
    median, top = values[len(values) // 2], values[-1]
    study = _study()
    ctrl = controller_factory(_nb_space(), study, objectives=("metric",), seed=5)
    runs = _run(ctrl, 15, evaluator)
    best = max(r.val for _, r in runs if r.ok)
    assert math.isclose(study.best_value, best)
    assert median < best <= top  # 15 queries beat the median architecture (P(fail) ~ 3e-5 for random search)


def test_controller_is_seeded(controller_factory: Factory) -> None:
    def first(seed: int) -> list[dict[str, Any]]:
        ctrl = controller_factory(_nb_space(), _study(), objectives=("metric",), seed=seed)
        return [p.params for p, _ in _run(ctrl, 6, TabularEvaluator("cora"))]

    assert first(7) == first(7)
    assert first(7) != first(8)


def test_controller_report_hook(controller_factory: Factory) -> None:
    study = _study()
    ctrl = controller_factory(_nb_space(), study, objectives=("metric",), seed=6)
    proposal = ctrl.ask()
    answers = [ctrl.report(proposal.trial_number, epoch, 0.1 * epoch) for epoch in range(1, 4)]
    assert all(isinstance(a, bool) for a in answers)
    ctrl.tell(proposal.trial_number, EvalResult(status="ok", metric="accuracy", val=0.3))
    assert study.trials[0].state == TrialState.COMPLETE


def test_controller_multi_objective_or_clear_refusal(controller_factory: Factory) -> None:
    study = _study(2)
    try:
        ctrl = controller_factory(_nb_space(), study, objectives=("metric", "params"), seed=0)
    except ControllerError as exc:
        assert "single objective" in str(exc)
        return
    assert ctrl.objectives == ("metric", "params")
    runs = _run(ctrl, 10, TabularEvaluator("cora"))
    done = [r for _, r in runs if r.ok]
    assert done and study.best_trials
    for trial in study.best_trials:
        assert trial.values[1] == float(trial.user_attrs["metrics"]["params"])
