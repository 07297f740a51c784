"""An export-friendly copy of an autogt model with a plain tensor signature.

``AutoGTModel.forward`` takes a PyG ``Batch`` and its attention groups graphs into size buckets with
data-dependent Python loops, which tracing would freeze to the example's sizes. :class:`ExportWrapper`
takes ``(x, edge_index, edge_attr, batch[, pe])`` and runs a copy of the model in which

- softmax attention is dense over the whole batch with a block-diagonal mask
  ``batch[i] == batch[j]`` built from tensor ops (:class:`MaskedAttention`);
- performer attention computes the same per-graph sums through that mask (:class:`MaskedPerformer`);
- the readout scatters into ``n`` rows and gathers one row per graph (:class:`GatherPool`), so no
  size depends on ``batch.max()``;
- regression outputs are mapped back to target units (``out * std + mean``) inside the graph.

Every other module is the model's own. Graphs must be contiguous in ``batch`` (PyG order) and non-empty.

Shapes:
    x ``[n, node_dim]``, edge_index ``[2, e]``, edge_attr ``[e, edge_dim]``, batch ``[n]``,
    pe ``[n, pe_dim]`` -> ``[G, num_outputs]`` (graph level) or ``[n, num_outputs]`` (node level).

Example:
    >>> from autogt.models import ArchSpec, LayerSpec, build_model
    >>> from autogt.testing.layers import molecule_task, random_graphs
    >>> task = molecule_task()
    >>> model = build_model(ArchSpec(hidden=8, layers=(LayerSpec(attn="full", heads=2),)), task).eval()
    >>> b = random_graphs([3, 5], task)
    >>> w = ExportWrapper(model)
    >>> bool((w(b.x, b.edge_index, b.edge_attr, b.batch) - model(b)).abs().max() < 1e-5)
    True
"""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace
from typing import Any

import torch
from torch import Tensor, nn

from autogt.export._base import ExportError

__all__ = ["ExportWrapper", "MaskedAttention", "MaskedPerformer", "GatherPool", "input_names"]

SUPPORTED_GLOBAL = ("none", "full", "performer")
SUPPORTED_POOLING = ("mean", "sum", "max", "attention")


def _same_graph(batch: Tensor) -> Tensor:
    """``[n, n]`` bool: whether nodes ``i`` and ``j`` belong to the same graph."""
    return batch.unsqueeze(0) == batch.unsqueeze(1)


def _first_of_graph(batch: Tensor) -> Tensor:
    """Graph ids in order (``batch`` at the first node of every graph), ``[G]``."""
    first = torch.ones_like(batch, dtype=torch.bool)
    first = torch.cat([first[:1], batch[1:] != batch[:-1]])
    return batch[first]


