"""``search()``: controller + evaluator + storage, resumable, with a progress bar, results table and report.

Budget and resuming. ``trials`` is the total number of *spent* trials of the study: COMPLETE, PRUNED
and FAIL, except FAIL trials that were interrupted and re-run. Failed evaluations (an invalid spec, an
architecture a tabular bench does not hold, a crash) are spent. The study lives in ``storage`` (default
``sqlite:///<out>/study.db``; any Optuna storage URL works) under a name derived from the arguments, and
is opened with ``load_if_exists``, so re-running the same command continues the same study and runs only
the trials still missing. A run killed mid-trial leaves that trial RUNNING; the next run (or any other
worker) marks it FAIL and enqueues its parameters again (``user_attrs["autogt:retry_of"]``), so the
budget loses and duplicates nothing. A trial counts as abandoned when its owner process (recorded in
``user_attrs["autogt:owner"]``) is gone on this host, or when its heartbeat (RDB storages record one
every :data:`HEARTBEAT_S` s) is older than :data:`GRACE_S` s.

The search arguments are kept in the study's ``user_attrs`` (``data space space_definition controller
epochs objectives seed pruner trials``), so :func:`join` can continue or help a study from its name and
storage alone. Each trial's ``user_attrs`` hold its spec JSON and metrics.

Example:
    >>> from autogt.controllers import search
    >>> r = search("nasbench:cora", "nasbench_graph", trials=5, controller="random", out=str(tmp),
    ...            progress=False)                                               # doctest: +SKIP
    >>> r.trials, r.best.val > 0.5                                               # doctest: +SKIP
    (5, True)
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import re
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from autogt.controllers._base import Controller
from autogt.controllers._optuna import check_objectives, directions
from autogt.controllers.tabular import TabularEvaluator, parse_tabular
from autogt.models.spec import ArchSpec
from autogt.spaces import Space, load_space
from autogt.train.result import Budget, EvalResult

__all__ = ["search", "join", "SearchResult", "TrialSummary", "SearchError", "make_pruner", "default_study_name",
           "spent_trials", "recover_stale_trials", "default_out", "write_results", "split_device", "HEARTBEAT_S",
           "GRACE_S", "PRUNERS"]

HEARTBEAT_S = 10
GRACE_S = 60
PRUNERS = ("none", "median", "hyperband")
OWNER = "autogt:owner"
RETRY_OF = "autogt:retry_of"
SURPLUS = "autogt:surplus"
"""``user_attrs`` flag of a trial asked while concurrent workers had already claimed the whole budget; it is
failed unrun and not counted (see :func:`_surplus`)."""
RELEASED = "autogt:released"
"""``user_attrs`` flag of a RUNNING trial failed because its run was lost (dead owner, storage outage,
interrupt); it never counts: its parameters, if it had drawn any, are enqueued again (see :func:`release`)."""
STUDY_ATTRS = ("data", "space", "objectives")  # must match when a study is resumed


class SearchError(ValueError):
    """Bad search arguments, or a resumed study that was started with different ones."""


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class TrialSummary:
    """One finished trial: its number, spec, parameters, objective values and metrics."""

    number: int
    spec: ArchSpec | None
    params: dict[str, Any]
    values: tuple[float, ...]
    val: float | None
    test: float | None
    checkpoint: str | None
    metrics: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_trial(cls, trial: FrozenTrial) -> TrialSummary:
        attrs = trial.user_attrs
        spec = ArchSpec.from_json(attrs["spec"]) if attrs.get("spec") else None
        m = attrs.get("metrics") or {}
        metrics = {k: m.get(k) for k in ("params", "flops", "latency_ms", "epochs", "train_time_s", "metric")}
        return cls(trial.number, spec, dict(trial.params), tuple(trial.values or ()), m.get("val"), m.get("test"),
                   m.get("checkpoint"), metrics)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "spec": self.spec.to_dict() if self.spec is not None else None,
            "params": self.params,
            "values": list(self.values),
            "val": self.val,
            "test": self.test,
            "checkpoint": self.checkpoint,
            **self.metrics,
        }


@dataclass(frozen=True)
class SearchResult:
    """What a search produced.

    Attributes:
        study, storage: the Optuna study name and storage URL (enough to resume, join or report).
        trials: spent trials counted against the budget.
        objectives: the optimised objectives.
        best: the best trial (single objective) or the Pareto trial with the best metric.
        pareto: every Pareto-optimal trial (multi-objective); ``(best,)`` for one objective.
        checkpoint: the best trial's checkpoint (None for tabular data).
        report, results, out: the HTML report, the CSV of all trials and the run folder.
        prior: the transfer prior used (``{"tasks": [[name, similarity], ...], ...}``), None without one.
    """

    study: str
    storage: str
    trials: int
    objectives: tuple[str, ...]
    best: TrialSummary | None
    pareto: tuple[TrialSummary, ...]
    checkpoint: str | None
    report: str | None
    results: str | None
    out: str | None
    prior: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The CLI's ``--json`` object."""
        return {
            "study": self.study,
            "storage": self.storage,
            "trials": self.trials,
            "objectives": list(self.objectives),
            "best": self.best.to_dict() if self.best else None,
            "pareto": [t.to_dict() for t in self.pareto],
            "checkpoint": self.checkpoint,
            "report": self.report,
            "results": self.results,
            "out": self.out,
            "prior": self.prior if self.prior is not None else {"tasks": []},
        }


