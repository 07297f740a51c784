"""The pieces of the training loop: seeding, batching, one epoch, prediction, latency.

Graph-level tasks are trained in mini-batches of ``spec.batch_size`` graphs from
``autogt.data.loader.graph_loader``; when the spec has global attention, by default grouped by graph
size (:class:`~autogt.data.sampler.SizeAwareBatches`: less attention padding, same graphs per epoch;
``make_feeder(..., batch_sampler="random")`` turns it off); node-level tasks full-batch on their
single graph, with the loss and metrics restricted to the split's node indices. Both are hidden
behind a *feeder* with the same three methods, so :mod:`autogt.train.evaluate` has one loop for both.

Example:
    >>> seed_everything(0)
    >>> resolve_device("cpu")
    device(type='cpu')
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from autogt.models.spec import ArchSpec
from autogt.train.metrics import LossFn, TargetScaler

__all__ = [
    "seed_everything",
    "resolve_device",
    "attach_pe",
    "make_optimizer",
    "LRSchedule",
    "make_feeder",
    "GraphFeeder",
    "NodeFeeder",
    "train_epoch",
    "predict",
    "measure_latency",
    "NonFiniteLoss",
    "TimeUp",
    "StepLoss",
]


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite."""


class TimeUp(Exception):
    """The wall-clock budget ran out in the middle of an epoch."""


