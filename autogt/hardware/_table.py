"""``BlockTable``: measured values of one block over a grid, interpolated in log-log space.

A table has named axes (``width``, ``heads``, ``ffn``, ``batch``, ``nodes``) and, per grid point,
the measured latency (ms), the block's transient peak memory (MB) and device-independent counts
(aten ops, FLOPs, bytes moved) used by rooflines. Values are stored row-major (last axis fastest)
as plain lists, so a table is plain JSON.

Lookup is multilinear interpolation of ``log(value)`` in ``log(coordinate)``: exact for power laws
(``latency ~ width^a``), and beyond the grid it extrapolates along the edge segment (linearly in
log-log). The ``heads`` axis is clamped instead (more heads is not "bigger").

Example:
    >>> t = BlockTable(axes=(("width", (32.0, 64.0)), ("batch", (1.0, 4.0))),
    ...                values={"latency_ms": (1.0, 2.0, 2.0, 4.0)})
    >>> round(t.lookup("latency_ms", {"width": 32.0, "batch": 2.0}), 6)
    1.414214
    >>> round(t.lookup("latency_ms", {"width": 128.0, "batch": 4.0}), 6)
    8.0
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BlockTable", "FIELDS", "CLAMPED_AXES", "monotone"]

FIELDS = ("latency_ms", "memory_mb", "ops", "flops", "bytes")
"""Per-point quantities a table may hold."""

CLAMPED_AXES = frozenset({"heads"})
"""Axes along which lookups clamp to the grid instead of extrapolating."""

_FLOOR = 1e-9
_MEMO_SIZE = 100_000  # cached look-ups per table (searches re-use the same widths and sizes)


@dataclass(frozen=True)
class BlockTable:
    """Measured values of one block over a grid (see module docstring).

    Attributes:
        axes: ``((name, values), ...)`` in storage order; values strictly increasing and positive.
        values: field name (``latency_ms``, ``memory_mb``, ``ops``, ``flops``, ``bytes``) -> flat list of
            ``prod(len(values))`` numbers, row-major (last axis fastest).
    """

    axes: tuple[tuple[str, tuple[float, ...]], ...]
    values: Mapping[str, tuple[float, ...]]
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        axes = tuple((str(n), tuple(float(v) for v in vals)) for n, vals in self.axes)
        object.__setattr__(self, "axes", axes)
        object.__setattr__(self, "values", {k: tuple(float(v) for v in vs) for k, vs in self.values.items()})
        size = self.size
        for name, vals in axes:
            if not vals or any(v <= 0 for v in vals) or any(b <= a for a, b in itertools.pairwise(vals)):
                raise ValueError(f"table axis {name!r}: values must be positive and strictly increasing, got {vals}")
        for key, vals in self.values.items():
            if len(vals) != size:
                raise ValueError(f"table field {key!r}: expected {size} values for axes {self.axis_names}, "
                                 f"got {len(vals)}")

    # ------------------------------------------------------------------ shape
    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for _, v in self.axes)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def axis_max(self, name: str) -> float | None:
        """Largest grid value of axis ``name`` (``None`` when the table has no such axis)."""
        for n, vals in self.axes:
            if n == name:
                return vals[-1]
        return None

    def points(self) -> list[dict[str, float]]:
        """Every grid point as ``{axis: value}``, in storage order."""
        names = self.axis_names
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(v for _, v in self.axes))]

    # ------------------------------------------------------------------ lookup
    def _prepared(self) -> tuple[list[tuple[str, list[float], bool]], list[int]]:
        prep = self._cache.get("axes")
        if prep is None:
            prep = [(n, [math.log(v) for v in vals], n not in CLAMPED_AXES) for n, vals in self.axes]
            strides, s = [], 1
            for _, vals in reversed(self.axes):
                strides.append(s)
                s *= len(vals)
            self._cache["axes"] = prep = (prep, strides[::-1])
        return prep

    def _names(self) -> tuple[str, ...]:
        names = self._cache.get("names")
        if names is None:
            names = self._cache["names"] = self.axis_names
        return names

    def _logs(self, key: str) -> list[float]:
        logs = self._cache.get(key)
        if logs is None:
            if key not in self.values:
                raise KeyError(f"table has no field {key!r}; fields: {', '.join(sorted(self.values))}")
            logs = self._cache[key] = [math.log(max(v, _FLOOR)) for v in self.values[key]]
        return logs

    def has(self, key: str) -> bool:
        return key in self.values

    def lookup(self, key: str, coords: Mapping[str, float]) -> float:
        """Interpolated ``key`` at ``coords`` (a value for every axis; extra keys are ignored).

        Raises:
            KeyError: a missing axis coordinate or field.
        """
        axes, strides = self._prepared()
        try:
            memo_key = (key, *[coords[name] for name in self._names()])
        except KeyError:
            memo_key = None
        memo: dict[Any, float] = self._cache.setdefault("memo", {})
        if memo_key is not None:
            hit = memo.get(memo_key)
            if hit is not None:
                return hit
        value = self._interpolate(key, coords, axes, strides)
        if memo_key is not None:
            if len(memo) > _MEMO_SIZE:
                memo.clear()
            memo[memo_key] = value
        return value

    def _interpolate(self, key: str, coords: Mapping[str, float], axes: list[tuple[str, list[float], bool]],
                     strides: list[int]) -> float:
        logs = self._logs(key)
        per_axis: list[tuple[tuple[int, float], ...]] = []
        for (name, la, extrapolate), stride in zip(axes, strides, strict=True):
            try:
                x = math.log(max(float(coords[name]), _FLOOR))
            except KeyError:
                axes_ = ", ".join(self.axis_names)
                raise KeyError(f"lookup needs a {name!r} coordinate; table axes: {axes_}") from None
            if len(la) == 1:
                per_axis.append(((0, 1.0),))
                continue
            i = min(max(bisect.bisect_right(la, x) - 1, 0), len(la) - 2)
            t = (x - la[i]) / (la[i + 1] - la[i])
            if not extrapolate:
                t = min(max(t, 0.0), 1.0)
            per_axis.append(((i * stride, 1.0 - t), ((i + 1) * stride, t)))
        total = 0.0
        for corner in itertools.product(*per_axis):
            w, off = 1.0, 0
            for o, wi in corner:
                off += o
                w *= wi
            if w:
                total += w * logs[off]
        return math.exp(total)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return {"axes": [[n, list(v)] for n, v in self.axes], **{k: list(v) for k, v in self.values.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BlockTable:
        axes = tuple((str(n), tuple(vals)) for n, vals in data["axes"])
        values = {k: tuple(v) for k, v in data.items() if k != "axes"}
        return cls(axes=axes, values=values)


def _pav(values: list[float]) -> list[float]:
    """Least-squares non-decreasing fit of a sequence (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, count]
    for v in values:
        blocks.append([v, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, c2 = blocks.pop()
            v1, c1 = blocks[-1]
            blocks[-1] = [(v1 * c1 + v2 * c2) / (c1 + c2), c1 + c2]
    out: list[float] = []
    for v, c in blocks:
        out += [v] * int(c)
    return out


def monotone(values: Sequence[float], shape: Sequence[int], axes: Sequence[int], rounds: int = 3) -> list[float]:
    """Make a row-major array non-decreasing along each axis in ``axes`` (latency never drops when a block
    gets wider or sees more nodes; measured noise sometimes says otherwise).

    Each round fits every line along every axis with a least-squares monotone fit of the log values (a
    single noisy point is averaged with its neighbours instead of lifting everything after it); a final
    running maximum guarantees monotonicity along all axes at once.

    Example:
        >>> [round(v, 3) for v in monotone([1.0, 4.0, 2.0, 8.0], (4,), [0])]
        [1.0, 2.828, 2.828, 8.0]
    """
    out = [math.log(max(v, _FLOOR)) for v in values]
    strides = [math.prod(shape[i + 1:]) for i in range(len(shape))]

    def lines(ax: int) -> list[list[int]]:
        n, stride = shape[ax], strides[ax]
        return [[start + j * stride for j in range(n)] for start in range(len(out)) if (start // stride) % n == 0]

    all_lines = {ax: lines(ax) for ax in axes}
    for _ in range(rounds):
        for ax in axes:
            for idx in all_lines[ax]:
                for i, v in zip(idx, _pav([out[i] for i in idx]), strict=True):
                    out[i] = v
    for ax in axes:
        for idx in all_lines[ax]:
            run = -math.inf
            for i in idx:
                run = max(run, out[i])
                out[i] = run
    return [math.exp(v) for v in out]
