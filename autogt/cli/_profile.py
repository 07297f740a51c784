"""``autogt profile``: measure a device and write its profile JSON.

Example:
    $ autogt profile --device cpu --out profiles/cpu-2core.json --quick --threads 1
    profile cpu-2core (cpu): 32 blocks, 2304 grid points, 60 samples, fit MAPE 6.1% -> profiles/cpu-2core.json

Python equivalent::

    autogt.profile("cpu", out="profiles/cpu-2core.json", quick=True, threads=1)
"""

from __future__ import annotations

import argparse
from typing import Any

from autogt.cli._common import CLIError, add_json_arg, emit_json, print_table

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "profile",
        help="measure a device (CPU or CUDA) and write its profile",
        description="Measure every block (local ops, attention, FFN, encoders/readout) over a grid of widths, "
                    "heads, FFN widths, batch sizes and graph sizes on real molecule batches, then fit a "
                    "correction on whole models; writes a JSON device profile usable by `autogt cost` and "
                    "`autogt search --device`.",
    )
    p.add_argument("--device", required=True, help="cpu, cuda or cuda:N")
    p.add_argument("--out", required=True, help="profile JSON to write (e.g. profiles/cpu-2core.json)")
    p.add_argument("--quick", action="store_true", help="the quick grid (minutes on a CPU) instead of the full one")
    p.add_argument("--name", default=None, help="profile name (default: the stem of --out)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads while measuring (default: torch's)")
    p.add_argument("--clock", choices=("auto", "wall", "cpu"), default="auto",
                   help="CPU clock: wall, or process CPU time with one thread (auto: cpu when --threads 1)")
    p.add_argument("--samples", type=int, default=None,
                   help="whole-model measurements for the correction (default: 150 quick, 300 full)")
    p.add_argument("--seed", type=int, default=0, help="seed for batches and sampled architectures")
    add_json_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    from autogt.hardware import profile

    dev = args.device.strip().lower()
    if not (dev == "cpu" or dev == "cuda" or (dev.startswith("cuda:") and dev[5:].isdigit())):
        raise CLIError(f"--device: {args.device!r} is not allowed; choose cpu, cuda or cuda:N")
    if args.threads is not None and args.threads < 1:
        raise CLIError(f"--threads: must be >= 1, got {args.threads}")
    if args.samples is not None and args.samples < 0:
        raise CLIError(f"--samples: must be >= 0, got {args.samples}")
    try:
        prof = profile(dev, out=args.out, quick=args.quick, name=args.name, threads=args.threads, clock=args.clock,
                       fit_samples=args.samples, seed=args.seed, progress=not args.json)
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    lat, mem = prof.latency_correction, prof.memory_correction
    summary = {
        "name": prof.name,
        "kind": prof.kind,
        "out": args.out,
        "estimate": prof.estimate,
        "grid": prof.measurement.get("grid"),
        "blocks": len(prof.tables),
        "points": sum(t.size for t in prof.tables.values()),
        "samples": len(prof.samples),
        "latency_fit_mape": lat.fit_mape if lat else None,
        "memory_fit_mape": mem.fit_mape if mem else None,
        "seconds": prof.measurement.get("seconds"),
    }
    if args.json:
        emit_json(summary)
    else:
        print_table([{"key": k, "value": v} for k, v in summary.items()])
    return 0
