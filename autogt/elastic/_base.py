"""Shared names of :mod:`autogt.elastic`: the default granularities, the error type and granularity lists.

A *granularity* is a fraction of each layer's FFN width; granularity ``i`` of a layer whose FFN is
``F`` wide uses its first ``m_i = max(1, round(f_i * F))`` hidden neurons. A *choice* picks one
granularity index per elastic layer (a layer with an FFN), in depth order.

Example:
    >>> from autogt.models import ArchSpec
    >>> granularities(ArchSpec(elastic=(0.25, 0.5)))
    (0.25, 0.5, 1.0)
    >>> nested_widths(128, DEFAULT_GRANULARITIES)
    (16, 32, 64, 128)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["DEFAULT_GRANULARITIES", "ElasticError", "granularities", "nested_widths", "check_fractions"]

DEFAULT_GRANULARITIES: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0)


class ElasticError(ValueError):
    """Bad input to an elastic operation (a dense checkpoint, an infeasible budget...); the message says why."""


def check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    """Sorted, de-duplicated granularities with the full width (1.0) always included.

    Raises:
        ElasticError: a fraction outside ``(0, 1]``.
    """
    out = set()
    for f in fractions:
        f = float(f)
        if not 0.0 < f <= 1.0:
            raise ElasticError(f"granularity {f!r}: fractions must be in (0, 1]")
        out.add(f)
    out.add(1.0)
    return tuple(sorted(out))


def granularities(spec: Any) -> tuple[float, ...]:
    """The granularities of an elastic ``ArchSpec`` (empty for a dense one)."""
    return check_fractions(spec.elastic) if spec.elastic else ()


def nested_widths(hidden: int, fractions: Sequence[float]) -> tuple[int, ...]:
    """Hidden width of each granularity of an FFN ``hidden`` neurons wide (non-decreasing)."""
    return tuple(min(hidden, max(1, round(f * hidden))) for f in check_fractions(fractions))
