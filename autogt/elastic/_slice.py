"""Slicing: an elastic spec + weights at a granularity choice -> a dense spec + weights.

The sliced spec sets each elastic layer's ``ffn`` to the chosen width and empties ``elastic``, so
the result is an ordinary autogt model (no elastic code path). Its weights are the first ``m`` rows
of ``fc1`` and the first ``m`` columns of ``fc2``; everything else is copied unchanged.

Example:
    >>> from autogt.models import ArchSpec, LayerSpec
    >>> from autogt.testing.layers import molecule_task
    >>> spec = ArchSpec(hidden=16, layers=(LayerSpec(ffn=32),) * 2, elastic=(0.25, 0.5, 1.0))
    >>> [layer.ffn for layer in slice_spec(spec, (0, 2), molecule_task()).layers]
    [8, 32]
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from autogt.elastic._base import ElasticError, granularities, nested_widths
from autogt.elastic._nested import Choice, resolve_choice
from autogt.models.plan import make_plan
from autogt.models.spec import ArchSpec

__all__ = ["ffn_widths", "elastic_layers", "choice_widths", "slice_spec", "slice_state_dict", "extract_model"]


def ffn_widths(spec: ArchSpec, task: Any) -> list[int]:
    """Full FFN hidden width of every layer of ``spec`` on ``task`` (0 = no FFN)."""
    plan = make_plan(spec, task)
    return [layer.ffn if layer.ffn is not None else 2 * lp.out_dim
            for layer, lp in zip(spec.layers, plan.layers, strict=True)]


def elastic_layers(spec: ArchSpec, task: Any) -> list[int]:
    """0-based indices of the layers whose FFN is nested (every layer with an FFN of an elastic spec)."""
    if not spec.elastic:
        return []
    return [i for i, w in enumerate(ffn_widths(spec, task)) if w > 0]


def _require_elastic(spec: ArchSpec) -> tuple[float, ...]:
    fracs = granularities(spec)
    if not fracs:
        raise ElasticError("spec is dense (elastic is empty): train it with --elastic or retrofit it first")
    return fracs


def choice_widths(spec: ArchSpec, task: Any, choice: Choice) -> dict[int, int]:
    """``{layer index: FFN width}`` of every elastic layer at ``choice``."""
    fracs = _require_elastic(spec)
    widths = ffn_widths(spec, task)
    layers = [i for i, w in enumerate(widths) if w > 0]
    picks = resolve_choice(choice, len(layers), len(fracs))
    return {i: nested_widths(widths[i], fracs)[c] for i, c in zip(layers, picks, strict=True)}


def slice_spec(spec: ArchSpec, choice: Choice, task: Any) -> ArchSpec:
    """The dense spec of the sub-model at ``choice`` (per-layer ``ffn`` widths, ``elastic`` emptied).

    Raises:
        ElasticError: ``spec`` is dense, or ``choice`` does not fit it.
    """
    widths = ffn_widths(spec, task)
    layers = list(spec.layers)
    for i, m in choice_widths(spec, task, choice).items():
        if m != widths[i] or layers[i].ffn is not None:
            layers[i] = dataclasses.replace(layers[i], ffn=m)
    return spec.replace(layers=tuple(layers), elastic=())


def slice_state_dict(state: dict[str, torch.Tensor], spec: ArchSpec, choice: Choice,
                     task: Any) -> dict[str, torch.Tensor]:
    """Weights of the sub-model at ``choice``: first ``m`` rows of ``fc1``, first ``m`` columns of ``fc2``.

    Tensors are views of (or the same tensors as) ``state``; clone them before modifying in place.
    """
    out = dict(state)
    for i, m in choice_widths(spec, task, choice).items():
        pre = f"layers.{i}."
        for key, sl in ((f"{pre}fc1.weight", (slice(0, m),)), (f"{pre}fc1.bias", (slice(0, m),)),
                        (f"{pre}fc2.weight", (slice(None), slice(0, m)))):
            if key in out:
                out[key] = out[key][sl]
    return out


def extract_model(model: nn.Module, choice: Choice, task: Any = None) -> nn.Module:
    """A standalone dense copy of an elastic ``model`` at ``choice`` (same device and train/eval mode).

    Args:
        model: an :class:`~autogt.models.AutoGTModel` built from an elastic spec.
        choice: granularity index for all elastic layers, or one per elastic layer.
        task: the task it was built for (default: the model's own task description).

    Example:
        >>> small = extract_model(elastic_model, 0)  # doctest: +SKIP
    """
    from autogt.models import build_model

    spec = getattr(model, "spec", None)
    if spec is None:
        raise ElasticError(f"extract_model: expected an autogt model (with .spec), got {type(model).__name__}")
    info = task if task is not None else model.plan.info  # type: ignore[union-attr]
    sub_spec = slice_spec(spec, choice, info)
    state = slice_state_dict(model.state_dict(), spec, choice, info)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    sub = build_model(sub_spec, info)
    sub.load_state_dict(state, strict=True)
    return sub.to(device).train(model.training)
