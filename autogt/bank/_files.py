"""Reading and writing flat bank files: CSV, JSONL (optionally ``.gz``) and parquet.

Every format holds the same table (columns :data:`autogt.bank._records.ROW_COLUMNS`): one
``record=task`` row per task, one ``record=result`` row per result with its design. In CSV and
parquet the dict-valued columns are JSON text; in JSONL they are nested objects.

Example:
    >>> import tempfile, pathlib
    >>> from autogt.bank._records import BankTask
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tasks.csv"
    >>> write_rows(path, [task_row(BankTask(name="demo", meta={"nodes_mean": 3.0}))])
    1
    >>> read_rows(path)[0]["task"]
    'demo'
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from autogt.bank._records import ROW_COLUMNS, BankError, task_row

__all__ = ["SUFFIXES", "file_format", "read_rows", "write_rows", "shipped_files", "task_row"]

SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet")


def file_format(path: str | Path) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the file name; anything else raises :class:`BankError`."""
    name = str(path).lower()
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return suffix.lstrip(".").split(".")[0]
    raise BankError(f"{path}: unknown bank file type; use one of {', '.join(SUFFIXES)}")


def _open_text(path: Path, mode: str) -> IO[str]:
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, mode + "b"), encoding="utf-8", newline="")  # type: ignore[type-var]
    return open(path, mode, encoding="utf-8", newline="")


def _need_pyarrow() -> Any:
    try:
        import pandas as pd
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise BankError("parquet files need pyarrow: pip install pyarrow (or use .csv / .jsonl)") from exc
    return pd


def write_rows(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> int:
    """Write flat rows to ``path`` (format from its suffix); returns the number of rows."""
    path = Path(path)
    fmt = file_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    if fmt == "parquet":
        pd = _need_pyarrow()
        data = list(rows)
        frame = pd.DataFrame(data, columns=list(ROW_COLUMNS))
        for col in ("seed", "num_params"):
            frame[col] = frame[col].astype("Int64")
        frame.to_parquet(path, index=False)
        return len(data)
    with _open_text(path, "w") as fh:
        if fmt == "csv":
            writer = csv.DictWriter(fh, fieldnames=list(ROW_COLUMNS), extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
                n += 1
        else:
            for row in rows:
                fh.write(json.dumps(row, sort_keys=False, separators=(",", ":")) + "\n")
                n += 1
    return n


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read flat rows from a CSV, JSONL or parquet bank file."""
    path = Path(path)
    if not path.exists():
        raise BankError(f"{path}: no such file")
    fmt = file_format(path)
    if fmt == "parquet":
        pd = _need_pyarrow()
        frame = pd.read_parquet(path)
        frame = frame.astype(object).where(frame.notna(), None)
        return frame.to_dict("records")
    with _open_text(path, "r") as fh:
        if fmt == "csv":
            reader = csv.DictReader(fh)
            missing = {"task"} - set(reader.fieldnames or ())
            if missing:
                raise BankError(f"{path}: not a bank file (no 'task' column)")
            return list(reader)
        rows = []
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise BankError(f"{path}:{i}: invalid JSON: {exc}") from exc
        return rows


def shipped_files(folder: str | Path) -> list[Path]:
    """Bank files in ``folder`` (sorted), or ``[folder]`` when it is itself a bank file."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(SUFFIXES))
