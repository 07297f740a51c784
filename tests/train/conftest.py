from __future__ import annotations

import pytest
from train_standins import graph_task, node_task

from autogt.data.task import Task


@pytest.fixture
def binary_task() -> Task:
    return graph_task("binary")


@pytest.fixture
def regression_task() -> Task:
    return graph_task("regression")


@pytest.fixture
def nodes() -> Task:
    return node_task()
