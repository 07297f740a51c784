"""The local-op contract and the ``local_op`` registration helper.

A local op is registered under registry kind ``local`` as a *factory*::

    factory(in_dim, out_dim, *, heads, edge_dim, layer) -> nn.Module | None

whose module has ``forward(x, edge_index, edge_attr=None) -> x`` mapping ``[n, in_dim]`` to
``[n, out_dim]``. ``edge_dim`` is the width of the ``edge_attr`` the model will pass (0 = none);
``layer`` is the :class:`~autogt.models.spec.LayerSpec` (for ``act``, ``norm``, ``local_out``...).
Returning ``None`` means "no local op" (the ``none`` op).

Optional attributes on the factory (all have defaults, so a plain function is a valid op):

- ``uses_edge_attr`` (``False``): the model encodes edge features for this op.
- ``identity`` (``False``): the op is a skip connection; the layer applies no activation,
  dropout or residual around it.
- ``num_params(in_dim, out_dim, *, heads, edge_dim, layer) -> int``: analytic parameter count
  (otherwise :func:`autogt.hardware.flops.count_params` instantiates the op on the meta device).
- ``flops(in_dim, out_dim, *, heads, edge_dim, layer, nodes, edges) -> float``: FLOPs of one forward
  (otherwise ``2 * nodes * in_dim * out_dim + 2 * edges * out_dim``).

Example:
    >>> from torch import nn
    >>> from autogt.registry import register, unregister
    >>> def my_op(in_dim, out_dim, *, heads, edge_dim, layer):
    ...     return MyModule(in_dim, out_dim)          # doctest: +SKIP
    >>> register("local", "myop", my_op)                # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autogt.registry import register

__all__ = ["local_op", "op_attr", "linear_params"]


def local_op(
    name: str,
    *,
    uses_edge_attr: bool = False,
    identity: bool = False,
    num_params: Callable[..., int] | None = None,
    flops: Callable[..., float] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: attach op metadata to a factory and register it under kind ``local``."""

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        factory.uses_edge_attr = uses_edge_attr  # type: ignore[attr-defined]
        factory.identity = identity  # type: ignore[attr-defined]
        factory.num_params = num_params  # type: ignore[attr-defined]
        factory.flops = flops  # type: ignore[attr-defined]
        register("local", name, factory)
        return factory

    return deco


_DEFAULTS: dict[str, Any] = {"uses_edge_attr": False, "identity": False, "num_params": None, "flops": None}


def op_attr(factory: Any, key: str) -> Any:
    """Metadata ``key`` of a (local or global) factory, with the contract's default when missing."""
    return getattr(factory, key, _DEFAULTS[key])


def linear_params(in_dim: int, out_dim: int, bias: bool = True) -> int:
    """Parameter count of ``nn.Linear(in_dim, out_dim, bias)``."""
    return in_dim * out_dim + (out_dim if bias else 0)
