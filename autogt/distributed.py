"""Many machines, one study: the loop behind ``autogt worker``.

A worker joins a study by name and storage alone (the search arguments live in the study's
``user_attrs``, see :func:`autogt.controllers.search.join`) and runs trials until the study holds its
budget of spent trials (``--trials N`` is shared by all workers) and no trial is still running.

Fault tolerance:

- A worker killed mid-trial leaves its trial RUNNING. On the same host any other worker sees the owner
  process is gone; on another host the trial heartbeat (RDB storages) goes stale after
  :data:`~autogt.controllers.search.GRACE_S` s. Either way the trial is marked FAIL and its parameters are
  enqueued again (``user_attrs["autogt:retry_of"]``), so the budget is neither lost nor duplicated.
  Workers keep polling while trials of others are RUNNING, so a dead worker's last trial is retried.
- Lost database connection (``sqlalchemy`` ``OperationalError``, Optuna's ``StorageInternalError``): the
  worker backs off exponentially and retries; after ``retries`` failed attempts in a row it gives up with
  :class:`WorkerError` (the CLI prints one line and exits 1). Its own trials interrupted by the outage are
  failed and re-queued on reconnection.
- Bank writes are idempotent on ``(task, design, seed, fidelity)``. A worker writes the COMPLETE trials it
  ran to the bank as it goes (never before the trial is COMPLETE) and every COMPLETE trial of the study
  when it stops, so trials finished by a worker that died later are not missed.

Storages: any Optuna RDB URL (``postgresql://`` for many machines; psycopg 3 is used when psycopg2 is
absent), ``sqlite:///PATH`` (the default of ``autogt search``: WAL journal and a 60 s busy timeout, safe
for several workers on one machine's local disk), or ``journal:PATH`` / a ``*.log`` path: Optuna's
JournalStorage on a file with the ``open(O_EXCL)`` lock, for file systems where SQLite locking falls short
(NFS). Journal storages have no heartbeats, so a dead worker's trial is only recovered from the same host.

Example:
    >>> from autogt.distributed import run_worker
    >>> r = run_worker("nasbench:cora-nasbench_graph-random-s0", "postgresql://db/autogt",
    ...                bank="postgresql://db/bank")                              # doctest: +SKIP
    >>> r.complete >= r.budget                                                   # doctest: +SKIP
    True
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

_search = importlib.import_module("autogt.controllers.search")  # the module (the package exports the function)

__all__ = ["run_worker", "WorkerResult", "WorkerError", "resolve_storage", "is_transient", "sync_bank",
           "release_own_trials", "release_orphans", "bank_task_name", "JOURNAL_PREFIX"]

JOURNAL_PREFIX = "journal:"


class WorkerError(RuntimeError):
    """The worker gave up (database unreachable after every retry, or a study it cannot join)."""


@dataclass
class WorkerResult:
    """What one worker did.

    Attributes:
        study, storage: the study name and storage it worked on.
        budget: the study's budget of spent trials.
        spent, complete, failed: the study's counts when the worker stopped.
        ran: trials this worker finished (any state).
        banked: new bank results this worker wrote.
        reconnects: transient storage errors it recovered from.
        recovered: trial numbers it failed and re-queued (dead owners, stale heartbeats, its own).
        reason: why it stopped (``budget``, ``timeout``).
    """

    study: str
    storage: str
    budget: int = 0
    spent: int = 0
    complete: int = 0
    failed: int = 0
    ran: int = 0
    banked: int = 0
    reconnects: int = 0
    recovered: list[int] = field(default_factory=list)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The CLI's ``--json`` object."""
        return dict(self.__dict__)


# ----------------------------------------------------------------------------- storages and errors
def resolve_storage(url: str) -> str | optuna.storages.BaseStorage:
    """A storage URL as ``join`` takes it: ``journal:PATH``/``*.log`` -> JournalStorage (file + open lock);
    ``postgresql://`` -> ``postgresql+psycopg://`` when only psycopg 3 is installed; others unchanged."""
    text = str(url)
    if text.startswith(JOURNAL_PREFIX) or (not _is_url(text) and text.endswith((".log", ".journal"))):
        path = text[len(JOURNAL_PREFIX):] if text.startswith(JOURNAL_PREFIX) else text
        path = path[2:] if path.startswith("//") else path
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    if text.startswith("postgresql://"):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            return "postgresql+psycopg://" + text[len("postgresql://"):]
    return text


def _is_url(text: str) -> bool:
    return "://" in text


_TRANSIENT_NAMES = ("OperationalError", "InterfaceError", "StorageInternalError", "DisconnectionError")


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a lost/locked database connection worth retrying."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, (ConnectionError, TimeoutError)) or type(e).__name__ in _TRANSIENT_NAMES:
            return True
        e = e.__cause__ or e.__context__
    return False


