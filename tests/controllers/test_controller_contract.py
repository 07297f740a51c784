"""The shared controller contract (autogt.testing.controllers) on every registered controller + NNI (fake)."""

from __future__ import annotations

import pytest
from fake_nni_tuner import FakeTuner

from autogt.controllers import controller_names, make_controller
from autogt.testing.controllers import *  # noqa: F401,F403

CONTROLLERS = [*controller_names(), "nni:fake"]


def test_every_shipped_controller_is_registered():
    assert set(controller_names()) >= {"tpe", "random", "gp", "cmaes", "nsga2", "nsga3"}


@pytest.fixture(params=CONTROLLERS)
def controller_factory(request):
    name = request.param

    def factory(space, study, *, objectives=("metric",), seed=0):
        tuner = FakeTuner(seed=seed) if name.startswith("nni:") else None
        return make_controller(name, space, study, objectives=objectives, seed=seed, tuner=tuner)

    return factory
