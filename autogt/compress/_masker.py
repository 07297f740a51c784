"""Maskers: where gate values come from. The contract is three methods (see :class:`Masker`).

- :class:`HardConcreteMasker`: learnable hard-concrete gates (``log_alpha`` per gate) plus an optional
  :class:`~autogt.compress._edges.EdgeScorer`; samples in training, deterministic at inference.
- :class:`StaticMasker`: fixed values (e.g. from an importance ranking), no parameters.

:class:`MaskedModel` wraps an ``AutoGTModel`` and a masker: every forward draws the masker's values
(a sample in training mode, the finalized deterministic values in eval mode) and applies them with
:class:`~autogt.compress._hooks.GateHooks`. Contract tests shared by all maskers live in
:mod:`autogt.testing.maskers`.

Example:
    >>> from autogt.models import builtin_spec, build_model
    >>> from autogt.testing.layers import molecule_task, random_graphs
    >>> task = molecule_task(); spec = builtin_spec("gps")
    >>> model = build_model(spec, task)
    >>> masked = MaskedModel(model, HardConcreteMasker(make_layout(spec, task), task))
    >>> masked.eval()(random_graphs([4, 6], task, pe_dim=16)).shape
    torch.Size([2, 2])
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from autogt.compress._edges import KEEP_THRESHOLD, EdgeScorer
from autogt.compress._gates import HardConcrete, expected_topk, open_prob, sample_gate
from autogt.compress._hooks import GateHooks
from autogt.compress._layout import GateLayout, GateValues, LayerGates, make_layout
from autogt.compress._remove import finalize

__all__ = ["Masker", "HardConcreteMasker", "StaticMasker", "MaskedModel", "make_layout"]


@runtime_checkable
class Masker(Protocol):
    """Where gate values come from.

    Attributes:
        layout: the gates (:class:`~autogt.compress._layout.GateLayout`).
    """

    layout: GateLayout

    def values(self, *, deterministic: bool) -> GateValues:
        """Gate values for the next forward: a sample (training) or the inference values."""
        ...

    def open_probs(self, batch: Any = None) -> GateValues:
        """Differentiable ``P(gate != 0)`` per gate; ``edges`` = expected kept fraction on ``batch``."""
        ...

    def edge_weights(self, batch: Any, *, deterministic: bool) -> Tensor | None:
        """Per-edge message weights ``[e]`` for ``batch`` (``None`` when edges are not gated)."""
        ...


def _scalar_gate(gates: nn.ModuleDict, key: str, enabled: bool, init: float) -> None:
    if enabled:
        gates[key] = HardConcrete(1, init=init)


class HardConcreteMasker(nn.Module):
    """Learnable hard-concrete gates for every slot of a :class:`GateLayout`.

    Args:
        layout: where the gates go.
        task: the task (for the edge scorer's feature vocabularies).
        init: initial ``log_alpha`` of every gate (3.0 = deterministically open).
        edge_init: initial bias of the edge scorer; lower than ``init`` because an edge's share of the cost is
            tiny and a saturated ``P(z != 0)`` would barely feel the Lagrangian (1.0: every edge kept,
            ``P(z != 0) = 0.93``).
    """

    def __init__(self, layout: GateLayout, task: Any = None, *, init: float = 3.0, edge_init: float = 1.0) -> None:
        super().__init__()
        self.layout = layout
        self.gates = nn.ModuleDict()
        for i, s in enumerate(layout.layers):
            if s.heads:
                self.gates[f"{i}_heads"] = HardConcrete(s.heads, init=init)
            if s.neurons:
                self.gates[f"{i}_neurons"] = HardConcrete(s.neurons, init=init)
            for key in ("local", "attn", "ffn", "layer"):
                _scalar_gate(self.gates, f"{i}_{key}", bool(getattr(s, key)), init)
        if layout.hidden:
            self.gates["hidden"] = HardConcrete(layout.hidden, init=init)
        self.scorer = EdgeScorer.for_task(task, init=edge_init) if layout.edges and task is not None else None
        if layout.edges and self.scorer is None:
            raise ValueError("edge gates need the task (its feature vocabularies)")

    def _collect(self, fn: Any) -> GateValues:
        layers = []
        for i, _s in enumerate(self.layout.layers):
            g = LayerGates()
            for key in ("heads", "neurons"):
                if f"{i}_{key}" in self.gates:
                    setattr(g, key, fn(self.gates[f"{i}_{key}"].log_alpha))
            for key in ("local", "attn", "ffn", "layer"):
                if f"{i}_{key}" in self.gates:
                    setattr(g, key, fn(self.gates[f"{i}_{key}"].log_alpha)[0])
            layers.append(g)
        hidden = fn(self.gates["hidden"].log_alpha) if "hidden" in self.gates else None
        return GateValues(layers, hidden)

    def log_alphas(self) -> GateValues:
        """The gates' ``log_alpha`` (scores for :func:`~autogt.compress._remove.finalize`)."""
        return self._collect(lambda la: la)

    def raw_deterministic(self) -> GateValues:
        """Inference gate values before :func:`~autogt.compress._remove.finalize`.

        Per gate vector (the heads of a layer, its neurons, the hidden channels) and per scalar gate, as many
        gates stay open as the expected L0 norm says (``round(sum P(z != 0))``, the largest ``log_alpha``
        first; :func:`~autogt.compress._gates.expected_topk`), so the final cost matches the expected cost
        the Lagrangian drove to the target.
        """
        return self._collect(lambda la: expected_topk(la.detach()))

    def values(self, *, deterministic: bool) -> GateValues:
        if deterministic:
            return finalize(self.layout, self.raw_deterministic(), self.log_alphas().detach())
        return self._collect(sample_gate)

    def open_probs(self, batch: Any = None) -> GateValues:
        probs = self._collect(open_prob)
        if self.scorer is not None and batch is not None:
            scores = self.scorer(batch.x, batch.edge_index, getattr(batch, "edge_attr", None))
            probs.edges = open_prob(scores).mean() if scores.numel() else torch.ones(())
        return probs

    def edge_weights(self, batch: Any, *, deterministic: bool) -> Tensor | None:
        if self.scorer is None:
            return None
        scores = self.scorer(batch.x, batch.edge_index, getattr(batch, "edge_attr", None))  # [e]
        if deterministic:
            return (scores > KEEP_THRESHOLD).to(torch.float32)
        return sample_gate(scores)

    def gate_parameters(self) -> list[nn.Parameter]:
        """Every learnable parameter of the masker (``log_alpha`` and the edge scorer)."""
        return list(self.parameters())


class StaticMasker:
    """Fixed gate values (e.g. from an importance ranking); ``open_probs`` are the values themselves.

    Args:
        layout: the gates.
        fixed: the values; default all open.
        edge_filter: optional ``fn(batch) -> bool [e]`` of kept edges.
    """

    def __init__(self, layout: GateLayout, fixed: GateValues | None = None, edge_filter: Any = None) -> None:
        self.layout = layout
        self.fixed = fixed if fixed is not None else GateValues.ones(layout)
        self.edge_filter = edge_filter

    def values(self, *, deterministic: bool) -> GateValues:
        return finalize(self.layout, self.fixed) if deterministic else self.fixed

    def open_probs(self, batch: Any = None) -> GateValues:
        probs = self.fixed.map(lambda t: (t > 0).float())
        if self.edge_filter is not None and batch is not None:
            probs.edges = self.edge_filter(batch).float().mean()
        return probs

    def edge_weights(self, batch: Any, *, deterministic: bool) -> Tensor | None:
        if self.edge_filter is None:
            return None
        return self.edge_filter(batch).float()


class MaskedModel(nn.Module):
    """``model`` with a masker's gates applied through hooks (see module docstring).

    Args:
        model: an ``AutoGTModel`` (used in place; :meth:`detach` removes the hooks).
        masker: a :class:`Masker`.

    Shapes:
        as ``model``.
    """

    def __init__(self, model: nn.Module, masker: Any) -> None:
        super().__init__()
        self.model = model
        self.masker = masker
        self.hooks = GateHooks(model, masker.layout)
        self.frozen: GateValues | None = None

    def freeze(self, values: GateValues | None) -> None:
        """Use ``values`` for every forward (``None``: go back to the masker)."""
        self.frozen = values

    def current_values(self) -> GateValues:
        if self.frozen is not None:
            return self.frozen
        return self.masker.values(deterministic=not self.training)

    def forward(self, data: Any) -> Tensor:
        values = self.current_values()
        self.hooks.values = values
        deterministic = not self.training or self.frozen is not None
        self.hooks.edge_fn = lambda batch: self.masker.edge_weights(batch, deterministic=deterministic)
        return self.model(data)

    def detach(self) -> nn.Module:
        """Remove the hooks and return the bare model."""
        self.hooks.remove()
        return self.model
