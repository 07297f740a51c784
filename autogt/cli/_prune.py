"""``autogt prune``: shrink a checkpoint to a FLOPs / parameter / latency target.

Example:
    $ autogt prune runs/train-bbbp-0123/model.safetensors --data bbbp --target flops=0.5 --json
    {"before": {"metric": "rocauc", "val": 0.91, ...}, "after": {...}, "checkpoint": "runs/prune-.../model.safetensors"}

``--target flops=0.5`` means the pruned model has 0.5x the dense model's FLOPs (half; a 50% reduction);
``params=P`` and ``latency=R`` (predicted latency on ``--device``, default ``cpu``) likewise;
``latency_ms=L`` is an absolute predicted latency. Comma-separated targets prune to the first and keep
the others as bounds: ``--target flops=0.3,latency=0.4`` removes 70% of the FLOPs the way that also
cuts the predicted latency to at most 0.4x (l0 only).

Plain PyTorch checkpoints (a GPSConv stack, a TransformerEncoder, or a wrapped model of those) are read
only with an explicit opt-in: ``--module pkg.mod:build`` (a function returning the module; CKPT then holds
its weights-only state dict or safetensors) or ``--trust-pickle`` (CKPT is a ``torch.save``'d module;
loading it runs code from the file).

Python equivalent::

    autogt.compress.prune(CKPT, autogt.load_task("bbbp"), "flops=0.5", out="runs/pruned")
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from autogt.cli._common import CLIError, add_data_args, add_json_arg, emit_json, print_table, task_from_args

__all__ = ["add_parser", "run"]

JSON_KEYS = ("metric", "val", "test", "params", "flops", "latency_ms")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "prune",
        help="prune a checkpoint to a FLOPs, parameter or latency target",
        description="Prune CKPT on DATA to --target (flops=F or params=P: fraction of the dense model kept, e.g. "
                    "flops=0.5 = half the FLOPs; latency=R likewise for predicted latency on --device; latency_ms=L: "
                    "predicted milliseconds; several, comma-separated: the first is the target, the others upper "
                    "bounds), fine-tune it, and write the pruned checkpoint and a JSON + Markdown report to --out.",
    )
    p.add_argument("checkpoint", metavar="CKPT", help="autogt checkpoint (.safetensors) or, with --module / "
                                                       "--trust-pickle, a plain PyTorch checkpoint")
    add_data_args(p)
    p.add_argument("--target", required=True,
                   help="flops=F | params=P | latency=R | latency_ms=L (e.g. flops=0.5); more, comma-separated, "
                        "are upper bounds (flops=0.3,latency=0.4; l0)")
    p.add_argument("--device", default=None, help="device profile for latency targets and predicted latency "
                                                  "(cpu, cuda, h100, a profile JSON...); default: cpu for latency")
    p.add_argument("--method", choices=("l0", "magnitude", "taylor"), default="l0",
                   help="l0: hard-concrete gates + Lagrangian + distillation (default); magnitude / taylor: "
                        "Torch-Pruning baselines over heads and FFN neurons")
    p.add_argument("--epochs", type=int, default=10, help="mask-training epochs (l0; default: 10)")
    p.add_argument("--finetune-epochs", type=int, default=5, help="fine-tuning epochs after pruning (default: 5)")
    p.add_argument("--edges", action="store_true", help="also learn an input-edge filter (l0)")
    p.add_argument("--granularities", default=None,
                   help="comma-separated subset of heads,neurons,attn,local,ffn,layers,hidden (l0; default: all)")
    p.add_argument("--max-steps", type=int, default=None, help="cap mask-training steps (quick runs)")
    p.add_argument("--seed", type=int, default=0, help="seed of gates, batch order and the data split")
    p.add_argument("--out", default=None, help="output folder (default: runs/prune-<data>-<method>-<target>)")
    p.add_argument("--no-bank", action="store_true", help="do not record the result in the bank")
    p.add_argument("--module", default=None, metavar="MOD:FN",
                   help="plain PyTorch checkpoint: function building the module (CKPT holds weights only)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="plain PyTorch checkpoint saved with torch.save(module): unpickle it (runs code from CKPT!)")
    add_json_arg(p)
    return p


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def run(args: argparse.Namespace) -> int:
    from autogt.compress import PruneConfig, parse_targets, prune
    from autogt.compress._convert import ConversionError
    from autogt.train.checkpoint import CheckpointError, checkpoint_file

    try:
        targets = parse_targets(args.target)
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    if args.epochs < 0 or args.finetune_epochs < 0:
        raise CLIError("--epochs / --finetune-epochs: must be >= 0")
    try:
        args.checkpoint = str(checkpoint_file(args.checkpoint))
    except CheckpointError as exc:
        raise CLIError(str(exc)) from exc
    if args.device is not None:
        from autogt.hardware import load_profile

        try:
            load_profile(args.device)
        except (ValueError, KeyError, OSError) as exc:
            raise CLIError(f"--device: {exc}") from exc
    grans = None
    if args.granularities:
        grans = tuple(g.strip() for g in args.granularities.split(",") if g.strip())
    task = task_from_args(args, seed=args.seed)
    extra: dict[str, Any] = {"granularities": grans} if grans else {}
    cfg = PruneConfig(method=args.method, epochs=args.epochs, finetune_epochs=args.finetune_epochs, seed=args.seed,
                      edges=args.edges, device=args.device, max_steps=args.max_steps, progress=not args.json,
                      trust_pickle=args.trust_pickle, entry_point=args.module, bank=not args.no_bank, **extra)
    label = "-".join(map(str, targets))
    out = Path(args.out) if args.out else Path("runs") / _slug(f"prune-{Path(args.data).stem}-{args.method}-{label}")
    try:
        result = prune(args.checkpoint, task, targets, out=out, config=cfg)
    except (ConversionError, ValueError) as exc:
        raise CLIError(str(exc)) from exc
    summary: dict[str, Any] = {"before": {k: result.before.get(k) for k in JSON_KEYS},
               "after": {k: result.after.get(k) for k in JSON_KEYS}, "checkpoint": result.checkpoint,
               "report": result.report_json, "method": result.method, "target": result.target,
               "achieved_ratio": result.achieved_ratio, "constraints": result.constraints,
               "spec_hash": result.spec.hash()}
    if result.edges is not None:
        summary["edges_kept"] = result.edges.get("kept_fraction")
    if args.json:
        emit_json(summary)
    else:
        print_table([{"": "before", **summary["before"]}, {"": "after", **summary["after"]}])
        print(f"checkpoint: {result.checkpoint}\nreport: {result.report_md}", file=sys.stdout)
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
    return 0
