"""Elastic (MatFormer-style) models: nested FFNs, elastic training, Mix'n'Match and sub-model extraction.

- :class:`NestedFFN`: granularity ``i`` of a layer's FFN uses its first ``m_i`` hidden neurons
  (default fractions 1/8, 1/4, 1/2, 1); a spec with ``elastic`` set builds one into every FFN.
- :class:`ElasticStep` / :func:`train_elastic`: ``sampled`` (one granularity per step) or ``joint``
  (sum of the losses of every granularity) training inside :func:`autogt.train.train`.
- :func:`retrofit`: a trained dense checkpoint -> an elastic one (neurons sorted by importance, brief
  joint fine-tune).
- :func:`mix_n_match`: one granularity per layer under a params / FLOPs / predicted-latency budget
  (least-slope heuristic, optional exact or evolutionary refinement) and the Pareto set.
- :func:`extract`: standalone sub-model checkpoints, one per budget, with cost and metric.

Example:
    >>> import torch
    >>> from autogt.models import ArchSpec, LayerSpec, build_model
    >>> from autogt.testing.layers import molecule_task, random_graphs
    >>> task = molecule_task()
    >>> spec = ArchSpec(hidden=16, layers=(LayerSpec(ffn=32),) * 2, elastic=(0.25, 0.5, 1.0))
    >>> model = build_model(spec, task).eval()
    >>> batch = random_graphs([4, 6], task, seed=0)
    >>> set_granularity(model, (0, 1))
    >>> small = extract_model(model, (0, 1))
    >>> [layer.ffn for layer in small.spec.layers], bool(torch.allclose(model(batch), small(batch)))
    ([8, 16], True)
"""

from __future__ import annotations

from autogt.elastic._base import DEFAULT_GRANULARITIES, ElasticError, granularities, nested_widths
from autogt.elastic._budget import KEYS, CostBudget, CostModel, parse_budgets
from autogt.elastic._extract import SubModel, extract
from autogt.elastic._mixnmatch import (
    Candidate,
    MixNMatchResult,
    heuristic_choice,
    least_slope_family,
    mix_n_match,
    pareto_front,
)
from autogt.elastic._nested import NestedFFN, get_granularity, nested_modules, set_granularity, use_granularity
from autogt.elastic._retrofit import ffn_importance, reorder_by_importance, retrofit
from autogt.elastic._score import Scorer, recalibrate_bn
from autogt.elastic._slice import elastic_layers, extract_model, slice_spec, slice_state_dict
from autogt.elastic._train import MODES, ElasticNormWarning, ElasticStep, elastic_spec, train_elastic

__all__ = [
    "DEFAULT_GRANULARITIES",
    "MODES",
    "KEYS",
    "ElasticError",
    "NestedFFN",
    "ElasticStep",
    "ElasticNormWarning",
    "CostBudget",
    "CostModel",
    "Candidate",
    "MixNMatchResult",
    "SubModel",
    "Scorer",
    "extract",
    "mix_n_match",
    "retrofit",
    "train_elastic",
    "elastic_spec",
    "set_granularity",
    "get_granularity",
    "use_granularity",
    "nested_modules",
    "extract_model",
    "slice_spec",
    "slice_state_dict",
    "elastic_layers",
    "granularities",
    "nested_widths",
    "parse_budgets",
    "least_slope_family",
    "heuristic_choice",
    "pareto_front",
    "ffn_importance",
    "reorder_by_importance",
    "recalibrate_bn",
]
