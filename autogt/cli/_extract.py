"""``autogt extract``: standalone sub-models of an elastic checkpoint under cost budgets.

Example:
    $ autogt extract runs/gps-elastic/model.safetensors --budgets flops=40%,60%,80% --device cpu --json
    {"models": [{"budget": "flops=40%", "spec": {...}, "params": 150022, "flops": ..., "latency_ms": ...,
                 "val": 0.91, "checkpoint": "runs/gps-elastic/extract/00-flops-40pct.safetensors", ...}]}

Python equivalent::

    subs = autogt.elastic.extract("runs/gps-elastic/model.safetensors", "flops=40%,60%,80%", device="cpu")
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from autogt.cli._common import CLIError, add_json_arg, emit_json, print_table

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "extract",
        help="slice standalone sub-models out of an elastic checkpoint",
        description="Pick one FFN granularity per layer for each cost budget (Mix'n'Match), write every "
                    "sub-model as a normal checkpoint and print its cost and validation metric.",
    )
    p.add_argument("checkpoint", metavar="CKPT", help="an elastic checkpoint (autogt train --elastic)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--budget", metavar="K=V",
                       help="one budget: flops=0.5, params=25%%, latency_ms=2 (fractions/percentages of the full "
                            "model, or absolute values; latency_ms needs --device)")
    group.add_argument("--budgets", metavar="K=V1,V2,...",
                       help="several budgets, e.g. params=25%%,50%%,75%%")
    p.add_argument("--data", default=None,
                   help="data for the metric and batch-norm recalibration (default: the checkpoint's bundled task)")
    p.add_argument("--device", default=None, metavar="PROFILE",
                   help="device profile for predicted latency (cpu, cuda, h100, a profile JSON...)")
    p.add_argument("--out", default=None, help="output folder (default: extract/ beside CKPT)")
    p.add_argument("--refine", choices=("none", "exact", "evolution"), default="none",
                   help="Mix'n'Match refinement beyond the least-slope heuristic (default: none)")
    p.add_argument("--max-evals", type=int, default=32, help="sub-models the refinement may score (default: 32)")
    p.add_argument("--no-bank", action="store_true", help="do not write the results to the bank")
    add_json_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    from autogt.elastic import ElasticError, extract
    from autogt.registry import UnknownNameError
    from autogt.train.checkpoint import CheckpointError

    if args.max_evals < 0:
        raise CLIError(f"--max-evals: must be >= 0, got {args.max_evals}")
    budgets = args.budget if args.budget is not None else args.budgets
    try:
        subs = extract(args.checkpoint, budgets, task=args.data, device=args.device, out=args.out,
                       refine=args.refine, max_evals=args.max_evals, bank=not args.no_bank)
    except (ElasticError, CheckpointError, UnknownNameError, FileNotFoundError) as exc:
        raise CLIError(str(exc)) from exc
    if args.json:
        emit_json({"models": [s.to_dict() for s in subs]})
        return 0
    rows = [{"budget": s.budget, "ffn": ",".join(str(layer.ffn) for layer in s.spec.layers if layer.ffn),
             "params": s.params, "flops": s.flops, "latency_ms": s.latency_ms, s.metric or "val": s.val,
             "test": s.test, "extract_s": round(s.extract_time_s, 3), "checkpoint": s.checkpoint} for s in subs]
    print_table(rows)
    if subs and subs[0].val is None:
        print("autogt: no data for metrics (pass --data)", file=sys.stderr)
    return 0