# ----------------------------------------------------------------------------- helpers
def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    """``none``, ``median`` (after 5 trials and 5 warm-up epochs) or ``hyperband`` (1..epochs)."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=min(5, max(0, epochs - 1)))
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(1, epochs))
    raise SearchError(f"pruner: {name!r} is not allowed; choose one of {', '.join(PRUNERS)}")


def default_study_name(data: str, space: str, controller: str, seed: int, objectives: Sequence[str]) -> str:
    """A name that is the same for the same command, so re-running it resumes."""
    name = f"{data}-{space}-{controller}-s{seed}"
    if tuple(objectives) != ("metric",):
        name += "-" + "+".join(objectives)
    return re.sub(r"[^A-Za-z0-9_.:+-]", "_", name)


def default_out(study: str) -> Path:
    """``runs/search-<study>`` with characters unsafe in file names replaced."""
    return Path("runs") / ("search-" + re.sub(r"[^A-Za-z0-9_.+-]", "_", study))


def _storage(url: str | optuna.storages.BaseStorage) -> tuple[optuna.storages.BaseStorage, str]:
    if isinstance(url, optuna.storages.BaseStorage):
        return url, type(url).__name__
    text = str(url)
    if text.startswith(("sqlite", "postgresql", "mysql", "oracle", "mssql")):
        rdb = _open_rdb(text)
        if text.startswith("sqlite"):
            _sqlite_wal(rdb)
        return rdb, text
    return optuna.storages.get_storage(text), text


def _open_rdb(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage; retried when another process is creating the same schema at the same moment
    (both see an empty database, the loser's ``alembic_version`` insert fails)."""
    import sqlalchemy

    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S,
                                                  grace_period=GRACE_S, heartbeat_stale_trial_callback=_retry)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError) as e:
            # sqlite says "table already exists" with OperationalError; elsewhere that is a lost connection
            if attempt == attempts - 1 or (isinstance(e, sqlalchemy.exc.OperationalError)
                                           and not url.startswith("sqlite")):
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _sqlite_wal(storage: optuna.storages.RDBStorage) -> None:
    """WAL journal + synchronous=NORMAL: one fsync per checkpoint instead of per commit (still crash-safe)."""
    import sqlalchemy

    def pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    sqlalchemy.event.listen(storage.engine, "connect", pragmas)
    storage.engine.dispose()  # reconnect so every pooled connection gets the pragmas


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid())}


def _process_start(pid: int) -> str:
    try:  # field 22 of /proc/<pid>/stat: start time in clock ticks since boot (guards against pid reuse)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _owner_gone(owner: Any) -> bool:
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return False  # another host: left to the heartbeat
    pid = int(owner.get("pid", -1))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return bool(owner.get("start")) and _process_start(pid) != owner.get("start")


