"""Anchor-model task embeddings (AutoTransfer style): Fisher information of small anchor models' heads.

Each anchor design is trained briefly on the task; then the diagonal empirical Fisher of its head
parameters, ``F = E[(d loss / d theta)^2]`` over a few training batches, is summarised into a
fixed-length vector that does not depend on the task's number of outputs or on the order of hidden
units: for every Linear layer of the head, ``log trace(F)`` and the ``quantiles`` of the sorted
per-input-unit Fisher (mean over outputs, log, centred). The embedding concatenates these over the
anchors, so tasks on which the same anchors learn similar head sensitivities land close together.

Example:
    >>> from autogt.data import load_task                        # doctest: +SKIP
    >>> vec = anchor_embedding(load_task("bbbp"), epochs=2)        # doctest: +SKIP
    >>> vec.shape                                                 # doctest: +SKIP
    (54,)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from autogt.models.spec import ArchSpec, LayerSpec

__all__ = ["DEFAULT_ANCHORS", "anchor_embedding", "fisher_summary", "EMBEDDING_NAME"]

EMBEDDING_NAME = "fisher"
"""Name under which :meth:`Bank.add_task` stores this embedding (``similar(method="embedding:fisher")``)."""


def _anchor(local: str, attn: str = "none") -> ArchSpec:
    layer = LayerSpec(local=local, attn=attn, heads=4, ffn=0 if attn == "none" else 64, norm="batch", dropout=0.0)
    return ArchSpec(hidden=32, layers=(layer, layer), post_layers=2, lr=1e-3, optimizer="adam", batch_size=64)


DEFAULT_ANCHORS: tuple[ArchSpec, ...] = (_anchor("gcn"), _anchor("gin"), _anchor("none", "full"))
"""Three small anchors: a GCN, a GIN and a pure transformer (2 layers, width 32, 2-layer head)."""


def fisher_summary(fisher: Sequence[Any], quantiles: int = 8) -> np.ndarray:
    """Fixed-length summary of the diagonal Fisher of head Linear weights (``[out, in]`` arrays).

    Example:
        >>> f = [np.ones((3, 32)), np.full((1, 32), 4.0)]
        >>> fisher_summary(f, quantiles=4).shape
        (10,)
    """
    parts: list[float] = []
    for f in fisher:
        f = np.asarray(f, dtype=np.float64)
        per_in = f.reshape(f.shape[0], -1).mean(0) if f.ndim > 1 else f
        per_in = np.log(np.sort(per_in)[::-1] + 1e-12)
        qs = np.quantile(per_in, np.linspace(0.0, 1.0, quantiles))
        parts.append(math.log(float(f.sum()) + 1e-12))
        parts.extend((qs - qs.mean()).tolist())
    return np.asarray(parts, dtype=np.float64)


def anchor_embedding(task: Any, anchors: Sequence[ArchSpec] | None = None, epochs: int = 2, *,
                     batches: int = 8, quantiles: int = 8, seed: int = 0, device: str = "cpu",
                     max_train: int = 1024) -> np.ndarray:
    """The anchor-model Fisher embedding of ``task`` (see the module docstring).

    Args:
        task: a ``Task`` (with data).
        anchors: anchor designs (default :data:`DEFAULT_ANCHORS`); the embedding has
            ``len(anchors) * head_layers * (quantiles + 1)`` entries.
        epochs: training epochs per anchor before the Fisher is measured.
        batches: training batches the Fisher is averaged over.
        max_train: graph-level tasks train on at most this many training graphs (keeps it cheap).
        seed, device: as in ``evaluate``.
    """
    import torch

    from autogt.models import build_model
    from autogt.train.loop import attach_pe, make_feeder, make_optimizer, resolve_device, seed_everything, train_epoch
    from autogt.train.metrics import TargetScaler, loss_fn

    anchors = tuple(anchors) if anchors is not None else DEFAULT_ANCHORS
    dev = resolve_device(device)
    work = _subsample(task, max_train, seed)
    loss = loss_fn(task.kind)
    out: list[np.ndarray] = []
    for spec in anchors:
        seed_everything(seed)
        work = attach_pe(work, spec)
        model = build_model(spec, work).to(dev)
        feeder = make_feeder(work, spec, seed, dev)
        scaler = TargetScaler.fit(feeder.train_targets()) if task.kind == "regression" else None
        optimizer = make_optimizer(spec, [p for p in model.parameters() if p.requires_grad])
        for epoch in range(1, epochs + 1):
            train_epoch(model, feeder.train(epoch), optimizer, loss, scaler=scaler)
        head = [m for m in model.head.modules() if isinstance(m, torch.nn.Linear)]
        sums = [torch.zeros_like(m.weight) for m in head]
        model.eval()  # no dropout / batch-norm updates while measuring
        seen = 0
        for step, (batch, index) in enumerate(feeder.train(epochs + 1)):
            if step >= batches:
                break
            model.zero_grad(set_to_none=True)
            pred = model(batch)
            y = batch.y
            if index is not None:
                pred, y = pred[index], y[index]
            if scaler is not None:
                y = scaler.transform(y)
            loss(pred, y).backward()
            for acc, m in zip(sums, head, strict=True):
                if m.weight.grad is not None:
                    acc += m.weight.grad.detach() ** 2
            seen += 1
        out.append(fisher_summary([(acc / max(seen, 1)).cpu().numpy() for acc in sums], quantiles))
    return np.concatenate(out)


def _subsample(task: Any, max_train: int, seed: int) -> Any:
    """A shallow copy of a graph-level task whose training split has at most ``max_train`` graphs."""
    import copy

    import torch

    if task.level != "graph" or len(task.split["train"]) <= max_train:
        return task
    g = torch.Generator().manual_seed(seed)
    train = torch.as_tensor(task.split["train"])
    keep = train[torch.randperm(len(train), generator=g)[:max_train]]
    clone = copy.copy(task)
    clone.split = {**task.split, "train": keep}
    return clone
