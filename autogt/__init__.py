"""autogt: find, compress and ship graph transformers and GNNs automatically.

The public API is a handful of functions and the shared nouns, imported lazily so that
``import autogt`` and the CLI start fast.

Example:
    >>> import autogt
    >>> spec = autogt.ArchSpec(hidden=32)
    >>> spec.hidden
    32
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # nouns
    "ArchSpec": "autogt.models.spec",
    "LayerSpec": "autogt.models.spec",
    "load_spec": "autogt.models.spec",
    "Task": "autogt.data.task",
    "load_task": "autogt.data",
    "EvalResult": "autogt.train.result",
    "Budget": "autogt.train.result",
    "Space": "autogt.spaces",
    "load_space": "autogt.spaces",
    "Bank": "autogt.bank",
    "DeviceProfile": "autogt.hardware",
    # functions
    "build_model": "autogt.models",
    "evaluate": "autogt.train",
    "train": "autogt.train",
    "load_checkpoint": "autogt.train",
    "save_checkpoint": "autogt.train",
    "search": "autogt.controllers",
    "prune": "autogt.compress",
    "extract": "autogt.elastic",
    "profile": "autogt.hardware",
    "cost": "autogt.hardware",
    "export": "autogt.export",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'autogt' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
