"""Build the bank records shipped with autogt (``bank/*.csv.gz``) from real searches. NOT run in CI.

For every bundled data set (``--data``) and search space (``--spaces``) this runs ``autogt.search`` with
``--trials`` trials of ``--epochs`` epochs, copies every finished trial (spec, parameters, metrics, cost,
seed, fidelity) into a scratch bank, adds the task with its meta-features and its anchor-model Fisher
embedding, and finally exports the scratch bank to ``--out`` (one file, read-only at run time: every
``Bank()`` sees it through its shipped-records overlay).

It needs many real trainings (on CPU: days for the defaults; use ``--device cuda``). Re-running is
safe: searches resume from their study, bank writes are idempotent.

Usage::

    python benchmarks/build_bank.py --device cuda                        # everything
    python benchmarks/build_bank.py --data bbbp,esol --spaces gnn --trials 20 --epochs 30
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_DATA = ("bbbp", "bace", "esol", "freesolv", "tox21", "hiv", "cora", "citeseer")
DEFAULT_SPACES = ("gnn", "gps", "transformer")


def copy_study(bank: Any, task: Any, study_name: str, storage: str, space: Any, *, seed: int, budget: Any,
               device: str) -> int:
    """Copy the finished trials of one search into ``bank``; returns the number of new results."""
    import optuna
    from optuna.trial import TrialState

    from autogt.bank import BankDesign, BankRecord, BankResult, BankTask
    from autogt.controllers.search import TrialSummary

    study = optuna.load_study(study_name=study_name, storage=storage)
    records = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)):
        if not t.user_attrs.get("spec"):
            continue
        summary = TrialSummary.from_trial(t)  # val, test and cost as OptunaController.tell stored them
        m = summary.metrics
        design = BankDesign.from_spec(summary.spec, space=space.name, params=summary.params)
        status = {TrialState.COMPLETE: "ok", TrialState.PRUNED: "pruned"}.get(t.state, "failed")
        result = BankResult(
            task=task.name, design=design.hash, seed=seed, fidelity=_fidelity(budget), status=status,
            metric=m.get("metric") or task.metric, val=summary.val, test=summary.test,
            num_params=m.get("params"), flops=m.get("flops"), latency_ms=m.get("latency_ms"),
            device=device, source=f"search:{space.name}",
            metrics={k: m.get(k) for k in ("epochs", "train_time_s") if m.get(k) is not None},
        )  # fmt: skip
        records.append(BankRecord(result=result, design=design))
    bank.add_task(BankTask.from_task(task, source="build_bank"))
    return bank.add_records([], records)


def _fidelity(budget: Any) -> str:
    from autogt.bank import fidelity_key

    return fidelity_key(budget)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=",".join(DEFAULT_DATA))
    p.add_argument("--spaces", default=",".join(DEFAULT_SPACES))
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--work", default="runs/build_bank", help="search folders and the scratch bank")
    p.add_argument("--out", default="bank/autogt_searches.csv.gz", help="the shipped file to write")
    p.add_argument("--scratch", default=None, help="the scratch bank (default: <work>/bank.db)")
    p.add_argument("--no-embeddings", action="store_true", help="skip the anchor-model Fisher embeddings")
    p.add_argument("--min-results", type=int, default=40,
                   help="export only tasks with at least this many results (an unfinished task stays out)")
    p.add_argument("--export-only", action="store_true", help="no searches: export the scratch bank to --out")
    args = p.parse_args(argv)

    from autogt.bank import Bank, anchor_embedding
    from autogt.controllers import search
    from autogt.data import load_task
    from autogt.spaces import load_space
    from autogt.train import Budget

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    bank = Bank(args.scratch or work / "bank.db", shipped=False)
    budget = Budget(epochs=args.epochs, patience=args.patience)
    summary: dict[str, Any] = {}
    for name in [] if args.export_only else [d.strip() for d in args.data.split(",") if d.strip()]:
        task = load_task(name, seed=args.seed)
        if not args.no_embeddings:
            t = time.perf_counter()
            vec = anchor_embedding(task, device=args.device, seed=args.seed)
            bank.add_task(task, embeddings={"fisher": vec.tolist()}, source="build_bank")
            print(f"{name}: fisher embedding in {time.perf_counter() - t:.0f}s", file=sys.stderr)
        for space_name in [s.strip() for s in args.spaces.split(",") if s.strip()]:
            space = load_space(space_name)
            result = search(task, space, trials=args.trials, budget=budget, seed=args.seed, device=args.device,
                            out=work / f"{name}-{space_name}", progress=True, report=False,
                            prior="none", bank=False)  # plain TPE: the records must not depend on the bank
            added = copy_study(bank, task, result.study, result.storage, space, seed=args.seed, budget=budget,
                               device=args.device)
            summary[f"{name}/{space_name}"] = {"trials": result.trials, "new_results": added,
                                               "best_val": result.best.val if result.best else None}
            print(f"{name}/{space_name}: {added} new results", file=sys.stderr)
    counts = bank.counts()
    done = sorted(t for t, c in counts.items() if c >= args.min_results)
    for t in sorted(set(counts) - set(done)):
        print(f"{t}: {counts[t]} results < --min-results {args.min_results}; not exported", file=sys.stderr)
    summary["exported_tasks"] = {t: counts[t] for t in done}
    summary["exported_rows"] = bank.export(args.out, tasks=done)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
