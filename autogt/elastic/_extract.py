"""``extract``: standalone sub-models of an elastic checkpoint, one per cost budget.

For each budget, :func:`~autogt.elastic.mix_n_match` picks one granularity per layer; the sub-model's
weights are sliced out (well under a second), its batch norms are recalibrated on training batches
when data is at hand, it is scored on the validation and test splits, and it is written as a normal
autogt checkpoint (per-layer ``ffn`` widths in its ``ArchSpec``, ``elastic`` empty, the parent's
target scaler) that :func:`autogt.train.load_model` rebuilds without any elastic code.

Example:
    >>> subs = extract("runs/gps-elastic/model.safetensors", "flops=40%,60%,80%", device="cpu")  # doctest: +SKIP
    >>> [(s.budget, s.params, round(s.val, 3), s.checkpoint) for s in subs]                     # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from autogt.elastic._base import ElasticError
from autogt.elastic._budget import CostBudget, CostModel, parse_budgets
from autogt.elastic._mixnmatch import Candidate, mix_n_match
from autogt.elastic._score import Scorer, task_for_checkpoint
from autogt.elastic._slice import extract_model, slice_spec
from autogt.models.spec import ArchSpec

__all__ = ["SubModel", "extract", "JSON_KEYS"]

JSON_KEYS = ("budget", "spec", "params", "flops", "latency_ms", "val", "checkpoint")


@dataclass
class SubModel:
    """One extracted sub-model.

    Attributes:
        budget: the budget it was chosen for (``flops=50%``...).
        spec: its dense ``ArchSpec`` (per-layer ``ffn``, ``elastic`` empty).
        choice: granularity index per elastic layer.
        params, flops: exact parameters; FLOPs of one forward over ``batch`` graphs (:func:`autogt.hardware.cost`).
        latency_ms: predicted latency of that forward on ``device`` (``None`` without a device).
        fraction: the budgeted cost as a fraction of the full model's.
        val, test: task metric on the validation / test split (``None`` without data); ``metric`` names it.
        checkpoint: where it was written (``None`` when not saved).
        extract_time_s: seconds to slice the weights and build the standalone module.
        model: the module itself (eval mode).
    """

    budget: str
    spec: ArchSpec
    choice: tuple[int, ...]
    params: int
    flops: float
    latency_ms: float | None = None
    fraction: float = 1.0
    val: float | None = None
    test: float | None = None
    metric: str = ""
    checkpoint: str | None = None
    extract_time_s: float = 0.0
    device: str | None = None
    batch: int = 1
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` record: ``budget spec params flops latency_ms val checkpoint`` plus details."""
        return {
            "budget": self.budget, "spec": self.spec.to_dict(), "params": self.params, "flops": self.flops,
            "latency_ms": self.latency_ms, "val": self.val, "checkpoint": self.checkpoint, "test": self.test,
            "metric": self.metric, "choice": list(self.choice), "fraction": self.fraction,
            "ffn": [layer.ffn for layer in self.spec.layers], "spec_hash": self.spec.hash(),
            "extract_time_s": self.extract_time_s, "device": self.device, "batch": self.batch,
        }  # fmt: skip


def _load(checkpoint: Any) -> Any:
    from autogt.train.checkpoint import Checkpoint, load_checkpoint

    if isinstance(checkpoint, Checkpoint):
        return checkpoint
    if isinstance(checkpoint, (str, os.PathLike)):
        return load_checkpoint(checkpoint)
    raise ElasticError(f"checkpoint: expected a path or a Checkpoint, got {type(checkpoint).__name__}")


def _file_name(i: int, budget: CostBudget) -> str:
    value = f"{budget.value * 100:g}pct" if budget.relative else f"{budget.value:g}"
    return f"{i:02d}-{budget.key}-{value}.safetensors".replace("/", "_")


def _to_bank(task: Any, sub: SubModel, seed: int, parent: str) -> None:
    try:
        from autogt.bank import Bank
    except ImportError:
        return
    try:
        bank = Bank()
        try:
            bank.add_result(task, sub.spec, {"val": sub.val, "test": sub.test, "metric": sub.metric,
                                             "params": sub.params, "flops": sub.flops, "latency_ms": sub.latency_ms,
                                             "budget": sub.budget, "parent": parent},
                            seed=seed, fidelity=f"elastic-extract:{parent}", source="elastic.extract",
                            device=sub.device or "")
        finally:
            bank.close()
    except Exception as exc:  # the bank is a side channel: never lose an extraction over it
        print(f"autogt: warning: could not write {sub.budget} to the bank: {exc}", file=sys.stderr)


