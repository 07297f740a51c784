"""``export``: write an autogt model as a checkpoint, TorchScript or ONNX, and check it against PyTorch.

TorchScript and ONNX come from tracing an :class:`~autogt.export.ExportWrapper` (tensor signature
``x, edge_index, edge_attr, batch[, pe]``, dynamic node / edge / graph counts) on an example batch; the
export is then run on batches of *other* sizes (real data when the checkpoint names a bundled data set,
random graphs otherwise) and compared with the PyTorch model (``ckpt.denormalize(model(batch))``):
any difference above ``atol`` raises :class:`ExportError`. ONNX is checked with onnxruntime when it is
installed. Exports the tracer or the ONNX op set cannot express raise :class:`ExportError` naming the
operator and the module that uses it.

Example:
    >>> res = export("runs/gps/model.safetensors", "onnx", "gps.onnx")   # doctest: +SKIP
    >>> res.input_names, res.max_abs_diff < 1e-4                          # doctest: +SKIP
    (['x', 'edge_index', 'edge_attr', 'batch', 'pe'], True)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from autogt.export._base import FORMATS, ExportError, ExportResult
from autogt.export._onnx import (
    MIN_OPSET,
    graph_symbolics,
    locate_operator,
    quiet_native_output,
    unsupported_operator,
)
from autogt.export._wrapper import ExportWrapper

__all__ = ["export", "example_batches", "batch_inputs"]

DEFAULT_OPSET = 18


def _load(source: Any, task: Any) -> tuple[Any, Any, Any]:
    """``(model, checkpoint or None, scaler)`` from a path, a ``Checkpoint`` or a module."""
    from autogt.train.checkpoint import Checkpoint, load_checkpoint

    if isinstance(source, nn.Module):
        return source, None, None
    ckpt = source if isinstance(source, Checkpoint) else load_checkpoint(source)
    from autogt.models import build_model

    info = ckpt.task_info or (task.describe() if hasattr(task, "describe") else task)
    if not info:
        raise ExportError(f"{ckpt.path}: the checkpoint has no task description; pass task=")
    model = build_model(ckpt.spec, info)
    model.load_state_dict(ckpt.state_dict, strict=True)
    return model.eval(), ckpt, ckpt.target_scaler


def batch_inputs(batch: Any, model: Any) -> tuple[Tensor, ...]:
    """The export signature's tensors for a PyG batch: ``(x, edge_index, edge_attr, batch[, pe])``."""
    x, edge_index = batch.x, batch.edge_index
    n = x.size(0)
    b = getattr(batch, "batch", None)
    if b is None:
        b = torch.zeros(n, dtype=torch.long, device=x.device)
    edge_attr = getattr(batch, "edge_attr", None)
    if edge_attr is None:
        edge_attr = torch.zeros(edge_index.size(1), 1, device=x.device)
    args: tuple[Tensor, ...] = (x, edge_index, edge_attr, b)
    spec = model.spec
    if spec.pe != "none":
        pe = getattr(batch, f"pe_{spec.pe}", None)
        if pe is None:
            raise ExportError(f"the example batch has no pe_{spec.pe}; attach it (autogt.data.pe.add_pe)")
        args = (*args, pe)
    return args


