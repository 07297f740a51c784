from __future__ import annotations

import os

import pytest
import torch

# Keep tests on 2 CPU cores deterministic and isolated from the user's home.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same torch / numpy / random state, whatever ran before it and whatever
    seed this process drew (models built by a test before ``evaluate`` seeds would otherwise vary per run)."""
    import random

    import numpy as np

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _autogt_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.getbasetemp() / "autogt_home"
    monkeypatch.setenv("AUTOGT_HOME", str(home))
    yield
