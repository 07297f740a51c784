"""Elastic training: one training step that teaches every granularity of a nested model.

Two modes (MatFormer, Devvrit et al. 2023):

- ``sampled``: each step trains one granularity, drawn with probabilities ``probs`` (uniform by default);
- ``joint``: each step sums the losses of every granularity (``sum_i w_i L_i``, ``w_i = 1`` by default),
  so one backward pass updates all of them.

``distill`` (joint mode) adds in-place distillation (Yu & Huang 2019, "Universally Slimmable Networks";
BigNAS, OFA): the full width learns from the labels, every smaller granularity from
``(1 - distill) x`` the labels plus ``distill x`` the full width's own (detached) predictions of the same step.

:class:`ElasticStep` plugs into the training loop of :mod:`autogt.train` as ``step_loss``; validation
and checkpoints of the run use the full width.

Example:
    >>> from autogt.train import Budget, train                                  # doctest: +SKIP
    >>> spec = elastic_spec(load_spec("gps"))                                   # doctest: +SKIP
    >>> model, result = train(spec, "bbbp", Budget(epochs=30), step_loss=ElasticStep("joint"))  # doctest: +SKIP
    >>> # or in one call:
    >>> model, result = train_elastic("gps", "bbbp", Budget(epochs=30), mode="sampled")  # doctest: +SKIP
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from autogt.elastic._base import DEFAULT_GRANULARITIES, ElasticError, check_fractions
from autogt.elastic._nested import nested_modules, use_granularity
from autogt.models.spec import ArchSpec
from autogt.train.metrics import soft_loss

__all__ = ["MODES", "ElasticNormWarning", "ElasticStep", "elastic_spec", "train_elastic"]

MODES = ("sampled", "joint")


def elastic_spec(spec: ArchSpec | str | dict[str, Any], granularities: Sequence[float] | None = None) -> ArchSpec:
    """``spec`` with nested FFNs: ``granularities`` (default: the spec's own, else 1/8, 1/4, 1/2, 1).

    Raises:
        ElasticError: no layer of ``spec`` has an FFN, or a fraction outside ``(0, 1]``.

    Example:
        >>> from autogt.models import builtin_spec
        >>> elastic_spec(builtin_spec("gps")).elastic
        (0.125, 0.25, 0.5, 1.0)
    """
    from autogt.models.spec import load_spec

    spec = load_spec(spec)
    if all(layer.ffn == 0 for layer in spec.layers):
        raise ElasticError("spec has no FFN (every layer has ffn: 0), so there is nothing to nest")
    fracs = granularities if granularities is not None else (spec.elastic or DEFAULT_GRANULARITIES)
    if any(layer.norm == "batch" for layer in spec.layers):
        warnings.warn("elastic model with batch norm: its scale and shift are shared by every granularity, and "
                      "such models fit worse than independent ones on some tasks (ESOL); norm: layer avoids it "
                      "(docs/elastic.md)", ElasticNormWarning, stacklevel=2)
    return spec.replace(elastic=check_fractions(fracs))


class ElasticNormWarning(UserWarning):
    """An elastic spec with batch norm (see ``docs/elastic.md``); silence with ``warnings.filterwarnings``."""


@dataclass
class ElasticStep:
    """Loss of one elastic training step: ``step(model, batch, index, y, loss) -> Tensor``.

    Args:
        mode: ``sampled`` or ``joint``.
        probs: ``sampled``: probability of each granularity (normalised; default uniform).
            ``joint``: weight of each granularity's loss (default 1 each).
        seed: seeds the granularity draws of ``sampled``.
        distill: ``joint`` only: weight in ``[0, 1]`` of the full width's predictions as the smaller
            granularities' target (0 = labels only, the plain MatFormer loss).

    Attributes:
        counts: steps (``sampled``) or losses (``joint``) spent on each granularity so far.

    Example:
        >>> step = ElasticStep("sampled", probs=(0.4, 0.2, 0.2, 0.2), seed=0)
        >>> step.mode
        'sampled'
    """

    mode: str = "sampled"
    probs: Sequence[float] | None = None
    seed: int = 0
    distill: float = 0.0
    counts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ElasticError(f"mode: {self.mode!r} is not allowed; choose one of {', '.join(MODES)}")
        if self.probs is not None:
            self.probs = tuple(float(p) for p in self.probs)
            if any(p < 0 for p in self.probs) or sum(self.probs) <= 0:
                raise ElasticError(f"probs: expected non-negative values with a positive sum, got {self.probs}")
        self.distill = float(self.distill)
        if not 0.0 <= self.distill <= 1.0:
            raise ElasticError(f"distill: expected a weight in [0, 1], got {self.distill}")
        if self.distill and self.mode != "joint":
            raise ElasticError("distill needs mode='joint' (the full width's predictions of the same step)")
        self._rng = random.Random(self.seed)

    def _weights(self, num: int) -> tuple[float, ...]:
        if self.probs is None:
            return (1.0,) * num
        if len(self.probs) != num:
            raise ElasticError(f"probs: the model has {num} granularities, got {len(self.probs)} values")
        return tuple(self.probs)

    def __call__(self, model: nn.Module, batch: Any, index: Tensor | None, y: Tensor, loss: Any) -> Tensor:
        mods = nested_modules(model)
        if not mods:
            raise ElasticError("elastic training needs a model built from a spec with elastic granularities")
        num = len(mods[0].widths)
        weights = self._weights(num)
        if len(self.counts) != num:
            self.counts = [0] * num

        def predict(g: int) -> Tensor:
            # only the full model moves the batch-norm running statistics: a sub-model's activations follow
            # another distribution, and mixing them in would leave the full model (validated during training)
            # with statistics of none of its granularities; sub-models are recalibrated when extracted
            with use_granularity(model, g), _running_stats(model, update=g == num - 1):
                out = model(batch)
            self.counts[g] += 1
            return out if index is None else out[index]

        if self.mode == "sampled":
            g = self._rng.choices(range(num), weights=weights)[0]
            return loss(predict(g), y)
        soft = soft_loss(loss) if self.distill else None
        teacher: Tensor | None = None
        total: Tensor | None = None
        order = reversed(range(num)) if soft else range(num)  # distilling: the full width teaches first
        for g in order:
            full = g == num - 1
            if weights[g] == 0 and not (soft and full):  # the full width still runs to teach
                continue
            out = predict(g)
            value = loss(out, y)
            if full:
                teacher = out.detach()
            elif soft is not None:
                assert teacher is not None
                value = (1.0 - self.distill) * value + self.distill * soft(out, teacher)
            if weights[g]:
                total = weights[g] * value if total is None else total + weights[g] * value
        assert total is not None
        return total


@contextmanager
def _running_stats(model: nn.Module, *, update: bool) -> Iterator[None]:
    """With ``update=False``, batch norms in training mode normalise with batch statistics as usual but leave
    their running statistics untouched (momentum 0 for the duration)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
             and m.training and m.track_running_stats]
    if update or not norms:
        yield
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(norms, saved, strict=True):
            m.momentum = momentum


