"""``autogt report``: the HTML report of a search study (history, Pareto front, importances, best specs).

Example:
    $ autogt report --study nasbench:cora-nasbench_graph-tpe-s0 --storage sqlite:///runs/x/study.db --out r.html
    report written to r.html

Python equivalent::

    autogt.controllers.report("nasbench:cora-nasbench_graph-tpe-s0", "sqlite:///runs/x/study.db", "r.html")
"""

from __future__ import annotations

import argparse
from typing import Any

from autogt.cli._common import CLIError, add_json_arg, emit_json

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "report",
        help="write the HTML report of a search study",
        description="Write an HTML report (optimisation history, Pareto front, parameter importances, best specs) "
                    "of study NAME in storage URL.",
    )
    p.add_argument("--study", required=True, help="study name (printed by autogt search)")
    p.add_argument("--storage", required=True, help="Optuna storage URL, e.g. sqlite:///runs/search-x/study.db")
    p.add_argument("--out", required=True, help="HTML file to write")
    add_json_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    import optuna

    from autogt.controllers import report

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        path = report(args.study, args.storage, args.out)
    except KeyError as exc:  # optuna: no such study
        raise CLIError(f"study {args.study!r} not found in {args.storage}") from exc
    except (ValueError, ImportError) as exc:
        raise CLIError(str(exc)) from exc
    if args.json:
        emit_json({"study": args.study, "storage": args.storage, "report": str(path)})
    else:
        print(f"report written to {path}")
    return 0
