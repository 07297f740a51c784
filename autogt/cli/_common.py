"""Shared argument groups and output helpers for CLI commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from autogt._json import json_safe

__all__ = ["CLIError", "fail", "add_data_args", "add_json_arg", "emit_json", "task_from_args", "print_table"]

BUNDLED = ("bbbp", "bace", "hiv", "esol", "freesolv", "tox21", "cora", "citeseer")


class CLIError(Exception):
    """Bad user input: printed as one line on stderr, exit code 2."""


def fail(message: str, code: int = 2) -> int:
    first = str(message).strip().splitlines()[0] if str(message).strip() else "error"
    print(f"autogt: error: {first}", file=sys.stderr)
    return code


def add_data_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    """DATA and the flags every command that takes DATA accepts."""
    p.add_argument("--data", required=required,
                   help=f"bundled name ({' '.join(BUNDLED)}) or a CSV of SMILES")
    p.add_argument("--smiles-col", default="smiles", help="SMILES column of a CSV (default: smiles)")
    p.add_argument("--label", default=None, help="label column(s), comma-separated (default: every other column)")
    p.add_argument("--split", choices=("scaffold", "random"), default=None,
                   help="split (default: scaffold for classification, random for regression, public for Planetoid)")
    p.add_argument("--task-kind", choices=("binary", "multilabel", "multiclass", "regression"), default=None,
                   help="override the inferred task kind")


def add_json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")


def task_from_args(args: argparse.Namespace, *, seed: int = 0) -> Any:
    """Load the Task named by ``--data`` and friends; bad input raises CLIError."""
    from autogt.data import load_task
    from autogt.data.task import TaskError

    labels = [c.strip() for c in args.label.split(",") if c.strip()] if getattr(args, "label", None) else None
    try:
        return load_task(args.data, split=args.split, seed=seed, smiles_col=args.smiles_col, labels=labels,
                         kind=getattr(args, "task_kind", None))
    except (TaskError, FileNotFoundError, KeyError, ValueError) as exc:
        raise CLIError(str(exc)) from exc


def emit_json(obj: dict[str, Any]) -> None:
    """Print one JSON object (NaN/inf become null) on stdout."""
    print(json.dumps(json_safe(obj), sort_keys=False))


def print_table(rows: list[dict[str, Any]], file: Any = None) -> None:
    """Print rows as an aligned text table (keys of the first row are the columns)."""
    if not rows:
        return
    cols = list(rows[0])

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "-" if v is None else str(v)

    cells = [[fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    out = file or sys.stdout
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)), file=out)
