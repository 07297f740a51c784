"""Torch-Pruning (DepGraph) baselines: magnitude and Taylor importance over heads and FFN neurons.

How the dependency graph sees an autogt model:

- FFN neurons: DepGraph traces ``fc1`` out-channels to ``fc2`` in-channels on its own.
- Attention heads: DepGraph cannot follow the per-graph bucketing of our attention (gathers,
  ``scaled_dot_product_attention``); traced as is, it couples ``q``/``k``/``v`` only to ``o`` with wrong
  index maps and not to each other. So the graph is *built* with a stand-in forward per attention module,
  ``o(q(x) * k(x) * v(x))``, which couples the four projections channel by channel; with
  ``num_heads={q: H, k: H, v: H}``, ``prune_num_heads=True`` and ``prune_head_dims=False`` Torch-Pruning
  removes whole heads. The real forward is restored before any importance is computed (Taylor
  gradients come from the real model). Performer attention keeps ``head_dim``, so its random-feature
  buffer stays valid.
- Everything that writes the residual stream (encoders, ``o``/``fc2`` outputs, norms...) and GIN's MLP is
  in ``ignored_layers``: those widths are shared across layers in an ``ArchSpec`` (``hidden``), so a
  pruned result could not be written back as a spec.

Pruning runs in small global steps (``pruning_ratio = head_pruning_ratio``) until the exact cost of the
spec read back from the pruned shapes reaches the target. A step never removes the last head of a layer
(Torch-Pruning would leave a 0-wide attention). The result is read back into per-layer ``heads`` /
``ffn``, rebuilt with ``build_model`` and loaded with the pruned weights (strict).

Example:
    >>> new_spec, new_model = tp_prune(model, spec, task, cost, 0.5, importance="magnitude")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import dataclasses
import types
import warnings
from typing import Any

import torch
from torch import nn

__all__ = ["tp_prune", "read_spec"]


def read_spec(model: Any, spec: Any) -> Any:
    """The ``ArchSpec`` matching a (Torch-Pruning-pruned) model's Linear shapes."""
    layers = []
    for layer, ls in zip(model.layers, spec.layers, strict=True):
        ch: dict[str, Any] = {}
        if layer.attn is not None:
            hd = layer.attn.head_dim
            heads = layer.attn.q.out_features // hd
            if heads != ls.heads:
                ch.update(heads=heads, head_dim=hd)
        if layer.ffn_dim > 0 and layer.fc1.out_features != ls.ffn_width(spec.hidden):
            ch["ffn"] = layer.fc1.out_features
        layers.append(dataclasses.replace(ls, **ch) if ch else ls)
    return spec.replace(layers=tuple(layers))


