"""A search killed with SIGKILL mid-trial completes its budget on re-run: nothing lost, nothing duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from autogt.controllers.search import RETRY_OF, spent_trials

ROOT = Path(__file__).resolve().parents[2]


def _cmd(out: Path, trials: int) -> list[str]:
    return [sys.executable, "-m", "autogt.cli", "search", "--data", "nasbench:cora", "--space", "nasbench_graph",
            "--trials", str(trials), "--controller", "random", "--out", str(out), "--study", "killme",
            "--tabular-delay", "0.25", "--no-progress", "--no-report", "--json"]


def _states(db: Path) -> list[TrialState]:
    """Trial states; a RUNNING trial whose parameters are not yet stored shows as WAITING (not ready to kill)."""
    if not db.exists():
        return []
    try:
        study = optuna.load_study(study_name="killme", storage=f"sqlite:///{db}")
    except Exception:  # not created yet
        return []
    return [TrialState.WAITING if t.state == TrialState.RUNNING and not t.params else t.state
            for t in study.get_trials(deepcopy=False)]


def test_sigkill_mid_trial_then_rerun_completes_the_budget(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    db = tmp_path / "study.db"
    proc = subprocess.Popen(_cmd(tmp_path, 8), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill while trial 4 is running (3 complete, 1 running)
        states = _states(db)
        if states.count(TrialState.COMPLETE) >= 3 and states[-1] == TrialState.RUNNING:
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    else:
        raise AssertionError("the search never got to its fourth trial")
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    killed = optuna.load_study(study_name="killme", storage=f"sqlite:///{db}").get_trials()
    running = [t for t in killed if t.state == TrialState.RUNNING]
    assert len(running) == 1 and running[0].params  # the trial in flight, left behind

    done = subprocess.run(_cmd(tmp_path, 8), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["trials"] == 8 and out["checkpoint"] is None and out["report"] is None

    study = optuna.load_study(study_name="killme", storage=f"sqlite:///{db}")
    trials = study.get_trials()
    numbers = [t.number for t in trials]
    assert numbers == sorted(set(numbers))  # no duplicated trial numbers
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 8  # nothing lost
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert [t.number for t in failed] == [running[0].number]  # only the interrupted one
    retry = [t for t in trials if t.user_attrs.get(RETRY_OF) == running[0].number]
    assert len(retry) == 1 and retry[0].params == running[0].params  # re-run once, same architecture
    assert spent_trials(study) == 8 and len(trials) == 9
    completed_before = {t.number for t in killed if t.state == TrialState.COMPLETE}
    assert completed_before <= {t.number for t in trials if t.state == TrialState.COMPLETE}
