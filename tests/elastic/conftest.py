"""Fixtures of the elastic tests: toy tasks and a jointly trained elastic checkpoint."""

from __future__ import annotations

import pytest
import torch
from elastic_helpers import tiny_spec, toy_task

import autogt.models  # noqa: F401  (registers the built-in ops)
from autogt.data.task import Task

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def reg_task() -> Task:
    return toy_task("regression")


@pytest.fixture(scope="session")
def bin_task() -> Task:
    return toy_task("binary")


@pytest.fixture(scope="session")
def elastic_ckpt(tmp_path_factory, bin_task) -> str:
    """An elastic tiny GPS-like model trained jointly on the binary toy task, saved as a checkpoint."""
    from autogt.elastic import train_elastic
    from autogt.train import Budget

    out = tmp_path_factory.mktemp("elastic-ckpt")
    torch.manual_seed(0)
    _, result = train_elastic(tiny_spec(), bin_task, Budget(epochs=8, patience=0, latency_repeats=0), mode="joint",
                              out_dir=out)
    assert result.status == "ok", result.reason
    return str(result.checkpoint)
