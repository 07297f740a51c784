"""ONNX plumbing: symbolics the TorchScript-based exporter lacks, and naming the op behind a failure.

PyTorch's ONNX exporter maps ``index_add`` to ``ScatterND`` without accumulation, which is wrong when
indices repeat (every scatter-sum of a graph model), and has no ``bincount``. :func:`graph_symbolics`
registers correct ones for the duration of an export: both become ``ScatterElements`` with
``reduction="add"`` (opset >= 16).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

__all__ = ["graph_symbolics", "unsupported_operator", "locate_operator", "quiet_native_output"]

MIN_OPSET = 16


def _index_add(g: Any, self: Any, dim: Any, index: Any, source: Any, alpha: Any = None) -> Any:
    from torch.onnx import symbolic_helper as sh

    if alpha is not None and not sh._is_none(alpha) and sh._maybe_get_scalar(alpha) != 1:
        return sh._unimplemented("index_add", "alpha != 1", self)
    axis = sh._get_const(dim, "i", "dim")
    rank = sh._get_tensor_rank(source)
    if rank is None:
        return sh._unimplemented("index_add", "source of unknown rank", self)
    idx = index
    for ax in range(rank):
        if ax != axis:
            idx = g.op("Unsqueeze", idx, g.op("Constant", value_t=torch.tensor([ax], dtype=torch.long)))
    idx = g.op("Expand", idx, g.op("Shape", source))  # [*source.shape]: row index repeated along other axes
    return g.op("ScatterElements", self, idx, source, axis_i=axis, reduction_s="add")


def _bincount(g: Any, self: Any, weights: Any, minlength: Any) -> Any:
    from torch.onnx import symbolic_helper as sh

    if weights is not None and not sh._is_none(weights):
        return sh._unimplemented("bincount", "weights", self)
    long = torch.onnx.TensorProtoDataType.INT64
    one = g.op("Constant", value_t=torch.tensor(1, dtype=torch.long))
    top = g.op("Add", g.op("ReduceMax", self, keepdims_i=0), one)  # max(index) + 1
    low = sh._maybe_get_const(minlength, "i")
    if isinstance(low, int):
        low = g.op("Constant", value_t=torch.tensor(low, dtype=torch.long))
    else:  # a traced size: a 0-d int64 scalar
        scalar = g.op("Constant", value_t=torch.tensor([], dtype=torch.long))
        low = g.op("Reshape", g.op("Cast", minlength, to_i=long), scalar)
    size = g.op("Unsqueeze", g.op("Max", top, low), g.op("Constant", value_t=torch.tensor([0], dtype=torch.long)))
    zeros = g.op("ConstantOfShape", size, value_t=torch.tensor([0], dtype=torch.long))
    ones = g.op("ConstantOfShape", g.op("Shape", self), value_t=torch.tensor([1], dtype=torch.long))
    return g.op("ScatterElements", zeros, self, ones, axis_i=0, reduction_s="add")


_SYMBOLICS: dict[str, Callable[..., Any]] = {"aten::index_add": _index_add, "aten::bincount": _bincount}


@contextmanager
def graph_symbolics(opset: int) -> Iterator[None]:
    """Register the scatter symbolics for ``opset`` while inside the block (removed afterwards)."""
    from torch.onnx import register_custom_op_symbolic, unregister_custom_op_symbolic

    for name, fn in _SYMBOLICS.items():
        register_custom_op_symbolic(name, fn, opset)
    try:
        yield
    finally:
        for name in _SYMBOLICS:
            unregister_custom_op_symbolic(name, opset)


_OP = re.compile(r"'?((?:aten|prim|onnx)::[A-Za-z0-9_.]+)'?")


def unsupported_operator(exc: BaseException) -> str | None:
    """The ``aten::...`` operator named in an exporter error, if any."""
    m = _OP.search(str(exc))
    return m.group(1) if m else None


def locate_operator(traced: Any, op: str) -> list[str]:
    """Module paths (``model.layers.0.local``...) of the traced nodes of kind ``op``."""
    graph = getattr(traced, "inlined_graph", None) or traced.graph
    out: list[str] = []
    for node in graph.nodes():
        if node.kind() == op:
            scope = node.scopeName().split("/")[-1].replace("__module.", "")
            if scope not in out:
                out.append(scope)
    return out


@contextmanager
def quiet_native_output() -> Iterator[None]:
    """Silence stdout/stderr at the file-descriptor level (the exporter's C++ log dumps whole graphs)."""
    try:
        fds = [sys.stdout.fileno(), sys.stderr.fileno()]
    except (AttributeError, OSError, ValueError):  # no real file descriptors (some notebooks): leave as is
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    with tempfile.TemporaryFile() as sink:
        try:
            for fd in fds:
                os.dup2(sink.fileno(), fd)
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip(fds, saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
