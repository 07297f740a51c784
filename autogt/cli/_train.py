"""``autogt train``: train one spec on one data set and write its checkpoint.

Example:
    $ autogt train --data bbbp --spec gps --epochs 50 --json
    {"status": "ok", "metric": "rocauc", "val": 0.93, "test": 0.68, ...}

Python equivalent::

    task = autogt.load_task("bbbp")
    result = autogt.evaluate(autogt.load_spec("gps"), task, autogt.Budget(epochs=50), out_dir="runs/x")
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from autogt.cli._common import CLIError, add_data_args, add_json_arg, emit_json, print_table, task_from_args

__all__ = ["add_parser", "run"]

JSON_KEYS = ("status", "metric", "val", "test", "params", "flops", "latency_ms", "epochs", "checkpoint")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train one architecture on one data set",
        description="Train SPEC on DATA, report val/test metrics and cost, and write a checkpoint.",
    )
    add_data_args(p)
    p.add_argument("--spec", required=True, help="built-in spec (gcn, gin, gps) or a YAML/JSON spec file")
    p.add_argument("--epochs", type=int, default=100, help="maximum epochs (default: 100)")
    p.add_argument("--patience", type=int, default=20,
                   help="stop after this many epochs without validation improvement; 0 = never (default: 20)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, initialisation and batch order")
    p.add_argument("--out", default=None,
                   help="checkpoint folder (default: runs/train-<data>-<spechash>); holds model.safetensors")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to train (default: cpu)")
    add_elastic_args(p)
    add_json_arg(p)
    return p


def _data_name(data: str) -> str:
    path = Path(data)
    name = path.name.split(".")[0] if path.suffix else data
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "data"


def _load_spec(source: str) -> Any:
    from autogt.models.spec import SpecError, load_spec
    from autogt.registry import UnknownNameError

    try:
        return load_spec(source)
    except (SpecError, UnknownNameError, FileNotFoundError, OSError) as exc:
        raise CLIError(str(exc)) from exc


def _check_buildable(spec: Any, task: Any) -> None:
    """Unknown ops and specs that cannot fit the task are bad input (exit 2), not a failed training."""
    from autogt.models import build_model
    from autogt.models.spec import SpecError
    from autogt.registry import UnknownNameError

    try:
        build_model(spec, task.describe())
    except (SpecError, UnknownNameError, ValueError, KeyError) as exc:
        raise CLIError(f"spec {spec.hash()} cannot be built for {task.name}: {exc}") from exc


def _floats(text: str, flag: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise CLIError(f"{flag}: expected comma-separated numbers, got {text!r}") from exc


def add_elastic_args(p: argparse.ArgumentParser) -> None:
    """``--elastic [FRACTIONS] --elastic-mode --elastic-probs --elastic-distill`` (``train`` and ``search``)."""
    p.add_argument("--elastic", nargs="?", const="default", default=None, metavar="FRACTIONS",
                   help="train nested FFNs (MatFormer); optional granularities, e.g. 0.125,0.25,0.5,1 (the default; "
                        "a spec with 'elastic' set is always trained elastic)")
    p.add_argument("--elastic-mode", choices=("sampled", "joint"), default=None,
                   help="elastic loss (implies --elastic): one sampled granularity per step, or the sum over all "
                        "(default: sampled)")
    p.add_argument("--elastic-probs", default=None, metavar="P1,P2,...",
                   help="sampled: probability of each granularity; joint: weight of each loss (default: equal)")
    p.add_argument("--elastic-distill", type=float, default=None, metavar="W",
                   help="joint: in-place distillation, the smaller granularities learn W x the full width's "
                        "predictions + (1 - W) x the labels (implies --elastic --elastic-mode joint; default 0)")


def elastic_requested(args: argparse.Namespace) -> bool:
    return (args.elastic is not None or args.elastic_mode is not None or args.elastic_probs is not None
            or args.elastic_distill is not None)


def _elastic(spec: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    """The elastic spec and training step for ``--elastic`` (see :mod:`autogt.elastic`)."""
    from autogt.elastic import ElasticError, ElasticStep, elastic_spec

    fracs = None if args.elastic in (None, "default") else _floats(args.elastic, "--elastic")
    probs = _floats(args.elastic_probs, "--elastic-probs") if args.elastic_probs else None
    try:
        spec = elastic_spec(spec, fracs)
        if probs is not None and len(probs) != len(spec.elastic):
            raise ElasticError(f"--elastic-probs: {len(probs)} values for {len(spec.elastic)} granularities "
                               f"({', '.join(f'{f:g}' for f in spec.elastic)})")
        distill = args.elastic_distill or 0.0
        mode = args.elastic_mode or ("joint" if distill else "sampled")
        return spec, ElasticStep(mode, probs, args.seed, distill)
    except ElasticError as exc:
        raise CLIError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    import torch

    from autogt.train import Budget, evaluate

    if args.epochs < 1:
        raise CLIError(f"--epochs: must be >= 1, got {args.epochs}")
    if args.patience < 0:
        raise CLIError(f"--patience: must be >= 0, got {args.patience}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise CLIError("--device cuda: CUDA is not available on this machine")
    spec = _load_spec(args.spec)
    step_loss = None
    if spec.elastic or elastic_requested(args):
        spec, step_loss = _elastic(spec, args)
    task = task_from_args(args, seed=args.seed)
    _check_buildable(spec, task)
    out = Path(args.out) if args.out else Path("runs") / f"train-{_data_name(args.data)}-{spec.hash()}"

    result = evaluate(spec, task, Budget(epochs=args.epochs, patience=args.patience), seed=args.seed,
                      device=args.device, out_dir=out, progress=not args.json, step_loss=step_loss)
    summary = {k: getattr(result, k) for k in JSON_KEYS}
    summary.update(reason=result.reason, train_time_s=round(result.train_time_s, 3), seed=result.seed,
                   spec_hash=result.spec_hash, task=result.task)
    if step_loss is not None:
        summary.update(elastic=list(spec.elastic), elastic_mode=step_loss.mode, elastic_distill=step_loss.distill)
    if args.json:
        emit_json(summary)
    else:
        print_table([{"key": k, "value": v} for k, v in summary.items()])
        if result.status == "failed":
            print(f"autogt: training failed: {result.reason}", file=sys.stderr)
    return 1 if result.status == "failed" else 0
