"""Several ``autogt worker`` processes on one PostgreSQL study: a worker killed mid-trial, a server restart."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import optuna
from optuna.trial import TrialState
from worker_helpers import finish, make_db, start_worker, wait_for

from autogt.bank import Bank, BankDesign
from autogt.controllers.search import OWNER, RETRY_OF, search, spent_trials
from autogt.distributed import bank_task_name, resolve_storage
from autogt.models.spec import ArchSpec


def _create(name: str, storage: str, budget: int, out: Path) -> None:
    """An empty tabular study holding its search arguments (timeout=0: store them, run nothing)."""
    search("nasbench:cora", "nasbench_graph", trials=budget, controller="random", storage=resolve_storage(storage),
           study=name, out=str(out), progress=False, report=False, timeout=0)


def _load(name: str, storage: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=resolve_storage(storage))


def _designs(study: optuna.Study) -> set[str]:
    return {BankDesign.from_spec(ArchSpec.from_json(t.user_attrs["spec"])).hash
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}


def test_killed_worker_trial_is_retried_and_budget_exact(pg, tmp_path):
    storage, bank_url = make_db(pg, "kill_study"), make_db(pg, "kill_bank")
    budget = 12
    _create("kill", storage, budget, tmp_path)
    # the victim's trials are slow, so the trial seen running is still running when the signal lands
    workers = [start_worker("kill", storage, tmp_path, "--bank", bank_url, "--tabular-delay", delay)
               for delay in ("4", "0.5", "0.5")]
    victim = workers[0]

    def victim_trial() -> int | None:
        trials = _load("kill", storage).get_trials(deepcopy=False)  # mid-run: others keep going meanwhile
        if sum(t.state == TrialState.COMPLETE for t in trials) < 2:
            return None
        for t in (t for t in trials if t.state == TrialState.RUNNING):
            owner = t.user_attrs.get(OWNER) or {}
            if owner.get("pid") == victim.pid and owner.get("host") == socket.gethostname():
                return t.number + 1  # truthy for trial 0
        return None

    killed = wait_for(victim_trial, 90, "the victim worker to run a trial") - 1
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    results = [finish(w) for w in workers[1:]]
    for rc, obj, err in results:
        assert rc == 0, err
        assert obj["reason"] == "budget"

    study = _load("kill", storage)
    trials = study.get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == budget, [(t.number, t.state.name) for t in trials]
    assert spent_trials(study, trials) == budget
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert by_number[killed].state == TrialState.FAIL  # the killed trial was failed ...
    retries = [t for t in trials if t.user_attrs.get(RETRY_OF) == killed]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE  # ... and re-run once, to completion
    assert retries[0].params == by_number[killed].params

    bank = Bank(bank_url, shipped=False)
    records = bank.results(bank_task_name("nasbench:cora"), status=None)
    assert len(records) == len({r.result.unique_key for r in records})  # one record per (task, design, seed, fid.)
    assert {r.design.hash for r in records} == _designs(study)  # exactly the completed trials' designs
    bank.close()


def test_workers_survive_server_restart(pg, tmp_path):
    storage, bank_url = make_db(pg, "restart_study"), make_db(pg, "restart_bank")
    budget = 16
    _create("restart", storage, budget, tmp_path)
    workers = [start_worker("restart", storage, tmp_path, "--bank", bank_url, "--tabular-delay", "0.3",
                            "--retries", "10", "--orphan-grace", "3") for _ in range(2)]

    def some_done() -> bool:
        try:
            trials = _load("restart", storage).get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            return len(trials) >= 3
        except Exception:
            return False

    wait_for(some_done, 90, "three trials to complete", every=0.1)
    pg.restart(down_s=2)
    try:
        results = [finish(w, timeout=60) for w in workers]
    except AssertionError as exc:
        states = [(t.number, t.state.name, t.user_attrs.get(OWNER), t.datetime_start)
                  for t in _load("restart", storage).get_trials(deepcopy=False)]
        raise AssertionError(f"{exc}\ntrials: {states}") from None
    for rc, _obj, err in results:
        assert rc == 0, err
    assert sum(obj["reconnects"] for _rc, obj, _err in results) >= 1  # the outage was seen and survived
    study = _load("restart", storage)
    trials = study.get_trials(deepcopy=False)
    states = [(t.number, t.state.name, sorted(t.params), t.user_attrs.get(RETRY_OF)) for t in trials]
    assert sum(t.state == TrialState.COMPLETE for t in trials) == budget, states
    assert spent_trials(study, trials) == budget
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    bank = Bank(bank_url, shipped=False)
    assert {r.design.hash for r in bank.results(bank_task_name("nasbench:cora"), status=None)} == _designs(study)
    bank.close()


def test_worker_gives_up_with_one_line_when_storage_is_unreachable(tmp_path):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w = start_worker("nope", f"postgresql://postgres@127.0.0.1:{port}/x", tmp_path, "--retries", "2",
                     "--backoff", "0.05")
    rc, obj, err = finish(w, timeout=60)
    assert rc == 1 and obj == {}
    lines = [line for line in err.splitlines() if line.startswith("autogt: error:")]
    assert len(lines) == 1 and "unreachable after 2 retries" in lines[0], err
    assert "Traceback" not in err
