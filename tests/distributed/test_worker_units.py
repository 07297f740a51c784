"""In-process checks of the worker helpers (no server, no subprocesses)."""

from __future__ import annotations

import datetime

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from autogt.controllers.search import OWNER, RETRY_OF
from autogt.distributed import is_transient, release_orphans, release_own_trials, resolve_storage


def test_resolve_storage_forms(tmp_path):
    journal = resolve_storage(f"journal:{tmp_path / 'a' / 's.log'}")
    assert isinstance(journal, optuna.storages.JournalStorage)
    assert isinstance(resolve_storage(str(tmp_path / "s.log")), optuna.storages.JournalStorage)
    assert resolve_storage("sqlite:///x.db") == "sqlite:///x.db"
    assert resolve_storage("postgresql://u@h/db").startswith("postgresql")


def test_is_transient_follows_the_cause_chain():
    op = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    wrapped = optuna.exceptions.StorageInternalError("commit failed")
    wrapped.__cause__ = op
    assert is_transient(op) and is_transient(wrapped) and is_transient(ConnectionRefusedError())
    assert not is_transient(ValueError("bad spec")) and not is_transient(KeyError("no study"))


@pytest.mark.parametrize("which", ["own", "orphan"])
def test_interrupted_trials_are_failed_and_requeued(which):
    study = optuna.create_study()
    t = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    if which == "own":
        from autogt.controllers.search import _owner

        t.set_user_attr(OWNER, _owner())
        assert release_orphans(study, 0.0) == []  # has an owner: not an orphan
        got = release_own_trials(study)
    else:
        assert release_orphans(study, 3600.0) == []  # too young
        assert release_own_trials(study) == []  # not ours
        start = study.trials[0].datetime_start
        assert start is not None and datetime.datetime.now() - start < datetime.timedelta(seconds=60)
        got = release_orphans(study, 0.0)
    trials = study.get_trials(deepcopy=False)
    assert got == [t.number]
    assert trials[0].state == TrialState.FAIL
    assert trials[1].state == TrialState.WAITING and trials[1].user_attrs[RETRY_OF] == t.number
    assert trials[1].system_attrs["fixed_params"] == trials[0].params  # enqueued: asked next with these


def test_the_loser_of_a_race_for_the_last_slot_gives_it_back():
    from optuna.trial import TrialState

    from autogt.controllers.search import SURPLUS, _surplus, spent_trials

    study = optuna.create_study()
    for x in (0.1, 0.2):
        t = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        study.tell(t, x)
    a, b = study.ask(), study.ask()  # two workers both saw 2 of 3 spent and asked
    assert not _surplus(study, a.number, 3) and _surplus(study, b.number, 3)
    study._storage.set_trial_user_attr(b._trial_id, SURPLUS, True)
    study.tell(b, state=TrialState.FAIL)
    study.tell(a, 0.3)
    assert spent_trials(study) == 3  # the given-back trial is not spent
    assert not _surplus(study, a.number, 4) and not _surplus(study, b.number, 4)


def test_trial_count_is_one_query_and_agrees_with_optuna(tmp_path):
    from autogt.controllers.search import _n_trials

    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'c.db'}")
    study = optuna.create_study(storage=storage, study_name="c")
    other = optuna.create_study(storage=storage, study_name="other")
    for _ in range(3):
        study.ask()
    other.ask()
    study.enqueue_trial({"x": 1})
    sid = storage.get_study_id_from_name("c")
    assert _n_trials(storage, sid) == storage.get_n_trials(sid) == 4
    assert _n_trials(study._storage, sid) == 4  # through Optuna's cached storage too
    memory = optuna.storages.InMemoryStorage()
    assert _n_trials(memory, memory.create_new_study([optuna.study.StudyDirection.MINIMIZE])) == 0


def test_a_trial_lost_before_drawing_parameters_is_not_spent():
    """The server went away between ``ask`` and the first ``suggest``: the orphan holds no parameters, so
    nothing can be re-queued; it must not eat a slot of the budget either (seen in CI: 15 of 16 complete)."""
    from autogt.controllers.search import RELEASED, spent_trials

    study = optuna.create_study()
    done = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    study.tell(done, 0.5)
    study.ask()  # no parameters yet
    assert release_orphans(study, 0.0) == [1]
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL]  # nothing to re-queue
    assert trials[1].user_attrs[RELEASED] is True
    assert spent_trials(study) == 1
    crashed = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    study.tell(crashed, state=TrialState.FAIL)  # a genuine failed evaluation is still spent ...
    assert spent_trials(study) == 2
    fixed = study.ask()
    study.tell(fixed, state=TrialState.FAIL)  # ... parameters or not (a space of fixed values draws none)
    assert spent_trials(study) == 3