def release(study: optuna.Study, trial: FrozenTrial) -> bool:
    """Fail a RUNNING trial whose run was lost and enqueue its parameters again; ``False`` if it was finished
    meanwhile (by its owner or another worker). The trial is flagged :data:`RELEASED` first, so it is never
    counted against the budget, not even when the outage struck before it had drawn any parameter."""
    with contextlib.suppress(Exception):  # finished meanwhile: the tell below says so
        study._storage.set_trial_user_attr(trial._trial_id, RELEASED, True)
    try:
        study.tell(trial.number, state=TrialState.FAIL)
    except (RuntimeError, ValueError):
        return False
    _retry(study, trial)
    return True


def _retry(study: optuna.Study, trial: FrozenTrial) -> None:
    """Enqueue the parameters of an interrupted trial again (also Optuna's stale-heartbeat callback)."""
    if trial.params:
        study.enqueue_trial(dict(trial.params), user_attrs={RETRY_OF: trial.number}, skip_if_exists=False)


def recover_stale_trials(study: optuna.Study) -> list[int]:
    """Mark trials abandoned by dead processes FAIL and enqueue them again; returns their numbers."""
    recovered: list[int] = []
    running = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]
    if not running:
        return recovered
    with contextlib.suppress(Exception), warnings.catch_warnings():  # heartbeat storages only; callback = _retry
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    now = {t.number: t.state for t in study.get_trials(deepcopy=False)}
    still = {n for n, state in now.items() if state == TrialState.RUNNING}
    recovered += [t.number for t in running if now.get(t.number) == TrialState.FAIL]  # failed by the heartbeat
    for t in running:
        if t.number in still and _owner_gone(t.user_attrs.get(OWNER)) and release(study, t):
            recovered.append(t.number)
    return sorted(recovered)