def train_elastic(
    spec: ArchSpec | str | dict[str, Any],
    task: Any,
    budget: Any = None,
    *,
    mode: str = "sampled",
    granularities: Sequence[float] | None = None,
    probs: Sequence[float] | None = None,
    distill: float = 0.0,
    seed: int = 0,
    device: str | torch.device = "cpu",
    out_dir: str | Path | None = None,
    model: nn.Module | None = None,
    **kwargs: Any,
) -> tuple[nn.Module | None, Any]:
    """Train ``spec`` as an elastic model: :func:`autogt.train.train` with an :class:`ElasticStep`.

    Args:
        spec: any spec; its FFNs are made nested (see :func:`elastic_spec`).
        task, budget, seed, device, out_dir, model, kwargs: as for :func:`autogt.train.train`.
        mode, probs, distill: see :class:`ElasticStep`.
        granularities: fractions of the FFN width (default: the spec's, else 1/8, 1/4, 1/2, 1).

    Returns:
        ``(model, result)`` as :func:`autogt.train.train`; ``result.extra["elastic"]`` records the mode,
        granularities and steps per granularity.

    Example:
        >>> model, result = train_elastic("gps", "bbbp", Budget(epochs=20), mode="joint")  # doctest: +SKIP
    """
    from autogt.train import train

    espec = elastic_spec(spec, granularities)
    step = ElasticStep(mode, probs, seed, distill)
    trained, result = train(espec, task, budget, seed=seed, device=device, out_dir=out_dir, model=model,
                            step_loss=step, **kwargs)
    result.extra["elastic"] = {"mode": mode, "granularities": list(espec.elastic), "counts": list(step.counts),
                               "distill": step.distill}
    return trained, result
