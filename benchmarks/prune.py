"""Pruning benchmark: L0 (hard-concrete) vs Torch-Pruning magnitude / Taylor on GPS models.

For each data set (BBBP with its scaffold split, ESOL with its random split) and seed, a GraphGPS-style
model (``builtin_spec("gps")``) is trained, then pruned to keep 70 / 50 / 30 percent of its FLOPs (30 / 50
/ 70 percent reduction) by every method with the same post-pruning training budget: L0 spends
``--mask-epochs`` on mask training (with distillation) and ``--finetune-epochs`` on fine-tuning; the
baselines spend ``--mask-epochs + --finetune-epochs`` on fine-tuning. Reported per row: test metric before
and after, FLOPs ratio (exact, ``count_flops``), measured CPU speed-up on one batch of ``--latency-batch``
graphs (median of ``--repeats``, dense and pruned measured in the same process) and speed-up / (1 / FLOPs
ratio). A separate row prunes only input edges (``--edge-fraction`` of them) with the learned edge filter.
``l0-lat`` is L0 with the same FLOPs target plus a bound on the latency predicted by the ``cpu`` device
profile (``flops=T,latency=T/--latency-guard``): FLOPs alone keep attention heads, which on a CPU cost more
time per FLOP than FFN neurons, so a FLOPs-only mask speeds up less than its FLOPs ratio promises.

Targets from the issue: at 50% FLOPs, ROC-AUC drop <= 1 point on BBBP and RMSE increase <= 3% on ESOL;
L0 beats both baselines at 70%; measured speed-up >= 0.75x the FLOPs ratio.

Usage (full run, about a day on 2 CPU cores)::

    python benchmarks/prune.py --seeds 0 1 2 --train-epochs 100 --mask-epochs 20 --finetune-epochs 10 \
        --out benchmarks/out/prune.json | tee benchmarks/out/prune.txt

Seeds run separately, tables together::

    python benchmarks/prune.py --merge benchmarks/out/prune_s0.json benchmarks/out/prune_s12.json \
        --out benchmarks/out/prune_3seeds.json

Quick run (1 seed, fewer epochs)::

    nice python benchmarks/prune.py --seeds 0 --train-epochs 40 --mask-epochs 8 --finetune-epochs 4 \
        --repeats 15 --out benchmarks/out/prune_quick.json | tee benchmarks/out/prune_quick.txt
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["bbbp", "esol"])
    p.add_argument("--targets", nargs="+", type=float, default=[0.7, 0.5, 0.3],
                   help="FLOPs kept (0.7 = 30%% reduction)")
    p.add_argument("--methods", nargs="+", default=["l0", "l0-lat", "magnitude", "taylor"])
    p.add_argument("--latency-guard", type=float, default=0.8,
                   help="l0-lat bounds the predicted latency ratio by FLOPs target / this")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--train-epochs", type=int, default=100)
    p.add_argument("--patience", type=int, default=20)
    p.add_argument("--mask-epochs", type=int, default=20)
    p.add_argument("--finetune-epochs", type=int, default=10)
    p.add_argument("--edge-fraction", type=float, default=0.5, help="edges to remove in the edge-only run")
    p.add_argument("--latency-batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=None, help="cap mask-training steps (smoke runs)")
    p.add_argument("--out", default="benchmarks/out/prune.json")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="no runs: print the tables of these earlier outputs together (e.g. seeds run separately)")
    return p.parse_args()


def _train_dense(task: Any, seed: int, epochs: int, patience: int, folder: Path) -> tuple[str, float]:
    from autogt.models import builtin_spec
    from autogt.train import Budget, train

    _model, res = train(builtin_spec("gps"), task, Budget(epochs=epochs, patience=patience, latency_repeats=1),
                        seed=seed, out_dir=folder)
    if res.status != "ok":
        raise RuntimeError(f"dense training failed: {res.reason}")
    return str(res.checkpoint), float(res.train_time_s)


def _edge_target(ckpt: str, task: Any, fraction: float) -> float:
    """FLOPs ratio reached when ``fraction`` of the edges are dropped (edge gates alone)."""
    from autogt.compress import CostModel, GateValues, make_layout
    from autogt.compress._edges import EdgeFilter, EdgeScorer
    from autogt.train import load_checkpoint

    spec = load_checkpoint(ckpt).spec
    layout = make_layout(spec, task, ("edges",))
    filt = EdgeFilter(EdgeScorer.for_task(task)).flops(task.meta["nodes_mean"], task.meta["edges_mean"])
    cost = CostModel(layout, task, edge_filter_flops=filt)
    p = GateValues.ones(layout).map(lambda t: t.float())
    import torch

    p.edges = torch.tensor(1.0 - fraction)
    return float(cost.ratio(p))


def _paired_latency(dense: Any, pruned: Any, batch: Any, repeats: int) -> tuple[float, float]:
    """Median latency (ms) of ``dense`` and ``pruned`` on ``batch``, timed alternately so load hits both alike."""
    import torch

    times: dict[str, list[float]] = {"dense": [], "pruned": []}
    with torch.no_grad():
        dense.eval()
        pruned.eval()
        for _ in range(3):
            dense(batch)
            pruned(batch)
        for _ in range(repeats):
            for name, model in (("dense", dense), ("pruned", pruned)):
                t0 = time.perf_counter()
                model(batch)
                times[name].append(1000.0 * (time.perf_counter() - t0))
    return statistics.median(times["dense"]), statistics.median(times["pruned"])


def _row(r: Any, task: Any, dataset: str, seed: int, method: str, target: float,
         latency: tuple[float, float]) -> dict[str, Any]:
    b, a = r.before, r.after
    b = {**b, "latency_ms": latency[0]}
    a = {**a, "latency_ms": latency[1]}
    speed = b["latency_ms"] / a["latency_ms"] if a.get("latency_ms") else math.nan
    flops_ratio = a["flops"] / b["flops"]
    return {
        "dataset": dataset, "seed": seed, "method": method, "target": target, "metric": task.metric,
        "test_before": b["test"], "test_after": a["test"], "val_before": b["val"], "val_after": a["val"],
        "flops_before": b["flops"], "flops_after": a["flops"], "flops_ratio": flops_ratio,
        "params_before": b["params"], "params_after": a["params"],
        "latency_before_ms": b["latency_ms"], "latency_after_ms": a["latency_ms"], "speedup": speed,
        "speedup_vs_flops": speed * flops_ratio, "achieved_ratio": r.achieved_ratio,
        "spec": r.spec.to_dict(), "edges_kept": (r.edges or {}).get("kept_fraction"),
        "predicted_speedup": (b["latency_pred_ms"] / a["latency_pred_ms"]) if a.get("latency_pred_ms") else None,
        "constraints": getattr(r, "constraints", []),
        "time_s": sum(r.timings.values()),
    }


def _mean(rows: list[dict[str, Any]], key: str) -> tuple[float, float]:
    vals = [float(r[key]) for r in rows if r.get(key) is not None and math.isfinite(float(r[key]))]
    if not vals:
        return math.nan, math.nan
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def _fmt(mean: float, std: float, digits: int = 3) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std > 0 else "")


def _change(rows: list[dict[str, Any]]) -> tuple[float, float]:
    """ROC-AUC: drop in points (before - after, x100); RMSE/MAE: relative increase in percent."""
    vals = []
    for r in rows:
        if r["metric"] in ("rocauc", "accuracy"):
            vals.append(100.0 * (r["test_before"] - r["test_after"]))
        else:
            vals.append(100.0 * (r["test_after"] / r["test_before"] - 1.0))
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def _tables(rows: list[dict[str, Any]]) -> str:
    out = []
    for ds in sorted({r["dataset"] for r in rows}):
        sub = [r for r in rows if r["dataset"] == ds]
        metric = sub[0]["metric"]
        change = "drop (points)" if metric in ("rocauc", "accuracy") else "increase (%)"
        out += [f"## {ds} ({metric}, test)", "",
                f"| FLOPs kept | method | {metric} before | {metric} after | {change} | FLOPs ratio | "
                "params ratio | speed-up (measured) | speed-up (predicted) | speed-up / (1/FLOPs ratio) |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        keys = sorted({(r["target"], r["method"]) for r in sub},
                      key=lambda k: (-k[0] if k[1] != "edges" else 9, k[1]))
        for target, method in keys:
            rs = [r for r in sub if r["target"] == target and r["method"] == method]
            pr = [r["params_after"] / r["params_before"] for r in rs]
            label = f"edges -{100 * (1 - (rs[0]['edges_kept'] or 1)):.0f}%" if method == "edges" else f"{target:.2f}"
            out.append(f"| {label} | {method} | {_fmt(*_mean(rs, 'test_before'))} | {_fmt(*_mean(rs, 'test_after'))} "
                       f"| {_fmt(*_change(rs), digits=2)} | {_fmt(*_mean(rs, 'flops_ratio'))} "
                       f"| {statistics.fmean(pr):.3f} | {_fmt(*_mean(rs, 'speedup'), digits=2)}x "
                       f"| {_fmt(*_mean(rs, 'predicted_speedup'), digits=2)}x "
                       f"| {_fmt(*_mean(rs, 'speedup_vs_flops'), digits=2)} |")
        out.append("")
    return "\n".join(out)


def _checks(rows: list[dict[str, Any]]) -> str:
    lines = ["## Targets", ""]

    def get(ds: str, method: str, target: float) -> list[dict[str, Any]]:
        return [r for r in rows if r["dataset"] == ds and r["method"] == method and abs(r["target"] - target) < 1e-9]

    variants = [m for m in ("l0", "l0-lat") if any(r["method"] == m for r in rows)]
    for method in variants:
        for ds, limit in (("bbbp", 1.0), ("esol", 3.0)):
            rs = get(ds, method, 0.5)
            if rs:
                m, _ = _change(rs)
                unit = "points" if ds == "bbbp" else "%"
                lines.append(f"- {ds} {method} at 50% FLOPs: change {m:.2f} {unit} (target <= {limit}): "
                             f"{'met' if m <= limit else 'NOT met'}")
    for method in variants:
        for ds in sorted({r["dataset"] for r in rows}):
            l0 = get(ds, method, 0.3)
            if not l0:
                continue
            better = True
            for base in ("magnitude", "taylor"):
                b = get(ds, base, 0.3)
                if b:
                    better = better and _change(l0)[0] < _change(b)[0]
            lines.append(f"- {ds}: {method} beats both baselines at 70% reduction: {'yes' if better else 'NO'}")
    for ds in sorted({r["dataset"] for r in rows}):
        for method in (*variants, "magnitude", "taylor"):
            rs = [r for r in rows if r["dataset"] == ds and r["method"] == method]
            if rs:
                worst = min(float(r["speedup_vs_flops"]) for r in rs)
                means = {t: _mean([r for r in rs if r["target"] == t], "speedup_vs_flops")[0]
                         for t in sorted({r["target"] for r in rs}, reverse=True)}
                per = ", ".join(f"{t:.2f}: {m:.2f}" for t, m in means.items())
                lines.append(f"- {ds} {method}: speed-up / (1/FLOPs ratio) worst row {worst:.2f}, mean per FLOPs "
                             f"kept {per} (target >= 0.75): {'met' if min(means.values()) >= 0.75 else 'NOT met'}"
                             f" on the means, {'met' if worst >= 0.75 else 'not met'} on every row")
    return "\n".join(lines) + "\n"


def main() -> int:
    args = _parse()
    if args.merge:
        runs = [json.loads(Path(f).read_text()) for f in args.merge]
        rows = [r for run in runs for r in run["rows"]]
        print(f"merged {len(rows)} rows from {', '.join(args.merge)}; seeds {sorted({r['seed'] for r in rows})}\n")
        print(_tables(rows) + "\n" + _checks(rows))
        Path(args.out).write_text(json.dumps({"rows": rows, "meta": {"merged": args.merge,
                                                                    "runs": [run["meta"] for run in runs]}},
                                             indent=2, default=str) + "\n")
        return 0
    import warnings

    import torch
    from torch_geometric.data import Batch

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    from autogt.compress import prune
    from autogt.data import load_task
    from autogt.models import builtin_spec
    from autogt.train import load_model
    from autogt.train.loop import attach_pe

    rows: list[dict[str, Any]] = []
    meta: dict[str, Any] = {"args": vars(args), "dense": []}
    budget = args.mask_epochs + args.finetune_epochs
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="autogt-prune-bench-") as tmp:
        for ds in args.datasets:
            task = attach_pe(load_task(ds), builtin_spec("gps"))
            order = [int(i) for key in ("test", "valid", "train") for i in task.split[key]]
            lat_batch = Batch.from_data_list([task.graphs[i] for i in order[: args.latency_batch]])
            for seed in args.seeds:
                ckpt, t_train = _train_dense(task, seed, args.train_epochs, args.patience, Path(tmp) / f"{ds}-{seed}")
                meta["dense"].append({"dataset": ds, "seed": seed, "train_time_s": t_train})
                print(f"[{time.perf_counter() - t_start:7.0f}s] {ds} seed {seed}: dense trained in {t_train:.0f}s",
                      file=sys.stderr, flush=True)
                common = dict(seed=seed, latency_batch=args.latency_batch, latency_repeats=3, bank=False,
                              max_steps=args.max_steps)
                dense = load_model(ckpt)[0]
                for target in args.targets:
                    for method in args.methods:
                        if method in ("l0", "l0-lat"):
                            spec = f"flops={target}"
                            if method == "l0-lat":
                                spec += f",latency={min(1.0, target / args.latency_guard):.4g}"
                            r = prune(ckpt, task, spec, method="l0", epochs=args.mask_epochs,
                                      finetune_epochs=args.finetune_epochs, **common)
                        else:
                            r = prune(ckpt, task, f"flops={target}", method=method, finetune_epochs=budget, **common)
                        lat = _paired_latency(dense, r.model, lat_batch, args.repeats)
                        rows.append(_row(r, task, ds, seed, method, target, lat))
                        print(f"[{time.perf_counter() - t_start:7.0f}s] {ds} seed {seed} {method} {target}: "
                              f"{rows[-1]['test_before']:.4f} -> {rows[-1]['test_after']:.4f}, FLOPs x"
                              f"{rows[-1]['flops_ratio']:.3f}, speed-up {rows[-1]['speedup']:.2f}x",
                              file=sys.stderr, flush=True)
                if args.edge_fraction > 0:
                    t_edge = _edge_target(ckpt, task, args.edge_fraction)
                    r = prune(ckpt, task, f"flops={t_edge}", method="l0", epochs=args.mask_epochs,
                              finetune_epochs=args.finetune_epochs, granularities=(), edges=True, **common)
                    lat = _paired_latency(dense, r.model, lat_batch, args.repeats)
                    rows.append(_row(r, task, ds, seed, "edges", t_edge, lat))
                    print(f"[{time.perf_counter() - t_start:7.0f}s] {ds} seed {seed} edges: kept "
                          f"{rows[-1]['edges_kept']:.3f}, "
                          f"{rows[-1]['test_before']:.4f} -> {rows[-1]['test_after']:.4f}",
                          file=sys.stderr, flush=True)
    meta["wall_s"] = time.perf_counter() - t_start
    text = _tables(rows) + "\n" + _checks(rows)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "meta": meta}, indent=2, default=str) + "\n")
    print(f"wrote {out} ({meta['wall_s']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
