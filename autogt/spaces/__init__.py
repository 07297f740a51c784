"""Search spaces: YAML data -> frozen :class:`Space` -> Optuna distributions / NNI format -> ``ArchSpec``.

A space is data (``search_spaces/*.yaml``, schema in :mod:`autogt.spaces._schema` and
``docs/spaces.md``). Every sampled point becomes an ``ArchSpec`` through one function,
:meth:`Space.to_spec`. :mod:`autogt.spaces.nasbench` holds the exact NAS-Bench-Graph mapping.

Example:
    >>> from autogt.spaces import load_space, space_names
    >>> "gps" in space_names()
    True
    >>> space = load_space("transformer")
    >>> spec = space.to_spec(space.random_params(seed=3))
    >>> {layer.local for layer in spec.layers}
    {'none'}
"""

from __future__ import annotations

from autogt.spaces._compile import (
    active_params,
    corner_params,
    distributions,
    fixed_distributions,
    from_nni,
    random_params,
    sample,
    to_nni,
    to_spec,
)
from autogt.spaces._schema import (
    GLOBAL_OPS,
    LOCAL_OPS,
    Condition,
    Constraints,
    Dim,
    LayerBlock,
    Space,
    SpaceError,
    load_space,
    parse_space,
    space_names,
)

__all__ = [
    "Space",
    "Dim",
    "Condition",
    "LayerBlock",
    "Constraints",
    "SpaceError",
    "load_space",
    "parse_space",
    "space_names",
    "sample",
    "to_spec",
    "active_params",
    "distributions",
    "fixed_distributions",
    "to_nni",
    "from_nni",
    "random_params",
    "corner_params",
    "LOCAL_OPS",
    "GLOBAL_OPS",
]
