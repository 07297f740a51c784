"""``autogt worker``: run trials of an existing study; start one per core, GPU or machine.

Example:
    $ autogt search --data nasbench:cora --space nasbench_graph --trials 100 --timeout 0 \\
          --storage postgresql://db/autogt --study cora
    $ autogt worker --study cora --storage postgresql://db/autogt --bank postgresql://db/bank   # on each machine
    {"study": "cora", "budget": 100, "spent": 100, "complete": 100, ...}   (with --json)

The search arguments (data, space, controller, epochs, objectives, seed) are read from the study, so a
worker needs only its name and storage. ``--trials N`` is the study's total budget shared by all workers.
A worker that cannot reach the storage retries with backoff and exits 1 with a one-line message.

Python equivalent::

    autogt.distributed.run_worker("cora", "postgresql://db/autogt", bank="postgresql://db/bank")
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from autogt.cli._common import CLIError, add_json_arg, emit_json, fail

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "worker",
        help="run trials of an existing study (many processes or machines share one study)",
        description="Join STUDY in STORAGE and run trials until the study holds its budget; the search "
                    "arguments are read from the study. Start any number of workers anywhere.",
    )
    p.add_argument("--study", required=True, help="study name (as printed by autogt search)")
    p.add_argument("--storage", required=True,
                   help="Optuna storage: postgresql://..., sqlite:///PATH or journal:PATH (file + lock)")
    p.add_argument("--bank", default=None, help="bank URL to write every completed trial to (default: none)")
    p.add_argument("--trials", type=int, default=None,
                   help="total budget of the study, shared by all workers (default: the study's)")
    p.add_argument("--timeout", type=float, default=None, help="stop starting trials after SECONDS")
    p.add_argument("--device", default=None, help="device for training and latency (default: cpu)")
    p.add_argument("--out", default=None, help="run folder for checkpoints (default: runs/search-<study>)")
    p.add_argument("--retries", type=int, default=8,
                   help="storage errors in a row before giving up with exit code 1 (default: 8)")
    p.add_argument("--backoff", type=float, default=0.5, help=argparse.SUPPRESS)  # first retry wait, doubling
    p.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)  # wait while others hold the rest
    p.add_argument("--orphan-grace", type=float, default=None, help=argparse.SUPPRESS)  # s before ownerless trials fail
    p.add_argument("--tabular-delay", type=float, default=0.0, help=argparse.SUPPRESS)  # tests: slow look-ups
    add_json_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    import optuna

    from autogt.controllers import SearchError
    from autogt.distributed import WorkerError, run_worker
    from autogt.spaces import SpaceError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.trials is not None and args.trials < 1:
        raise CLIError(f"--trials: must be >= 1, got {args.trials}")
    if args.retries < 0:
        raise CLIError(f"--retries: must be >= 0, got {args.retries}")
    try:
        result = run_worker(args.study, args.storage, bank=args.bank, trials=args.trials, timeout=args.timeout,
                            device=args.device, out=args.out, retries=args.retries, backoff_s=args.backoff,
                            poll_s=args.poll, tabular_delay=args.tabular_delay,
                            orphan_grace_s=args.orphan_grace)
    except WorkerError as exc:
        return fail(str(exc), code=1)
    except KeyError as exc:  # optuna: no such study
        raise CLIError(f"--study: no study {args.study!r} in {args.storage}") from exc
    except (SearchError, SpaceError, ImportError, ValueError) as exc:
        raise CLIError(str(exc)) from exc
    if args.json:
        emit_json(result.to_dict())
        return 0
    print(f"study    {result.study}  ({result.spent}/{result.budget} spent, {result.complete} complete, "
          f"{result.failed} failed)", file=sys.stdout)
    print(f"worker   ran {result.ran} trials, banked {result.banked}, reconnects {result.reconnects}, "
          f"recovered {result.recovered or '-'}  (stopped: {result.reason})")
    return 0
