"""``autogt cost``: parameters, FLOPs and predicted latency / memory of a spec or checkpoint on a device.

Example:
    $ autogt cost gps --device cpu --batch 32 --json
    {"params": 181941, "flops": 2.77e8, "latency_ms": 14.2, "memory_mb": 9.1, "estimate": "measured-profile", ...}
    $ autogt cost runs/train-bbbp-0123/model.safetensors --device h100 --json   # roofline estimate

Python equivalent::

    autogt.cost(autogt.load_spec("gps"), autogt.load_task("bbbp"), "cpu", batch=32)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from autogt.cli._common import CLIError, add_data_args, add_json_arg, emit_json, print_table, task_from_args

__all__ = ["add_parser", "run"]

JSON_KEYS = ("params", "flops", "latency_ms", "memory_mb", "estimate")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "cost",
        help="parameters, FLOPs, predicted latency and memory of a spec on a device",
        description="Print what SPEC_OR_CKPT costs: exact parameters and FLOPs, and the latency and peak memory "
                    "of one inference forward over --batch graphs predicted for --device (a measured profile, "
                    "or a roofline estimate for devices that are not at hand).",
    )
    p.add_argument("spec", metavar="SPEC_OR_CKPT",
                   help="built-in spec (gcn, gin, gps), a YAML/JSON spec file or an autogt checkpoint .safetensors")
    p.add_argument("--device", default="cpu",
                   help="profile JSON, profile name in profiles/, cpu, cuda, or a roofline device "
                        "(h100 h200 a100 l4 t4); default: cpu")
    p.add_argument("--batch", type=int, default=None, help="graphs per forward (default: the spec's batch_size)")
    add_data_args(p, required=False)
    add_json_arg(p)
    p.epilog = "Size statistics come from --data, else the checkpoint's task, else bundled BBBP."
    return p


def _spec_and_task(source: str) -> tuple[Any, Any]:
    from autogt.models.spec import SpecError, load_spec
    from autogt.registry import UnknownNameError

    if Path(source).suffix.lower() == ".safetensors" or Path(source).is_dir():  # a file or a run folder
        try:
            from autogt.train import load_checkpoint
        except ImportError as exc:  # pragma: no cover - the train package is always there
            raise CLIError(f"cannot read checkpoints: {exc}") from exc
        try:
            ckpt = load_checkpoint(source)
        except (ValueError, OSError) as exc:
            raise CLIError(str(exc)) from exc
        return ckpt.spec, (ckpt.task_info or None)
    try:
        return load_spec(source), None
    except (SpecError, UnknownNameError, FileNotFoundError, OSError) as exc:
        raise CLIError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    from autogt.hardware import ProfileError, cost
    from autogt.registry import UnknownNameError

    if args.batch is not None and args.batch < 1:
        raise CLIError(f"--batch: must be >= 1, got {args.batch}")
    spec, ckpt_task = _spec_and_task(args.spec)
    stats, dims = None, None
    if args.data:
        stats = task_from_args(args)
    elif isinstance(ckpt_task, dict) and ckpt_task:
        meta = ckpt_task.get("meta")
        if isinstance(meta, dict) and "nodes_mean" in meta:
            stats = ckpt_task
        else:  # a task description without size statistics: its dimensions, BBBP's sizes
            dims = ckpt_task
    try:
        c = cost(spec, stats, args.device, batch=args.batch, task=dims)
    except (UnknownNameError, ProfileError) as exc:
        raise CLIError(str(exc)) from exc
    except ValueError as exc:
        raise CLIError(f"spec {spec.hash()}: {exc}") from exc
    out = {k: getattr(c, k) for k in JSON_KEYS}
    out.update(device=c.device, batch=c.batch, spec_hash=spec.hash())
    if args.json:
        emit_json(out)
    else:
        print_table([{"key": k, "value": v} for k, v in out.items()])
    return 0
