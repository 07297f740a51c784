from __future__ import annotations

import pytest
import torch

import autogt.models  # noqa: F401  (registers the built-in ops)

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
