"""Structured pruning: a checkpoint and a cost target in, a smaller *standard* autogt model out.

- :func:`prune`: L0 (hard-concrete) gates at every structural granularity (heads, attention /
  message-passing / FFN blocks, FFN neurons, the hidden dimension, whole layers, input edges), trained
  with a Lagrangian towards a FLOPs / parameter / latency target and distilled from the dense model;
  or the Torch-Pruning baselines (``method="magnitude" | "taylor"``). The result is ``build_model(spec)``
  plus sliced weights, fine-tuned, with a JSON + Markdown report.
- :func:`from_module`: PyG ``GPSConv`` stacks, ``torch.nn.TransformerEncoder`` models and wrapped models
  of those -> an equivalent ``ArchSpec`` + state dict (or a refusal naming what is not representable).
- Building blocks: :class:`HardConcrete` gates, :class:`GateLayout` / :class:`GateValues`, maskers
  (:class:`HardConcreteMasker`, :class:`StaticMasker`, :class:`MaskedModel`), :class:`CostModel`,
  :func:`remove` (physical removal), :class:`EdgeFilter`.

Example:
    >>> from autogt.compress import Target, PruneConfig
    >>> Target.parse("flops=0.5").value
    0.5
    >>> PruneConfig(epochs=3).finetune_epochs
    5
"""

from __future__ import annotations

from autogt.compress._api import load_pruned, prune
from autogt.compress._config import METHODS, PruneConfig, PruneResult, Target, parse_targets
from autogt.compress._convert import ConversionError, Converted, from_module
from autogt.compress._cost import CostModel
from autogt.compress._edges import EdgeFilter, EdgeScorer, FilteredModel
from autogt.compress._gates import HardConcrete
from autogt.compress._layout import GRANULARITIES, GateLayout, GateValues, LayerGates, make_layout
from autogt.compress._masker import HardConcreteMasker, MaskedModel, Masker, StaticMasker
from autogt.compress._remove import RemovalError, derive_spec, finalize, remove

__all__ = [
    "prune",
    "from_module",
    "load_pruned",
    "PruneConfig",
    "PruneResult",
    "Target",
    "parse_targets",
    "METHODS",
    "Converted",
    "ConversionError",
    "HardConcrete",
    "GateLayout",
    "GateValues",
    "LayerGates",
    "GRANULARITIES",
    "make_layout",
    "Masker",
    "HardConcreteMasker",
    "StaticMasker",
    "MaskedModel",
    "CostModel",
    "EdgeFilter",
    "EdgeScorer",
    "FilteredModel",
    "finalize",
    "derive_spec",
    "remove",
    "RemovalError",
]
