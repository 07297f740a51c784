"""Controllers: ask/tell over a :class:`~autogt.spaces.Space`, and ``search()`` around them.

Registered under kind ``controller``: ``tpe`` (default), ``random``, ``gp``, ``cmaes``, ``nsga2``,
``nsga3`` (Optuna samplers), plus ``nni:TUNER`` for NNI tuners (optional ``autogt[nni]``). Shared
contract tests: :mod:`autogt.testing.controllers`.

``autogt.controllers.search`` is the :func:`search` function (it shadows its module's name); import the
module's other names with ``from autogt.controllers.search import SearchResult, join, ...``.

Example:
    >>> from autogt.controllers import controller_names
    >>> {"tpe", "random", "gp", "cmaes", "nsga2", "nsga3"} <= set(controller_names())
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import optuna

from autogt.controllers import _optuna  # noqa: F401  (registers the Optuna-backed controllers)
from autogt.controllers._base import OBJECTIVES, Controller, ControllerError, Proposal
from autogt.controllers._nni import NNIController, NNIMissingError, nni_controller
from autogt.controllers._optuna import OptunaController, directions
from autogt.controllers.report import report
from autogt.controllers.search import SearchError, SearchResult, TrialSummary, join, search
from autogt.controllers.tabular import TabularEvaluator
from autogt.registry import UnknownNameError, get, names
from autogt.spaces import Space

__all__ = [
    "Controller",
    "Proposal",
    "OBJECTIVES",
    "ControllerError",
    "OptunaController",
    "NNIController",
    "NNIMissingError",
    "TabularEvaluator",
    "make_controller",
    "controller_names",
    "directions",
    "search",
    "join",
    "report",
    "SearchResult",
    "TrialSummary",
    "SearchError",
]


def controller_names() -> list[str]:
    """Registered controller names (``nni:TUNER`` comes on top of these)."""
    return names("controller")


def make_controller(name: str, space: Space, study: optuna.Study, *, objectives: Sequence[str] = ("metric",),
                    seed: int = 0, tuner: Any = None) -> Controller:
    """The controller ``name`` (registered, or ``nni:TUNER``) over ``study``; sets the study's sampler.

    Args:
        name: ``tpe``, ``random``, ``gp``, ``cmaes``, ``nsga2``, ``nsga3`` or ``nni:TUNER``.
        space: the space to propose from.
        study: the Optuna study recording the trials; its directions match ``objectives``.
        objectives: names from :data:`OBJECTIVES`.
        seed: sampler seed.
        tuner: for ``nni:...``, an already-built tuner object (used instead of importing NNI).
    """
    if name.startswith("nni:"):
        return nni_controller(name[4:], space, study, objectives=objectives, seed=seed, tuner=tuner)
    try:
        factory = get("controller", name)
    except UnknownNameError as exc:
        raise ControllerError(f"{exc}; or nni:TUNER") from None
    return factory(space, study, objectives=objectives, seed=seed)

from autogt.controllers import prior as _prior  # noqa: E402,F401  (registers the bank-prior controller)
from autogt.controllers.prior import PriorSampler, prior_for  # noqa: E402

__all__ += ["PriorSampler", "prior_for"]
