"""NAS-Bench-Graph search benchmark: every controller on the 9 data sets, tabular look-ups, no training.

For each (controller, data set, seed) one run of ``max(budgets)`` queries is made through the autogt
controller (in-memory Optuna study, :class:`autogt.controllers.TabularEvaluator`); the figures for the
smaller budgets are read off the same run (queries are sequential, so the best after ``b`` queries is what
a ``b``-query search would have returned). Invalid architectures (absent from the bench file: the
all-skip one, and on proteins every arch using an op other than gcn sage arma fc skip) are spent queries
told as failed. For the architecture with the best validation accuracy among those queried we report its
test accuracy and the validation regret ``(best valid in the space - best valid found) x 100`` points.

The space is ``nasbench.space_for(dataset)``: the 9 link patterns x 9 ops, and on proteins the benchmark's
own 5 ops (gcn sage arma fc skip), as NAS-Bench-Graph defines the proteins space.

``plain-tpe`` and ``plain-random`` are plain Optuna (``optuna.create_study`` with ``TPESampler`` /
``RandomSampler``, ask/tell over the same categorical space, keys from ``nas_bench_graph.Arch.valid_hash``,
no autogt code), so "autogt TPE/random match plain Optuna within noise" can be checked: the tables show
mean regret ± standard error over seeds.

Usage:
    python benchmarks/nasbench_search.py                      # all data sets, 20 seeds, budgets 10/20/50/100
    python benchmarks/nasbench_search.py --datasets cora --seeds 3 --controllers tpe,random,plain-tpe

Writes ``benchmarks/out/nasbench_search.json.gz`` (gzip-compressed JSON: raw per-run traces and the summary)
and prints Markdown.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")
REFERENCE_TPE_100 = {"cora": 0.97, "citeseer": 1.34, "pubmed": 1.08, "cs": 0.60, "physics": 1.13, "photo": 0.72,
                     "computers": 0.76, "arxiv": 0.31, "proteins": 0.31}
PLAIN = ("plain-tpe", "plain-random")


def _quiet() -> None:
    import warnings

    import optuna
    import torch

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")


def run_autogt(controller: str, dataset: str, seed: int, n: int) -> list[tuple[float, float] | None]:
    """One autogt controller run: per query (valid, test) or None for a failed query."""
    _quiet()
    import optuna

    from autogt.controllers import TabularEvaluator, make_controller
    from autogt.spaces import nasbench

    evaluator = TabularEvaluator(dataset)
    study = optuna.create_study(direction="maximize")
    ctrl = make_controller(controller, nasbench.space_for(dataset), study, seed=seed)
    trace: list[tuple[float, float] | None] = []
    for _ in range(n):
        proposal = ctrl.ask()
        result = evaluator(proposal.spec)
        ctrl.tell(proposal.trial_number, result)
        trace.append((result.val, result.test) if result.ok else None)
    return trace


def run_plain(sampler: str, dataset: str, seed: int, n: int) -> list[tuple[float, float] | None]:
    """Plain Optuna over link x 4 ops (no autogt), keys from the package's ``valid_hash``."""
    _quiet()
    import optuna
    from nas_bench_graph import Arch, gnn_list, gnn_list_proteins, light_read, link_list

    bench = light_read(dataset)
    links = {",".join(map(str, lk)): list(lk) for lk in link_list}
    make = optuna.samplers.TPESampler if sampler == "plain-tpe" else optuna.samplers.RandomSampler
    study = optuna.create_study(direction="maximize", sampler=make(seed=seed))
    trace: list[tuple[float, float] | None] = []
    for _ in range(n):
        trial = study.ask()
        link = links[trial.suggest_categorical("link", list(links))]
        choices = list(gnn_list_proteins if dataset == "proteins" else gnn_list)
        ops = [trial.suggest_categorical(f"op{i}", choices) for i in range(4)]
        info = bench.get(Arch(link, ops).valid_hash())
        if info is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            trace.append(None)
        else:
            study.tell(trial, float(info["valid_perf"]))
            trace.append((float(info["valid_perf"]), float(info["perf"])))
    return trace


def _job(args: tuple[str, str, int, int]) -> tuple[str, str, int, list[Any], float]:
    controller, dataset, seed, n = args
    started = time.perf_counter()
    if controller in PLAIN:
        trace = run_plain(controller, dataset, seed, n)
    else:
        trace = run_autogt(controller, dataset, seed, n)
    return controller, dataset, seed, trace, time.perf_counter() - started


def best_at(trace: list[Any], budget: int) -> tuple[float, float] | None:
    """(valid, test) of the best-valid architecture among the first ``budget`` queries."""
    seen = [t for t in trace[:budget] if t is not None]
    return max(seen, key=lambda t: t[0]) if seen else None


