"""Optuna-backed controllers: ``tpe`` (default), ``random``, ``gp``, ``cmaes``, ``nsga2``, ``nsga3``.

Each is an :class:`OptunaController` over a study whose sampler the registered factory sets. Proposals
are sampled define-by-run through :meth:`Space.sample`, so conditional parameters are only suggested
while active. Results are told with ``study.tell``; every trial keeps its spec JSON and metrics in
``user_attrs`` (``spec``: canonical JSON; ``metrics``: a dict with the keys in :data:`ATTR_KEYS`).
Constraints of the space (``max_params``, ``max_flops``, ``max_latency_ms``) become
``user_attrs["autogt:constraints"]`` (value - bound, <= 0 feasible) and, on Optuna >= 5,
``trial.set_constraint`` values; the constraint-aware samplers (TPE, GP, NSGA-II/III) read them (through
``constraints_func`` on older Optuna).

Example:
    >>> import optuna
    >>> from autogt.controllers import make_controller
    >>> from autogt.spaces import load_space
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(directions=["maximize", "minimize"])
    >>> ctrl = make_controller("nsga2", load_space("nasbench_graph"), study, objectives=("metric", "params"))
    >>> type(study.sampler).__name__
    'NSGAIISampler'
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from autogt.controllers._base import OBJECTIVES, Controller, ControllerError, Proposal
from autogt.registry import register
from autogt.spaces import Space, SpaceError
from autogt.train.result import EvalResult

__all__ = ["OptunaController", "objective_values", "directions", "constraints_func", "metrics_of", "ATTR_KEYS",
           "SAMPLERS"]

ATTR_KEYS = ("val", "test", "params", "flops", "latency_ms", "epochs", "train_time_s", "status", "reason",
             "checkpoint", "spec_hash", "metric")
METRICS_ATTR = "metrics"
CONSTRAINTS_ATTR = "autogt:constraints"


def metrics_of(result: EvalResult) -> dict[str, Any]:
    """The JSON-able metrics of a result kept in ``user_attrs["metrics"]`` (non-finite floats -> None)."""
    out = {}
    for key in ATTR_KEYS:
        value = getattr(result, key, None)
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[key] = value
    return out


def check_objectives(objectives: Sequence[str]) -> tuple[str, ...]:
    """Validate objective names (``metric`` first is not required, but each may appear once)."""
    objectives = tuple(objectives)
    if not objectives:
        raise ControllerError(f"objectives: at least one is required; choose from {', '.join(OBJECTIVES)}")
    for name in objectives:
        if name not in OBJECTIVES:
            raise ControllerError(f"objectives: {name!r} is not allowed; choose from {', '.join(OBJECTIVES)}")
    if len(set(objectives)) != len(objectives):
        raise ControllerError(f"objectives: duplicates in {', '.join(objectives)}")
    return objectives


def directions(objectives: Sequence[str], *, maximize_metric: bool = True) -> list[Literal["maximize", "minimize"]]:
    """Study directions for ``objectives``: the metric per its task, cost objectives minimised."""
    return [("maximize" if maximize_metric else "minimize") if o == "metric" else "minimize"
            for o in check_objectives(objectives)]


def objective_values(result: EvalResult, objectives: Sequence[str]) -> list[float] | None:
    """The values to tell for ``result``, or None when one is missing (the trial then fails)."""
    raw = {"metric": result.val, "params": result.params, "flops": result.flops, "latency": result.latency_ms}
    values = []
    for name in objectives:
        v = raw[name]
        if v is None or not math.isfinite(float(v)):
            return None
        values.append(float(v))
    return values


def constraints_func(n: int) -> Callable[[FrozenTrial], Sequence[float]]:
    """Reads ``user_attrs["autogt:constraints"]``; trials without it count as feasible."""

    def read(trial: FrozenTrial) -> Sequence[float]:
        return tuple(trial.user_attrs.get(CONSTRAINTS_ATTR) or (0.0,) * n)

    return read


class OptunaController(Controller):
    """Ask/tell over an Optuna study (its sampler decides; the study's pruner decides ``report``).

    Args:
        space: the space to sample.
        study: the study (its directions must match ``objectives``).
        objectives: names from :data:`~autogt.controllers.OBJECTIVES`.
    """

    def __init__(self, space: Space, study: optuna.Study, *, objectives: Sequence[str] = ("metric",)) -> None:
        self.space = space
        self.study = study
        self.objectives = check_objectives(objectives)
        if len(study.directions) != len(self.objectives):
            raise ControllerError(f"objectives: {len(self.objectives)} given ({', '.join(self.objectives)}) but the "
                                  f"study has {len(study.directions)} direction(s)")
        self._open: dict[int, Trial] = {}

    # hook for controllers that choose the parameters themselves (NNI): enqueue them before ask
    def _prepare(self) -> None:
        return None

    def ask(self) -> Proposal:
        self._prepare()
        with warnings.catch_warnings():  # our search() records heartbeats itself (see search._heartbeat)
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            trial = self.study.ask()
        for key, value in self.trial_attrs.items():
            trial.set_user_attr(key, value)
        self._open[trial.number] = trial
        try:
            spec, params = self.space.sample(trial)
        except SpaceError as exc:
            return Proposal(trial.number, None, dict(trial.params), error=str(exc))
        trial.set_user_attr("spec", spec.to_json())
        return Proposal(trial.number, spec, params)

    def _trial(self, trial_number: int) -> Trial:
        trial = self._open.get(trial_number)
        if trial is not None:
            return trial
        for frozen in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if frozen.number == trial_number:
                return Trial(self.study, frozen._trial_id)
        raise ControllerError(f"trial {trial_number}: not a running trial of study {self.study.study_name!r}")

    def report(self, trial_number: int, epoch: int, value: float) -> bool:
        if len(self.objectives) > 1 or value is None or not math.isfinite(float(value)):
            return False  # Optuna does not prune multi-objective studies
        trial = self._trial(trial_number)
        trial.report(float(value), int(epoch))
        return bool(trial.should_prune())

    def tell(self, trial_number: int, result: EvalResult) -> None:
        trial = self._trial(trial_number)
        trial.set_user_attr(METRICS_ATTR, metrics_of(result))
        cons = self.space.constraints
        if cons.active:
            violations = cons.violations(params=result.params or None, flops=result.flops or None,
                                         latency_ms=result.latency_ms)
            trial.set_user_attr(CONSTRAINTS_ATTR, list(violations))
            if _NEW_CONSTRAINTS:
                for key, value in zip(cons.active, violations, strict=True):
                    trial.set_constraint(key, value)
        values = objective_values(result, self.objectives) if result.status == "ok" else None
        if result.status == "pruned":
            self.study.tell(trial, state=TrialState.PRUNED)
        elif values is None:
            self.study.tell(trial, state=TrialState.FAIL)
        else:
            self.study.tell(trial, values)
        self._open.pop(trial_number, None)
        self._after_tell(trial_number, result, values)

    def _after_tell(self, trial_number: int, result: EvalResult, values: list[float] | None) -> None:
        return None


# ----------------------------------------------------------------------------- samplers
_NEW_CONSTRAINTS = hasattr(Trial, "set_constraint")  # Optuna >= 5: samplers read trial.set_constraint values


def _constraints(space: Space) -> Callable[[FrozenTrial], Sequence[float]] | None:
    """``constraints_func`` for Optuna < 5; newer samplers read the values set with ``trial.set_constraint``."""
    n = len(space.constraints.active)
    return constraints_func(n) if n and not _NEW_CONSTRAINTS else None


def _tpe(space: Space, study: optuna.Study, seed: int) -> optuna.samplers.BaseSampler:
    # multivariate + group only where parameters come and go; otherwise Optuna's default TPE
    extra: dict[str, Any] = {"multivariate": True, "group": True} if space.conditional else {}
    return optuna.samplers.TPESampler(seed=seed, constraints_func=_constraints(space), **extra)


def _random(space: Space, study: optuna.Study, seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


def _gp(space: Space, study: optuna.Study, seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GPSampler(seed=seed, constraints_func=_constraints(space),
                                     independent_sampler=optuna.samplers.RandomSampler(seed=seed),
                                     warn_independent_sampling=False)


def _cmaes(space: Space, study: optuna.Study, seed: int) -> optuna.samplers.BaseSampler:
    if len(study.directions) > 1:
        raise ControllerError("cmaes optimises a single objective; use nsga2, nsga3, tpe or gp for several")
    try:
        import cmaes  # noqa: F401
    except ImportError as exc:
        raise ImportError("controller 'cmaes' needs the 'cmaes' package: pip install cmaes") from exc
    # CMA-ES handles the int/float dimensions; categorical ones go to an independent TPE
    return optuna.samplers.CmaEsSampler(seed=seed, independent_sampler=optuna.samplers.TPESampler(seed=seed),
                                        warn_independent_sampling=False)


def _nsga2(space: Space, study: optuna.Study, seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.NSGAIISampler(seed=seed, constraints_func=_constraints(space))


def _nsga3(space: Space, study: optuna.Study, seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.NSGAIIISampler(seed=seed, constraints_func=_constraints(space))


SAMPLERS: dict[str, Callable[[Space, optuna.Study, int], optuna.samplers.BaseSampler]] = {
    "tpe": _tpe,
    "random": _random,
    "gp": _gp,
    "cmaes": _cmaes,
    "nsga2": _nsga2,
    "nsga3": _nsga3,
}


def _factory(
    make_sampler: Callable[[Space, optuna.Study, int], optuna.samplers.BaseSampler],
) -> Callable[..., Controller]:
    def factory(space: Space, study: optuna.Study, *, objectives: Sequence[str] = ("metric",),
                seed: int = 0) -> Controller:
        controller = OptunaController(space, study, objectives=objectives)
        with warnings.catch_warnings():  # NSGA-III and TPE's group=True are "experimental" in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.sampler = make_sampler(space, study, seed)
        return controller

    factory.__doc__ = f"Controller over a study sampled by {make_sampler.__name__.strip('_')}."
    return factory


for _name, _make in SAMPLERS.items():
    register("controller", _name, _factory(_make))
