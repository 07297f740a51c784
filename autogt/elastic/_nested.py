"""Nested (Matryoshka) FFNs: one set of weights, several widths, switchable per layer at run time.

MatFormer (Devvrit et al. 2023) trains an FFN so that its first ``m_i`` hidden neurons form a good FFN
on their own for every granularity ``i``; a sub-model is then *extracted* by slicing the weights.

:class:`NestedFFN` holds no parameters: a :class:`~autogt.models.GTLayer` of an elastic spec keeps
its ordinary ``fc1`` / ``fc2`` (so dense and elastic state dicts are interchangeable) and asks its
``nested`` switch which width to use::

    h = act(x W1[:m]^T + b1[:m])            # [n, m]   first m rows of fc1
    y = dropout(h) W2[:, :m]^T + b2         # [n, dim] first m columns of fc2

Example:
    >>> import torch
    >>> from torch import nn
    >>> fc1, fc2, nested = nn.Linear(8, 16), nn.Linear(16, 8), NestedFFN(16, (0.25, 0.5, 1.0))
    >>> nested.widths
    (4, 8, 16)
    >>> nested.active = 0
    >>> nested(torch.randn(3, 8), fc1, nn.ReLU(), fc2).shape
    torch.Size([3, 8])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch.nn.functional as F
from torch import Tensor, nn

from autogt.elastic._base import ElasticError, check_fractions, nested_widths
from autogt.models._util import dropout as _dropout

__all__ = [
    "NestedFFN",
    "Choice",
    "nested_modules",
    "resolve_choice",
    "set_granularity",
    "get_granularity",
    "use_granularity",
]

Choice = int | Sequence[int] | None  # one index for every layer, one per elastic layer, or None (full)


class NestedFFN(nn.Module):
    """Width switch of a nested FFN: uses the first ``widths[active]`` hidden neurons of ``fc1``/``fc2``.

    Args:
        hidden: the FFN's full hidden width.
        fractions: granularities as fractions of ``hidden`` (1.0 is always added).

    Attributes:
        fractions: the sorted granularities.
        widths: hidden neurons of each granularity (non-decreasing, the last one is ``hidden``).
        active: index of the granularity in use; ``None`` means the full width.

    Shapes:
        x ``[n, dim]`` -> ``[n, dim]``.
    """

    def __init__(self, hidden: int, fractions: Sequence[float]) -> None:
        super().__init__()
        self.hidden = int(hidden)
        self.fractions = check_fractions(fractions)
        self.widths = nested_widths(self.hidden, self.fractions)
        self.active: int | None = None

    @property
    def width(self) -> int:
        """Hidden neurons in use."""
        return self.hidden if self.active is None else self.widths[self.active]

    def forward(self, x: Tensor, fc1: nn.Linear, act: nn.Module, fc2: nn.Linear, dropout: float = 0.0,
                training: bool = False) -> Tensor:
        m = self.width
        if m >= fc1.out_features:
            return fc2(_dropout(act(fc1(x)), dropout, training))
        b1 = fc1.bias[:m] if fc1.bias is not None else None
        h = _dropout(act(F.linear(x, fc1.weight[:m], b1)), dropout, training)  # [n, m]
        return F.linear(h, fc2.weight[:, :m], fc2.bias)  # [n, dim]

    def extra_repr(self) -> str:
        return f"widths={self.widths}, active={self.width}"


def nested_modules(model: nn.Module) -> list[NestedFFN]:
    """The :class:`NestedFFN` switches of ``model`` in depth order (empty for a dense model)."""
    return [m for m in model.modules() if isinstance(m, NestedFFN)]


def resolve_choice(choice: Choice, num: int, num_granularities: int) -> tuple[int, ...]:
    """``choice`` as one granularity index per elastic layer (``None`` -> the full width everywhere).

    Raises:
        ElasticError: a wrong number of indices or an index out of range.
    """
    if choice is None:
        return (num_granularities - 1,) * num
    return tuple(_resolve(choice, num, num_granularities))  # type: ignore[arg-type]


def _resolve(choice: Choice, num: int, num_granularities: int) -> list[int | None]:
    if choice is None:
        return [None] * num
    if isinstance(choice, int):
        picks = [int(choice)] * num
    else:
        picks = [int(c) for c in choice]
        if len(picks) != num:
            raise ElasticError(f"choice: expected one granularity per elastic layer ({num}), got {len(picks)}")
    for c in picks:
        if not 0 <= c < num_granularities:
            raise ElasticError(f"choice: granularity index {c} out of range 0..{num_granularities - 1}")
    return list(picks)


def set_granularity(model: nn.Module, choice: Choice) -> None:
    """Make every nested FFN of ``model`` use granularity ``choice``.

    Args:
        model: a model built from an elastic spec.
        choice: ``None`` (full width), one index for all layers, or one index per elastic layer.

    Raises:
        ElasticError: a dense model, a wrong number of indices or an index out of range.

    Example:
        >>> set_granularity(model, 0)             # smallest everywhere       # doctest: +SKIP
        >>> set_granularity(model, (0, 1, 2, 3))  # Mix'n'Match                # doctest: +SKIP
    """
    mods = nested_modules(model)
    if not mods:
        raise ElasticError("model has no nested FFN: build it from a spec with elastic granularities")
    for mod, pick in zip(mods, _resolve(choice, len(mods), len(mods[0].widths)), strict=True):
        mod.active = pick


def get_granularity(model: nn.Module) -> tuple[int | None, ...]:
    """Active granularity index of each nested FFN (``None`` = full)."""
    return tuple(m.active for m in nested_modules(model))


@contextmanager
def use_granularity(model: nn.Module, choice: Choice) -> Iterator[nn.Module]:
    """Context manager: ``model`` at granularity ``choice`` inside, the previous setting restored after.

    Example:
        >>> with use_granularity(model, 1):  # doctest: +SKIP
        ...     out = model(batch)
    """
    mods = nested_modules(model)
    before = [m.active for m in mods]
    set_granularity(model, choice)
    try:
        yield model
    finally:
        for m, b in zip(mods, before, strict=True):
            m.active = b
