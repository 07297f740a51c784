"""NNI tuners as controllers (``nni:TUNER``), run in-process: no NNI experiment, no web server.

The adapter speaks NNI's tuner API: ``update_search_space(space.to_nni())`` once, then
``generate_parameters(parameter_id)`` per proposal, ``receive_trial_result(parameter_id, parameters,
value)`` for completed trials and ``trial_end(parameter_id, success)`` for every trial. The proposals
are recorded in the same Optuna study as every other controller (the tuner's parameters are enqueued and
then drawn through :meth:`Space.sample`), so storage, resuming and reports work the same way.

NNI is optional (``pip install 'autogt[nni]'``); without it ``nni:...`` raises an ``ImportError`` that
says so. Any object with those four methods can be passed as ``tuner=`` (tests use a fake one).

Example:
    >>> from autogt.controllers._nni import tuner_class_path
    >>> tuner_class_path("TPE")
    'nni.algorithms.hpo.tpe_tuner.TpeTuner'
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from typing import Any

import optuna

from autogt.controllers._base import ControllerError
from autogt.controllers._optuna import OptunaController
from autogt.spaces import Space, SpaceError
from autogt.train.result import EvalResult

__all__ = ["NNIController", "make_nni_tuner", "tuner_class_path", "NNI_TUNERS", "NNIMissingError"]

# builtin name (lower case) -> (class path, extra constructor arguments); from NNI 3.0's builtin_algorithms.yml
NNI_TUNERS: dict[str, tuple[str, dict[str, Any]]] = {
    "tpe": ("nni.algorithms.hpo.tpe_tuner.TpeTuner", {}),
    "random": ("nni.algorithms.hpo.random_tuner.RandomTuner", {}),
    "anneal": ("nni.algorithms.hpo.hyperopt_tuner.HyperoptTuner", {"algorithm_name": "anneal"}),
    "evolution": ("nni.algorithms.hpo.evolution_tuner.EvolutionTuner", {}),
    "regularizedevolutiontuner": ("nni.algorithms.hpo.regularized_evolution_tuner.RegularizedEvolutionTuner", {}),
    "gridsearch": ("nni.algorithms.hpo.gridsearch_tuner.GridSearchTuner", {}),
    "smac": ("nni.algorithms.hpo.smac_tuner.SMACTuner", {}),
    "gp": ("nni.algorithms.hpo.gp_tuner.GPTuner", {}),
    "metis": ("nni.algorithms.hpo.metis_tuner.MetisTuner", {}),
    "dngo": ("nni.algorithms.hpo.dngo_tuner.DNGOTuner", {}),
    "pbt": ("nni.algorithms.hpo.pbt_tuner.PBTTuner", {}),
}


class NNIMissingError(ImportError):
    """``nni:...`` was asked for but NNI is not installed."""


def tuner_class_path(name: str) -> str:
    """The class path of an NNI builtin tuner name (case-insensitive) or of a dotted ``module.Class`` path."""
    entry = NNI_TUNERS.get(name.lower())
    if entry is not None:
        return entry[0]
    if "." in name:
        return name.replace(":", ".")
    raise ControllerError(f"nni tuner {name!r}: unknown; builtin tuners: {', '.join(sorted(NNI_TUNERS))} "
                          "(or a dotted path module.Class)")


def make_nni_tuner(name: str, *, maximize: bool = True, seed: int = 0) -> Any:
    """Instantiate NNI tuner ``name`` with ``optimize_mode`` and ``seed`` where its constructor takes them."""
    path = tuner_class_path(name)
    try:
        importlib.import_module("nni")
    except ImportError as exc:
        raise NNIMissingError(f"controller 'nni:{name}' needs NNI, which is not installed: "
                              "pip install 'autogt[nni]' (or use tpe, random, gp, cmaes, nsga2, nsga3)") from exc
    module_name, _, class_name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ControllerError(f"nni tuner {name!r}: cannot import {path}: {exc}") from exc
    kwargs = dict(NNI_TUNERS.get(name.lower(), ("", {}))[1])
    accepted = inspect.signature(cls).parameters
    if "optimize_mode" in accepted:
        kwargs["optimize_mode"] = "maximize" if maximize else "minimize"
    if "seed" in accepted:
        kwargs["seed"] = seed
    return cls(**kwargs)


class NNIController(OptunaController):
    """An NNI tuner behind the controller contract (single objective).

    Args:
        space: the space; the tuner gets ``space.to_nni()``.
        study: the Optuna study that records the trials (its sampler only fills parameters the tuner omits).
        tuner: an object with NNI's tuner methods.
        objectives: exactly one objective.
        seed: seeds the study's fallback sampler.
    """

    def __init__(self, space: Space, study: optuna.Study, tuner: Any, *, objectives: Sequence[str] = ("metric",),
                 seed: int = 0) -> None:
        super().__init__(space, study, objectives=objectives)
        if len(self.objectives) != 1:
            raise ControllerError("NNI tuners optimise a single objective; use nsga2, nsga3, tpe or gp for several")
        for method in ("update_search_space", "generate_parameters", "receive_trial_result"):
            if not callable(getattr(tuner, method, None)):
                raise ControllerError(f"tuner {type(tuner).__name__}: missing NNI tuner method {method}()")
        self.tuner = tuner
        study.sampler = optuna.samplers.RandomSampler(seed=seed)
        tuner.update_search_space(space.to_nni())
        self._next_id = 0
        self._pending: tuple[int, Any] | None = None
        self._ids: dict[int, tuple[int, Any]] = {}

    def _prepare(self) -> None:
        parameter_id = self._next_id
        self._next_id += 1
        try:
            raw = self.tuner.generate_parameters(parameter_id)
        except Exception as exc:  # NNI's NoMoreTrialError and friends
            raise ControllerError(f"nni tuner {type(self.tuner).__name__} produced no parameters: {exc!r}") from exc
        try:
            params = self.space.from_nni(raw)
        except SpaceError:
            params = dict(raw)  # let the study fill what is missing; the spec error (if any) shows in ask()
        self.study.enqueue_trial(params, skip_if_exists=False)
        self._pending = (parameter_id, raw)

    def ask(self) -> Any:
        proposal = super().ask()
        if self._pending is not None:
            self._ids[proposal.trial_number] = self._pending
            self._pending = None
        return proposal

    def _after_tell(self, trial_number: int, result: EvalResult, values: list[float] | None) -> None:
        entry = self._ids.pop(trial_number, None)
        if entry is None:
            return
        parameter_id, raw = entry
        if values is not None:
            self.tuner.receive_trial_result(parameter_id, raw, values[0])
        trial_end = getattr(self.tuner, "trial_end", None)
        if callable(trial_end):
            trial_end(parameter_id, values is not None)


def nni_controller(name: str, space: Space, study: optuna.Study, *, objectives: Sequence[str] = ("metric",),
                   seed: int = 0, tuner: Any = None) -> NNIController:
    """``nni:NAME`` -> an :class:`NNIController` (``tuner`` overrides the instantiated NNI tuner)."""
    maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    if tuner is None:
        tuner = make_nni_tuner(name, maximize=maximize, seed=seed)
    return NNIController(space, study, tuner, objectives=objectives, seed=seed)
