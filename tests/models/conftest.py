from __future__ import annotations

import pytest
import torch

import autogt.models  # noqa: F401  (registers the built-in ops)
from autogt.testing.layers import molecule_task, node_task


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture
def mol_task():
    return molecule_task()


@pytest.fixture
def nd_task():
    return node_task()
