"""Elastic (MatFormer-style) GPS models on BBBP and ESOL: sub-model quality, Mix'n'Match, extraction, export.

For each data set and seed, one GPS model (``builtin gps`` with ``--ffn`` wide FFNs, default 256 = 4 x hidden)
is trained elastic (``--mode joint``: every granularity 1/8, 1/4, 1/2, 1 of the FFN width each step), and
four dense GPS models of the uniform sub-model widths are trained independently with the same budget
(epochs, patience, batch size, optimiser). Then:

1. **Uniform granularities**: each uniform sub-model is sliced out (batch norms recalibrated on 16 training
   batches) and its test metric compared with the independent model of the same widths. Check on the
   seed means: ROC-AUC within 1 point (BBBP, ``elastic >= independent - 0.01``), RMSE within 3%
   (ESOL, ``elastic <= 1.03 x independent``).
2. **Mix'n'Match**: ``--budgets`` FLOPs budgets from the smallest sub-model to the full model; the
   least-slope heuristic alone, and ``autogt.elastic.extract`` (best validated candidate within the budget,
   uniform choices included). Check: the extract curve is monotone in validation metric and on or above
   every uniform point within its budget. Test metrics are shown next to it.
3. **Extraction and latency**: slicing + building time per sub-model (check < 1 s) and the latency measured
   here (median of ``--latency-repeats`` forwards of one ``batch_size`` batch of test graphs, 1 thread)
   next to the prediction of ``autogt.hardware.cost`` on ``--profile``.
4. **Export**: one extracted sub-model exported to TorchScript and ONNX (onnxruntime) and verified on
   real batches of other sizes (check: max |difference| <= 1e-4).

Usage::

    python benchmarks/elastic.py                                  # full: 3 seeds, 100 epochs (GPU advised)
    python benchmarks/elastic.py --device cuda --profile cuda
    python benchmarks/elastic.py --quick                          # 1 seed, few epochs (a smoke run)
    nice python benchmarks/elastic.py --quick --threads 1 | tee benchmarks/out/elastic_quick.txt
    python benchmarks/elastic.py --data esol --norm layer --first-seed 2 --seeds 1 --out s2.json  # one seed
    python benchmarks/elastic.py --merge s01.json s2.json --norm layer --out all.json            # together

Prints Markdown tables and writes every per-seed number to ``--out`` (JSON, rewritten after every seed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from autogt.data import load_task
from autogt.data.loader import graph_loader
from autogt.elastic import (
    CostModel,
    Scorer,
    elastic_spec,
    extract,
    extract_model,
    mix_n_match,
    slice_spec,
    train_elastic,
)
from autogt.export import export
from autogt.hardware import cost
from autogt.models import builtin_spec
from autogt.train import Budget, load_model, train
from autogt.train.loop import attach_pe, measure_latency

TOLERANCE = {"rocauc": ("abs", 0.01), "rmse": ("rel", 0.03)}


def gps_spec(ffn: int, schedule: str | None = None, norm: str | None = None) -> Any:
    base = builtin_spec("gps")
    if schedule:
        base = base.replace(lr_schedule=schedule)
    changes: dict[str, Any] = {"ffn": ffn} | ({"norm": norm} if norm else {})
    return base.replace(layers=tuple(dataclasses.replace(layer, **changes) for layer in base.layers))


def latency_batch(task: Any, spec: Any) -> Any:
    idx = [int(i) for i in task.split["test"]][: spec.batch_size]
    return next(iter(graph_loader(task.graphs, idx, len(idx), shuffle=False, seed=0)))


def fmt(values: list[float], scale: float = 1.0, digits: int = 3) -> str:
    vals = [v * scale for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return "-"
    if len(vals) == 1:
        return f"{vals[0]:.{digits}f}"
    return f"{statistics.mean(vals):.{digits}f} ± {statistics.stdev(vals):.{digits}f}"


def mean(values: list[float]) -> float:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.mean(vals) if vals else math.nan


def epochs_for(name: str, args: argparse.Namespace) -> tuple[int, int]:
    """``(epochs, patience)``; ``--quick`` trains 4 epochs on BBBP and 8 on ESOL without early stopping."""
    if args.quick:
        return (4 if name == "bbbp" else 8), 0
    return args.epochs, args.patience


def run_seed(name: str, seed: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Everything for one data set and seed (see module doc)."""
    t_start = time.perf_counter()
    task = load_task(name, seed=seed)
    epochs, patience = epochs_for(name, args)
    budget = Budget(epochs=epochs, patience=patience, latency_repeats=0)
    spec = elastic_spec(gps_spec(args.ffn, args.schedule, args.norm))
    out = work / f"{name}-{seed}"
    log = f"[{name} seed={seed}]"

    model, res = train_elastic(spec, task, budget, mode=args.mode, distill=args.distill, seed=seed, device=args.device,
                               out_dir=out / "elastic")
    assert res.status == "ok", res.reason
    print(f"{log} elastic ({args.mode}) val={res.val:.4f} epochs={res.epochs} {res.extra['epoch_time_s']:.1f} s/epoch",
          file=sys.stderr, flush=True)
    model, ckpt = load_model(res.checkpoint)
    task = attach_pe(task, spec)
    scorer = Scorer.for_task(task, spec, scaler=ckpt.target_scaler, seed=seed)
    lat_batch = latency_batch(task, spec)
    info = task.describe()
    uniform = []
    for g in range(4):
        t0 = time.perf_counter()
        sub = extract_model(model, g, info).eval()
        extract_s = time.perf_counter() - t0
        scorer.calibrate(sub)
        sub_spec = slice_spec(spec, g, info)
        dense_spec = sub_spec  # the same widths, trained from scratch
        _, ind = train(dense_spec, task, budget, seed=seed, device=args.device)
        assert ind.status == "ok", ind.reason
        with torch.no_grad():
            measured = measure_latency(sub, lat_batch, args.latency_repeats)
        pred = cost(sub_spec, info, args.profile)
        row = {"granularity": g, "ffn": sub_spec.layers[0].ffn, "params": pred.params, "flops": pred.flops,
               "elastic_val": scorer.score(sub, "valid", calibrate=False),
               "elastic_test": scorer.score(sub, "test", calibrate=False),
               "independent_val": ind.val, "independent_test": ind.test, "independent_epochs": ind.epochs,
               "extract_s": extract_s, "latency_measured_ms": measured, "latency_predicted_ms": pred.latency_ms,
               "latency_estimate": pred.estimate}
        uniform.append(row)
        print(f"{log} g={g} ffn={row['ffn']} elastic test={row['elastic_test']:.4f} independent "
              f"test={ind.test:.4f} latency {measured:.2f} ms (predicted {pred.latency_ms:.2f})", file=sys.stderr,
              flush=True)

    costs = CostModel(spec, info)
    low = costs.value(0, "flops") / costs.value(None, "flops")
    fracs = [low + (1 - low) * i / (args.budgets - 1) for i in range(args.budgets)]
    fracs = [min(1.0, math.ceil(f * 1000) / 1000) for f in fracs]  # round up: the smallest stays feasible
    budgets = [f"flops={100 * f:.1f}%" for f in fracs]
    heur = mix_n_match(model, budgets, task=info, costs=costs)
    curve = []
    subs = extract(res.checkpoint, budgets, task=task, out=out / "extract", bank=False, seed=seed)
    for b, h, s in zip(budgets, heur.picks, subs, strict=True):
        h_model = scorer.calibrate(extract_model(model, h.choice, info))
        limit = float(b.split("=")[1].rstrip("%")) / 100
        curve.append({"budget": b, "budget_fraction": limit, "fraction": s.fraction, "heuristic_choice": list(h.choice),
                      "heuristic_fraction": h.fraction, "heuristic_val": scorer.score(h_model, calibrate=False),
                      "heuristic_test": scorer.score(h_model, "test", calibrate=False), "choice": list(s.choice),
                      "val": s.val, "test": s.test, "params": s.params, "flops": s.flops,
                      "extract_s": s.extract_time_s, "checkpoint": s.checkpoint})

    exports = {}
    mid = subs[len(subs) // 2]
    for fmt_name in ("torchscript", "onnx"):
        r = export(mid.checkpoint, fmt_name, out / f"sub.{'pt' if fmt_name == 'torchscript' else 'onnx'}", task=task)
        exports[fmt_name] = {"max_abs_diff": r.max_abs_diff, "checked": r.checked, "budget": mid.budget}
    print(f"{log} done in {time.perf_counter() - t_start:.0f} s", file=sys.stderr, flush=True)
    return {"data": name, "seed": seed, "metric": task.metric, "maximize": bool(task.maximize), "epochs": epochs,
            "elastic_val": res.val, "elastic_epochs": res.epochs, "epoch_s": res.extra["epoch_time_s"],
            "uniform": uniform, "curve": curve, "exports": exports}


def tables(results: list[dict[str, Any]], args: argparse.Namespace) -> tuple[str, dict[str, bool]]:
    lines: list[str] = []
    checks: dict[str, bool] = {}
    for name in dict.fromkeys(r["data"] for r in results):
        runs = [r for r in results if r["data"] == name]
        metric, maximize = runs[0]["metric"], runs[0]["maximize"]
        kind, tol = TOLERANCE[metric]
        lines += [f"\n### {name.upper()} ({metric}, {len(runs)} seed(s), {runs[0]['epochs']} epochs max, GPS ffn "
                  f"{args.ffn}, {args.mode} elastic training"
                  + (f", distillation {args.distill:g}" if args.distill else "")
                  + (f", {args.norm} norm" if args.norm else "")
                  + (f", {args.schedule} learning rate" if args.schedule else "") + ")",
                  "", "| granularity | FFN | params | elastic test | independent test | gap | check |",
                  "|---|---|---|---|---|---|---|"]
        ok_all = True
        for g in range(4):
            el = [r["uniform"][g]["elastic_test"] for r in runs]
            ind = [r["uniform"][g]["independent_test"] for r in runs]
            gap = mean(el) - mean(ind)
            if kind == "abs":
                ok = gap >= -tol if maximize else gap <= tol
            else:
                ok = mean(el) >= (1 - tol) * mean(ind) if maximize else mean(el) <= (1 + tol) * mean(ind)
            ok_all &= ok
            u = runs[0]["uniform"][g]
            gap_txt = f"{gap:+.4f}" if kind == "abs" else f"{100 * (mean(el) / mean(ind) - 1):+.1f}%"
            lines.append(f"| {g} (1/{2 ** (3 - g)}) | {u['ffn']} | {u['params']} | {fmt(el, digits=4)} | "
                         f"{fmt(ind, digits=4)} | {gap_txt} | {'ok' if ok else 'FAIL'} |")
        checks[f"{name}: uniform within tolerance"] = ok_all

        sign = 1 if maximize else -1
        lines += ["", f"Mix'n'Match on FLOPs, seed {runs[0]['seed']} (val / test {metric}; choice = granularity "
                  "per layer)", "", "| budget | heuristic choice | heuristic val | heuristic test | extract choice | "
                  "FLOPs | extract val | extract test | best uniform val within budget |",
                  "|---|---|---|---|---|---|---|---|---|"]
        mono_ok, above_ok = True, True
        for r in runs:
            prev = None
            for c in r["curve"]:
                limit = c["budget_fraction"] * r["uniform"][-1]["flops"]  # uniform[-1] is the full model
                within = [u for u in r["uniform"] if u["flops"] <= limit * (1 + 1e-9)]
                best_u = max((sign * u["elastic_val"] for u in within), default=None)
                if best_u is not None and sign * c["val"] < best_u - 1e-12:
                    above_ok = False
                if prev is not None and sign * c["val"] < sign * prev - 1e-12:
                    mono_ok = False
                prev = c["val"]
                if r is runs[0]:
                    bu = "-" if best_u is None else f"{sign * best_u:.4f}"
                    share = 100 * c["flops"] / r["uniform"][-1]["flops"]
                    lines.append(f"| {c['budget']} | {c['heuristic_choice']} | {c['heuristic_val']:.4f} | "
                                 f"{c['heuristic_test']:.4f} | {c['choice']} | {share:.1f}% | "
                                 f"{c['val']:.4f} | {c['test']:.4f} | {bu} |")
        checks[f"{name}: Mix'n'Match monotone"] = mono_ok
        checks[f"{name}: Mix'n'Match on/above uniform"] = above_ok
        checks[f"{name}: >= 8 budgets"] = all(len(r["curve"]) >= 8 for r in runs)

        lines += ["", "Extraction and latency (uniform sub-models; measured here, 1 batch of "
                  f"{builtin_spec('gps').batch_size} test graphs, vs predicted on profile {args.profile!r})", "",
                  "| granularity | extract s | measured ms | predicted ms | estimate |", "|---|---|---|---|---|"]
        for g in range(4):
            us = [r["uniform"][g] for r in runs]
            lines.append(f"| {g} | {max(u['extract_s'] for u in us):.4f} | "
                         f"{fmt([u['latency_measured_ms'] for u in us], digits=2)} | "
                         f"{fmt([u['latency_predicted_ms'] for u in us], digits=2)} | {us[0]['latency_estimate']} |")
        ex_max = max([u["extract_s"] for r in runs for u in r["uniform"]]
                     + [c["extract_s"] for r in runs for c in r["curve"]])
        checks[f"{name}: extraction < 1 s (max {ex_max:.3f} s)"] = ex_max < 1.0

        lines += ["", "| export | max abs diff vs PyTorch | batches checked (graphs, nodes) |", "|---|---|---|"]
        for fmt_name in ("torchscript", "onnx"):
            diffs = [r["exports"][fmt_name]["max_abs_diff"] for r in runs]
            lines.append(f"| {fmt_name} | {max(diffs):.2e} | {runs[0]['exports'][fmt_name]['checked']} |")
            checks[f"{name}: {fmt_name} == PyTorch (1e-4)"] = max(diffs) <= 1e-4
    lines += ["", "| check | result |", "|---|---|"] + [f"| {k} | {'ok' if v else 'FAIL'} |" for k, v in checks.items()]
    return "\n".join(lines), checks


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="bbbp,esol")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--patience", type=int, default=20)
    p.add_argument("--mode", choices=("joint", "sampled"), default="joint")
    p.add_argument("--distill", type=float, default=0.0,
                   help="joint: in-place distillation weight of the smaller granularities (ElasticStep.distill)")
    p.add_argument("--schedule", choices=("constant", "cosine", "plateau"), default=None,
                   help="learning-rate schedule of every model, elastic and independent (default: the gps spec's)")
    p.add_argument("--norm", choices=("batch", "layer"), default=None,
                   help="normalisation of every GPS layer, elastic and independent (default: the gps spec's, batch)")
    p.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed, first-seed + 1, ...")
    p.add_argument("--ffn", type=int, default=256, help="FFN width of every GPS layer (default 256 = 4 x hidden)")
    p.add_argument("--budgets", type=int, default=10, help="Mix'n'Match FLOPs budgets (>= 8)")
    p.add_argument("--device", default="cpu", help="training device")
    p.add_argument("--profile", default="cpu", help="device profile for predicted latency")
    p.add_argument("--latency-repeats", type=int, default=20)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--quick", action="store_true", help="1 seed, 4 epochs on BBBP / 8 on ESOL, 8 budgets")
    p.add_argument("--out", default="benchmarks/out/elastic.json")
    p.add_argument("--workdir", default=None, help="where checkpoints go (default: a temporary folder)")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="no runs: print the tables of these earlier outputs together (pass the same --ffn, --mode...)")
    args = p.parse_args(argv)
    if args.merge:
        return merge(args.merge, args)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.seeds, args.budgets, args.latency_repeats = 1, 8, 10
        if args.out == "benchmarks/out/elastic.json":
            args.out = "benchmarks/out/elastic_quick.json"
    if args.budgets < 8:
        p.error("--budgets: at least 8")
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="autogt-elastic-"))
    t0 = time.perf_counter()
    results = []
    for name in [d.strip() for d in args.data.split(",") if d.strip()]:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            results.append(run_seed(name, seed, args, work))
            _write(args.out, args, results, None)  # after every seed: a killed run keeps what it finished
    return _report(results, args, f"autogt elastic benchmark: {platform.platform()}, torch {torch.__version__}, "
                   f"{torch.get_num_threads()} thread(s), device {args.device}, {time.perf_counter() - t0:.0f} s")


def _write(out: str, args: argparse.Namespace, results: list[dict[str, Any]], checks: dict[str, bool] | None) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"args": dict(vars(args)), "results": results, "checks": checks}, indent=2,
                                    default=str) + "\n")


def _report(results: list[dict[str, Any]], args: argparse.Namespace, header: str) -> int:
    """Print the header, tables and checks; write the JSON; exit status 0 when every check passes."""
    text, checks = tables(results, args)
    print(header)
    print(text)
    _write(args.out, args, results, checks)
    print(f"\nwrote {args.out}")
    return 0 if all(checks.values()) else 1


def merge(files: list[str], args: argparse.Namespace) -> int:
    """Tables and checks of earlier outputs together (e.g. seeds run in separate processes)."""
    results = [r for f in files for r in json.loads(Path(f).read_text())["results"]]
    return _report(results, args, f"merged {len(results)} seed runs from {', '.join(files)}")


if __name__ == "__main__":
    sys.exit(main())
