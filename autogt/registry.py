"""One registry for every pluggable name in autogt.

Ops (local message passing, global attention, positional encodings, pooling), controllers,
data sets and devices are all looked up by ``(kind, name)``. Registration happens through
explicit imports in each package's ``__init__``; registering a name twice is an error.

Example:
    >>> from autogt.registry import register, get, names
    >>> @register("demo", "double")
    ... def double(x):
    ...     return 2 * x
    >>> get("demo", "double")(21)
    42
    >>> names("demo")
    ['double']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["UnknownNameError", "register", "get", "names", "kinds"]

T = TypeVar("T")

_REGISTRY: dict[str, dict[str, Any]] = {}


class UnknownNameError(KeyError, ValueError):
    """Raised when a name is not registered under a kind; the message lists the known names."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = known
        super().__init__(f"unknown {kind} {name!r}; known {kind} names: {', '.join(known) or '(none)'}")

    def __str__(self) -> str:  # KeyError would otherwise wrap the message in quotes
        return str(self.args[0])


def register(kind: str, name: str, obj: T | None = None) -> Any:
    """Register ``obj`` as ``name`` under ``kind``; usable as a decorator when ``obj`` is omitted."""

    def _do(o: T) -> T:
        table = _REGISTRY.setdefault(kind, {})
        if name in table and table[name] is not o:
            raise ValueError(f"{kind} {name!r} is already registered")
        table[name] = o
        return o

    if obj is not None:
        return _do(obj)
    return _do


def get(kind: str, name: str) -> Any:
    """Return what was registered as ``name`` under ``kind``, or raise :class:`UnknownNameError`."""
    table = _REGISTRY.get(kind, {})
    if name not in table:
        raise UnknownNameError(kind, name, sorted(table))
    return table[name]


def names(kind: str) -> list[str]:
    """Sorted names registered under ``kind``."""
    return sorted(_REGISTRY.get(kind, {}))


def kinds() -> list[str]:
    """Sorted kinds that have at least one registered name."""
    return sorted(_REGISTRY)


def unregister(kind: str, name: str) -> None:
    """Remove a registration (used by tests and plug-in reloads)."""
    _REGISTRY.get(kind, {}).pop(name, None)


Factory = Callable[..., Any]