def spent_trials(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> int:
    """Trials counted against the budget: COMPLETE + PRUNED + FAIL, minus FAIL trials that never ran to an
    end: re-run ones, released ones (:data:`RELEASED`, even those lost before drawing any parameter) and surplus
    ones (asked by a worker that lost the race for the last slot of the budget). A failed evaluation is spent,
    with or without parameters (a space of fixed values has none), so a search of invalid specs still ends."""
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    retried = _retried(trials)
    return sum(1 for t in trials if t.state not in (TrialState.RUNNING, TrialState.WAITING) and _counts(t, retried))


def _retried(trials: list[FrozenTrial]) -> set[int]:
    return {t.user_attrs.get(RETRY_OF) for t in trials} - {None}


def _counts(t: FrozenTrial, retried: set[int]) -> bool:
    """Whether ``t`` holds (or will hold, when RUNNING / WAITING) one slot of the budget."""
    if t.state == TrialState.FAIL:
        return t.number not in retried and not t.user_attrs.get(SURPLUS) and not t.user_attrs.get(RELEASED)
    return t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


def _n_trials(storage: Any, study_id: int) -> int:
    """Number of trials of a study in any state; one ``COUNT`` on RDB storages (Optuna's ``get_n_trials`` loads
    every trial, which makes a loop over a large study quadratic)."""
    engine = getattr(storage, "engine", None) or getattr(getattr(storage, "_backend", None), "engine", None)
    if engine is not None:  # RDBStorage, or Optuna's cache in front of one
        import sqlalchemy
        from optuna.storages._rdb.models import TrialModel

        with engine.connect() as conn:
            query = sqlalchemy.select(sqlalchemy.func.count()).select_from(TrialModel.__table__)
            return int(conn.execute(query.where(TrialModel.__table__.c.study_id == study_id)).scalar_one())
    return storage.get_n_trials(study_id)


def _surplus(study: optuna.Study, number: int, budget: int) -> bool:
    """Whether trial ``number``, just asked, lies beyond the budget: trials with lower numbers (done, running or
    queued) already fill it. Workers check the budget before asking, so two of them can both take the last
    slot; the one with the higher trial number gives it back."""
    if number < budget:  # trial numbers are dense: fewer than ``budget`` trials come before this one
        return False
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    return sum(1 for t in trials if t.number < number and _counts(t, retried)) >= budget


@contextlib.contextmanager
def _heartbeat(storage: Any, trial_id: int | None) -> Iterator[None]:
    enabled = trial_id is not None and hasattr(storage, "record_heartbeat") and \
        getattr(storage, "get_heartbeat_interval", lambda: None)() is not None
    if not enabled:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):
                storage.record_heartbeat(trial_id)
            if stop.wait(HEARTBEAT_S):
                return

    thread = threading.Thread(target=beat, name="autogt-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _resolve_data(data: Any, evaluator: Any, tabular_delay: float) -> tuple[Any, Any, str, bool]:
    """-> (task or None, evaluator, label, maximize)."""
    tab = parse_tabular(data)
    if tab is not None:
        ev = evaluator or TabularEvaluator(tab, delay_s=tabular_delay)
        return None, ev, f"nasbench:{tab}", True
    if hasattr(data, "graphs") and hasattr(data, "metric"):
        task = data
        label = task.name
    else:
        from autogt.data import load_task

        task = load_task(data)
        label = str(data)
    if evaluator is None:
        from autogt.train import evaluate as evaluator
    return task, evaluator, label, bool(task.maximize)


def split_device(device: str | None) -> tuple[str, str | None]:
    """``--device`` -> (torch device to train on, device profile for cost predictions or None).

    ``cpu``/``cuda[:n]``/``mps`` train there and predict for it; any other value is a device profile
    (``h100``, a profile name or JSON path; see :func:`autogt.hardware.cost`): training runs on CUDA when
    available, else the CPU, and latency is predicted for the profile.
    """
    if device is None:
        return "cpu", None
    if device == "cpu" or device.startswith(("cuda", "mps")):
        return device, device
    import torch

    return ("cuda" if torch.cuda.is_available() else "cpu"), device


def _predict(spec: ArchSpec, task: Any, profile: str | None) -> dict[str, float]:
    """Analytic params/FLOPs and (with a profile) predicted latency; {} when the cost model cannot say."""
    try:
        from autogt.hardware import cost

        c = cost(spec, task, profile)
    except Exception:  # no cost model for this spec/task/profile: rely on the measured values
        return {}
    out = {"params": float(c.params), "flops": float(c.flops)}
    if c.latency_ms is not None:
        out["latency_ms"] = float(c.latency_ms)
    return out


def _precheck(space: Space, spec: ArchSpec, task: Any, profile: str | None) -> tuple[str, dict[str, float]]:
    """Cost-model check of the space's bounds before training; -> (reason, predicted) ('' when fine)."""
    cons = space.constraints
    if task is None or not cons.active:
        return "", {}
    predicted = _predict(spec, task, profile if cons.max_latency_ms is not None else None)
    for key, bound in (("params", cons.max_params), ("flops", cons.max_flops), ("latency_ms", cons.max_latency_ms)):
        if bound is not None and predicted.get(key, 0.0) > bound:
            return f"constraint: {key} {predicted[key]:.4g} > max_{key} {bound:.4g} (not trained)", predicted
    return "", predicted


def _evaluate(evaluator: Callable[..., EvalResult], spec: ArchSpec, task: Any, budget: Budget, *, seed: int,
              device: str, callback: Callable[[int, float], bool], out_dir: Path, metric: str) -> EvalResult:
    try:
        result = evaluator(spec, task, budget, seed=seed, device=device, callback=callback, out_dir=out_dir)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # a crashing architecture is a failed (spent) trial, not a failed search
        return EvalResult(status="failed", metric=metric, seed=seed, spec_hash=spec.hash(),
                          reason=f"{type(exc).__name__}: {exc}")
    return result


# ----------------------------------------------------------------------------- search
def search(
    data: Any,
    space: str | Path | Space,
    *,
    trials: int,
    timeout: float | None = None,
    controller: str = "tpe",
    epochs: int = 100,
    objectives: Sequence[str] = ("metric",),
    device: str | None = None,
    storage: str | optuna.storages.BaseStorage | None = None,
    study: str | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    progress: bool = True,
    pruner: str = "none",
    budget: Budget | None = None,
    evaluator: Callable[..., EvalResult] | None = None,
    tabular_delay: float = 0.0,
    report: bool = True,
    space_label: str | None = None,
    prior: str = "auto",
    bank: Any = None,
) -> SearchResult:
    """Search ``space`` on ``data`` for ``trials`` spent trials (see the module docstring for resuming).

    Args:
        data: a Task, anything :func:`autogt.data.load_task` takes, or ``"nasbench:NAME"`` (tabular
            NAS-Bench-Graph look-ups, with the ``nasbench_graph`` space).
        space: a bundled space name, a YAML path or a :class:`Space`.
        trials: total budget of spent trials (a resumed study only runs the missing ones).
        timeout: stop starting new trials after this many seconds.
        controller: a registered controller (``tpe random gp cmaes nsga2 nsga3``) or ``nni:TUNER``.
        epochs: maximum epochs per trial (``Budget.epochs``).
        objectives: ``metric`` and optionally ``params``, ``flops``, ``latency`` (minimised).
        device: ``cpu``/``cuda`` (train there), or a device profile (``h100``, a profile name or path): train on
            CUDA if available else CPU, and predict latency for the profile (see :func:`split_device`).
        storage: Optuna storage URL (default ``sqlite:///<out>/study.db``) or storage object.
        study: study name (default from data, space, controller, seed and objectives).
        seed: training seed and sampler seed.
        out: run folder (default ``runs/search-<study>``): ``study.db``, ``trials/<n>/``, ``results.csv``,
            ``report.html``.
        progress: tqdm bar on stderr (done/budget, best so far, elapsed, ETA).
        pruner: ``none``, ``median`` or ``hyperband`` (single objective; per-epoch validation values).
        budget: full training budget (overrides ``epochs``).
        evaluator: replaces :func:`autogt.train.evaluate` (same signature).
        tabular_delay: seconds slept per tabular query (tests and demos).
        report: write ``report.html``.
        space_label: how the space is recorded in the study (default: its name or path as given).
        prior: ``bank`` (transfer priors from the most similar bank tasks through a prior-aware sampler),
            ``none``, or ``auto`` (``bank`` when the bank holds similar tasks with usable designs, single
            objective only).
        bank: bank URL (default ``$AUTOGT_BANK`` or ``~/.autogt/bank.db``) or an open
            :class:`~autogt.bank.Bank` (e.g. one built with ``shipped=False``); ``False`` disables reading
            priors from and writing results to the bank.
    """
    if trials < 1:
        raise SearchError(f"trials: must be >= 1, got {trials}")
    objectives = check_objectives(objectives)
    space_obj = load_space(space)
    space_ref = space_label or (str(space) if isinstance(space, (str, Path)) else (space_obj.source or space_obj.name))
    task, evaluator, label, maximize = _resolve_data(data, evaluator, tabular_delay)
    if task is None and space == "nasbench_graph":  # tabular look-ups: record specs under that data set's protocol
        from autogt.spaces import nasbench

        space_obj = nasbench.space_for(label.split(":", 1)[1])
    metric = getattr(task, "metric", None) or getattr(evaluator, "metric", "metric")
    study_name = study or default_study_name(label, space_obj.name, controller, seed, objectives)
    out_dir = Path(out) if out is not None else default_out(study_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    storage_obj, storage_url = _storage(storage or f"sqlite:///{(out_dir / 'study.db').resolve()}")
    budget = budget or Budget(epochs=epochs)
    the_study = optuna.create_study(study_name=study_name, storage=storage_obj, load_if_exists=True,
                                    directions=directions(objectives, maximize_metric=maximize),
                                    pruner=make_pruner(pruner, budget.epochs))
    _check_or_store_args(the_study, {
        "data": label, "space": space_ref, "space_definition": space_obj.definition, "controller": controller,
        "epochs": budget.epochs, "objectives": list(objectives), "seed": seed, "pruner": pruner, "trials": trials,
    })
    recover_stale_trials(the_study)
    spent = spent_trials(the_study)

    from autogt.controllers import make_controller

    bank_obj = _open_bank(bank)
    prior_obj = _bank_prior(prior, bank_obj, task, label, space_obj, controller, objectives)
    try:
        if prior_obj is not None:
            from autogt.controllers.prior import make_prior_controller

            base = controller if controller in ("tpe", "random", "gp") else "tpe"
            ctrl = make_prior_controller(space_obj, the_study, objectives=objectives, seed=seed + spent,
                                         prior=prior_obj, base=base)
        else:
            ctrl = make_controller(controller, space_obj, the_study, objectives=objectives, seed=seed + spent)
    except Exception:
        if not the_study.trials:  # do not leave an empty study behind for a bad controller name
            optuna.delete_study(study_name=study_name, storage=storage_obj)
        raise
    recorder = _bank_recorder(bank_obj, task, space_obj, seed, budget, device)
    _run_loop(the_study, storage_obj, ctrl, space_obj, task, evaluator, budget, trials=trials, timeout=timeout,
              seed=seed, device=device, out_dir=out_dir, progress=progress, metric=str(metric), recorder=recorder)
    result = _finish(the_study, storage_url, objectives, out_dir, report=report)
    return dataclasses.replace(result, prior=prior_obj.to_dict() if prior_obj is not None else None)


def _open_bank(bank: Any) -> Any:
    """The bank to read priors from and write results to, or None (``bank=False`` or no bank package)."""
    if bank is False:
        return None
    try:
        from autogt.bank import Bank

        if isinstance(bank, Bank):
            return bank
        return Bank(None if bank in (None, True) else str(bank))
    except ImportError:  # pragma: no cover - the bank is part of autogt
        return None


def _bank_prior(mode: str, bank: Any, task: Any, label: str, space: Space, controller: str,
                objectives: Sequence[str]) -> Any:
    """The transfer prior for this search, or None (``none``, multi-objective, empty bank...)."""
    if mode not in ("auto", "bank", "none"):
        raise SearchError(f"prior: {mode!r} is not allowed; choose one of auto, bank, none")
    if mode == "none" or bank is None or len(objectives) > 1 or controller.startswith("nni:"):
        if mode == "bank" and bank is None:
            raise SearchError("prior: 'bank' needs a bank (bank=False was given)")
        return None
    from autogt.controllers.prior import prior_for

    target: Any = task
    if task is None and label.startswith("nasbench:"):
        from autogt.bank._nasbench import dataset_meta

        target = dataset_meta(label.split(":", 1)[1])
    try:
        prior = prior_for(target, bank, space)
    except Exception as exc:  # a broken or foreign bank must not stop a search in auto mode
        if mode == "bank":
            raise SearchError(f"prior: could not build a prior from the bank: {exc}") from exc
        return None
    if not getattr(prior, "tasks", None) and mode == "auto":
        return None
    return prior


def _bank_recorder(bank: Any, task: Any, space: Space, seed: int, budget: Budget,
                   device: str | None) -> Callable[[Any, EvalResult], None] | None:
    """Writes each trained trial to the bank (idempotent: same task, design, seed and fidelity once)."""
    if bank is None or task is None:  # tabular look-ups are already in the bank (``autogt bank import nasbench``)
        return None
    with contextlib.suppress(Exception):
        bank.add_task(task)

    def record(proposal: Any, result: EvalResult) -> None:
        if proposal.spec is None or result.status != "ok":
            return
        try:
            bank.add_result(task, proposal.spec, result, space=space.name, seed=seed, fidelity=budget.epochs,
                            source="search", device=device or "cpu", params=proposal.params)
        except Exception as exc:  # the search result is in the study either way
            warnings.warn(f"could not write trial {proposal.trial_number} to the bank: {exc}", stacklevel=2)

    return record


def _check_or_store_args(study: optuna.Study, args: dict[str, Any]) -> None:
    stored = study.user_attrs
    if "data" in stored:
        for key in STUDY_ATTRS:
            if stored.get(key) != args[key]:
                raise SearchError(f"study {study.study_name!r} was started with {key}={stored.get(key)!r}, "
                                  f"not {args[key]!r}; pass another --study or --out")
        if stored.get("trials") != args["trials"]:
            study.set_user_attr("trials", args["trials"])
        return
    for key, value in args.items():
        study.set_user_attr(key, value)
    from autogt import __version__

    study.set_user_attr("autogt_version", __version__)


def _run_loop(study: optuna.Study, storage: Any, ctrl: Controller, space: Space, task: Any, evaluator: Any,
              budget: Budget, *, trials: int, timeout: float | None, seed: int, device: str | None, out_dir: Path,
              progress: bool, metric: str, recorder: Callable[[Any, EvalResult], None] | None = None) -> None:
    from tqdm.auto import tqdm

    started = time.monotonic()
    owner = _owner()
    ctrl.trial_attrs = {**ctrl.trial_attrs, OWNER: owner}  # written before the trial draws any parameter
    study_id = storage.get_study_id_from_name(study.study_name)
    bar = tqdm(total=trials, initial=min(spent_trials(study), trials), file=sys.stderr, disable=not progress,
               unit="trial", desc=study.study_name[:40], dynamic_ncols=True)
    try:
        while True:
            # every trial, whatever its state, holds at most one slot: while there are fewer trials than the
            # budget there is room, and the O(study size) scan is only needed for the progress bar or near the end
            if progress or _n_trials(storage, study_id) >= trials:
                current = study.get_trials(deepcopy=False)
                spent = spent_trials(study, current)
                bar.n = min(spent, trials)
                best = _best_value(study, current)
                if best is not None:
                    bar.set_postfix_str(f"best={best:.4g}", refresh=False)
                bar.refresh()
                others_running = sum(1 for t in current if t.state == TrialState.RUNNING)
                if spent + others_running >= trials:
                    break
            if timeout is not None and time.monotonic() - started >= timeout:
                break
            proposal = ctrl.ask()
            n = proposal.trial_number
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, n)
            if _surplus(study, n, trials):  # lost the race for the last slot: give it back unrun
                storage.set_trial_user_attr(trial_id, SURPLUS, True)
                study.tell(n, state=TrialState.FAIL)
                continue
            try:
                with _heartbeat(storage, trial_id):
                    result = _one_trial(ctrl, proposal, space, task, evaluator, budget, seed=seed, device=device,
                                        out_dir=out_dir, metric=metric)
                ctrl.tell(n, result)
                if recorder is not None:
                    recorder(proposal, result)
            except (KeyboardInterrupt, SystemExit):
                _interrupt(study, n)
                raise
    finally:
        bar.close()


def _one_trial(ctrl: Controller, proposal: Any, space: Space, task: Any, evaluator: Any, budget: Budget, *,
               seed: int, device: str | None, out_dir: Path, metric: str) -> EvalResult:
    if proposal.spec is None:
        return EvalResult(status="failed", metric=metric, seed=seed, reason=f"invalid spec: {proposal.error}")
    train_device, profile = split_device(device)
    reason, predicted = _precheck(space, proposal.spec, task, profile)
    if reason:
        return EvalResult(status="pruned", metric=metric, seed=seed, spec_hash=proposal.spec.hash(), reason=reason,
                          params=int(predicted.get("params", 0)), flops=predicted.get("flops", 0.0),
                          latency_ms=predicted.get("latency_ms"))

    def callback(epoch: int, value: float) -> bool:
        return ctrl.report(proposal.trial_number, epoch, value)

    result = _evaluate(evaluator, proposal.spec, task, budget, seed=seed, device=train_device, callback=callback,
                       out_dir=out_dir / "trials" / str(proposal.trial_number), metric=metric)
    if task is not None and profile is not None and profile != train_device and result.ok:
        # the target device is not this machine: latency (objective and constraint) is the profile's prediction
        predicted = predicted or _predict(proposal.spec, task, profile)
        if "latency_ms" in predicted:
            result.extra["measured_latency_ms"] = result.latency_ms
            result.latency_ms = predicted["latency_ms"]
    return result


def _interrupt(study: optuna.Study, number: int) -> None:
    with contextlib.suppress(Exception):
        frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
        if frozen.state == TrialState.RUNNING:
            release(study, frozen)


def _best_value(study: optuna.Study, trials: list[FrozenTrial]) -> float | None:
    if len(study.directions) != 1:
        return None
    values = [t.values[0] for t in trials if t.state == TrialState.COMPLETE and t.values]
    if not values:
        return None
    return max(values) if study.direction == optuna.study.StudyDirection.MAXIMIZE else min(values)


def _finish(study: optuna.Study, storage_url: str, objectives: tuple[str, ...], out_dir: Path, *,
            report: bool) -> SearchResult:
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    pareto: tuple[TrialSummary, ...] = ()
    best = None
    if complete:
        front = [study.best_trial] if len(objectives) == 1 else list(study.best_trials)
        pareto = tuple(TrialSummary.from_trial(t) for t in sorted(front, key=lambda t: t.number))
        metric_idx = objectives.index("metric") if "metric" in objectives else 0
        sign = 1.0 if study.directions[metric_idx] == optuna.study.StudyDirection.MAXIMIZE else -1.0
        best = max(pareto, key=lambda s: sign * s.values[metric_idx])
    results = write_results(study, out_dir / "results.csv", trials)
    report_path = None
    if report:
        from autogt.controllers.report import report as write_report

        report_path = str(write_report(study, None, out_dir / "report.html"))
    return SearchResult(
        study=study.study_name,
        storage=storage_url,
        trials=spent_trials(study, trials),
        objectives=objectives,
        best=best,
        pareto=pareto,
        checkpoint=best.checkpoint if best else None,
        report=report_path,
        results=str(results),
        out=str(out_dir),
    )


def write_results(study: optuna.Study, path: Path, trials: list[FrozenTrial] | None = None) -> Path:
    """One CSV row per trial: state, objective values, metrics, spec hash and JSON, parameters."""
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    param_names = sorted({name for t in trials for name in t.params})
    n_values = len(study.directions)
    head = ["number", "state", *[f"value_{i}" for i in range(n_values)], "val", "test", "params", "flops",
            "latency_ms", "epochs", "train_time_s", "status", "reason", "checkpoint", "spec_hash", "retry_of",
            "spec", *[f"param:{p}" for p in param_names]]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(head)
        for t in trials:
            a = t.user_attrs.get("metrics") or {}
            values = list(t.values) if t.values else [None] * n_values
            writer.writerow([t.number, t.state.name, *values, a.get("val"), a.get("test"), a.get("params"),
                             a.get("flops"), a.get("latency_ms"), a.get("epochs"), a.get("train_time_s"),
                             a.get("status"), a.get("reason"), a.get("checkpoint"), a.get("spec_hash"),
                             t.user_attrs.get(RETRY_OF), t.user_attrs.get("spec"),
                             *[t.params.get(p) for p in param_names]])
    return path


def join(study: str, storage: str, *, trials: int | None = None, device: str | None = None, out: str | None = None,
         progress: bool = True, **overrides: Any) -> SearchResult:
    """Continue (or help with) a study from its name and storage alone, using the arguments it stored.

    Example:
        >>> from autogt.controllers.search import join
        >>> join("nasbench:cora-nasbench_graph-tpe-s0", "sqlite:///runs/study.db")     # doctest: +SKIP
    """
    attrs = optuna.load_study(study_name=study, storage=storage).user_attrs
    if "data" not in attrs:
        raise SearchError(f"study {study!r} was not started by autogt search (no stored arguments)")
    from autogt.spaces import parse_space

    space: Any = attrs["space"]
    if not Path(str(space)).exists() and str(space) not in _bundled():
        space = parse_space(json.loads(attrs["space_definition"]))
        overrides.setdefault("space_label", attrs["space"])
    kwargs: dict[str, Any] = {
        "trials": trials if trials is not None else int(attrs["trials"]),
        "controller": attrs["controller"], "epochs": int(attrs["epochs"]),
        "objectives": tuple(attrs["objectives"]), "seed": int(attrs["seed"]), "pruner": attrs.get("pruner", "none"),
        "storage": storage, "study": study, "device": device, "progress": progress,
        "out": out if out is not None else str(default_out(study)),
    }
    kwargs.update(overrides)
    return search(attrs["data"], space, **kwargs)


def _bundled() -> list[str]:
    from autogt.spaces import space_names

    return space_names()
