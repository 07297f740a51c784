"""Retrofit: a trained dense checkpoint -> an elastic one.

1. Score every FFN hidden neuron: ``mean |act(fc1(h))_j| * ||fc2[:, j]||`` over training batches
   (``activation``), or ``||fc1[j]|| * ||fc2[:, j]||`` without data (``weight``).
2. Reorder the neurons of each FFN by decreasing importance (rows of ``fc1``, columns of ``fc2``): the
   function is unchanged, but the first ``m`` neurons are now the most useful ones, so every prefix is a
   reasonable smaller FFN before any training.
3. Fine-tune briefly with the joint elastic loss (every granularity each step).

Example:
    >>> model, result = retrofit("runs/gps/model.safetensors", out="runs/gps-elastic")  # doctest: +SKIP
    >>> result.checkpoint                                                            # doctest: +SKIP
    'runs/gps-elastic/model.safetensors'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from autogt.elastic._base import ElasticError
from autogt.elastic._train import ElasticStep, elastic_spec

__all__ = ["IMPORTANCES", "ffn_importance", "permute_ffn", "reorder_by_importance", "retrofit"]

IMPORTANCES = ("activation", "weight")


def _ffn_layers(model: nn.Module) -> list[tuple[int, Any]]:
    layers = getattr(model, "layers", None)
    if layers is None:
        raise ElasticError(f"expected an autogt model (with .layers), got {type(model).__name__}")
    return [(i, layer) for i, layer in enumerate(layers) if getattr(layer, "ffn_dim", 0) > 0]


@torch.no_grad()
def ffn_importance(model: nn.Module, batches: Sequence[Any] | None = None) -> dict[int, Tensor]:
    """Importance of each FFN hidden neuron, per layer index (see module doc).

    With ``batches`` the activation-based score is used, otherwise the weight-based one.
    """
    layers = _ffn_layers(model)
    out: dict[int, Tensor] = {}
    if not batches:
        for i, layer in layers:
            out[i] = layer.fc1.weight.norm(dim=1) * layer.fc2.weight.norm(dim=0)
        return out
    sums = {i: torch.zeros(layer.ffn_dim, device=layer.fc1.weight.device) for i, layer in layers}
    counts = dict.fromkeys(sums, 0)
    handles = []
    for i, layer in layers:
        def hook(_mod: nn.Module, _inp: Any, act: Tensor, i: int = i) -> None:
            sums[i] += act.abs().sum(0)
            counts[i] += act.size(0)

        handles.append(layer.ffn_act.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            model(batch)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    for i, layer in layers:
        out[i] = sums[i] / max(counts[i], 1) * layer.fc2.weight.norm(dim=0)
    return out


def permute_ffn(state: dict[str, Tensor], layer: int, order: Tensor) -> None:
    """Reorder the hidden neurons of FFN ``layer`` in a state dict, in place (function preserving)."""
    pre = f"layers.{layer}."
    state[f"{pre}fc1.weight"] = state[f"{pre}fc1.weight"][order].clone()
    if f"{pre}fc1.bias" in state:
        state[f"{pre}fc1.bias"] = state[f"{pre}fc1.bias"][order].clone()
    state[f"{pre}fc2.weight"] = state[f"{pre}fc2.weight"][:, order].clone()


def reorder_by_importance(model: nn.Module, batches: Sequence[Any] | None = None) -> dict[str, Tensor]:
    """A state dict of ``model`` with every FFN's neurons sorted by decreasing importance."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for i, score in ffn_importance(model, batches).items():
        permute_ffn(state, i, torch.argsort(score.cpu(), descending=True, stable=True).to(score.device))
    return state


def retrofit(
    checkpoint: Any,
    *,
    task: Any = None,
    granularities: Sequence[float] | None = None,
    mode: str = "joint",
    probs: Sequence[float] | None = None,
    budget: Any = None,
    importance: str = "activation",
    calib_batches: int = 16,
    out: str | os.PathLike[str] | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    finetune: bool = True,
) -> tuple[nn.Module, Any]:
    """Turn a trained dense checkpoint into an elastic model (reorder neurons, brief elastic fine-tune).

    Args:
        checkpoint: a dense autogt checkpoint (path or :class:`~autogt.train.Checkpoint`).
        task: training data (a ``Task`` or anything ``load_task`` takes); default: the bundled data set
            named in the checkpoint.
        granularities: FFN fractions (default 1/8, 1/4, 1/2, 1).
        mode, probs: elastic loss of the fine-tune (see :class:`ElasticStep`); ``joint`` by default.
        budget: fine-tune budget (default ``Budget(epochs=10, patience=5)``).
        importance: ``activation`` (needs data) or ``weight``.
        calib_batches: training batches used for activation importance.
        out: folder for the elastic ``model.safetensors`` (and ``result.json``).
        seed, device: as for :func:`autogt.train.train`.
        finetune: ``False`` returns the reordered elastic model without training (result ``None``).

    Returns:
        ``(model, result)``: the elastic model (eval mode) and the fine-tune's ``EvalResult``.

    Raises:
        ElasticError: no data for the fine-tune or for activation importance, a spec without FFN, or an
            unknown ``importance``.
    """
    from autogt.elastic._extract import _load
    from autogt.elastic._score import Scorer, task_for_checkpoint
    from autogt.models import build_model
    from autogt.train import Budget, train

    if importance not in IMPORTANCES:
        raise ElasticError(f"importance: {importance!r} is not allowed; choose one of {', '.join(IMPORTANCES)}")
    ckpt = _load(checkpoint)
    dense = build_model(ckpt.spec, ckpt.task_info)
    dense.load_state_dict(ckpt.state_dict, strict=True)
    dense.to(device).eval()
    espec = elastic_spec(ckpt.spec, granularities)
    data = task_for_checkpoint(ckpt.task_info, ckpt.extra, task)
    if data is None and (finetune or importance == "activation"):
        raise ElasticError("retrofit needs training data: pass task= (a Task or a data set name)")
    batches = None
    if importance == "activation":
        scorer = Scorer.for_task(data, ckpt.spec, calib_batches=calib_batches, seed=seed, device=device)
        batches = scorer.batches["train"]
    state = reorder_by_importance(dense, batches)
    model = build_model(espec, ckpt.task_info)
    model.load_state_dict(state, strict=True)
    model.to(device).eval()
    if not finetune:
        return model, None
    budget = budget if budget is not None else Budget(epochs=10, patience=5)
    step = ElasticStep(mode, probs, seed)
    trained, result = train(espec, data, budget, seed=seed, device=device, out_dir=Path(out) if out else None,
                            model=model, step_loss=step)
    result.extra["elastic"] = {"mode": mode, "granularities": list(espec.elastic), "counts": list(step.counts),
                               "retrofit_from": ckpt.spec.hash(), "importance": importance}
    return (trained if trained is not None else model), result