def example_batches(model: Any, task: Any = None, *, seed: int = 0) -> list[Any]:
    """An example batch and verification batches of other sizes (first one is the example).

    Real graphs of ``task`` (a ``Task``) when given, else random graphs matching the model's task.
    """
    from autogt.data.loader import graph_loader

    spec = model.spec
    if task is not None and hasattr(task, "graphs") and task.level == "graph":
        from autogt.train.loop import attach_pe

        task = attach_pe(task, spec)
        order = [int(i) for key in ("test", "valid", "train") for i in task.split[key]]
        bs = max(2, min(spec.batch_size, len(order) // 3))
        picks = [order[:bs], order[bs:bs + max(1, bs // 2) + 1], order[bs * 2:bs * 2 + 1]]
        picks = [p for p in picks if p]
        return [next(iter(graph_loader(task.graphs, p, len(p), shuffle=False, seed=0))) for p in picks]
    from autogt.testing.layers import random_graphs

    info = model.plan.info
    desc = {"level": info.level, "node_dim": info.node_dim, "edge_dim": info.edge_dim,
            "node_categorical": info.node_categorical, "edge_categorical": info.edge_categorical,
            "atom_vocab": list(info.atom_vocab), "bond_vocab": list(info.bond_vocab)}
    pe_dim = max(1, spec.pe_dim)
    sizes = ([5, 9, 7, 12], [3, 14, 6], [4]) if info.level == "graph" else ([30], [17], [8])
    return [random_graphs(s, desc, seed=seed + i, pe_dim=pe_dim) for i, s in enumerate(sizes)]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


def _reference(model: nn.Module, scaler: Any, batch: Any) -> Tensor:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(batch)
    finally:
        model.train(was_training)
    return scaler.inverse(out) if scaler is not None else out


def _dynamic_axes(names: Sequence[str]) -> dict[str, dict[int, str]]:
    axes = {"x": {0: "nodes"}, "edge_index": {1: "edges"}, "edge_attr": {0: "edges"}, "batch": {0: "nodes"},
            "pe": {0: "nodes"}, "out": {0: "rows"}}
    return {k: v for k, v in axes.items() if k in names or k == "out"}


def _trace(wrapper: ExportWrapper, args: tuple[Tensor, ...]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings from shape checks and the deprecation notice
        try:
            return torch.jit.trace(wrapper, args, check_trace=False)
        except Exception as exc:
            raise ExportError(f"TorchScript tracing failed: {type(exc).__name__}: {_first_line(exc)}") from exc


def _where(wrapper: ExportWrapper, args: tuple[Tensor, ...], op: str) -> str:
    """`` (used by layers[0].local 'sage')``-style hint for the module that uses ``op``."""
    try:
        scopes = locate_operator(_trace(wrapper, args), op)
    except ExportError:
        return ""
    spec: Any = wrapper.model.spec
    hints = []
    for scope in scopes:
        parts = scope.split(".")
        if len(parts) >= 4 and parts[1] == "layers" and parts[2].isdigit():
            i, part = int(parts[2]), parts[3]
            layer = spec.layers[i]
            name = {"local": f" {layer.local!r}", "attn": f" {layer.attn!r}"}.get(part, "")
            hints.append(f"layers[{i}].{part}{name}")
        else:
            hints.append(scope.removeprefix("model.") or "model")
    return f" (used by {', '.join(hints)})" if hints else ""


def _check(run: Any, model: nn.Module, scaler: Any, batches: Sequence[Any], atol: float,
           what: str) -> tuple[float, list[tuple[int, int]]]:
    worst, checked = 0.0, []
    for b in batches:
        ref = _reference(model, scaler, b)
        try:
            got = run(b)
        except Exception as exc:
            raise ExportError(f"{what}: running the export on a batch of {b.num_graphs} graphs / {b.num_nodes} nodes "
                              f"failed: {type(exc).__name__}: {_first_line(exc)}") from exc
        if tuple(got.shape) != tuple(ref.shape):
            raise ExportError(f"{what}: output shape {tuple(got.shape)} != PyTorch {tuple(ref.shape)} on a batch of "
                              f"{b.num_graphs} graphs; the trace did not generalise to other sizes")
        diff = float((got.detach().float() - ref.float()).abs().max()) if ref.numel() else 0.0
        if not diff <= atol:
            raise ExportError(f"{what}: outputs differ from PyTorch by {diff:.3g} (> {atol:g}) on a batch of "
                              f"{b.num_graphs} graphs / {b.num_nodes} nodes")
        worst = max(worst, diff)
        checked.append((int(b.num_graphs), int(b.num_nodes)))
    return worst, checked


def export(
    checkpoint_or_model: Any,
    format: str,
    out: str | os.PathLike[str],
    *,
    task: Any = None,
    example: Any = None,
    check: Sequence[Any] | None = None,
    verify: bool = True,
    atol: float = 1e-4,
    opset: int = DEFAULT_OPSET,
) -> ExportResult:
    """Export an autogt model (dense, an elastic slice or pruned) and verify it against PyTorch.

    Args:
        checkpoint_or_model: a checkpoint path, a :class:`~autogt.train.Checkpoint` or an autogt model.
        format: ``checkpoint`` (spec + weights), ``torchscript`` or ``onnx``.
        out: the file to write.
        task: data for the example and verification batches (a ``Task`` or anything ``load_task``
            takes); default: the bundled data set named in the checkpoint, else random graphs.
        example: a PyG batch to trace with (default: the first of the example batches).
        check: batches to verify on (default: the other example batches, of different sizes).
        verify: run the verification (ONNX needs onnxruntime; skipped with a warning without it).
        atol: largest allowed absolute difference to PyTorch.
        opset: ONNX opset (>= 16).

    Returns:
        An :class:`ExportResult`.

    Raises:
        ExportError: an op without an export path (named), a trace that does not reproduce the model,
            or an unknown format.
    """
    if format not in FORMATS:
        raise ExportError(f"format: {format!r} is not allowed; choose one of {', '.join(FORMATS)}")
    model, ckpt, scaler = _load(checkpoint_or_model, task)
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if format == "checkpoint":
        return _export_checkpoint(model, ckpt, scaler, out_path, task)
    if task is None and ckpt is not None:
        from autogt.elastic._score import task_for_checkpoint

        try:
            task = task_for_checkpoint(ckpt.task_info, ckpt.extra, None, warn=False)
        except Exception:  # no data at hand: random graphs will do
            task = None
    elif task is not None and not hasattr(task, "graphs"):
        from autogt.data import load_task

        task = load_task(task)
    batches = example_batches(model, task)
    if example is not None:
        batches = [example, *batches[1:]]
    if check is not None:
        batches = [batches[0], *check]
    wrapper = ExportWrapper(model, scaler)
    args = batch_inputs(batches[0], model)
    names = wrapper.input_names
    result = ExportResult(format=format, path=str(out_path), input_names=list(names), output_names=["out"])
    if format == "torchscript":
        traced = _trace(wrapper, args)
        traced.save(str(out_path))
        if verify:
            loaded = torch.jit.load(str(out_path))
            result.max_abs_diff, result.checked = _check(lambda b: loaded(*batch_inputs(b, model)), model, scaler,
                                                         batches, atol, "TorchScript")
        return result
    return _export_onnx(wrapper, model, scaler, args, batches, out_path, result, verify, atol, opset)


def _export_checkpoint(model: Any, ckpt: Any, scaler: Any, out: Path, task: Any) -> ExportResult:
    from autogt.train.checkpoint import save_checkpoint

    info = ckpt.task_info if ckpt is not None else (task.describe() if hasattr(task, "describe") else task)
    if not info:
        info = dict(model.plan.info.__dict__)
    extra = dict(ckpt.extra) if ckpt is not None else {}
    save_checkpoint(out, model, model.spec, info, extra=extra, target_scaler=scaler)
    return ExportResult(format="checkpoint", path=str(out))


def _export_onnx(wrapper: ExportWrapper, model: Any, scaler: Any, args: tuple[Tensor, ...], batches: list[Any],
                 out: Path, result: ExportResult, verify: bool, atol: float, opset: int) -> ExportResult:
    if opset < MIN_OPSET:
        raise ExportError(f"opset: autogt exports need ONNX opset >= {MIN_OPSET} (scatter reductions), got {opset}")
    names = result.input_names
    result.opset = opset
    with warnings.catch_warnings(), graph_symbolics(opset):
        warnings.simplefilter("ignore")
        try:
            with quiet_native_output():
                torch.onnx.export(wrapper, args, str(out), dynamo=False, input_names=names, output_names=["out"],
                                  dynamic_axes=_dynamic_axes(names), opset_version=opset)
        except Exception as exc:
            op = unsupported_operator(exc)
            if op is None:
                raise ExportError(f"ONNX export failed: {type(exc).__name__}: {_first_line(exc)}") from exc
            raise ExportError(f"ONNX export: operator {op!r}{_where(wrapper, args, op)} is not supported by the ONNX "
                              f"exporter at opset {opset}; export to TorchScript instead or replace the op") from exc
    if not verify:
        return result
    try:
        import onnxruntime as ort
    except ImportError:
        warnings.warn("onnxruntime is not installed: the ONNX export was not verified", stacklevel=3)
        return result
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only (shape-inference notes on dynamic outputs are expected)
        session = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ExportError(f"onnxruntime cannot load the export: {exc}") from exc
    feeds_names = [i.name for i in session.get_inputs()]

    def run(b: Any) -> Tensor:
        tensors = dict(zip(names, batch_inputs(b, model), strict=True))
        feeds = {k: tensors[k].detach().cpu().numpy() for k in feeds_names}
        return torch.from_numpy(session.run(None, feeds)[0])

    result.input_names = feeds_names
    result.max_abs_diff, result.checked = _check(run, model, scaler, batches, atol, "ONNX (onnxruntime)")
    return result