def extract(
    checkpoint: Any,
    budgets: str | CostBudget | Sequence[str | CostBudget],
    *,
    task: Any = None,
    device: Any = None,
    out: str | os.PathLike[str] | None = None,
    refine: str = "none",
    max_evals: int = 32,
    calibrate: bool = True,
    bank: bool = True,
    save: bool = True,
    seed: int = 0,
) -> list[SubModel]:
    """Extract one standalone sub-model per budget from an elastic checkpoint.

    Args:
        checkpoint: an elastic checkpoint (path or :class:`~autogt.train.Checkpoint`).
        budgets: ``"flops=0.5"``, ``"params=25%,50%,75%"``, ``"latency_ms=2"`` (needs ``device``), a
            :class:`CostBudget` or a list of those; values are fractions / percentages of the full model,
            or absolute (see :mod:`autogt.elastic._budget`).
        task: data for the metrics and batch-norm recalibration: a ``Task`` or anything ``load_task``
            takes; default: the bundled data set named in the checkpoint (no metrics if there is none).
        device: device profile for predicted latency (``cpu``, ``h100``, a profile path...).
        out: folder for the sub-model checkpoints and ``extract.json`` (default: ``extract/`` beside
            the checkpoint).
        refine: Mix'n'Match refinement, ``none``, ``exact`` or ``evolution``.
        max_evals: scored sub-models the refinement may add.
        calibrate: recalibrate batch norms of each sub-model on training batches (needs data).
        bank: write each sub-model's result to the bank (if ``autogt.bank`` is importable).
        save: write checkpoints (otherwise only the returned modules exist).
        seed: seed recorded with the results and used for the recalibration batch order.

    Returns:
        One :class:`SubModel` per budget, in the order given.

    Raises:
        ElasticError: a dense checkpoint, a malformed or infeasible budget, ``latency_ms`` without a device.
        CheckpointError: an unreadable checkpoint.

    Example:
        >>> subs = extract("runs/x/model.safetensors", "params=50%,75%", out="runs/x/sub")  # doctest: +SKIP
    """
    from autogt.models import build_model
    from autogt.train.checkpoint import save_checkpoint

    ckpt = _load(checkpoint)
    spec = ckpt.spec
    if not spec.elastic:
        raise ElasticError(f"{ckpt.path or 'checkpoint'}: spec {spec.hash()} is dense (elastic is empty); train it "
                           "with `autogt train --elastic` or turn it elastic with autogt.elastic.retrofit")
    budget_list = parse_budgets(budgets)
    if device is None and any(b.key == "latency_ms" for b in budget_list):
        raise ElasticError("budget latency_ms needs a device profile (e.g. --device cpu)")
    data = task_for_checkpoint(ckpt.task_info, ckpt.extra, task)
    info = data.describe() if data is not None else ckpt.task_info
    if not (info.get("meta") or {}).get("nodes_mean"):
        raise ElasticError("the task description has no size statistics (meta.nodes_mean); pass task=")
    model = build_model(spec, ckpt.task_info)
    model.load_state_dict(ckpt.state_dict, strict=True)
    model.eval()
    costs = CostModel(spec, info, device)
    scorer = None
    if data is not None:
        scorer = Scorer.for_task(data, spec, scaler=ckpt.target_scaler, seed=seed)
    groups: dict[str, list[int]] = {}
    for i, b in enumerate(budget_list):
        groups.setdefault(b.key, []).append(i)
    picks: dict[int, Candidate] = {}
    for key_budgets in groups.values():
        res = mix_n_match(model, [budget_list[i] for i in key_budgets], costs=costs, scorer=scorer, refine=refine,
                          max_evals=max_evals, seed=seed)
        picks.update(zip(key_budgets, res.picks, strict=True))

    out_dir = Path(out) if out is not None else (Path(ckpt.path).parent / "extract" if ckpt.path
                                                 else Path("runs") / f"extract-{spec.hash()}")
    parent = spec.hash()
    subs: list[SubModel] = []
    for i, budget in enumerate(budget_list):
        pick = picks[i]
        t0 = time.perf_counter()
        sub_model = extract_model(model, pick.choice, ckpt.task_info).eval()
        elapsed = time.perf_counter() - t0
        sub_spec = slice_spec(spec, pick.choice, ckpt.task_info)
        c = costs(pick.choice)
        sub = SubModel(budget=str(budget), spec=sub_spec, choice=pick.choice, params=int(c["params"]),
                       flops=float(c["flops"]), latency_ms=c.get("latency_ms"), fraction=pick.fraction,
                       metric=str(info.get("metric", "")), extract_time_s=elapsed, device=c.get("device"),
                       batch=int(c.get("batch", 1)), model=sub_model)
        if scorer is not None:
            if calibrate:
                scorer.calibrate(sub_model)
            sub.val = scorer.score(sub_model, "valid", calibrate=False)
            sub.test = scorer.score(sub_model, "test", calibrate=False)
        if save:
            path = out_dir / _file_name(i, budget)
            extra = {"metric": sub.metric, "val": sub.val, "test": sub.test, "params": sub.params, "flops": sub.flops,
                     "latency_ms": sub.latency_ms, "budget": sub.budget, "choice": list(sub.choice),
                     "parent": parent, "seed": ckpt.extra.get("seed", seed)}
            save_checkpoint(path, sub_model, sub_spec, ckpt.task_info, extra=extra, target_scaler=ckpt.target_scaler)
            sub.checkpoint = str(path)
        if bank and sub.val is not None:
            _to_bank(data if data is not None else ckpt.task_info, sub, seed, parent)
        subs.append(sub)
    if save:
        table = {"parent": ckpt.path, "spec_hash": parent, "models": [s.to_dict() for s in subs]}
        (out_dir / "extract.json").write_text(json.dumps(_finite(table), indent=2) + "\n")
    return subs


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj

