"""A real search on bundled data, then the winner re-trained on 3 seeds next to the GIN baseline.

Runs the command a user would run (``autogt search --data DATA --space gps --trials N ...``, 2 CPU cores by
default) in a subprocess and times it, then re-trains the best architecture it found (best validation value)
with the foundation benchmark's protocol (``--final-epochs`` epochs, early stopping on validation with
``--patience``) on seeds 0, 1, 2 and reports the mean test metric next to the baseline built-in model
(``gin`` for classification, as in ``benchmarks/baselines.py``; ``gps`` for regression), trained here with
the same protocol and seeds unless ``--baseline-json`` gives the figures already measured by
``benchmarks/baselines.py``.

Usage::

    python benchmarks/real_search.py --data bbbp --trials 30 --epochs 20
    python benchmarks/real_search.py --data esol --trials 30 --epochs 30 --baseline gps

Prints a Markdown table and writes ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def run_search(args: argparse.Namespace, out_dir: Path) -> tuple[dict[str, Any], float]:
    cmd = ["autogt", "search", "--data", args.data, "--space", args.space, "--trials", str(args.trials),
           "--epochs", str(args.epochs), "--pruner", args.pruner, "--out", str(out_dir), "--seed", str(args.seed),
           "--json", "--no-progress"]
    if args.bank:
        cmd += ["--bank", args.bank, "--prior", "none"]
    else:
        cmd += ["--no-bank"]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"search failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout), wall


def retrain(spec: Any, data: str, seeds: list[int], epochs: int, patience: int) -> list[dict[str, Any]]:
    import autogt
    from autogt.train import Budget, evaluate

    task = autogt.load_task(data)
    out = []
    for seed in seeds:
        if task.split_name == "random":  # as benchmarks/baselines.py: the random split is re-drawn per seed
            task = autogt.load_task(data, seed=seed)
        r = evaluate(spec, task, Budget(epochs=epochs, patience=patience, latency_repeats=0), seed=seed)
        print(f"  seed {seed}: {r.status} val={r.val} test={r.test} epochs={r.epochs}", file=sys.stderr, flush=True)
        out.append(r.to_dict())
    return out


def _scaled(results: list[dict[str, Any]]) -> list[float]:
    scale = 100.0 if results and results[0]["metric"] in ("rocauc", "accuracy") else 1.0
    return [r["test"] * scale for r in results if r.get("test") is not None]


def sd(xs: list[float]) -> float:
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="bbbp")
    p.add_argument("--space", default="gps")
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--epochs", type=int, default=20, help="max epochs per search trial")
    p.add_argument("--pruner", default="median")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--final-epochs", type=int, default=100)
    p.add_argument("--patience", type=int, default=15)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--baseline", default="", help="built-in baseline spec (default: gin, gps for regression)")
    p.add_argument("--baseline-json", default="",
                   help="baselines.py output holding the baseline's runs, or an earlier output of this script")
    p.add_argument("--bank", default="", help="bank URL the search writes to (default: none)")
    p.add_argument("--out", default="")
    p.add_argument("--run-dir", default="", help="search output folder (default runs/real-search-DATA-SPACE-sSEED)")
    p.add_argument("--reuse", default="", metavar="JSON",
                   help="an earlier output of this script: take its search and winner re-runs, train only the "
                        "baseline (e.g. to compare one search against another baseline)")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    import autogt
    from autogt.models.spec import ArchSpec

    task = autogt.load_task(args.data)
    baseline = args.baseline or ("gps" if task.kind == "regression" else "gin")
    out_path = Path(args.out or f"benchmarks/out/real_search_{args.data}.json")
    run_dir = Path(args.run_dir or f"runs/real-search-{args.data}-{args.space}-s{args.seed}")
    seeds = list(range(args.seeds))
    if args.reuse:
        old = json.loads(Path(args.reuse).read_text())
        if old["args"]["data"] != args.data:
            raise SystemExit(f"--reuse: {args.reuse} is a search on {old['args']['data']}, not {args.data}")
        summary, wall, ours = old["search"], float(old["search_wall_s"]), old["winner_runs"]
        for key in ("space", "trials", "epochs", "pruner", "seed", "final_epochs", "patience"):
            setattr(args, key, old["args"][key])  # the table describes the search that was run
        spec = ArchSpec.from_dict(summary["best"]["spec"])
        print(f"reusing {args.reuse}: winner {spec.hash()}, {len(ours)} re-runs", file=sys.stderr)
    else:
        summary, wall = run_search(args, run_dir)
        spec = ArchSpec.from_dict(summary["best"]["spec"])
        print(f"search: {summary['trials']} trials in {wall:.0f} s; best val {summary['best']['val']}",
              file=sys.stderr)
        print(f"re-training the winner ({spec.hash()}):", file=sys.stderr)
        ours = retrain(spec, args.data, seeds, args.final_epochs, args.patience)
    base_runs: list[dict[str, Any]] = []
    if args.baseline_json:
        raw = json.loads(Path(args.baseline_json).read_text())
        if "baseline_runs" in raw:  # an earlier output of this script
            if raw["baseline"] != baseline or raw["args"]["final_epochs"] != args.final_epochs or \
                    raw["args"]["patience"] != args.patience:
                raise SystemExit(f"--baseline-json: {args.baseline_json} trained {raw['baseline']} for "
                                 f"{raw['args']['final_epochs']} epochs (patience {raw['args']['patience']}), "
                                 f"not {baseline} for {args.final_epochs} (patience {args.patience})")
            base_runs = raw["baseline_runs"]
        else:  # benchmarks/baselines.py output
            base_runs = next(v for k, v in raw["results"].items() if k.endswith(f"/{args.data}"))
    else:
        print(f"re-training the baseline {baseline}:", file=sys.stderr)
        base_runs = retrain(autogt.load_spec(baseline), args.data, seeds, args.final_epochs, args.patience)
    a, b = _scaled(ours), _scaled(base_runs)
    better = (statistics.fmean(a) < statistics.fmean(b)) if task.kind == "regression" else \
        (statistics.fmean(a) > statistics.fmean(b))
    table = "\n".join([
        f"| data | search | wall | winner | params | test {task.metric} (winner, {len(a)} seeds) | "
        f"{baseline} baseline | beats baseline |",
        "|---|---|---|---|---|---|---|---|",
        f"| {args.data} | {args.space}, {summary['trials']} trials x <= {args.epochs} epochs, {args.pruner} pruner | "
        f"{wall / 60:.1f} min | {spec.hash()} | {ours[0]['params']:,} | {statistics.fmean(a):.3f} ± {sd(a):.3f} | "
        f"{statistics.fmean(b):.3f} ± {sd(b):.3f} | {'yes' if better else 'no'} |",
    ])
    print(table)
    print("\nwinning spec:\n" + spec.to_yaml())
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({"args": vars(args), "search": summary, "search_wall_s": wall,
                                    "winner": spec.to_dict(), "winner_runs": ours, "baseline": baseline,
                                    "baseline_runs": base_runs, "markdown": table}, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
