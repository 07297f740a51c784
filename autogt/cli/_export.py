"""``autogt export``: write a checkpoint as TorchScript or ONNX (or a plain checkpoint), verified against PyTorch.

Example:
    $ autogt export runs/gps/model.safetensors --format onnx --out gps.onnx --json
    {"format": "onnx", "path": "gps.onnx", "input_names": ["x", "edge_index", "edge_attr", "batch", "pe"], ...}

Python equivalent::

    autogt.export.export("runs/gps/model.safetensors", "onnx", "gps.onnx")
"""

from __future__ import annotations

import argparse
from typing import Any

from autogt.cli._common import CLIError, add_json_arg, emit_json, print_table

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export",
        help="export a checkpoint to TorchScript or ONNX",
        description="Export CKPT with the tensor signature (x, edge_index, edge_attr, batch[, pe]) and check "
                    "the export against the PyTorch model on batches of other sizes.",
    )
    p.add_argument("checkpoint", metavar="CKPT", help="an autogt checkpoint (dense, elastic slice or pruned)")
    p.add_argument("--format", required=True, choices=("torchscript", "onnx", "checkpoint"), help="output format")
    p.add_argument("--out", required=True, metavar="PATH", help="file to write")
    p.add_argument("--data", default=None,
                   help="data for the example/verification batches (default: the checkpoint's bundled task, "
                        "else random graphs)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (default: 18)")
    p.add_argument("--atol", type=float, default=1e-4, help="allowed difference to PyTorch (default: 1e-4)")
    p.add_argument("--no-verify", action="store_true", help="skip the comparison with PyTorch")
    add_json_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    from autogt.export import ExportError, export
    from autogt.train.checkpoint import CheckpointError

    try:
        res = export(args.checkpoint, args.format, args.out, task=args.data, verify=not args.no_verify,
                     atol=args.atol, opset=args.opset)
    except (ExportError, CheckpointError, FileNotFoundError) as exc:
        raise CLIError(str(exc)) from exc
    if args.json:
        emit_json(res.to_dict())
    else:
        print_table([{"key": k, "value": v} for k, v in res.to_dict().items()])
    return 0
