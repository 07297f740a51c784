"""``autogt bank``: look into, fill and share the task-model bank.

Example:
    $ autogt bank import nasbench --datasets cora,citeseer
    $ autogt bank list
    $ autogt bank show nasbench/cora --top 5 --json
    $ autogt bank similar nasbench/cora --k 3
    $ autogt bank export bank.csv && autogt bank --bank postgresql://host/db import bank.csv

Python equivalent::

    bank = autogt.Bank(url)            # url: --bank, else $AUTOGT_BANK, else ~/.autogt/bank.db
    bank.tasks(); bank.results("nasbench/cora", best=5); bank.similar("nasbench/cora", k=3)
    bank.export("bank.csv"); bank.import_("bank.csv")
"""

from __future__ import annotations

import argparse
from typing import Any

from autogt.cli._common import CLIError, add_json_arg, emit_json, print_table

__all__ = ["add_parser", "run"]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bank", default=None, metavar="URL",
                   help="SQLAlchemy URL or SQLite file (default: $AUTOGT_BANK, else ~/.autogt/bank.db)")
    p.add_argument("--no-shipped", action="store_true", help="ignore the records shipped with autogt")
    add_json_arg(p)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("bank", help="inspect, import and export the task-model bank",
                              description="The bank of tasks, designs and results that priors are built from.")
    sub = p.add_subparsers(dest="bank_command", metavar="ACTION")
    q = sub.add_parser("list", help="tasks with their result counts and best validation value")
    _common(q)
    q = sub.add_parser("show", help="one task: meta-features and its best results")
    q.add_argument("task")
    q.add_argument("--top", type=int, default=10, help="best results to show (default: 10)")
    _common(q)
    q = sub.add_parser("import", help="import NAS-Bench-Graph ('nasbench') or a CSV/JSONL/parquet bank file")
    q.add_argument("source", help="'nasbench' or a file")
    q.add_argument("--datasets", default=None, help="NAS-Bench-Graph data sets, comma-separated (default: all 9)")
    _common(q)
    q = sub.add_parser("export", help="write the bank to a CSV / JSONL / parquet file")
    q.add_argument("file")
    q.add_argument("--tasks", default=None, help="only these tasks, comma-separated")
    q.add_argument("--include-shipped", action="store_true", help="include the shipped records")
    _common(q)
    q = sub.add_parser("similar", help="the bank tasks most similar to TASK")
    q.add_argument("task")
    q.add_argument("--k", type=int, default=5, help="how many (default: 5)")
    q.add_argument("--method", default="auto", help="auto, meta, anchors or embedding:NAME (default: auto)")
    _common(q)
    return p


def _open(args: argparse.Namespace) -> Any:
    from autogt.bank import Bank

    try:
        return Bank(args.bank, shipped=not args.no_shipped)
    except Exception as exc:  # bad URL, missing driver, unreachable server
        raise CLIError(f"cannot open bank {args.bank or '(default)'}: {exc}") from exc


def _split(text: str | None) -> list[str] | None:
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


def run(args: argparse.Namespace) -> int:
    from autogt.bank import BankError

    action = getattr(args, "bank_command", None)
    if not action:
        raise CLIError("bank: choose an action: list, show, import, export, similar")
    try:
        return _ACTIONS[action](args)
    except BankError as exc:
        raise CLIError(str(exc)) from exc


def _list(args: argparse.Namespace) -> int:
    bank = _open(args)
    counts = bank.counts()
    rows = []
    for t in bank.tasks():
        top = bank.results(t, best=1)
        rows.append({"name": t.name, "kind": t.kind, "metric": t.metric, "results": counts.get(t.name, 0),
                     "best_val": top[0].val if top else None, "source": t.source, "fingerprint": t.fingerprint})
    if args.json:
        emit_json({"bank": bank.url, "tasks": rows})
    elif rows:
        print_table(rows)
    else:
        print(f"bank {bank.url} is empty")
    return 0


def _design_row(rec: Any) -> dict[str, Any]:
    r, d = rec.result, rec.design
    return {"design": d.hash, "key": d.key, "space": d.space, "val": r.val, "test": r.test, "seed": r.seed,
            "fidelity": r.fidelity, "num_params": r.num_params, "latency_ms": r.latency_ms, "device": r.device,
            "source": r.source}


def _show(args: argparse.Namespace) -> int:
    bank = _open(args)
    task = bank.task(args.task)
    top = bank.results(task, best=max(args.top, 0))
    n = bank.counts().get(task.name, 0)
    if args.json:
        emit_json({"task": task.to_dict(), "results": n, "top": [_design_row(r) | {"spec": r.design.spec_json}
                                                                 for r in top]})
        return 0
    print(f"task {task.name}: {task.level} {task.kind}, metric {task.metric or '?'}, {n} results, "
          f"fingerprint {task.fingerprint or '-'}")
    if task.meta:
        print("meta: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(task.meta.items())))
    if task.embeddings:
        print("embeddings: " + ", ".join(f"{k} ({len(v)})" for k, v in task.embeddings.items()))
    if top:
        print_table([{k: v for k, v in _design_row(r).items() if k in ("design", "key", "val", "test", "num_params",
                                                                         "latency_ms", "seed", "fidelity")}
                     for r in top])
    return 0


def _import(args: argparse.Namespace) -> int:
    bank = _open(args)
    if args.source == "nasbench":
        from autogt.bank._nasbench import import_nasbench, task_name

        added = {task_name(d): n for d, n in import_nasbench(bank, _split(args.datasets)).items()}
    else:
        if args.datasets:
            raise CLIError("--datasets only applies to 'import nasbench'")
        added = {args.source: bank.import_(args.source)}
    total = sum(added.values())
    if args.json:
        emit_json({"bank": bank.url, "imported": added, "total": total})
    else:
        for name, n in added.items():
            print(f"{name}: {n} new results")
        print(f"{total} new results in {bank.url}")
    return 0


def _export(args: argparse.Namespace) -> int:
    bank = _open(args)
    rows = bank.export(args.file, tasks=_split(args.tasks), include_shipped=args.include_shipped)
    if args.json:
        emit_json({"bank": bank.url, "path": args.file, "rows": rows})
    else:
        print(f"wrote {rows} rows to {args.file}")
    return 0


def _similar(args: argparse.Namespace) -> int:
    bank = _open(args)
    pairs = bank.similar(args.task, k=args.k, method=args.method)
    if args.json:
        emit_json({"task": args.task, "method": args.method, "similar": [[t.name, s] for t, s in pairs]})
    elif pairs:
        print_table([{"task": t.name, "similarity": s, "kind": t.kind, "metric": t.metric} for t, s in pairs])
    else:
        print(f"no other tasks in {bank.url}")
    return 0


_ACTIONS = {"list": _list, "show": _show, "import": _import, "export": _export, "similar": _similar}
