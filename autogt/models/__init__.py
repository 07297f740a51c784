"""The model family: ``ArchSpec`` -> ``build_model`` -> a plain ``torch.nn.Module``.

Importing this package registers the built-in local ops (kind ``local``), global attention kinds
(kind ``global``) and readouts (kind ``pooling``).

Example:
    >>> from autogt.models import builtin_spec, build_model
    >>> task = {"level": "graph", "kind": "binary", "num_outputs": 1, "node_dim": 9, "edge_dim": 3,
    ...         "node_categorical": True, "edge_categorical": True,
    ...         "atom_vocab": [119, 5, 12, 12, 10, 6, 6, 2, 2], "bond_vocab": [5, 6, 2]}
    >>> model = build_model(builtin_spec("gin"), task)
    >>> type(model).__name__
    'AutoGTModel'
"""

from __future__ import annotations

from autogt.models import attention, ops, pooling  # noqa: F401  (registers ops)
from autogt.models.builtin import builtin_spec
from autogt.models.layer import GTLayer
from autogt.models.model import AutoGTModel, build_model
from autogt.models.spec import ArchSpec, LayerSpec, SpecError, load_spec

__all__ = [
    "ArchSpec",
    "LayerSpec",
    "SpecError",
    "AutoGTModel",
    "GTLayer",
    "build_model",
    "builtin_spec",
    "load_spec",
]