def _stand_in_forward(self: Any, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return self.o(self.q(x) * self.k(x) * self.v(x))


def _grads(model: nn.Module, task: Any, spec: Any, scaler: Any, seed: int, device: str, batches: int) -> None:
    from autogt.train.loop import make_feeder
    from autogt.train.metrics import loss_fn

    feeder = make_feeder(task, spec, seed, torch.device(device))
    loss = loss_fn(task.kind)
    model.zero_grad(set_to_none=True)
    model.eval()
    for k, (batch, index) in enumerate(feeder.train(1)):
        if k >= batches:
            break
        out = model(batch)
        y = batch.y if index is None else batch.y[index]
        out = out if index is None else out[index]
        loss(out, y if scaler is None else scaler.transform(y)).backward()


def _channel_scores(DG: Any, imp: Any, module: nn.Module, fn: Any, n: int) -> torch.Tensor:
    """Torch-Pruning importance of the ``n`` out-channels of ``module``'s group, normalised by their mean."""
    group = DG.get_pruning_group(module, fn, idxs=list(range(n)))
    s = imp(group)
    s = torch.as_tensor(s, dtype=torch.float64).detach().cpu().flatten()
    if s.numel() != n:
        raise RuntimeError(f"torch-pruning returned {s.numel()} scores for {n} channels")
    return s / s.mean().clamp_min(1e-12)


def _lowest(scores: list[torch.Tensor], count: int, floor: list[int]) -> list[list[int]]:
    """Indices of the ``count`` globally lowest scores, leaving at least ``floor[g]`` in group ``g``."""
    flat = sorted((float(v), g, j) for g, s in enumerate(scores) for j, v in enumerate(s.tolist()))
    picked: list[list[int]] = [[] for _ in scores]
    for _v, g, j in flat:
        if count <= 0:
            break
        if len(scores[g]) - len(picked[g]) > floor[g]:
            picked[g].append(j)
            count -= 1
    return picked


def tp_prune(model: Any, spec: Any, task: Any, cost: Any, ratio: float, *, importance: str = "magnitude",
             scaler: Any = None, seed: int = 0, device: str = "cpu", steps: int = 50, max_ratio: float = 0.98,
             grad_batches: int = 8) -> tuple[Any, nn.Module]:
    """Prune heads and FFN neurons of ``model`` with Torch-Pruning until ``cost`` reaches ``ratio``.

    Each step ``k`` keeps ``1 - max_ratio * k / steps`` of the dense heads and of the dense FFN neurons:
    heads and neurons are ranked globally by Torch-Pruning's group importance (normalised by each group's
    mean, as Torch-Pruning's global pruning does), at least one head and one neuron stay per layer, and the
    chosen channels are removed with ``DependencyGraph.get_pruning_group(...).prune()``.

    Args:
        model: the dense ``AutoGTModel`` (not modified).
        spec: its spec.
        task: the task (example inputs and, for Taylor, gradients).
        cost: a :class:`~autogt.compress._cost.CostModel` (its ``exact`` is the stopping criterion).
        ratio: target cost as a fraction of dense.
        importance: ``magnitude`` (L2 of the group's weights) or ``taylor`` (first-order Taylor).
        steps, max_ratio: the pruning schedule.
        grad_batches: training batches whose gradients feed Taylor importance before each step.

    Returns:
        ``(new_spec, new_model)``: a standard model built with ``build_model`` and the pruned weights.
    """
    import torch_pruning as tp
    from torch_geometric.data import Batch

    from autogt.models import build_model

    if importance not in ("magnitude", "taylor"):
        raise ValueError(f"importance: {importance!r} is not allowed; choose magnitude or taylor")
    model = copy.deepcopy(model).to(device).eval()
    order = [int(i) for i in task.split["train"]][:16]
    example = Batch.from_data_list([task.graphs[i] for i in order]).to(device)
    attns = [layer.attn for layer in model.layers if layer.attn is not None]
    imp = tp.importance.MagnitudeImportance(p=2) if importance == "magnitude" else tp.importance.TaylorImportance()
    for att in attns:  # a traceable stand-in while the dependency graph is built
        att.forward = types.MethodType(_stand_in_forward, att)  # type: ignore[method-assign]
    try:
        with warnings.catch_warnings():  # GIN's scalar eps is reported as an "unwrapped parameter"; never pruned
            warnings.simplefilter("ignore", UserWarning)
            dg = tp.DependencyGraph().build_dependency(model, example_inputs=example, forward_fn=lambda m, x: m(x))
    finally:
        for att in attns:
            if "forward" in att.__dict__:
                del att.forward
    ffn_layers = [layer for layer in model.layers if layer.ffn_dim > 0]
    att_layers = [layer.attn for layer in model.layers if layer.attn is not None]
    total_neurons = sum(layer.fc1.out_features for layer in ffn_layers)
    total_heads = sum(att.heads for att in att_layers)
    dense = cost.dense
    for k in range(1, steps + 1):
        if cost.exact(read_spec(model, spec)) / dense <= ratio:
            break
        keep = 1.0 - max_ratio * k / steps
        if importance == "taylor":
            _grads(model, task, spec, scaler, seed, device, grad_batches)
        # FFN neurons
        n_now = sum(layer.fc1.out_features for layer in ffn_layers)
        drop = n_now - max(len(ffn_layers), int(round(total_neurons * keep)))
        if drop > 0 and ffn_layers:
            scores = [_channel_scores(dg, imp, layer.fc1, tp.prune_linear_out_channels, layer.fc1.out_features)
                      for layer in ffn_layers]
            for layer, idxs in zip(ffn_layers, _lowest(scores, drop, [1] * len(scores)), strict=True):
                if idxs:
                    dg.get_pruning_group(layer.fc1, tp.prune_linear_out_channels, idxs=sorted(idxs)).prune()
        # attention heads
        h_now = sum(att.heads for att in att_layers)
        drop = h_now - max(len(att_layers), int(round(total_heads * keep)))
        if drop > 0 and att_layers:
            head_scores = []
            for att in att_layers:
                s = _channel_scores(dg, imp, att.q, tp.prune_linear_out_channels, att.q.out_features)
                head_scores.append(s.view(att.heads, att.head_dim).mean(1))
            for att, heads in zip(att_layers, _lowest(head_scores, drop, [1] * len(att_layers)), strict=True):
                if heads:
                    idxs = [h * att.head_dim + j for h in sorted(heads) for j in range(att.head_dim)]
                    dg.get_pruning_group(att.q, tp.prune_linear_out_channels, idxs=idxs).prune()
                    att.heads = att.q.out_features // att.head_dim
        model.zero_grad(set_to_none=True)
    new_spec = read_spec(model, spec)
    new_model = build_model(new_spec, task)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    new_model.load_state_dict(state, strict=True)
    return new_spec, new_model.eval()
