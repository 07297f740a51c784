"""Shared names of :mod:`autogt.export`: formats, the error type and the result record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FORMATS", "ExportError", "ExportResult"]

FORMATS = ("checkpoint", "torchscript", "onnx")


class ExportError(RuntimeError):
    """A model that cannot be exported in the requested format; the message names the op and why."""


@dataclass
class ExportResult:
    """What :func:`~autogt.export.export` wrote.

    Attributes:
        format: ``checkpoint``, ``torchscript`` or ``onnx``.
        path: the file written.
        input_names: inputs of the exported graph, in order (``x edge_index edge_attr batch [pe]``; an ONNX
            graph drops inputs the model never reads, e.g. ``edge_attr`` without edge-aware ops).
        output_names: its outputs (``out``: ``[num_graphs, num_outputs]`` or ``[num_nodes, num_outputs]``,
            in target units for regression).
        max_abs_diff: largest difference to the PyTorch model over the verification batches (``None``
            when not verified).
        checked: ``(graphs, nodes)`` of every verification batch.
        opset: ONNX opset (``None`` for other formats).
    """

    format: str
    path: str
    input_names: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    max_abs_diff: float | None = None
    checked: list[tuple[int, int]] = field(default_factory=list)
    opset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
