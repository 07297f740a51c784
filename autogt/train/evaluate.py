"""``evaluate`` / ``train``: one (task, spec, seed, budget) training run to an ``EvalResult``.

What a run does, in order:

1. seeds ``random``, NumPy and torch with ``seed``; attaches the positional encoding the spec asks for;
2. builds the model (``build_model(spec, task)``) and the optimizer the spec names;
3. trains: graph-level tasks in shuffled mini-batches of ``spec.batch_size`` graphs (the order of each
   epoch depends only on ``seed`` and the epoch), node-level tasks full-batch on the training nodes;
   regression targets are standardised with mean/std of the training split (``standardize=True``)
   and predictions mapped back before any metric;
4. scores the validation split every ``budget.eval_every`` epochs, keeps the weights of the best
   validation epoch, stops after ``budget.patience`` epochs without improvement (never before
   ``budget.min_epochs``), at ``budget.epochs``, when ``budget.time_s`` runs out, or when
   ``callback(epoch, val)`` returns True (status ``pruned``);
5. restores the best weights and reports val/test at that epoch, the parameter count (of the module),
   FLOPs of one forward on the task's average graph (``autogt.hardware.flops.count_flops``; 0 when that
   package is absent) and the median inference latency of one batch of ``spec.batch_size`` graphs (the
   whole graph for node tasks) on ``device``;
6. with ``out_dir``, writes ``model.safetensors`` (and ``result.json``) there.

A NaN/inf loss, an out-of-memory error or a spec that cannot be built for the task never escape: the
result has status ``failed`` and the reason. Only ``KeyboardInterrupt`` propagates. On CPU runs are
bit-for-bit reproducible; on CUDA, scatter-based message passing is not deterministic.

Example:
    >>> from autogt import evaluate, load_task, Budget          # doctest: +SKIP
    >>> r = evaluate("gin", load_task("bbbp"), Budget(epochs=20))  # doctest: +SKIP
    >>> r.status, r.val, r.test, r.params                       # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autogt.models.spec import ArchSpec
from autogt.train.checkpoint import save_checkpoint
from autogt.train.loop import (
    LRSchedule,
    NonFiniteLoss,
    StepLoss,
    TimeUp,
    attach_pe,
    make_feeder,
    make_optimizer,
    measure_latency,
    predict,
    resolve_device,
    seed_everything,
    train_epoch,
)
from autogt.train.metrics import TargetScaler, compute_metric, loss_fn
from autogt.train.result import Budget, EvalResult

__all__ = ["evaluate", "train", "Callback"]

Callback = Callable[[int, float], bool]
MAX_REASON = 500


def _better(value: float, best: float | None, maximize: bool) -> bool:
    if best is None:
        return True
    if math.isnan(value):
        return False
    if math.isnan(best):
        return True
    return value > best if maximize else value < best


def _count_flops(spec: ArchSpec, task: Any) -> float:
    try:
        from autogt.hardware.flops import count_flops
    except ImportError:  # the cost model is optional for training
        return 0.0
    return float(count_flops(spec, task))  # the Task gives both the size statistics and the dimensions


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:MAX_REASON]


class _Run:
    """State of one run; kept in one place so a failure at any step still yields a result."""

    def __init__(self, result: EvalResult) -> None:
        self.result = result
        self.model: nn.Module | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_val: float | None = None
        self.best_epoch = 0
        self.scaler: TargetScaler | None = None
        self.task: Any = None  # the task as trained (with its positional encoding)


def train(
    spec: ArchSpec | str | dict[str, Any],
    task: Any,
    budget: Budget | None = None,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    callback: Callback | None = None,
    out_dir: str | Path | None = None,
    progress: bool = False,
    model: nn.Module | None = None,
    standardize: bool = True,
    step_loss: StepLoss | None = None,
) -> tuple[nn.Module | None, EvalResult]:
    """Train ``spec`` on ``task``; return the model (best-validation weights, eval mode) and its result.

    Args:
        spec: an ``ArchSpec``, a built-in name (``gcn``, ``gin``, ``gps``), a YAML/JSON path or a dict.
        task: a ``Task``, or anything ``autogt.load_task`` accepts (a bundled name, a CSV path...).
        budget: epochs, patience, time limit... (default ``Budget()``).
        seed: seeds model init, dropout and batch order.
        device: ``cpu``, ``cuda`` or ``cuda:N``; latency is measured there.
        callback: ``callback(epoch, val) -> bool`` after each validation; True stops with status ``pruned``.
        out_dir: folder for ``model.safetensors`` and ``result.json`` (only written for status ``ok``).
        progress: show a tqdm bar over epochs on stderr.
        model: train this module instead of building one from ``spec`` (e.g. fine-tuning pruned
            weights); ``spec`` still gives the optimizer, batch size and positional encoding.
        standardize: standardise regression targets with training-split mean/std.
        step_loss: replaces the loss of each training step, ``step_loss(model, batch, index, y, loss)``
            (e.g. ``autogt.elastic.ElasticStep("joint")`` for elastic training).

    Returns:
        ``(model, result)``; ``model`` is ``None`` only when it could not be built (status ``failed``).
        ``result.extra`` holds ``device``, ``best_epoch``, ``train_loss`` (last epoch), ``epoch_time_s``
        (mean seconds of training steps per epoch, validation excluded) and, for standardised
        regression, ``target_scaler``. ``pruned`` results have no ``test`` and no latency.

    Raises:
        ValueError: ``device`` names CUDA on a machine without it.

    Example:
        >>> model, result = train("gin", "bbbp", Budget(epochs=5), out_dir="runs/demo")  # doctest: +SKIP
        >>> result.checkpoint                                                        # doctest: +SKIP
        'runs/demo/model.safetensors'
    """
    from autogt.models.spec import load_spec

    spec = load_spec(spec)
    if not hasattr(task, "graphs"):
        from autogt.data import load_task

        task = load_task(task)
    budget = budget or Budget()
    dev = resolve_device(device)
    if model is None:
        from autogt.models import build_model  # a missing package is a bug, not a failed candidate
    run = _Run(EvalResult(status="ok", metric=task.metric, seed=seed, spec_hash=spec.hash(), task=task.name))
    run.result.extra["device"] = str(dev)
    t0 = time.perf_counter()
    try:
        seed_everything(seed)
        run.task = attach_pe(task, spec)
        if model is None:
            model = build_model(spec, run.task)
        _train(run, spec, run.task, budget, seed, dev, callback, progress, model, standardize, step_loss)
    except KeyboardInterrupt:
        raise
    except NonFiniteLoss:
        _fail(run, f"non-finite training loss at epoch {run.result.epochs}")
    except Exception as exc:  # OOM, a spec that does not fit the task, a bug in an op: the candidate fails
        _fail(run, _reason(exc))
    if run.result.train_time_s == 0.0:
        run.result.train_time_s = time.perf_counter() - t0
    if run.result.status == "failed" and dev.type == "cuda":
        torch.cuda.empty_cache()
    if out_dir is not None and run.result.status == "ok" and run.model is not None:
        _save(run, spec, task, Path(out_dir))
    return run.model, run.result


def evaluate(
    spec: ArchSpec | str | dict[str, Any],
    task: Any,
    budget: Budget | None = None,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    callback: Callback | None = None,
    out_dir: str | Path | None = None,
    progress: bool = False,
    model: nn.Module | None = None,
    standardize: bool = True,
    step_loss: StepLoss | None = None,
) -> EvalResult:
    """Train and score ``spec`` on ``task``; see :func:`train` for the arguments.

    Example:
        >>> from autogt import evaluate, load_task, Budget                      # doctest: +SKIP
        >>> r = evaluate("gcn", load_task("cora"), Budget(epochs=200, patience=10))  # doctest: +SKIP
        >>> r.status, round(r.test, 3)                                          # doctest: +SKIP
        ('ok', 0.815)
    """
    return train(spec, task, budget, seed=seed, device=device, callback=callback, out_dir=out_dir,
                 progress=progress, model=model, standardize=standardize, step_loss=step_loss)[1]


def _fail(run: _Run, reason: str) -> None:
    run.result.status = "failed"
    run.result.reason = reason
    run.result.val = None
    run.result.test = None


def _train(
    run: _Run,
    spec: ArchSpec,
    task: Any,
    budget: Budget,
    seed: int,
    dev: torch.device,
    callback: Callback | None,
    progress: bool,
    model: nn.Module,
    standardize: bool,
    step_loss: StepLoss | None = None,
) -> None:
    res = run.result
    run.model = model = model.to(dev)
    res.params = sum(p.numel() for p in model.parameters())
    res.flops = _count_flops(spec, task)
    seed_everything(seed)  # same batch order and dropout whether or not the model was built here

    feeder = make_feeder(task, spec, seed, dev)
    if standardize and task.kind == "regression":
        run.scaler = TargetScaler.fit(feeder.train_targets())
    optimizer = make_optimizer(spec, [p for p in model.parameters() if p.requires_grad])
    loss = loss_fn(task.kind)
    maximize = bool(task.maximize)
    schedule = LRSchedule(spec, optimizer, epochs=budget.epochs, patience=budget.patience, maximize=maximize)
    deadline = time.perf_counter() + budget.time_s if budget.time_s > 0 else math.inf

    from tqdm.auto import tqdm

    bar = tqdm(total=budget.epochs, disable=not progress, file=sys.stderr, leave=False,
               desc=f"{task.name} {res.spec_hash}", unit="ep", dynamic_ncols=True)
    t_start = time.perf_counter()
    reason = "max epochs reached"
    train_loss = math.nan
    train_only = 0.0  # seconds spent in training steps (no validation)
    try:
        for epoch in range(1, budget.epochs + 1):
            res.epochs = epoch
            timed_out = False
            t_epoch = time.perf_counter()
            try:
                train_loss = train_epoch(model, feeder.train(epoch), optimizer, loss, scaler=run.scaler,
                                         deadline=deadline, step_loss=step_loss)
            except TimeUp:
                timed_out = True
            train_only += time.perf_counter() - t_epoch
            bar.update(1)
            val = None
            if timed_out or epoch % budget.eval_every == 0 or epoch == budget.epochs or time.perf_counter() > deadline:
                y, p = predict(model, feeder.eval("valid"), scaler=run.scaler)
                val = compute_metric(task.metric, y, p)
                res.history.append(val)
                bar.set_postfix(loss=f"{train_loss:.4g}", val=f"{val:.4g}")
                if _better(val, run.best_val, maximize):
                    run.best_val, run.best_epoch = val, epoch
                    run.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if callback is not None and callback(epoch, val):
                    res.status = "pruned"
                    reason = f"pruned by callback at epoch {epoch}"
                    break
                if (budget.patience and epoch >= budget.min_epochs
                        and epoch - run.best_epoch >= budget.patience):
                    reason = f"early stop: no validation improvement for {budget.patience} epochs"
                    break
            if timed_out or time.perf_counter() > deadline:
                reason = f"time budget of {budget.time_s:g}s reached"
                break
            schedule.step(val)
    finally:
        bar.close()
        res.train_time_s = time.perf_counter() - t_start
    res.reason = reason
    res.extra.update(best_epoch=run.best_epoch, train_loss=train_loss, epoch_time_s=train_only / max(res.epochs, 1))
    if run.best_state is not None:
        model.load_state_dict(run.best_state)
    res.val = run.best_val
    model.eval()
    if res.status == "pruned":
        return
    y, p = predict(model, feeder.eval("test"), scaler=run.scaler)
    res.test = compute_metric(task.metric, y, p)
    res.latency_ms = measure_latency(model, feeder.latency_batch(), budget.latency_repeats)
    if run.scaler is not None:
        res.extra["target_scaler"] = run.scaler.to_dict()


def _save(run: _Run, spec: ArchSpec, task: Any, out_dir: Path) -> None:
    res = run.result
    path = out_dir / "model.safetensors"
    res.checkpoint = str(path)
    metrics = {k: getattr(res, k) for k in ("metric", "val", "test", "params", "flops", "latency_ms", "epochs", "seed")}
    assert run.model is not None
    task = run.task if run.task is not None else task
    save_checkpoint(path, run.model, spec, task, extra=_finite(metrics), target_scaler=run.scaler)
    (out_dir / "result.json").write_text(json.dumps(_finite(res.to_dict()), indent=2, default=str) + "\n")


def _finite(obj: Any) -> Any:
    """NaN/inf -> None, recursively (strict JSON)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj

