"""How well a device profile predicts measured latency, side by side with FLOPs as a predictor.

On ``--specs`` random architectures from ``search_spaces/gps.yaml`` (``autogt.spaces.load_space("gps")``
and its ``random_params`` sampler, seeds ``--seed``...; the profile's correction was fitted to other,
mixed-family architectures) and one batch of real BBBP graphs (the first ``--batch`` graphs of the test
split, as ``autogt.train.evaluate`` measures latency), it measures every model's forward latency with the
profile's own settings (threads, clock, warm-up, median of repeats) and compares:

- the profile's prediction (``predict_latency``): MAPE and Kendall tau against the measurement;
- FLOPs (``count_flops``): Kendall tau, and the MAPE of a FLOPs-proportional fit ``a * FLOPs`` (and of an
  affine fit ``a * FLOPs + b``), both fitted in-sample on the very measurements they are scored on
  (which favours FLOPs);
- the prediction cost per spec: process CPU time of each spec's first prediction (mean and p95, ms);
- peak memory: MAPE of ``predict_memory`` against the measured peak (CPU: tensor-allocation tracker).

Each model is measured in ``--passes`` passes separated in time and the smallest of the per-pass medians
is kept, which drops spikes caused by other processes on a shared machine. With CUDA available and
``--cuda-profile``, the same is done on the GPU, plus the error of the matching roofline estimate.

Usage:
    python benchmarks/latency_model.py [--profile profiles/cpu-2core.json] [--specs 200] [--batch 64]
    python benchmarks/latency_model.py --reuse benchmarks/out/latency_model.json --out OTHER.json  # re-score only

Writes ``benchmarks/out/latency_model.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def kendall_tau(a: list[float], b: list[float]) -> float:
    from scipy.stats import kendalltau

    return float(kendalltau(a, b).statistic)


def mape(pred: list[float], true: list[float]) -> float:
    return statistics.fmean(abs(p - t) / t for p, t in zip(pred, true, strict=True))


def flops_fits(flops: list[float], true: list[float]) -> tuple[list[float], list[float]]:
    """In-sample least-relative-error fits: ``a * F`` and ``a * F + b`` (b >= 0)."""
    import numpy as np
    from scipy.optimize import nnls

    f, y = np.array(flops), np.array(true)
    w = 1.0 / y
    a = float(np.sum(f * w * w * y) / np.sum((f * w) ** 2))
    coef, _ = nnls(np.stack([f * w, w], 1), y * w)
    return list(a * f), list(coef[0] * f + coef[1])


def sample_specs(n: int, seed: int) -> tuple[list[Any], str]:
    try:
        from autogt.spaces import load_space
    except ImportError:  # pragma: no cover - the spaces package is part of autogt
        load_space = None
    if load_space is not None:
        space = load_space("gps")
        return [space.to_spec(space.random_params(seed=seed + i)) for i in range(n)], "autogt.spaces gps sampler"
    import random

    from autogt.hardware._sample import random_spec

    rng = random.Random(seed)
    return [random_spec(rng, widths=(64, 96, 128, 192, 256)) for _ in range(n)], "own sampler (no autogt.spaces)"


def real_batch(batch: int, device: Any, pe_dim: int = 20) -> tuple[Any, Any]:
    import torch
    from torch_geometric.data import Batch

    from autogt.data import load_task

    task = load_task("bbbp")
    order = [int(i) for key in ("test", "valid", "train") for i in task.split[key]][:batch]
    b = Batch.from_data_list([task.graphs[i] for i in order])
    gen = torch.Generator().manual_seed(0)
    b.pe_rw = torch.rand(b.num_nodes, pe_dim, generator=gen)  # attached PE: values do not change the cost
    b.pe_lap = torch.rand(b.num_nodes, pe_dim, generator=gen) - 0.5
    return task, b.to(device)


def run_device(prof: Any, specs: list[Any], task: Any, b: Any, *, passes: int, device: Any,
               roofline: str | None = None, measured: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    from autogt.hardware import count_flops, predict
    from autogt.hardware._measure import _threads, batch_stats, measure_model

    n, e, nsq = batch_stats(b)
    stats = {"nodes_mean": n, "edges_mean": e, "nodes_sq_mean": nsq}
    desc = task.describe()
    meas = prof.measurement
    threads = meas.get("threads") if device.type == "cpu" else None
    clock = meas.get("clock", "wall") if device.type == "cpu" else "wall"
    warmup, repeats = int(meas.get("warmup", 3)), max(int(meas.get("repeats", 7)), 7)
    rows: list[dict[str, Any]] = [{"spec": s.to_dict(), "hash": s.hash()} for s in specs]
    if measured is not None:  # --reuse: score the current predictor on earlier measurements
        by_hash = {r["hash"]: r for r in measured}
        for r in rows:
            r["measured_ms"], r["measured_mb"] = by_hash[r["hash"]]["measured_ms"], by_hash[r["hash"]]["measured_mb"]
    with _threads(threads):
        for p in range(passes if measured is None else 0):
            for i, spec in enumerate(specs):
                lat, mem = measure_model(spec, b, desc, device=device, warmup=warmup, repeats=repeats, clock=clock)
                r = rows[i]
                r["measured_ms"] = min(r.get("measured_ms", math.inf), lat)
                r["measured_mb"] = mem
                if (i + 1) % 50 == 0:
                    print(f"  pass {p + 1}/{passes}: {i + 1}/{len(specs)} measured", file=sys.stderr, flush=True)
    predict(specs[0], prof, batch=b.num_graphs, stats=stats, task=desc)  # load the profile once
    for spec, r in zip(specs, rows, strict=True):  # first prediction of every spec, as in a search
        t0 = time.process_time()  # CPU time: other processes on a shared machine do not count
        pred = predict(spec, prof, batch=b.num_graphs, stats=stats, task=desc)
        r["predict_ms"] = (time.process_time() - t0) * 1e3
        r["predicted_ms"], r["predicted_mb"] = pred.latency_ms, pred.memory_mb
        r["flops"] = count_flops(spec, stats, batch=b.num_graphs, task=desc)
        if roofline:
            r["roofline_ms"] = predict(spec, roofline, batch=b.num_graphs, stats=stats, task=desc).latency_ms
    true = [r["measured_ms"] for r in rows]
    pred = [r["predicted_ms"] for r in rows]
    flops = [r["flops"] for r in rows]
    prop, affine = flops_fits(flops, true)
    cost = sorted(r["predict_ms"] for r in rows)
    out = {
        "device": prof.name,
        "estimate": prof.estimate,
        "batch": int(b.num_graphs),
        "batch_stats": stats,
        "specs": len(specs),
        "measured_ms_range": [min(true), max(true)],
        "profile_mape": mape(pred, true),
        "profile_tau": kendall_tau(pred, true),
        "flops_tau": kendall_tau(flops, true),
        "flops_prop_mape": mape(prop, true),
        "flops_affine_mape": mape(affine, true),
        "predict_ms_mean": statistics.fmean(cost),
        "predict_ms_median": statistics.median(cost),
        "predict_ms_p95": cost[int(0.95 * (len(cost) - 1))],
        "memory_mape": mape([r["predicted_mb"] for r in rows], [r["measured_mb"] for r in rows]),
        "rows": rows,
    }
    if roofline:
        roof = [r["roofline_ms"] for r in rows]
        out.update(roofline=roofline, roofline_mape=mape(roof, true), roofline_tau=kendall_tau(roof, true))
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| device | batch | specs | predictor | MAPE | Kendall tau | cost / spec |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        head = f"| {r['device']} | {r['batch']} | {r['specs']} "
        lines.append(head + f"| profile ({r['estimate']}) | {r['profile_mape']:.1%} | {r['profile_tau']:.3f} "
                            f"| mean {r['predict_ms_mean']:.3f} ms, p95 {r['predict_ms_p95']:.3f} ms |")
        lines.append(head + f"| FLOPs, a*F fit in-sample | {r['flops_prop_mape']:.1%} | {r['flops_tau']:.3f} | - |")
        lines.append(head + f"| FLOPs, a*F+b fit in-sample | {r['flops_affine_mape']:.1%} | {r['flops_tau']:.3f} | - |")
        if "roofline" in r:
            lines.append(head + f"| roofline `{r['roofline']}` (estimate) | {r['roofline_mape']:.1%} "
                                f"| {r['roofline_tau']:.3f} | - |")
        lines.append(head + f"| memory (predict_memory) | {r['memory_mape']:.1%} | - | - |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="profiles/cpu-2core.json", help="CPU profile (path or name)")
    parser.add_argument("--cuda-profile", default=None, help="CUDA profile (path or name), used when CUDA is there")
    parser.add_argument("--roofline", default=None, help="roofline device to score on CUDA (default: detected)")
    parser.add_argument("--specs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=10_000, help="first gps sampler seed")
    parser.add_argument("--batch", type=int, default=64, help="BBBP graphs per forward")
    parser.add_argument("--passes", type=int, default=2, help="measurement passes (min of per-pass medians)")
    parser.add_argument("--out", default="benchmarks/out/latency_model.json")
    parser.add_argument("--reuse", default=None,
                        help="JSON of an earlier run: re-score the current predictor on its CPU measurements")
    args = parser.parse_args(argv)

    import torch

    from autogt.hardware import load_profile

    measured = None
    if args.reuse:
        earlier = json.loads(Path(args.reuse).read_text())
        meta = earlier["meta"]
        args.specs, args.seed = len(earlier["results"][0]["rows"]), meta["seed"]
        args.batch, args.passes = earlier["results"][0]["batch"], meta["passes"]
        measured = earlier["results"][0]["rows"]
    specs, sampler = sample_specs(args.specs, args.seed)
    results = []
    prof = load_profile(args.profile)
    task, b = real_batch(args.batch, torch.device("cpu"))
    print(f"CPU: {len(specs)} specs ({sampler}), profile {prof.name}", file=sys.stderr, flush=True)
    results.append(run_device(prof, specs, task, b, passes=args.passes, device=torch.device("cpu"),
                              measured=measured))
    if torch.cuda.is_available() and measured is None:  # pragma: no cover - needs a GPU
        cuda = torch.device("cuda")
        cprof = load_profile(args.cuda_profile or "cuda")
        from autogt.hardware._device import _detected_roofline

        roof = args.roofline or _detected_roofline()
        _, bc = real_batch(args.batch, cuda)
        results.append(run_device(cprof, specs, task, bc, passes=args.passes, device=cuda, roofline=roof))
    md = table(results)
    print(md)
    meta = {"sampler": sampler, "seed": args.seed, "specs": args.specs, "batch": args.batch,
            "python": platform.python_version(), "torch": torch.__version__, "profile": str(args.profile),
            "passes": args.passes, "reused_measurements": args.reuse}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": results, "table": md}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