def _mean_sem(xs: list[float]) -> tuple[float, float]:
    if not xs:
        return math.nan, math.nan
    if len(xs) == 1:
        return xs[0], math.nan
    return statistics.fmean(xs), statistics.stdev(xs) / math.sqrt(len(xs))


def summarise(runs: list[dict[str, Any]], budgets: list[int], best_valid: dict[str, float]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for run in runs:
        key = (run["controller"], run["dataset"])
        table.setdefault(key, []).append(run["trace"])
    out: dict[str, Any] = {}
    for (controller, dataset), traces in table.items():
        for b in budgets:
            regrets, tests, missing = [], [], 0
            for trace in traces:
                best = best_at(trace, b)
                if best is None:
                    missing += 1
                    continue
                regrets.append((best_valid[dataset] - best[0]) * 100.0)
                tests.append(best[1] * 100.0)
            r_mean, r_sem = _mean_sem(regrets)
            t_mean, t_sem = _mean_sem(tests)
            out.setdefault(controller, {}).setdefault(dataset, {})[str(b)] = {
                "regret": r_mean, "regret_sem": r_sem, "test": t_mean, "test_sem": t_sem,
                "runs": len(traces), "no_valid": missing,
            }
    return out


def markdown(summary: dict[str, Any], controllers: list[str], datasets: list[str], budgets: list[int]) -> str:
    lines = []
    for b in budgets:
        lines.append(f"\n### Budget {b} queries: validation regret in points (mean ± s.e.) / test accuracy of the "
                     "best-valid arch (%)\n")
        lines.append("| data set | " + " | ".join(controllers) + " | best |")
        lines.append("|---|" + "---|" * (len(controllers) + 1))
        for d in datasets:
            cells, means = [], {}
            for c in controllers:
                s = summary.get(c, {}).get(d, {}).get(str(b))
                if s is None:
                    cells.append("-")
                    continue
                means[c] = s["regret"]
                flag = f" ({s['no_valid']} runs no valid)" if s["no_valid"] else ""
                cells.append(f"{s['regret']:.2f} ± {s['regret_sem']:.2f} / {s['test']:.2f}{flag}")
            finite = {c: m for c, m in means.items() if not math.isnan(m)}
            best_mean = min(finite.values()) if finite else math.nan
            leaders = [c for c, m in finite.items() if math.isclose(m, best_mean, abs_tol=1e-9)]
            winner = leaders[0] if len(leaders) == 1 else (f"tie ({len(leaders)})" if leaders else "-")
            lines.append(f"| {d} | " + " | ".join(cells) + f" | {winner} |")
    if 100 in budgets:
        lines.append("\n### Regret after 100 queries vs the reference (plain Optuna TPE, 20 seeds)\n")
        cols = [c for c in ("tpe", "plain-tpe", "random", "plain-random") if c in controllers]
        lines.append("| data set | reference | " + " | ".join(cols) + " | tpe − plain-tpe (in s.e.) |")
        lines.append("|---|---|" + "---|" * (len(cols) + 1))
        for d in datasets:
            row = [f"{REFERENCE_TPE_100.get(d, math.nan):.2f}"]
            for c in cols:
                s = summary.get(c, {}).get(d, {}).get("100")
                row.append("-" if s is None else f"{s['regret']:.2f} ± {s['regret_sem']:.2f}")
            a = summary.get("tpe", {}).get(d, {}).get("100")
            p = summary.get("plain-tpe", {}).get(d, {}).get("100")
            if a and p:
                se = math.hypot(a["regret_sem"], p["regret_sem"])
                row.append(f"{(a['regret'] - p['regret']) / se:+.1f}" if se > 0 else "0")
            else:
                row.append("-")
            lines.append(f"| {d} | " + " | ".join(row) + " |")
    wins: dict[str, int] = {}
    for b in budgets:
        for d in datasets:
            means = {c: summary[c][d][str(b)]["regret"] for c in controllers
                     if c in summary and d in summary[c] and not math.isnan(summary[c][d][str(b)]["regret"])}
            if means:
                low = min(means.values())
                leaders = [c for c, m in means.items() if math.isclose(m, low, abs_tol=1e-9)]
                if len(leaders) == 1:  # ties (identical runs) count for nobody
                    wins[leaders[0]] = wins.get(leaders[0], 0) + 1
    lines.append("\nWins (lowest mean regret, ties not counted) over data set x budget cells: "
                 + ", ".join(f"{c} {n}" for c, n in sorted(wins.items(), key=lambda kv: -kv[1])))
    return "\n".join(lines)


def merge(paths: list[str], out_path: str, datasets: list[str], budgets: list[int],
          best_valid: dict[str, float]) -> int:
    """Combine the runs of several output files (same data sets/budgets) into one summary and table."""
    by_key: dict[tuple[str, str, int], dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    queries: dict[str, int] = {}
    controllers: list[str] = []
    for path in paths:  # a later file replaces earlier runs of the same (controller, data set, seed)
        data = json.loads(_read(path))
        for run in data["runs"]:
            by_key[(run["controller"], run["dataset"], run["seed"])] = run
            queries[run["controller"]] = queries.get(run["controller"], 0) + len(run["trace"])
        for c in data["controllers"]:
            if c not in controllers:
                controllers.append(c)
        for c, secs in data["seconds"].items():
            seconds[c] = seconds.get(c, 0.0) + secs
    runs = list(by_key.values())
    order = [c for c in (*sorted(c for c in controllers if c not in PLAIN), *PLAIN) if c in controllers]
    summary = summarise(runs, budgets, best_valid)
    text = markdown(summary, order, datasets, budgets)
    per_query = {c: seconds[c] / queries[c] * 1000 for c in order}
    text += "\n\nSearch cost per query (ask + look-up + tell, in-memory study): " + ", ".join(
        f"{c} {ms:.1f} ms" for c, ms in per_query.items())
    counts = []
    for c in order:
        per_data = {d: summary[c][d][str(budgets[-1])]["runs"] for d in datasets if d in summary.get(c, {})}
        low, high = min(per_data.values()), max(per_data.values())
        counts.append(f"{c} {low}" if low == high else
                      f"{c} {low}-{high} ({', '.join(f'{d} {n}' for d, n in per_data.items() if n != low)})")
    text += "\n\nSeeds (runs) per data set: " + "; ".join(counts)
    print(text)
    _write(out_path, json.dumps({"datasets": datasets, "budgets": budgets, "controllers": order,
                                          "best_valid": best_valid, "summary": summary, "seconds": seconds,
                                          "runs": runs, "markdown": text}))
    return 0


def _write(path: str | Path, text: str) -> None:
    """Write ``text``; gzip-compressed when ``path`` ends in ``.gz`` (the per-run traces are megabytes)."""
    path = Path(path)
    data = text.encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def _read(path: str | Path) -> str:
    data = Path(path).read_bytes()
    return (gzip.decompress(data) if str(path).endswith(".gz") else data).decode()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--budgets", default="10,20,50,100")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--seed-start", type=int, default=0, help="first seed (to add seeds to an earlier run)")
    ap.add_argument("--controllers", default=None, help="default: every registered controller + plain-tpe,plain-random")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "nasbench_search.json.gz"))
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="combine earlier outputs (e.g. GP run separately) into one table instead of running")
    args = ap.parse_args(argv)
    _quiet()
    from autogt.controllers import controller_names
    from autogt.spaces import nasbench

    datasets = [d for d in args.datasets.split(",") if d]
    budgets = sorted(int(b) for b in args.budgets.split(","))
    controllers = args.controllers.split(",") if args.controllers else [*controller_names(), *PLAIN]
    best_valid = {d: max(v["valid_perf"] for v in nasbench.bench(d).values()) for d in datasets}
    if args.merge:
        return merge(args.merge, args.out, datasets, budgets, best_valid)
    seeds = range(args.seed_start, args.seed_start + args.seeds)
    jobs = [(c, d, s, budgets[-1]) for c in controllers for d in datasets for s in seeds]
    started = time.perf_counter()
    runs, seconds = [], {}
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 else None
    results = pool.map(_job, jobs, chunksize=4) if pool else map(_job, jobs)
    for i, (c, d, s, trace, secs) in enumerate(results, 1):
        runs.append({"controller": c, "dataset": d, "seed": s, "trace": trace})
        seconds[c] = seconds.get(c, 0.0) + secs
        if i % 20 == 0 or i == len(jobs):
            print(f"[{i}/{len(jobs)}] {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    if pool:
        pool.shutdown()
    summary = summarise(runs, budgets, best_valid)
    text = markdown(summary, controllers, datasets, budgets)
    n_runs = args.seeds * len(datasets)
    timing = ", ".join(f"{c} {seconds[c] / (n_runs * budgets[-1]) * 1000:.1f} ms/query" for c in controllers)
    text += f"\n\nSearch cost per query (ask + look-up + tell, in-memory study): {timing}"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write(out, json.dumps({"datasets": datasets, "budgets": budgets, "seeds": args.seeds,
                               "controllers": controllers, "best_valid": best_valid, "summary": summary,
                               "seconds": seconds, "runs": runs, "markdown": text, "pid": os.getpid()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
