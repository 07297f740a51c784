"""The records shipped in ``bank/``: every task has enough complete results to build a prior from."""

from __future__ import annotations

import pytest

from autogt._paths import resource
from autogt.bank import Bank
from autogt.bank._files import shipped_files
from autogt.controllers.prior import prior_for
from autogt.spaces import load_space

FILES = shipped_files(resource("bank"))


@pytest.fixture(scope="module")
def shipped():
    bank = Bank("sqlite://", shipped=False)
    for path in FILES:
        bank.import_(path)
    return bank


def test_there_are_shipped_records():
    assert FILES, "bank/ holds no shipped record file"


def test_every_shipped_task_has_40_complete_results(shipped):
    tasks = shipped.tasks()
    assert {"bbbp", "bace", "esol", "freesolv", "tox21"} <= {t.name for t in tasks}
    space = load_space("gps")
    for task in tasks:
        results = shipped.results(task)
        assert len(results) >= 40, task.name
        assert all(r.val is not None and r.result.test is not None for r in results), task.name
        assert all(r.result.metric == task.metric for r in results), task.name
        assert all(r.design.space == space.name and r.design.params for r in results), task.name
        assert task.meta and "fisher" in task.embeddings, task.name


def test_default_bank_builds_a_prior_for_a_new_molecular_task(tmp_path):
    from autogt.data import load_task

    bank = Bank(tmp_path / "user.db")  # empty user bank + the shipped overlay
    task = load_task("esol")
    prior = prior_for(task, bank, load_space("gps"))
    names = [n for n, _ in prior.tasks]
    assert names and "esol" not in names  # never its own prior
    assert prior.designs and prior.dims