def seed_everything(seed: int) -> None:
    """Seed ``random``, NumPy and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:1"``... as a ``torch.device``; a missing CUDA raises ValueError."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r}: CUDA is not available on this machine")
    return dev


def attach_pe(task: Any, spec: ArchSpec) -> Any:
    """Make sure every graph carries the positional encoding ``spec`` asks for (``pe_rw``/``pe_lap``).

    Graphs that already hold it at the right width are left alone, so repeated evaluations of specs
    with the same encoding compute it once. Returns the task (``add_pe`` may return a new one).
    """
    if spec.pe == "none":
        return task
    attr = f"pe_{spec.pe}"

    def has(g: Any) -> bool:
        value = getattr(g, attr, None)
        return isinstance(value, torch.Tensor) and value.dim() == 2 and value.shape[-1] == spec.pe_dim

    if all(has(g) for g in task.graphs):
        return task
    from autogt.data.pe import add_pe

    out = add_pe(task, spec.pe, spec.pe_dim)
    return out if out is not None else task


def make_optimizer(spec: ArchSpec, params: Any) -> torch.optim.Optimizer:
    """The optimizer a spec names: ``adam``, ``adamw`` or ``sgd`` (``spec.momentum``), with its lr and weight decay.

    Torch's fused implementation is used where the parameters allow it (one kernel for all tensors: on CPU
    an AdamW step of the built-in ``gps`` model takes 0.7 ms instead of 3.5 ms), else the default one.
    """
    params = list(params)
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    if spec.optimizer not in kinds:
        raise ValueError(f"optimizer: {spec.optimizer!r} is not allowed; choose one of adam, adamw, sgd")
    kwargs: dict[str, Any] = {"lr": spec.lr, "weight_decay": spec.weight_decay}
    if spec.optimizer == "sgd":
        kwargs["momentum"] = spec.momentum
    try:  # torch checks devices and dtypes itself and refuses what its fused kernels cannot run
        return kinds[spec.optimizer](params, fused=True, **kwargs)
    except (RuntimeError, ValueError, TypeError):
        return kinds[spec.optimizer](params, **kwargs)


class LRSchedule:
    """The learning-rate schedule a spec names (``spec.lr_schedule``), stepped once per epoch.

    ``constant`` does nothing; ``cosine`` anneals from ``lr`` to ``lr / 100`` over ``epochs``; ``plateau``
    halves the rate (floor ``lr / 100``) when the validation metric has not improved for ``patience``
    epochs (a third of the early-stopping patience, 10 epochs when there is none).

    Example:
        >>> import torch
        >>> from autogt.models.spec import ArchSpec
        >>> w = torch.nn.Parameter(torch.zeros(1))
        >>> opt = torch.optim.SGD([w], lr=0.1)
        >>> s = LRSchedule(ArchSpec(lr=0.1, lr_schedule="cosine"), opt, epochs=10)
        >>> for epoch in range(10):
        ...     opt.step()
        ...     s.step(val=None)
        >>> round(opt.param_groups[0]["lr"], 6)
        0.001
    """

    def __init__(self, spec: ArchSpec, optimizer: torch.optim.Optimizer, *, epochs: int, patience: int = 0,
                 maximize: bool = False) -> None:
        self.kind = spec.lr_schedule
        floor = spec.lr / 100
        self._sched: Any = None
        if self.kind == "cosine":
            self._sched = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs), eta_min=floor)
        elif self.kind == "plateau":
            self._sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="max" if maximize else "min", factor=0.5,
                patience=max(1, patience // 3) if patience else 10, min_lr=floor)
        elif self.kind != "constant":
            raise ValueError(f"lr_schedule: {self.kind!r} is not allowed; choose one of constant, cosine, plateau")

    def step(self, val: float | None) -> None:
        """End of an epoch; ``val`` is its validation metric (``None`` when the epoch was not validated)."""
        if self.kind == "cosine":
            self._sched.step()
        elif self.kind == "plateau" and val is not None and math.isfinite(val):
            self._sched.step(val)


# ----------------------------------------------------------------------------- feeders
Step = tuple[Any, "torch.Tensor | None"]  # (batch on device, node index or None)
# step_loss(model, batch, index, y, loss) -> scalar training loss of one step (e.g. autogt.elastic.ElasticStep)
StepLoss = Callable[[nn.Module, Any, "torch.Tensor | None", torch.Tensor, LossFn], torch.Tensor]
# "auto", "size" (graphs of similar size per batch), "random" / None (plain shuffled chunks) or a factory
BatchSampler = str | Callable[..., Any] | None


class GraphFeeder:
    """Mini-batches of whole graphs for graph-level tasks.

    The training order of epoch ``e`` depends only on ``(seed, e)``: each epoch gets a fresh
    ``graph_loader`` seeded from both, so runs are reproducible and every epoch is reshuffled.
    Every training graph is used every epoch (no ``drop_last``). Training batches come from
    ``batch_sampler``: ``"size"`` (graphs of similar size per batch,
    :func:`~autogt.data.sampler.size_aware_batches`), ``"random"`` / ``None`` (plain shuffled chunks,
    the default here; :func:`make_feeder` picks) or any :class:`~autogt.data.loader.BatchSamplerFactory`.
    Evaluation batches keep the split order.
    """

    level = "graph"

    def __init__(self, task: Any, batch_size: int, seed: int, device: torch.device,
                 batch_sampler: BatchSampler = "random") -> None:
        self.graphs = task.graphs
        self.split = task.split
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.batch_sampler = _resolve_sampler(batch_sampler)

    def _loader(self, index: Any, *, shuffle: bool, seed: int, batch_sampler: Any = None) -> Any:
        from autogt.data.loader import graph_loader

        return graph_loader(self.graphs, index, self.batch_size, shuffle=shuffle, seed=seed,
                            batch_sampler=batch_sampler)

    def train(self, epoch: int) -> Iterator[Step]:
        seed = (self.seed * 1_000_003 + epoch) % 2**31
        for batch in self._loader(self.split["train"], shuffle=True, seed=seed, batch_sampler=self.batch_sampler):
            yield batch.to(self.device), None

    def eval(self, split: str) -> Iterator[Step]:
        for batch in self._loader(self.split[split], shuffle=False, seed=0):
            yield batch.to(self.device), None

    def train_targets(self) -> torch.Tensor:
        ys = [self.graphs[int(i)].y for i in self.split["train"]]
        return torch.cat([y.reshape(1, -1) for y in ys], 0)

    def latency_batch(self) -> Any:
        """The first ``batch_size`` graphs of the test split (topped up from valid/train if it is smaller)."""
        from torch_geometric.data import Batch

        order = [int(i) for key in ("test", "valid", "train") for i in self.split[key]]
        return Batch.from_data_list([self.graphs[i] for i in order[: self.batch_size]]).to(self.device)


class NodeFeeder:
    """Full-batch training on the single graph of a node-level task, masked by split indices."""

    level = "node"

    def __init__(self, task: Any, device: torch.device) -> None:
        from torch_geometric.data import Batch

        self.data = Batch.from_data_list([task.graphs[0]]).to(device)
        self.index = {k: torch.as_tensor(v, dtype=torch.long).to(device) for k, v in task.split.items()}

    def train(self, epoch: int) -> Iterator[Step]:
        yield self.data, self.index["train"]

    def eval(self, split: str) -> Iterator[Step]:
        yield self.data, self.index[split]

    def train_targets(self) -> torch.Tensor:
        return self.data.y[self.index["train"]].cpu()

    def latency_batch(self) -> Any:
        return self.data


def make_feeder(task: Any, spec: ArchSpec, seed: int, device: torch.device, *,
                batch_sampler: BatchSampler = "auto") -> GraphFeeder | NodeFeeder:
    """The feeder for ``task.level``; ``batch_sampler`` picks the training batches of graph-level
    tasks: ``"auto"`` (default) is ``"size"`` when a layer of ``spec`` has global attention (whose
    padding it saves) and ``"random"`` otherwise (message passing does not pad); ``"size"``,
    ``"random"`` / ``None`` or a factory as in :class:`GraphFeeder`."""
    if task.level == "node":
        return NodeFeeder(task, device)
    if batch_sampler == "auto":
        batch_sampler = "size" if any(layer.attn != "none" for layer in spec.layers) else "random"
    return GraphFeeder(task, spec.batch_size, seed, device, batch_sampler=batch_sampler)


def _resolve_sampler(batch_sampler: BatchSampler) -> Any:
    if batch_sampler is None or batch_sampler == "random":
        return None  # graph_loader's default
    if batch_sampler == "size":
        from autogt.data.sampler import size_aware_batches

        return size_aware_batches
    if callable(batch_sampler):
        return batch_sampler
    raise ValueError(f"batch_sampler: {batch_sampler!r} is not 'auto', 'size', 'random', None or a "
                     "BatchSamplerFactory")


# ----------------------------------------------------------------------------- steps
def _targets(batch: Any, index: torch.Tensor | None) -> torch.Tensor:
    y = batch.y
    return y[index] if index is not None else y


def train_epoch(
    model: nn.Module,
    steps: Iterator[Step],
    optimizer: torch.optim.Optimizer,
    loss: LossFn,
    *,
    scaler: TargetScaler | None = None,
    deadline: float = math.inf,
    step_loss: StepLoss | None = None,
) -> float:
    """One pass over ``steps``; returns the mean training loss.

    Non-finite losses are detected once per epoch (no per-step device sync) and raise
    :class:`NonFiniteLoss`; passing ``deadline`` (a ``time.perf_counter()`` value) raises
    :class:`TimeUp` after the step that crosses it. ``step_loss(model, batch, index, y, loss)``, when
    given, replaces ``loss(model(batch)[index], y)`` as the loss of a step (``y`` already scaled).
    """
    model.train()
    total: torch.Tensor | None = None
    count = 0
    for batch, index in steps:
        optimizer.zero_grad(set_to_none=True)
        y = _targets(batch, index)
        if scaler is not None:
            y = scaler.transform(y)
        if step_loss is not None:
            value = step_loss(model, batch, index, y, loss)
        else:
            out = model(batch)
            value = loss(out if index is None else out[index], y)
        value.backward()
        optimizer.step()
        total = value.detach() if total is None else total + value.detach()
        count += 1
        if time.perf_counter() > deadline:
            _check_finite(total)
            raise TimeUp
    if total is None:
        return math.nan
    _check_finite(total)
    return float(total) / count


def _check_finite(total: torch.Tensor | None) -> None:
    if total is not None and not bool(torch.isfinite(total)):
        raise NonFiniteLoss("non-finite training loss")


@torch.no_grad()
def predict(model: nn.Module, steps: Iterator[Step], *, scaler: TargetScaler | None = None) -> tuple[Any, Any]:
    """Labels and predictions (in target units) over ``steps``, concatenated, as CPU tensors."""
    model.eval()
    ys: list[torch.Tensor] = []
    preds: list[torch.Tensor] = []
    for batch, index in steps:
        out = model(batch)
        if index is not None:
            out = out[index]
        if scaler is not None:
            out = scaler.inverse(out)
        ys.append(_targets(batch, index).detach().cpu())
        preds.append(out.detach().float().cpu())
    if not ys:
        return torch.empty(0), torch.empty(0)
    return torch.cat(ys, 0), torch.cat(preds, 0)


@torch.no_grad()
def measure_latency(
    model: nn.Module, batch: Any, repeats: int, *, warmup: int = 3, clock: Callable[[], float] = time.perf_counter
) -> float | None:
    """Median inference latency of ``model(batch)`` in milliseconds (``None`` when ``repeats`` is 0).

    Runs ``warmup`` untimed forwards first; on CUDA each timed forward is bracketed by
    ``torch.cuda.synchronize``.
    """
    if repeats <= 0:
        return None
    model.eval()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    cuda = device.type == "cuda"
    for _ in range(warmup):
        model(batch)
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize(device)
        start = clock()
        model(batch)
        if cuda:
            torch.cuda.synchronize(device)
        times.append((clock() - start) * 1000.0)
    return float(statistics.median(times))
