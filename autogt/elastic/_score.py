"""Scoring sub-models: batch-norm recalibration and the validation metric of one granularity choice.

Sub-models of one elastic model share their batch-norm layers, whose running statistics were
collected over a mix of granularities during elastic training. Before a sub-model is scored (or
saved) they are re-estimated on training batches with the sub-model itself, as in slimmable networks
and Once-for-All: one forward pass in training mode with cumulative averaging, no gradients.

Example:
    >>> scorer = Scorer.for_task(task, spec, scaler=ckpt.target_scaler)  # doctest: +SKIP
    >>> scorer.score(extract_model(elastic_model, 0))                    # doctest: +SKIP
    0.91
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from autogt.models.spec import ArchSpec

__all__ = ["Scorer", "recalibrate_bn", "has_batch_norm", "task_for_checkpoint"]

BUNDLED = ("bbbp", "bace", "hiv", "esol", "freesolv", "tox21", "cora", "citeseer")


def has_batch_norm(model: nn.Module) -> bool:
    """Whether ``model`` has batch-norm layers (whose statistics depend on the granularity)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: list[Any], index: torch.Tensor | None = None) -> nn.Module:
    """Re-estimate batch-norm running statistics of ``model`` on ``batches``; returns it in eval mode.

    Statistics are reset and averaged over all batches (``momentum=None``); dropout stays off.
    Models without batch norm are returned unchanged (in eval mode).
    """
    model.eval()
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or not batches:
        return model
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    try:
        for batch in batches:
            model(batch)
    finally:
        for m, mom in zip(norms, saved, strict=True):
            m.momentum = mom
        model.eval()
    return model


def task_for_checkpoint(task_info: dict[str, Any], extra: dict[str, Any], task: Any = None,
                        *, warn: bool = True) -> Any:
    """The ``Task`` to score a checkpoint's sub-models on, or ``None`` when there is no data.

    ``task`` may be a ``Task`` or anything ``autogt.load_task`` takes; ``None`` reloads the bundled data
    set named in the checkpoint's task description (with the checkpoint's seed, so random splits match).
    A fingerprint that differs from the checkpoint's is reported on stderr.
    """
    from autogt.data import load_task

    if task is None:
        name = str(task_info.get("name", "")).lower()
        if name not in BUNDLED:
            return None
        task = load_task(name, seed=int(extra.get("seed", 0) or 0))
    elif not hasattr(task, "graphs"):
        task = load_task(task, seed=int(extra.get("seed", 0) or 0))
    want = task_info.get("fingerprint")
    if warn and want and getattr(task, "fingerprint", "") and task.fingerprint != want:
        print(f"autogt: warning: task {task.name!r} differs from the checkpoint's (fingerprint {task.fingerprint} "
              f"!= {want}); metrics are on this task's split", file=sys.stderr)
    return task


@dataclass
class Scorer:
    """Validation / test metric of models on one task, with batch-norm recalibration.

    Attributes:
        metric: the task metric; ``maximize`` says whether larger is better.
        scaler: regression target scaler the model was trained with (predictions are de-normalised).
        batches: ``{"train": [...], "valid": [...], "test": [...]}`` lists of batches (``train`` holds
            at most ``calib_batches`` batches, used for recalibration).
        index: node index per split for node-level tasks (``None`` for graph tasks).
    """

    metric: str
    maximize: bool
    scaler: Any = None
    batches: dict[str, list[Any]] = field(default_factory=dict)
    index: dict[str, torch.Tensor] | None = None
    evaluations: int = 0

    @classmethod
    def for_task(cls, task: Any, spec: ArchSpec, *, scaler: Any = None, calib_batches: int = 16,
                 seed: int = 0, device: str | torch.device = "cpu") -> Scorer:
        """Batches of ``task`` (positional encoding attached for ``spec``), ready for :meth:`score`."""
        from autogt.train.loop import attach_pe

        task = attach_pe(task, spec)
        dev = torch.device(device)
        if task.level == "node":
            from torch_geometric.data import Batch

            data = Batch.from_data_list([task.graphs[0]]).to(dev)
            index = {k: torch.as_tensor(v, dtype=torch.long).to(dev) for k, v in task.split.items()}
            return cls(task.metric, bool(task.maximize), scaler, {k: [data] for k in ("train", "valid", "test")},
                       index)
        from autogt.data.loader import graph_loader

        def load(split: str, shuffle: bool, limit: int | None) -> list[Any]:
            out: list[Any] = []
            for b in graph_loader(task.graphs, task.split[split], spec.batch_size, shuffle=shuffle, seed=seed):
                if limit is not None and len(out) >= limit:
                    break
                out.append(b.to(dev))
            return out

        batches = {"train": load("train", True, calib_batches), "valid": load("valid", False, None),
                   "test": load("test", False, None)}
        return cls(task.metric, bool(task.maximize), scaler, batches, None)

    def calibrate(self, model: nn.Module) -> nn.Module:
        """Recalibrate ``model``'s batch norms on the training batches (eval mode afterwards)."""
        return recalibrate_bn(model, self.batches.get("train", []))

    @torch.no_grad()
    def score(self, model: nn.Module, split: str = "valid", *, calibrate: bool = True) -> float:
        """The task metric of ``model`` on ``split`` (after recalibration unless ``calibrate=False``)."""
        from autogt.train.metrics import compute_metric

        if calibrate:
            self.calibrate(model)
        model.eval()
        ys, ps = [], []
        for batch in self.batches[split]:
            out = model(batch)
            y = batch.y
            if self.index is not None:
                out, y = out[self.index[split]], y[self.index[split]]
            if self.scaler is not None:
                out = self.scaler.inverse(out)
            ys.append(y.detach().cpu())
            ps.append(out.detach().float().cpu())
        self.evaluations += 1
        return float(compute_metric(self.metric, torch.cat(ys), torch.cat(ps)))

    def better(self, a: float | None, b: float | None) -> bool:
        """Whether metric value ``a`` is strictly better than ``b`` (``None``/NaN is worst)."""
        if a is None or a != a:
            return False
        if b is None or b != b:
            return True
        return a > b if self.maximize else a < b
