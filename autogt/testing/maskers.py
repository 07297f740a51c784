"""Reusable contract checks for maskers (:class:`autogt.compress.Masker`).

Every masker must: produce values shaped like its layout, in ``[0, 1]``; leave a model unchanged when all
gates are open; be deterministic in eval mode; and its finalized deterministic mask must (a) remove
physically into a standard model with the same outputs (to ``atol``) and (b) have an expected cost equal to
the exact ``count_flops`` / ``count_params`` of the removed spec. Each check raises ``AssertionError`` with
a readable message; :func:`check_masker` runs them all.

Example:
    >>> import torch
    >>> from autogt.compress import StaticMasker, make_layout
    >>> from autogt.models import ArchSpec, LayerSpec, build_model
    >>> from autogt.testing.layers import molecule_task, random_graphs
    >>> task = molecule_task()
    >>> spec = ArchSpec(hidden=8, layers=(LayerSpec(local="gine", attn="full", heads=2, ffn=16),) * 2)
    >>> masker = StaticMasker(make_layout(spec, task))
    >>> check_masker(masker, build_model(spec, task), task, random_graphs([3, 5], task))
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "check_values_shape",
    "check_open_is_identity",
    "check_eval_deterministic",
    "check_removal_equal",
    "check_cost_exact",
    "check_masker",
    "random_values",
]


def _shape_errors(layout: Any, values: Any) -> list[str]:
    errs = []
    if len(values.layers) != len(layout.layers):
        return [f"{len(values.layers)} layer entries for {len(layout.layers)} layers"]
    for i, (s, g) in enumerate(zip(layout.layers, values.layers, strict=True)):
        for key, n in (("heads", s.heads), ("neurons", s.neurons)):
            t = getattr(g, key)
            if n and (t is None or tuple(t.shape) != (n,)):
                errs.append(f"layers[{i}].{key}: expected shape ({n},), got {None if t is None else tuple(t.shape)}")
        for key in ("local", "attn", "ffn", "layer"):
            t = getattr(g, key)
            if getattr(s, key) and (t is None or t.numel() != 1):
                errs.append(f"layers[{i}].{key}: expected a scalar gate")
    if layout.hidden and (values.hidden is None or tuple(values.hidden.shape) != (layout.hidden,)):
        errs.append(f"hidden: expected shape ({layout.hidden},)")
    return errs


def _all_tensors(values: Any) -> list[Tensor]:
    out = [values.hidden] if values.hidden is not None else []
    for g in values.layers:
        out += [t for t in g.__dict__.values() if t is not None]
    return out


def check_values_shape(masker: Any) -> None:
    """Values (sampled and deterministic) and open probabilities match the layout and lie in ``[0, 1]``."""
    layout = masker.layout
    for name, values in (("sample", masker.values(deterministic=False)),
                         ("deterministic", masker.values(deterministic=True)),
                         ("open_probs", masker.open_probs())):
        errs = _shape_errors(layout, values)
        assert not errs, f"{type(masker).__name__} {name}: " + "; ".join(errs)
        for t in _all_tensors(values):
            assert bool(((t >= 0) & (t <= 1)).all()), f"{type(masker).__name__} {name}: values outside [0, 1]"


def check_open_is_identity(model: nn.Module, layout: Any, batch: Any, atol: float = 1e-6) -> None:
    """With every gate open, the hooked model computes exactly what the bare model computes."""
    from autogt.compress import GateValues, MaskedModel, StaticMasker

    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        want = model(batch)
        masked = MaskedModel(model, StaticMasker(layout, GateValues.ones(layout))).eval()
        got = masked(batch)
    masked.detach()
    diff = float((want - got).abs().max())
    assert diff <= atol, f"all-open gates change the outputs by {diff:.3g}"


def check_eval_deterministic(model: nn.Module, masker: Any, batch: Any) -> None:
    """Two eval forwards of the masked model give identical outputs."""
    from autogt.compress import MaskedModel

    masked = MaskedModel(copy.deepcopy(model), masker).eval()
    with torch.no_grad():
        a, b = masked(batch), masked(batch)
    masked.detach()
    assert torch.equal(a, b), "eval-mode outputs of the masked model are not deterministic"


def _filter_for(masker: Any) -> Any:
    scorer = getattr(masker, "scorer", None)
    if scorer is None:
        return None
    from autogt.compress import EdgeFilter

    return EdgeFilter.from_scorer(scorer)


def check_removal_equal(model: nn.Module, masker: Any, task: Any, batch: Any, atol: float = 1e-5) -> Any:
    """Physical removal of the deterministic mask reproduces the masked model's outputs (returns the spec)."""
    from autogt.compress import MaskedModel, remove

    base = copy.deepcopy(model).eval()
    masked = MaskedModel(copy.deepcopy(model), masker).eval()
    values = masker.values(deterministic=True)
    with torch.no_grad():
        want = masked(batch)
    masked.detach()
    spec, small = remove(base, masker.layout, values, task)
    filt = _filter_for(masker)
    with torch.no_grad():
        got = small(filt(batch) if filt is not None else batch)
    diff = float((want - got).abs().max())
    assert diff <= atol * (1.0 + float(want.abs().max())), \
        f"removed model differs from the masked model by {diff:.3g} (spec {spec.to_json()})"
    n_small = sum(p.numel() for p in small.parameters())
    from autogt.hardware.flops import count_params

    assert n_small == count_params(spec, task), "removed model's parameter count disagrees with count_params"
    return spec


def check_cost_exact(masker: Any, task: Any, rel: float = 1e-5) -> None:
    """Expected FLOPs / params of the finalized mask equal the exact counts of the removed spec."""
    from autogt.compress import CostModel, derive_spec

    values = masker.values(deterministic=True)
    spec = derive_spec(masker.layout, values).spec
    probs = values.map(lambda t: (t > 0).float())
    for metric in ("flops", "params"):
        cm = CostModel(masker.layout, task, metric=metric)
        got, want = float(cm.expected(probs)), cm.exact(spec)
        assert abs(got - want) <= rel * max(1.0, abs(want)), f"expected {metric} {got} != exact {want}"


def random_values(layout: Any, *, seed: int = 0, p_close: float = 0.3) -> Any:
    """Random deterministic-style values: each gate closed with ``p_close``, open ones in ``(0.2, 1]``."""
    from autogt.compress import GateValues

    g = torch.Generator().manual_seed(seed)
    values = GateValues.ones(layout)

    def draw(t: Tensor) -> Tensor:
        u = torch.rand(t.shape, generator=g)
        v = 0.2 + 0.8 * torch.rand(t.shape, generator=g)
        return torch.where(u < p_close, torch.zeros_like(v), v)

    return values.map(draw)


def check_masker(masker: Any, model: nn.Module, task: Any, batch: Any, *, atol: float = 1e-5) -> None:
    """Run every masker contract check."""
    check_values_shape(masker)
    check_open_is_identity(model, masker.layout, batch)
    check_eval_deterministic(model, masker, batch)
    check_removal_equal(model, masker, task, batch, atol=atol)
    check_cost_exact(masker, task)