def _owner_is_me(owner: Any, me: dict[str, Any]) -> bool:
    return isinstance(owner, dict) and owner.get("host") == me["host"] and owner.get("pid") == me["pid"]


def release_own_trials(study: optuna.Study) -> list[int]:
    """Fail and re-queue RUNNING trials owned by *this* process (left behind when a storage error aborted
    the loop while the process lived on); call only when this process runs no trial. Returns their numbers."""
    me = _search._owner()
    out: list[int] = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if _owner_is_me(t.user_attrs.get(_search.OWNER), me) and _search.release(study, t):
            out.append(t.number)
    return out


def release_orphans(study: optuna.Study, grace_s: float) -> list[int]:
    """Fail and re-queue RUNNING trials that have no owner yet ``grace_s`` s after they started.

    ``search``'s loop records the owner right after ``ask``; a storage outage between the two leaves a
    RUNNING trial that neither the owner check nor the heartbeat (never recorded) would ever recover.
    """
    now = datetime.datetime.now()
    out: list[int] = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if _search.OWNER in t.user_attrs or t.datetime_start is None:
            continue
        if (now - t.datetime_start).total_seconds() >= grace_s and _search.release(study, t):
            out.append(t.number)
    return out


# ----------------------------------------------------------------------------- bank
def bank_task_name(data: str) -> str:
    """Bank task of a study's data: ``nasbench:cora`` -> ``nasbench/cora`` (the NAS-Bench-Graph import's name)."""
    from autogt.controllers.tabular import parse_tabular

    tab = parse_tabular(data)
    if tab is not None:
        from autogt.bank._nasbench import task_name

        return task_name(tab)
    return str(data)


def sync_bank(study: optuna.Study, bank: Any, *, trials: list[FrozenTrial] | None = None,
              only: Callable[[FrozenTrial], bool] | None = None, source: str = "") -> int:
    """Write COMPLETE trials of ``study`` to ``bank`` (idempotent); returns how many were new."""
    from autogt.bank import BankDesign
    from autogt.models.spec import ArchSpec

    attrs = study.user_attrs
    task = bank_task_name(attrs.get("data", study.study_name))
    seed = int(attrs.get("seed", 0))
    space = str(attrs.get("space", ""))
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if trials is None else trials
    new = 0
    before = _bank_count(bank, task)
    for t in trials:
        if t.state != TrialState.COMPLETE or not t.user_attrs.get("spec") or (only and not only(t)):
            continue
        metrics = dict(t.user_attrs.get("metrics") or {})
        if metrics.get("status", "ok") != "ok":
            continue
        spec = ArchSpec.from_json(t.user_attrs["spec"])
        design = BankDesign.from_spec(spec, space=space, params={k: v for k, v in t.params.items()})
        fidelity = metrics.get("epochs") or attrs.get("epochs")
        metrics.pop("checkpoint", None)
        bank.add_result(task, design, metrics, seed=seed, fidelity=fidelity, source=source or study.study_name)
    if before is not None:
        after = _bank_count(bank, task)
        new = (after or 0) - before
    return new


def _bank_count(bank: Any, task: str) -> int | None:
    with contextlib.suppress(Exception):
        return len(bank.results(task, status=None))
    return None


