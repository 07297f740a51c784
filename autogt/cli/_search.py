"""``autogt search``: search a space on a data set; resumable, with a progress bar and an HTML report.

Example:
    $ autogt search --data nasbench:cora --space nasbench_graph --trials 50 --json
    {"study": "nasbench:cora-nasbench_graph-tpe-s0", "storage": "sqlite:///...", "trials": 50,
     "best": {"spec": {...}, "val": 0.81, "test": 0.80, ...}, "pareto": [...], "checkpoint": null, "report": "..."}

Re-running the same command continues the same study and only runs the missing trials.

Python equivalent::

    result = autogt.search("nasbench:cora", "nasbench_graph", trials=50)
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from autogt.cli._common import CLIError, add_data_args, add_json_arg, emit_json, task_from_args
from autogt.cli._train import _elastic, add_elastic_args, elastic_requested

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "search",
        help="search a space of architectures on a data set",
        description="Search SPACE on DATA for N trials with a controller; re-running resumes the study. "
                    "DATA may also be nasbench:NAME (NAS-Bench-Graph look-ups, no training; use "
                    "--space nasbench_graph).",
    )
    add_data_args(p)
    p.add_argument("--space", required=True,
                   help="bundled space (gps gnn transformer nasbench_graph) or a YAML file")
    p.add_argument("--trials", type=int, required=True,
                   help="total trials of the study (a resumed study runs the rest)")
    p.add_argument("--timeout", type=float, default=None, help="stop starting trials after SECONDS")
    p.add_argument("--controller", default="tpe",
                   help="tpe (default), random, gp, cmaes, nsga2, nsga3 or nni:TUNER")
    p.add_argument("--epochs", type=int, default=100, help="maximum epochs per trial (default: 100)")
    p.add_argument("--objectives", default="metric",
                   help="comma-separated: metric[,latency|params|flops] (default: metric)")
    p.add_argument("--device", default=None, help="device for training and latency (default: cpu)")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: sqlite:///OUT/study.db)")
    p.add_argument("--study", default=None, help="study name (default: derived from the arguments)")
    p.add_argument("--seed", type=int, default=0, help="sampler and training seed (default: 0)")
    p.add_argument("--out", default=None, help="run folder (default: runs/search-<study>)")
    p.add_argument("--pruner", choices=("none", "median", "hyperband"), default="none",
                   help="stop bad trials early from per-epoch validation values (default: none)")
    p.add_argument("--prior", choices=("auto", "bank", "none"), default="auto",
                   help="transfer priors from similar bank tasks (default: auto = bank when it has similar tasks)")
    p.add_argument("--bank", default=None, help="bank URL (default: $AUTOGT_BANK or ~/.autogt/bank.db)")
    p.add_argument("--no-bank", action="store_true", help="neither read priors from nor write results to the bank")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--no-report", action="store_true", help="do not write report.html")
    add_elastic_args(p)
    p.add_argument("--tabular-delay", type=float, default=0.0, help=argparse.SUPPRESS)  # tests: slow look-ups
    add_json_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    import optuna

    from autogt.controllers import ControllerError, SearchError, search
    from autogt.controllers.tabular import parse_tabular
    from autogt.registry import UnknownNameError
    from autogt.spaces import SpaceError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.trials < 1:
        raise CLIError(f"--trials: must be >= 1, got {args.trials}")
    if args.epochs < 1:
        raise CLIError(f"--epochs: must be >= 1, got {args.epochs}")
    objectives = tuple(o.strip() for o in args.objectives.split(",") if o.strip())
    if elastic_requested(args) and parse_tabular(args.data):
        raise CLIError("--elastic: tabular look-ups (nasbench:NAME) train nothing; use a real data set")
    try:
        data = args.data if parse_tabular(args.data) else task_from_args(args, seed=args.seed)
        result = search(
            data, args.space, trials=args.trials, timeout=args.timeout, controller=args.controller,
            epochs=args.epochs, objectives=objectives, device=args.device, storage=args.storage, study=args.study,
            seed=args.seed, out=args.out, progress=not args.no_progress, pruner=args.pruner,
            tabular_delay=args.tabular_delay, report=not args.no_report, prior=args.prior,
            bank=False if args.no_bank else args.bank,
        )
    except (SpaceError, SearchError, ControllerError, UnknownNameError, ImportError) as exc:
        raise CLIError(str(exc)) from exc
    summary = result.to_dict()
    if elastic_requested(args) and result.best is not None and result.best.spec is not None:
        summary["elastic"] = _train_elastic(result, data, args)
    if args.json:
        emit_json(summary)
        return 0
    best = result.best
    print(f"study    {result.study}  ({result.trials} trials)")
    print(f"storage  {result.storage}")
    if best is None:
        print("no trial completed", file=sys.stderr)
        return 1
    values = ", ".join(f"{name}={v:.4g}" for name, v in zip(result.objectives, best.values, strict=True))
    print(f"best     trial {best.number}: {values}  (val {best.val}, test {best.test})")
    if len(result.pareto) > 1:
        print(f"pareto   {len(result.pareto)} trials: {', '.join(str(t.number) for t in result.pareto)}")
    print(f"spec     {best.spec.to_json() if best.spec else '-'}")
    print(f"checkpoint {result.checkpoint or '- (tabular data: no training)'}")
    print(f"results  {result.results}")
    print(f"report   {result.report or '-'}")
    if "elastic" in summary:
        e = summary["elastic"]
        print(f"elastic  {e['status']}: val {e['val']}, test {e['test']}, granularities {e['granularities']}")
        print(f"         checkpoint {e['checkpoint']}")
    if result.prior and result.prior.get("tasks"):
        rel = result.prior.get("reliability") or {}
        used = ", ".join(f"{n} ({s:.2f}" + (f", reliability {rel[n]:.2f})" if n in rel else ")")
                         for n, s in result.prior["tasks"])
        print(f"prior    from bank tasks: {used}")
    return 0


def _train_elastic(result: Any, task: Any, args: argparse.Namespace) -> dict[str, Any]:
    """``--elastic``: re-train the winner with nested FFNs (full ``--epochs`` budget) next to the search."""
    from pathlib import Path

    from autogt.controllers.search import default_out, split_device
    from autogt.train import Budget, evaluate

    spec, step = _elastic(result.best.spec, args)
    out = (Path(result.results).parent if result.results else default_out(result.study)) / "elastic"
    device, _profile = split_device(args.device)
    print(f"autogt: training the winner elastic ({', '.join(f'{f:g}' for f in spec.elastic)}) into {out}",
          file=sys.stderr)
    r = evaluate(spec, task, Budget(epochs=args.epochs), seed=args.seed, device=device, out_dir=out,
                 progress=not args.no_progress, step_loss=step)
    return {"status": r.status, "val": r.val, "test": r.test, "granularities": list(spec.elastic),
            "mode": step.mode, "distill": step.distill, "spec": spec.to_dict(), "checkpoint": r.checkpoint,
            "reason": r.reason}
