"""Export autogt models: checkpoint (spec + weights), TorchScript and ONNX, verified against PyTorch.

Traced exports take tensors ``(x, edge_index, edge_attr, batch[, pe])`` with dynamic node, edge and
graph counts and return predictions in target units (regression de-normalisation is part of the
graph). See :class:`ExportWrapper` for what is swapped for export-friendly equivalents.

Example:
    >>> import tempfile, os
    >>> from autogt.models import ArchSpec, LayerSpec, build_model
    >>> from autogt.testing.layers import molecule_task
    >>> model = build_model(ArchSpec(hidden=8, layers=(LayerSpec(attn="full", heads=2),)), molecule_task())
    >>> res = export(model, "torchscript", os.path.join(tempfile.mkdtemp(), "m.pt"))
    >>> res.input_names, res.max_abs_diff < 1e-4
    (['x', 'edge_index', 'edge_attr', 'batch'], True)
"""

from __future__ import annotations

import sys
import types
from typing import Any

from autogt.export._base import FORMATS, ExportError, ExportResult
from autogt.export._export import batch_inputs, example_batches, export
from autogt.export._wrapper import ExportWrapper, GatherPool, MaskedAttention, MaskedPerformer

__all__ = [
    "FORMATS",
    "ExportError",
    "ExportResult",
    "ExportWrapper",
    "MaskedAttention",
    "MaskedPerformer",
    "GatherPool",
    "export",
    "example_batches",
    "batch_inputs",
]


class _CallableModule(types.ModuleType):
    """``autogt.export`` is both this package and the public function ``autogt.export(...)``.

    Importing the package sets the attribute ``autogt.export`` to the module, shadowing the lazily
    resolved function; calling the module therefore calls :func:`export` (as ``autogt.train`` does).
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
