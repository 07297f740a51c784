"""The shared controller contract (autogt.testing.controllers) on the ``prior`` controller, with a prior."""

from __future__ import annotations

import pytest

from autogt.bank import Prior
from autogt.controllers.prior import make_prior_controller
from autogt.testing.controllers import *  # noqa: F401,F403

# a small prior over the nasbench_graph space (other spaces' parameters fall through to TPE)
PRIOR = Prior(
    tasks=(("other", 0.8),),
    dims={"link": {"0-1-2-3": 0.7, "0-0-1-2": 0.3}, "layer1.local": {"gcn": 0.6, "sage": 0.4},
          "layer2.local": {"gat": 1.0}},
    designs=({"link": "0-1-2-3", "layer1.local": "gcn", "layer2.local": "gat", "layer3.local": "gcn",
              "layer4.local": "sage"},),
)


@pytest.fixture(params=["with-prior", "empty-prior"])
def controller_factory(request):
    prior = PRIOR if request.param == "with-prior" else None

    def factory(space, study, *, objectives=("metric",), seed=0):
        return make_prior_controller(space, study, objectives=objectives, seed=seed, prior=prior)

    return factory