class _BankingEvaluator:
    """Wraps the study's evaluator: before each evaluation, writes this worker's newly COMPLETE trials to the
    bank (errors there are ignored; the final :func:`sync_bank` catches up)."""

    def __init__(self, inner: Any, flush: Callable[[], None]) -> None:
        self._inner = inner
        self._flush = flush

    def __getattr__(self, name: str) -> Any:  # metric, maximize, name of a TabularEvaluator
        return getattr(self._inner, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with contextlib.suppress(Exception):
            self._flush()
        return self._inner(*args, **kwargs)


def _base_evaluator(data: str, tabular_delay: float) -> Any:
    from autogt.controllers.tabular import TabularEvaluator, parse_tabular

    tab = parse_tabular(data)
    if tab is not None:
        return TabularEvaluator(tab, delay_s=tabular_delay)
    from autogt.train import evaluate

    return evaluate


# ----------------------------------------------------------------------------- the worker loop
def run_worker(study: str, storage: str, *, bank: str | None = None, trials: int | None = None,
               timeout: float | None = None, device: str | None = None, out: str | None = None, retries: int = 8,
               backoff_s: float = 0.5, max_backoff_s: float = 30.0, poll_s: float = 1.0, tabular_delay: float = 0.0,
               orphan_grace_s: float | None = None, log: Callable[[str], None] | None = None) -> WorkerResult:
    """Run trials of ``study`` until it holds its budget of spent trials and nothing is running.

    Args:
        study, storage: the study to join (see :func:`resolve_storage` for the storage forms).
        bank: a bank URL to write each COMPLETE trial to (``None``: no bank writes).
        trials: the study's total budget (default: the one stored in the study); shared by all workers.
        timeout: stop starting trials after this many seconds.
        device, out: as for :func:`~autogt.controllers.search.join`.
        retries: transient storage errors in a row before giving up with :class:`WorkerError`.
        backoff_s, max_backoff_s: first and largest wait between retries (doubling).
        poll_s: wait while the budget is held by trials that other workers are running.
        tabular_delay: seconds per tabular look-up (tests, demos).
        orphan_grace_s: a RUNNING trial without an owner this long after its start is failed and re-queued
            (see :func:`release_orphans`; default :data:`~autogt.controllers.search.GRACE_S`).
        log: one-line progress messages (default: stderr).
    """
    say = log or (lambda m: print(f"autogt worker: {m}", file=sys.stderr, flush=True))
    store = resolve_storage(storage)
    result = WorkerResult(study=study, storage=str(storage))
    started = time.monotonic()
    me = _search._owner()
    the_bank = None
    banked: set[int] = set()
    failures = 0
    dirty = False  # a storage error aborted a join: our own RUNNING trials are orphans

    def mine(t: FrozenTrial) -> bool:
        return _owner_is_me(t.user_attrs.get(_search.OWNER), me)

    while True:
        try:
            st = optuna.load_study(study_name=study, storage=store)
            attrs = st.user_attrs
            if "data" not in attrs:
                raise WorkerError(f"study {study!r} was not started by autogt search (no stored arguments)")
            if bank and the_bank is None:
                from autogt.bank import Bank

                the_bank = Bank(bank, shipped=False)
            if dirty:
                result.recovered += release_own_trials(st)
                dirty = False
            result.recovered += _search.recover_stale_trials(st)
            result.recovered += release_orphans(st, _search.GRACE_S if orphan_grace_s is None else orphan_grace_s)
            budget = int(trials if trials is not None else attrs["trials"])
            result.budget = budget
            current = st.get_trials(deepcopy=False)
            spent = _search.spent_trials(st, current)
            running = sum(1 for t in current if t.state == TrialState.RUNNING)
            timed_out = timeout is not None and time.monotonic() - started >= timeout
            if (spent >= budget and running == 0) or timed_out:
                result.reason = "timeout" if timed_out and spent < budget else "budget"
                if the_bank is not None:
                    result.banked += sync_bank(st, the_bank)
                _count(result, st)
                return result
            if spent + running >= budget:  # the rest is running elsewhere: wait (and recover it if they die)
                failures = 0
                time.sleep(poll_s)
                continue

            def flush(st: optuna.Study = st, the_bank: Any = the_bank) -> None:
                if the_bank is None:
                    return
                done = [t for t in st.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                        if t.number not in banked and mine(t)]
                result.banked += sync_bank(st, the_bank, trials=done)
                banked.update(t.number for t in done)

            evaluator = _BankingEvaluator(_base_evaluator(attrs["data"], tabular_delay), flush)
            left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
            _search.join(study, store, trials=budget, device=device, out=out, progress=False, report=False,  # type: ignore[arg-type]
                         evaluator=evaluator, timeout=left)
            failures = 0
            with contextlib.suppress(Exception):
                flush()
        except WorkerError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                raise
            failures += 1
            dirty = True
            if failures > retries:
                raise WorkerError(f"storage unreachable after {retries} retries: {_one_line(exc)}") from exc
            wait = min(max_backoff_s, backoff_s * 2 ** (failures - 1))
            result.reconnects += 1
            say(f"storage error ({_one_line(exc)}); retry {failures}/{retries} in {wait:.1f}s")
            time.sleep(wait)


def _count(result: WorkerResult, st: optuna.Study) -> None:
    trials = st.get_trials(deepcopy=False)
    me = _search._owner()
    result.spent = _search.spent_trials(st, trials)
    result.complete = sum(1 for t in trials if t.state == TrialState.COMPLETE)
    result.failed = sum(1 for t in trials if t.state == TrialState.FAIL)
    result.ran = sum(1 for t in trials if t.state.is_finished() and _owner_is_me(t.user_attrs.get(_search.OWNER), me))


def _one_line(exc: BaseException) -> str:
    root: BaseException = exc
    while root.__cause__ is not None:
        root = root.__cause__
    text = str(root).strip().splitlines()[0] if str(root).strip() else type(root).__name__
    return f"{type(root).__name__}: {text}"[:200]
