"""Prior-aware search: a sampler that mixes a transfer prior from the bank with a base sampler (TPE).

For each trial, with probability ``w`` the :class:`PriorSampler` proposes from the :class:`Prior`
(first the concrete designs of the most similar tasks, in order, then draws from the per-parameter
distributions), otherwise it delegates the whole trial to the base sampler. The weight decays as the
new task's own results accumulate, and drops faster when the task disagrees with the prior::

    w(n) = w0 * c / (c + n) * trust,   trust = min(1, 2 * u) ** 2

where ``n`` counts completed trials and ``u`` is the probability that a prior-proposed trial beats a
base-proposed one, estimated from completed trials of both kinds (``u = 0.5``, i.e. no evidence,
until each kind has ``min_compare`` of them). A misleading prior thus costs a few trials, then the
search is plain TPE again. The base sampler sees every trial, prior-proposed ones included.

Example:
    >>> import optuna
    >>> from autogt.bank import Prior
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> prior = Prior(dims={"x": {"a": 0.9, "b": 0.1}}, designs=({"x": "b"},))
    >>> study = optuna.create_study(sampler=PriorSampler(prior, seed=0), direction="maximize")
    >>> study.optimize(lambda t: {"a": 1.0, "b": 0.0, "c": 0.5}[t.suggest_categorical("x", ["a", "b", "c"])],
    ...                n_trials=5)
    >>> study.trials[0].params["x"], study.best_value
    ('b', 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autogt.bank._prior import Prior, build_prior, task_weights
from autogt.bank._records import BankDesign
from autogt.registry import register

__all__ = ["PriorSampler", "Prior", "prior_weight", "prior_for", "space_to_params", "MODE_ATTR",
           "make_prior_controller"]

MODE_ATTR = "autogt:prior_mode"
"""Trial system attribute: ``prior``, ``base`` or ``fixed`` (enqueued) — how the trial was proposed."""


def _win_rate(prior_vals: Sequence[float], base_vals: Sequence[float], maximize: bool) -> float:
    """P(a prior-proposed value beats a base-proposed one), ties counting one half."""
    p = np.asarray(prior_vals, dtype=np.float64)[:, None]
    b = np.asarray(base_vals, dtype=np.float64)[None, :]
    wins = (p > b) if maximize else (p < b)
    return float(wins.mean() + 0.5 * (p == b).mean())


def prior_weight(n_complete: int, prior_vals: Sequence[float] = (), base_vals: Sequence[float] = (), *,
                 w0: float = 0.9, c: float = 10.0, min_compare: int = 2, maximize: bool = True) -> float:
    """Probability of proposing the next trial from the prior.

    Example:
        >>> prior_weight(0), round(prior_weight(10), 2)
        (0.9, 0.45)
        >>> prior_weight(4, [0.1, 0.2], [0.8, 0.9])   # the prior's trials lost every comparison
        0.0
    """
    w = w0 * c / (c + max(n_complete, 0))
    if len(prior_vals) >= min_compare and len(base_vals) >= min_compare:
        u = _win_rate(prior_vals, base_vals, maximize)
        w *= min(1.0, 2.0 * u) ** 2
    return float(min(max(w, 0.0), 1.0))


class PriorSampler(BaseSampler):
    """An Optuna sampler that proposes from a :class:`Prior` with a decaying probability, else from ``base``.

    Args:
        prior: the transfer prior; ``None`` or an empty prior makes this exactly the base sampler.
        base: the sampler to mix with (default: ``TPESampler(seed=seed)``).
        w0, c, min_compare: the weight schedule (see :func:`prior_weight`).
        eps: in prior mode, chance of drawing a categorical value uniformly instead of from the prior
            (keeps every value reachable).
        seed: seed of the mixing and prior draws.
    """

    def __init__(self, prior: Prior | None = None, base: BaseSampler | None = None, *, w0: float = 0.9,
                 c: float = 10.0, min_compare: int = 2, eps: float = 0.1, seed: int | None = None) -> None:
        self.prior = prior if prior is not None else Prior()
        self.base = base if base is not None else optuna.samplers.TPESampler(seed=seed)
        self.w0, self.c, self.min_compare, self.eps = float(w0), float(c), int(min_compare), float(eps)
        self._seed = seed
        self._rng = np.random.RandomState(seed)
        self._plans: dict[int, dict[str, Any]] = {}  # trial id -> prior-mode parameter plan
        self._modes: dict[int, str] = {}

    # -------------------------------------------------------------- weight
    def weight(self, study: Study) -> float:
        """The current probability of a prior-mode trial."""
        if self.prior.empty:
            return 0.0
        maximize = study.directions[0] == StudyDirection.MAXIMIZE
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        prior_vals = [t.values[0] for t in done if t.system_attrs.get(MODE_ATTR) == "prior"]
        base_vals = [t.values[0] for t in done if t.system_attrs.get(MODE_ATTR) == "base"]
        return prior_weight(len(done), prior_vals, base_vals, w0=self.w0, c=self.c,
                            min_compare=self.min_compare, maximize=maximize)

    # -------------------------------------------------------------- BaseSampler
    def reseed_rng(self) -> None:
        self.base.reseed_rng()
        self._rng = np.random.RandomState()

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.base.before_trial(study, trial)
        if trial.system_attrs.get("fixed_params"):  # enqueued: neither the prior nor the base proposed it
            self._modes[trial._trial_id] = "fixed"
            study._storage.set_trial_system_attr(trial._trial_id, MODE_ATTR, "fixed")
            return
        mode = "prior" if self._rng.random_sample() < self.weight(study) else "base"
        self._modes[trial._trial_id] = mode
        study._storage.set_trial_system_attr(trial._trial_id, MODE_ATTR, mode)
        if mode == "prior":
            self._plans[trial._trial_id] = self._plan(study)

    def _mode(self, trial: FrozenTrial) -> str:
        return self._modes.get(trial._trial_id) or str(trial.system_attrs.get(MODE_ATTR, "base"))

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if self._mode(trial) == "prior":
            return {}
        return self.base.infer_relative_search_space(study, trial)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if self._mode(trial) == "prior":
            return {}
        return self.base.sample_relative(study, trial, search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        plan = self._plans.get(trial._trial_id) if self._mode(trial) == "prior" else None
        if plan is not None and param_name in plan:
            value = plan[param_name]
            if _contains(param_distribution, value):
                return value
        if plan is not None and param_name in self.prior.dims:
            value = self._draw(param_name, param_distribution)
            if value is not None:
                return value
        return self.base.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._plans.pop(trial._trial_id, None)
        self._modes.pop(trial._trial_id, None)
        self.base.after_trial(study, trial, state, values)

    # -------------------------------------------------------------- prior draws
    def _plan(self, study: Study) -> dict[str, Any]:
        """The next untried concrete design, else a fresh draw from the per-parameter distributions."""
        tried = {_key(t.params) for t in study.get_trials(deepcopy=False)}
        for design in self.prior.designs:
            if _key(design) not in tried and not any(_covers(t.params, design) for t in
                                                     study.get_trials(deepcopy=False)):
                return dict(design)
        for _ in range(50):
            plan = {name: self._choice(dist) for name, dist in self.prior.dims.items()}
            if _key(plan) not in tried:
                return plan
        return plan

    def _choice(self, dist: Mapping[Any, float]) -> Any:
        values = list(dist)
        p = np.asarray([dist[v] for v in values], dtype=np.float64)
        return values[int(self._rng.choice(len(values), p=p / p.sum()))]

    def _draw(self, name: str, distribution: BaseDistribution) -> Any:
        dist = {v: p for v, p in self.prior.dims[name].items() if _contains(distribution, v)}
        if isinstance(distribution, CategoricalDistribution):
            choices = list(distribution.choices)
            probs = np.full(len(choices), self.eps / len(choices))
            for i, c in enumerate(choices):
                probs[i] += (1.0 - self.eps) * dist.get(c, 0.0) / max(sum(dist.values()), 1e-12)
            if not dist:
                return None
            return choices[int(self._rng.choice(len(choices), p=probs / probs.sum()))]
        if not dist or self._rng.random_sample() < self.eps:
            return None
        return self._choice(dist)


def _contains(distribution: BaseDistribution, value: Any) -> bool:
    try:
        if isinstance(distribution, CategoricalDistribution):
            return value in distribution.choices
        if isinstance(distribution, (FloatDistribution, IntDistribution)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return False
            return bool(distribution._contains(distribution.to_internal_repr(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return False


def _key(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def _covers(params: Mapping[str, Any], design: Mapping[str, Any]) -> bool:
    return bool(design) and all(k in params and params[k] == v for k, v in design.items())


# ----------------------------------------------------------------------------- priors from the bank
def space_to_params(space: Any) -> Callable[[BankDesign], Mapping[str, Any] | None]:
    """``design -> parameters of space`` for designs stored with that space's parameters.

    A design qualifies when it was stored by a space of the same name, or when its stored parameters
    all name dimensions of ``space`` with allowed values; anything else maps to ``None``.
    """
    from autogt.spaces import distributions

    dists = distributions(space) if space is not None else {}
    name = getattr(space, "name", "")

    def to_params(design: BankDesign) -> Mapping[str, Any] | None:
        if not design.params:
            return None
        if dists:
            if not all(k in dists and _contains(dists[k], v) for k, v in design.params.items()):
                return None
        elif design.space != name:
            return None
        return dict(design.params)

    return to_params


def prior_for(task: Any, bank: Any, space: Any, *, k: int = 3, anchors: Mapping[str, float] | None = None,
              method: str = "auto", top: int = 20, n_designs: int = 5, min_distance: int = 1,
              to_params: Callable[[BankDesign], Mapping[str, Any] | None] | None = None,
              **build_kw: Any) -> Prior:
    """The transfer prior for ``task`` in ``space`` from ``k`` similar bank tasks.

    The ``k`` tasks are those with the largest weight, similarity times :func:`autogt.bank.reliability`
    (``weigh_reliability=False``: the ``k`` most similar). Tasks whose designs cannot be expressed in
    ``space`` contribute nothing; with an empty bank the prior is empty and :class:`PriorSampler` is
    plain TPE.

    Args:
        task: a ``Task``, ``BankTask``, ``describe()`` dict or the name of a bank task.
        bank: an :class:`autogt.bank.Bank`.
        space: an :class:`autogt.spaces.Space` (or None with an explicit ``to_params``).
        k: number of similar tasks. ``anchors``/``method``: see :meth:`Bank.similar`.
        top, n_designs, min_distance, build_kw: see :func:`autogt.bank.build_prior`.
    """
    convert = to_params or space_to_params(space)
    similar = bank.similar(task, k=len(bank.tasks()), anchors=anchors, method=method)
    records = {t.name: bank.results(t) for t, _ in similar}
    usable = [(t.name, s) for t, s in similar if any(convert(r.design) is not None for r in records[t.name])]
    weights, rel = task_weights(usable, records, power=build_kw.get("power", 1.0),
                                weigh_reliability=build_kw.get("weigh_reliability", True))
    usable.sort(key=lambda ns: -weights[ns[0]])  # the k tasks with the largest weights (stable: ties by similarity)
    usable = usable[: max(k, 0)]
    return build_prior(usable, {n: records[n] for n, _ in usable}, convert, top=top, n_designs=n_designs,
                       min_distance=min_distance, reliabilities=rel, **build_kw)


def make_prior_controller(space: Any, study: optuna.Study, *, objectives: Sequence[str] = ("metric",),
                          seed: int = 0, prior: Prior | None = None, base: str = "tpe",
                          **sampler_kw: Any) -> Any:
    """Controller factory registered as ``prior``: an Optuna controller whose sampler is a
    :class:`PriorSampler` over the ``base`` controller's sampler. Without ``prior`` it is plain ``base``."""
    from autogt.controllers._optuna import SAMPLERS, OptunaController

    controller = OptunaController(space, study, objectives=objectives)
    study.sampler = PriorSampler(prior, SAMPLERS[base](space, study, seed), seed=seed, **sampler_kw)
    return controller


register("controller", "prior", make_prior_controller)