class MaskedAttention(nn.Module):
    """Softmax attention over the batch with a block-diagonal mask; same weights as the model's.

    Shapes:
        x ``[n, in_dim]``, batch ``[n]`` -> ``[n, out_dim]``.
    """

    def __init__(self, att: Any) -> None:
        super().__init__()
        self.q, self.k, self.v, self.o = att.q, att.k, att.v, att.o
        self.heads, self.head_dim = int(att.heads), int(att.head_dim)

    def forward(self, x: Tensor, batch: Tensor, ptr: Any = None) -> Tensor:
        n, h, d = x.size(0), self.heads, self.head_dim
        q = self.q(x).view(n, h, d).transpose(0, 1)  # [H, n, D]
        k = self.k(x).view(n, h, d).transpose(0, 1)
        v = self.v(x).view(n, h, d).transpose(0, 1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(d)  # [H, n, n]
        scores = scores.masked_fill(~_same_graph(batch).unsqueeze(0), float("-inf"))
        out = scores.softmax(-1) @ v  # [H, n, D]
        return self.o(out.transpose(0, 1).reshape(n, h * d))  # [n, out]


class MaskedPerformer(nn.Module):
    """FAVOR+ attention with per-graph sums through the block-diagonal mask (same features and stabilisers).

    Shapes:
        x ``[n, in_dim]``, batch ``[n]`` -> ``[n, out_dim]``.
    """

    def __init__(self, att: Any) -> None:
        super().__init__()
        self.q, self.k, self.v, self.o = att.q, att.k, att.v, att.o
        self.heads, self.head_dim, self.eps = int(att.heads), int(att.head_dim), float(getattr(att, "eps", 1e-6))
        self.features: Tensor
        self.register_buffer("features", att.features.detach().clone())  # [m, D]

    def _phi(self, x: Tensor, proj: Tensor, shift: Tensor) -> Tensor:
        sq = (x * x).sum(-1, keepdim=True) / 2  # [n, H, 1]
        return (torch.exp(proj - sq - shift) + self.eps) / math.sqrt(self.features.size(0))  # [n, H, m]

    def forward(self, x: Tensor, batch: Tensor, ptr: Any = None) -> Tensor:
        n, h, d = x.size(0), self.heads, self.head_dim
        scale = d**-0.25
        q = self.q(x).view(n, h, d) * scale  # [n, H, D]
        k = self.k(x).view(n, h, d) * scale
        v = self.v(x).view(n, h, d)
        proj_q, proj_k = q @ self.features.T, k @ self.features.T  # [n, H, m]
        same = _same_graph(batch)  # [n, n]
        q_shift = proj_q.amax(-1, keepdim=True)  # [n, H, 1]
        k_peak = proj_k.amax(-1)  # [n, H]
        k_shift = torch.where(same.unsqueeze(-1), k_peak.unsqueeze(0), torch.full_like(k_peak, float("-inf")))
        k_shift = k_shift.amax(1).unsqueeze(-1)  # [n, H, 1]: max over the node's graph
        phi_q = self._phi(q, proj_q, q_shift)  # [n, H, m]
        phi_k = self._phi(k, proj_k, k_shift)
        weights = torch.einsum("ihm,jhm->hij", phi_q, phi_k) * same.unsqueeze(0).to(phi_q.dtype)  # [H, n, n]
        num = torch.einsum("hij,jhd->ihd", weights, v)  # [n, H, D]
        den = weights.sum(-1).transpose(0, 1).unsqueeze(-1)  # [n, H, 1]
        return self.o((num / den).reshape(n, h * d))  # [n, out]


class GatherPool(nn.Module):
    """``mean`` / ``sum`` / ``max`` / gated ``attention`` readout without a data-dependent graph count.

    Shapes:
        x ``[n, dim]``, batch ``[n]`` -> ``[G, dim]``.
    """

    def __init__(self, reduce: str, gate: nn.Module | None = None) -> None:
        super().__init__()
        self.reduce = reduce
        self.gate = gate

    def forward(self, x: Tensor, batch: Tensor, num_graphs: Any = None) -> Tensor:
        n = x.size(0)
        rows = batch.unsqueeze(-1).expand_as(x)  # [n, dim]
        if self.reduce == "max":
            out = torch.full_like(x, float("-inf")).scatter_reduce(0, rows, x, reduce="amax", include_self=True)
        elif self.reduce == "attention":
            assert self.gate is not None
            s = self.gate(x)  # [n, 1]
            peak = torch.full_like(s, float("-inf")).scatter_reduce(0, batch.unsqueeze(-1), s, reduce="amax",
                                                                     include_self=True)  # [n, 1]
            ex = (s - peak[batch]).exp()
            den = torch.zeros_like(s).index_add(0, batch, ex)[batch]  # [n, 1]
            out = torch.zeros_like(x).index_add(0, batch, ex / den.clamp_min(1e-16) * x)
        else:
            out = torch.zeros_like(x).index_add(0, batch, x)  # [n, dim]: row g = sum over graph g
            if self.reduce == "mean":
                ones = torch.ones(n, 1, dtype=x.dtype, device=x.device)
                count = torch.zeros_like(ones).index_add(0, batch, ones)
                out = out / count.clamp_min(1.0)
        return out[_first_of_graph(batch)]  # [G, dim]


def input_names(model: Any) -> list[str]:
    """Inputs of the exported graph for ``model``: ``x edge_index edge_attr batch`` and ``pe`` when it uses one."""
    names = ["x", "edge_index", "edge_attr", "batch"]
    if getattr(model.spec, "pe", "none") != "none":
        names.append("pe")
    return names


class ExportWrapper(nn.Module):
    """``(x, edge_index, edge_attr, batch[, pe]) -> out``: an export-friendly copy of an autogt model.

    Args:
        model: an :class:`~autogt.models.AutoGTModel` (copied; the original is not modified).
        scaler: a regression ``TargetScaler`` to undo inside the graph (``None``: raw outputs).

    Raises:
        ExportError: a global op or readout without an export-friendly implementation (named).
    """

    def __init__(self, model: Any, scaler: Any = None) -> None:
        super().__init__()
        spec = getattr(model, "spec", None)
        if spec is None or not hasattr(model, "layers"):
            raise ExportError(f"export: expected an autogt model (built by build_model), got {type(model).__name__}")
        self.model: Any = copy.deepcopy(model).eval()
        for i, (layer, lspec) in enumerate(zip(self.model.layers, spec.layers, strict=True)):
            if layer.attn is None:
                continue
            swap = {"full": MaskedAttention, "performer": MaskedPerformer}.get(lspec.attn)
            if swap is None:
                raise ExportError(f"layers[{i}].attn: global op {lspec.attn!r} ({type(layer.attn).__name__}) has no "
                                  f"export-friendly implementation; supported: {', '.join(SUPPORTED_GLOBAL)}")
            try:
                layer.attn = swap(layer.attn)
            except AttributeError as exc:  # an implementation without separate q/k/v/o projections
                raise ExportError(f"layers[{i}].attn: global op {lspec.attn!r} ({type(layer.attn).__name__}) lacks "
                                  f"what the export path needs: {exc}") from exc
        if self.model.pool is not None:
            if spec.pooling not in SUPPORTED_POOLING:
                raise ExportError(f"pooling: readout {spec.pooling!r} has no export-friendly implementation; "
                                  f"supported: {', '.join(SUPPORTED_POOLING)}")
            self.model.pool = GatherPool(spec.pooling, getattr(self.model.pool, "gate", None))
        self.pe_key = f"pe_{spec.pe}" if spec.pe != "none" else None
        self.input_names = input_names(model)
        self.denormalize = scaler is not None
        mean = torch.tensor(scaler.mean if scaler is not None else [0.0], dtype=torch.float32)
        std = torch.tensor(scaler.std if scaler is not None else [1.0], dtype=torch.float32)
        self.mean: Tensor
        self.std: Tensor
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor,
                pe: Tensor | None = None) -> Tensor:
        n = x.size(0)
        # ptr with n + 1 entries: the model then sizes per-graph buffers (virtual node) with n >= G rows
        ptr = torch.arange(n + 1, device=x.device)
        data = SimpleNamespace(x=x, edge_index=edge_index, edge_attr=edge_attr, batch=batch, ptr=ptr)
        if self.pe_key is not None:
            if pe is None:
                raise ValueError(f"this model needs a positional encoding input ({self.pe_key})")
            setattr(data, self.pe_key, pe)
        out = self.model(data)
        if self.denormalize:
            out = out * self.std + self.mean
        return out
