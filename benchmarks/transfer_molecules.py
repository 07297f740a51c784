"""Transfer priors on the bundled molecular tasks, leave one task out, with the shipped bank.

For each target task (``--tasks``), a bank is made of the shipped records (``--bank-file``, written by
``benchmarks/build_bank.py``) of every *other* task, and a ``--trials``-trial ``autogt search`` with
``prior="bank"`` runs on the target (gps space, ``--epochs`` epochs per trial, seed ``--seed``: the
protocol the shipped records were built with). The reference is plain TPE with ``--tpe-trials`` trials
under the same protocol: the first ``--tpe-trials`` spent trials of the plain-TPE study that
``build_bank.py`` ran on the target (``--tpe-from``; the same seed, sampler, budget and protocol, prior
off), or, with ``--run-tpe``, a fresh plain search.

Figure per task: the test metric of the trial with the best validation value within the budget.
Summary: the relative difference of that test metric, prior over TPE@N, sign-adjusted so that positive
means the prior search did better (higher ROC-AUC, lower RMSE), averaged over tasks.

Usage::

    nice python benchmarks/transfer_molecules.py --tasks esol,freesolv,bace,bbbp
    python benchmarks/transfer_molecules.py --merge a.json b.json --out all.json    # one table of several runs

Prints Markdown tables and writes ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LOWER_IS_BETTER = ("rmse", "mae")


def bank_without(bank_file: Path, target: str, work: Path) -> tuple[Any, list[str]]:
    """A SQLite bank holding the records of ``bank_file`` except ``target``'s (and not the shipped
    records); returns (the open bank, its tasks)."""
    from autogt.bank import Bank

    full = Bank(f"sqlite:///{work / 'all.db'}", shipped=False)
    if not full.counts():
        full.import_(bank_file)
    counts = full.counts()
    others = [t.name for t in full.tasks() if t.name != target and counts.get(t.name, 0) > 0]
    part = work / f"without-{target}.csv"
    full.export(part, tasks=others)
    bank = Bank(f"sqlite:///{work / f'without-{target}.db'}", shipped=False)  # this file only, no overlay
    if not bank.counts():
        bank.import_(part)
    assert target not in bank.counts(), "the target task leaked into its own bank"
    return bank, others


def best_of(trials: list[dict[str, Any]], n: int, lower: bool) -> dict[str, Any] | None:
    """The trial with the best validation value among the first ``n`` (trials in the order they ran)."""
    ok = [t for t in trials[:n] if t.get("val") is not None and t.get("test") is not None]
    if not ok:
        return None
    return min(ok, key=lambda t: t["val"]) if lower else max(ok, key=lambda t: t["val"])


def study_trials(storage: str, study: str) -> list[dict[str, Any]]:
    """Spent trials (complete, pruned or failed) of an Optuna study in the order they ran, as
    :class:`~autogt.controllers.search.TrialSummary` dicts (``number``, ``val``, ``test``, ``params``...)."""
    import optuna
    from optuna.trial import TrialState

    from autogt.controllers.search import TrialSummary

    s = optuna.load_study(study_name=study, storage=storage)
    spent = [t for t in s.get_trials(deepcopy=False) if t.state in (TrialState.COMPLETE, TrialState.PRUNED,
                                                                      TrialState.FAIL)]
    return [TrialSummary.from_trial(t).to_dict() for t in sorted(spent, key=lambda t: t.number)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default="esol,freesolv,bace,bbbp,tox21")
    p.add_argument("--bank-file", default="bank/autogt_searches.csv.gz")
    p.add_argument("--trials", type=int, default=10, help="trials of the prior search")
    p.add_argument("--tpe-trials", type=int, default=30, help="trials of the plain-TPE reference")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tpe-from", default="runs/build_bank", help="build_bank.py work folder with the TPE studies")
    p.add_argument("--run-tpe", action="store_true", help="run a fresh plain-TPE search instead")
    p.add_argument("--work", default="runs/transfer_molecules")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="no searches: print the table of earlier outputs of this script (one row per task)")
    p.add_argument("--out", default="benchmarks/out/transfer_molecules.json")
    args = p.parse_args(argv)
    if args.merge:
        runs = [json.loads(Path(f).read_text()) for f in args.merge]
        rows = [{"seed": run["config"]["seed"], **r} for run in runs for r in run["rows"]]
        keys = ("trials", "tpe_trials", "epochs")
        if any({k: run["config"][k] for k in keys} != {k: runs[0]["config"][k] for k in keys} for run in runs):
            raise SystemExit("--merge: the runs differ in trials, tpe-trials or epochs")
        seen = [(r["task"], r["seed"]) for r in rows]
        if len(set(seen)) != len(seen):
            raise SystemExit("--merge: a (task, seed) appears in more than one run")
        merged = {"config": runs[0]["config"], "merged": args.merge, "rows": rows}
        Path(args.out).write_text(json.dumps(merged, indent=1))
        print(markdown(rows, argparse.Namespace(**runs[0]["config"])))
        return 0

    import optuna

    from autogt.controllers import search
    from autogt.data import load_task
    from autogt.train import Budget

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    budget = Budget(epochs=args.epochs, patience=args.patience)
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for name in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        task = load_task(name, seed=args.seed)
        lower = task.metric in LOWER_IS_BETTER
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            bank, others = bank_without(Path(args.bank_file), task.name, Path(tmp))
            prior_run = search(task, "gps", trials=args.trials, budget=budget, seed=args.seed,
                               out=work / f"{name}-prior", progress=True, report=False, prior="bank", bank=bank)
            bank.close()
        prior_trials = study_trials(prior_run.storage, prior_run.study)
        if args.run_tpe:
            tpe_run = search(task, "gps", trials=args.tpe_trials, budget=budget, seed=args.seed,
                             out=work / f"{name}-tpe", progress=True, report=False, prior="none", bank=False)
            tpe_trials = study_trials(tpe_run.storage, tpe_run.study)
        else:
            db = Path(args.tpe_from) / f"{name}-gps" / "study.db"
            if not db.exists():
                raise SystemExit(f"{db}: no plain-TPE study for {name}; run build_bank.py or pass --run-tpe")
            tpe_trials = study_trials(f"sqlite:///{db.resolve()}", f"{name}-gps-tpe-s{args.seed}")
        if len(tpe_trials) < args.tpe_trials:
            raise SystemExit(f"{name}: the TPE study holds {len(tpe_trials)} spent trials < {args.tpe_trials}")
        picks = {"prior": best_of(prior_trials, args.trials, lower),
                 "tpe_small": best_of(tpe_trials, args.trials, lower),
                 "tpe": best_of(tpe_trials, args.tpe_trials, lower)}
        row = {"task": name, "seed": args.seed, "metric": task.metric, "lower_is_better": lower, "bank_tasks": others,
               "prior_tasks": (prior_run.prior or {}).get("tasks", []),
               "prior_reliability": (prior_run.prior or {}).get("reliability", {}),
               **{k: ({"val": v["val"], "test": v["test"], "trial": v["number"]} if v else None)
                  for k, v in picks.items()}}
        if picks["prior"] and picks["tpe"]:
            a, b = picks["prior"]["test"], picks["tpe"]["test"]
            row["gain"] = (b - a) / abs(b) if lower else (a - b) / abs(b)
        rows.append(row)
        print(f"{name}: done in {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
        Path(args.out).write_text(json.dumps({"config": vars(args), "rows": rows}, indent=1))
    print(markdown(rows, args))
    return 0


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    def cell(x: dict[str, Any] | None) -> str:
        return "n/a" if x is None else f"{x['test']:.4f} (val {x['val']:.4f}, trial {x['trial']})"

    n, m = args.trials, args.tpe_trials
    seeds = sorted({r.get("seed", args.seed) for r in rows})
    lines = [f"Leave-one-task-out transfer on the shipped molecular bank (gps space, {args.epochs} epochs per trial, "
             f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}); test metric of the best-validation "
             "trial (a seed sets the sampler, the training seed and, for random splits, the split)", "",
             f"| task | seed | metric | prior@{n} | TPE@{n} | TPE@{m} | prior vs TPE@{m} | prior built from "
             "(similarity) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        gain = f"{100 * r['gain']:+.1f}%" if "gain" in r else "n/a"
        rel = r.get("prior_reliability") or {}
        used = ", ".join(f"{t} {s:.2f}" + (f" (rel. {rel[t]:.2f})" if t in rel else "")
                         for t, s in r["prior_tasks"]) or "(none)"
        lines.append(f"| {r['task']} | {r.get('seed', args.seed)} | {r['metric']} | {cell(r['prior'])} | "
                     f"{cell(r['tpe_small'])} | {cell(r['tpe'])} | {gain} | {used} |")
    gains = [r["gain"] for r in rows if "gain" in r]
    if gains:
        wins = sum(g >= 0 for g in gains)
        lines += ["", f"mean sign-adjusted relative difference, prior@{n} vs TPE@{m}: "
                  f"{100 * statistics.fmean(gains):+.2f}% over {len(gains)} runs (target >= 0); prior at least as "
                  f"good on {wins}/{len(gains)}"]
        if len(seeds) > 1:
            per_task: dict[str, list[float]] = {}
            for r in rows:
                if "gain" in r:
                    per_task.setdefault(r["task"], []).append(r["gain"])
            task_means = {t: statistics.fmean(g) for t, g in per_task.items()}
            lines.append("per task (mean over its seeds): " + ", ".join(
                f"{t} {100 * g:+.1f}% (n={len(per_task[t])})" for t, g in task_means.items())
                + f"; mean over tasks {100 * statistics.fmean(task_means.values()):+.2f}%")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
