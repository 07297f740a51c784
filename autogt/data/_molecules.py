"""SMILES CSV -> graph-level ``Task`` (featurize, cache, label, split, describe).

Example:
    >>> from autogt.data import load_task
    >>> task = load_task("bbbp")                                   # doctest: +SKIP
    >>> task.kind, task.metric, task.split_name, task.num_outputs  # doctest: +SKIP
    ('binary', 'rocauc', 'scaffold', 1)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autogt.data._cache import cache_path, file_digest, load_entry, save_entry
from autogt.data._featurize import ATOM_VOCAB, BOND_VOCAB, FEATURIZER_VERSION, featurize_many
from autogt.data._labels import prepare_labels, resolve_metric
from autogt.data._meta import fingerprint, label_meta, structure_meta
from autogt.data._splits import check_split, random_split, scaffold_split
from autogt.data._warn import DataWarning, warn
from autogt.data.task import Task, TaskError

__all__ = ["DataWarning", "MoleculeTable", "molecule_table", "molecules_task", "PROGRESS_THRESHOLD"]

PROGRESS_THRESHOLD = 5000
"""Show a progress bar when featurizing more molecules than this."""

_CACHE_FORMAT = "1"
_SHOW_SKIPPED = 5


@dataclass
class MoleculeTable:
    """Featurized molecules as concatenated tensors (what the cache stores), before task choices.

    Attributes:
        x, edge_index, edge_attr: concatenated graph tensors (``edge_index`` uses per-molecule node ids).
        num_nodes, num_edges: per-molecule sizes.
        y: ``float64 (G, T)`` raw labels, NaN for missing.
        smiles: the kept SMILES strings.
        scaffold_ids: ``long (G,)`` scaffold group of each molecule.
        rows: ``long (G,)`` the CSV data row each molecule came from (0-based, header excluded).
        label_names: target column names.
        skipped: number of rows that produced no graph; ``skipped_examples`` a few of them.
        key: content key of the source bytes + featurizer version + options.
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    edge_attr: torch.Tensor
    num_nodes: torch.Tensor
    num_edges: torch.Tensor
    y: torch.Tensor
    smiles: list[str]
    scaffold_ids: torch.Tensor
    rows: torch.Tensor
    label_names: tuple[str, ...]
    skipped: int
    skipped_examples: list[list[Any]]
    key: str
    from_cache: bool = False

    def to_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        encoded = [s.encode() for s in self.smiles]
        tensors = {
            "x": self.x.to(torch.uint8),
            "edge_index": self.edge_index.to(torch.int32),
            "edge_attr": self.edge_attr.to(torch.uint8),
            "num_nodes": self.num_nodes,
            "num_edges": self.num_edges,
            "y": self.y,
            "smiles_bytes": torch.frombuffer(bytearray(b"".join(encoded)) or bytearray(1), dtype=torch.uint8),
            "smiles_len": torch.tensor([len(e) for e in encoded], dtype=torch.long),
            "scaffold_ids": self.scaffold_ids,
            "rows": self.rows,
        }
        meta = {
            "format": _CACHE_FORMAT,
            "featurizer": FEATURIZER_VERSION,
            "key": self.key,
            "label_names": json.dumps(list(self.label_names)),
            "skipped": str(self.skipped),
            "skipped_examples": json.dumps(self.skipped_examples),
        }
        return tensors, meta

    @classmethod
    def from_tensors(cls, t: dict[str, torch.Tensor], meta: dict[str, str]) -> MoleculeTable:
        blob = t["smiles_bytes"].numpy().tobytes()
        ends = np.cumsum(t["smiles_len"].numpy())
        starts = ends - t["smiles_len"].numpy()
        smiles = [blob[a:b].decode() for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        table = cls(
            x=t["x"].long(),
            edge_index=t["edge_index"].long(),
            edge_attr=t["edge_attr"].long(),
            num_nodes=t["num_nodes"].long(),
            num_edges=t["num_edges"].long(),
            y=t["y"].double(),
            smiles=smiles,
            scaffold_ids=t["scaffold_ids"].long(),
            rows=t["rows"].long(),
            label_names=tuple(json.loads(meta["label_names"])),
            skipped=int(meta["skipped"]),
            skipped_examples=json.loads(meta["skipped_examples"]),
            key=meta["key"],
            from_cache=True,
        )
        table._check()
        return table

    def _check(self) -> None:
        g = len(self.smiles)
        ok = (
            self.num_nodes.numel() == g
            and self.num_edges.numel() == g
            and self.y.shape[0] == g
            and self.scaffold_ids.numel() == g
            and int(self.num_nodes.sum()) == self.x.shape[0]
            and int(self.num_edges.sum()) == self.edge_index.shape[1] == self.edge_attr.shape[0]
        )
        if not ok:
            raise ValueError("inconsistent cached molecule table")

    def graphs(self, y: torch.Tensor | None = None) -> list[Any]:
        """One PyG ``Data`` per molecule (tensors are views into the concatenated arrays).

        Args:
            y: ``(G, T)`` labels to attach (default: the raw labels as float32).
        """
        from torch_geometric.data import Data

        nn = self.num_nodes.tolist()
        ne = self.num_edges.tolist()
        xs = torch.split(self.x, nn)
        eis = torch.split(self.edge_index, ne, dim=1)
        eas = torch.split(self.edge_attr, ne)
        ys = torch.split(self.y.float() if y is None else y, 1)
        return [
            Data(x=x, edge_index=ei, edge_attr=ea, y=y, smiles=s)
            for x, ei, ea, y, s in zip(xs, eis, eas, ys, self.smiles, strict=True)
        ]


def _read_csv(path: Path) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(path, dtype=str)
    except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as exc:
        raise TaskError(f"cannot read {path} as CSV: {exc}") from exc


def _resolve_smiles_col(columns: Sequence[str], smiles_col: str, path: Path) -> str:
    if smiles_col in columns:
        return smiles_col
    lowered = {c.lower(): c for c in columns}
    if smiles_col.lower() in lowered:
        return lowered[smiles_col.lower()]
    raise TaskError(
        f"{path.name}: no SMILES column {smiles_col!r}; columns are {', '.join(map(str, columns))} "
        "(pass smiles_col=...)"
    )


def _label_matrix(df: Any, smiles_col: str, labels: Sequence[str] | None, path: Path) -> tuple[np.ndarray, list[str]]:
    import pandas as pd

    if labels is not None:
        missing = [c for c in labels if c not in df.columns]
        if missing:
            raise TaskError(
                f"{path.name}: no label column(s) {', '.join(map(repr, missing))}; "
                f"columns are {', '.join(map(str, df.columns))}"
            )
        cols = list(labels)
    else:
        cols = [c for c in df.columns if c != smiles_col]
    values: list[np.ndarray] = []
    kept: list[str] = []
    dropped: list[str] = []
    for c in cols:
        raw = df[c]
        num = pd.to_numeric(raw, errors="coerce")
        bad = raw.notna() & num.isna()
        if bad.any():
            if labels is not None:
                examples = raw[bad].head(3).tolist()
                raise TaskError(f"{path.name}: label column {c!r} has non-numeric values such as {examples}")
            dropped.append(str(c))
            continue
        values.append(num.to_numpy(dtype=np.float64))
        kept.append(str(c))
    if dropped:
        warn(f"{path.name}: ignoring non-numeric column(s) {', '.join(dropped)} (pass labels=[...] to choose targets)")
    if not kept:
        raise TaskError(f"{path.name}: no numeric label column besides {smiles_col!r} (pass labels=[...])")
    return np.stack(values, axis=1), kept


def _build_table(path: Path, smiles_col: str, labels: Sequence[str] | None, key: str) -> MoleculeTable:
    df = _read_csv(path)
    if len(df) == 0:
        raise TaskError(f"{path.name}: the file has no data rows")
    col = _resolve_smiles_col([str(c) for c in df.columns], smiles_col, path)
    y, names = _label_matrix(df, col, labels, path)
    smiles = [s if isinstance(s, str) else "" for s in df[col].tolist()]
    batch = featurize_many(smiles, progress=len(smiles) > PROGRESS_THRESHOLD, desc=f"featurizing {path.name}")
    ids: dict[str, int] = {}
    scaffold_ids = [ids.setdefault(s, len(ids)) for s in batch.scaffolds]
    return MoleculeTable(
        x=torch.from_numpy(batch.x),
        edge_index=torch.from_numpy(batch.edge_index),
        edge_attr=torch.from_numpy(batch.edge_attr),
        num_nodes=torch.from_numpy(batch.num_nodes),
        num_edges=torch.from_numpy(batch.num_edges),
        y=torch.from_numpy(y[batch.kept]) if len(batch.kept) else torch.zeros(0, y.shape[1], dtype=torch.float64),
        smiles=[smiles[i] for i in batch.kept.tolist()],
        scaffold_ids=torch.tensor(scaffold_ids, dtype=torch.long),
        rows=torch.from_numpy(batch.kept),
        label_names=tuple(names),
        skipped=len(batch.skipped),
        skipped_examples=[list(s) for s in batch.skipped[:_SHOW_SKIPPED]],
        key=key,
    )


def molecule_table(
    path: str | Path, *, smiles_col: str = "smiles", labels: Sequence[str] | None = None, cache: bool = True
) -> MoleculeTable:
    """Featurize a SMILES CSV (or fetch it from the cache) without making task choices.

    Args:
        path: CSV file (``.gz`` etc. are decompressed by pandas).
        smiles_col: SMILES column (matched case-insensitively if not found exactly).
        labels: target columns; ``None`` takes every numeric column except the SMILES one.
        cache: read/write the processed tensors under ``autogt._paths.cache_dir("data")``.

    Example:
        >>> table = molecule_table("data/moleculenet/freesolv.csv", labels=["freesolv"])  # doctest: +SKIP
        >>> len(table.smiles)                                                               # doctest: +SKIP
        642
    """
    from autogt._paths import cache_dir

    path = Path(path)
    if not path.is_file():
        raise TaskError(f"no such file: {path}")
    options = json.dumps({"smiles_col": smiles_col, "labels": None if labels is None else list(labels)})
    key = hashlib.sha256(f"{file_digest(path)}|{FEATURIZER_VERSION}|{_CACHE_FORMAT}|{options}".encode()).hexdigest()
    where = cache_path(cache_dir("data"), path, key) if cache else None
    if where is not None:
        entry = load_entry(where)
        if entry is not None:
            try:
                table = MoleculeTable.from_tensors(*entry)
                if table.key == key:
                    return table
            except (KeyError, ValueError, RuntimeError, UnicodeDecodeError, json.JSONDecodeError):
                pass
            warn(f"rebuilding inconsistent data cache {where.name}")
    table = _build_table(path, smiles_col, labels, key)
    if where is not None and table.smiles:
        save_entry(where, *table.to_tensors())
    return table


def _report_skipped(table: MoleculeTable, name: str) -> None:
    if not table.skipped:
        return
    examples = "; ".join(f"row {pos} {smi!r}: {why}" for pos, smi, why in table.skipped_examples)
    total = table.skipped + len(table.smiles)
    warn(f"{name}: skipped {table.skipped} of {total} molecules that give no graph (e.g. {examples})")


def molecules_task(
    path: str | Path,
    *,
    smiles_col: str = "smiles",
    labels: str | Sequence[str] | None = None,
    split: str | dict[str, Any] | None = None,
    seed: int = 0,
    kind: str | None = None,
    metric: str | None = None,
    name: str | None = None,
    cache: bool = True,
) -> Task:
    """Build a graph-level task from a SMILES CSV (see :func:`autogt.data.load_task`)."""
    path = Path(path)
    name = name or path.name.split(".")[0]
    if isinstance(labels, str):
        labels = [labels]
    table = molecule_table(path, smiles_col=smiles_col, labels=labels, cache=cache)
    _report_skipped(table, name)
    if not table.smiles:
        raise TaskError(f"{name}: no molecule could be featurized ({table.skipped} rows skipped)")
    kind, y, num_outputs, label_names = prepare_labels(table.y.numpy(), kind, table.label_names)
    metric = resolve_metric(kind, metric)
    graphs = table.graphs(torch.from_numpy(y))
    n = len(graphs)
    if split is None:
        split = "random" if kind == "regression" else "scaffold"
    if isinstance(split, str):
        if split == "scaffold":
            split_idx = scaffold_split(table.scaffold_ids.tolist())
        elif split == "random":
            split_idx = random_split(n, seed)
        else:
            raise TaskError(f"split: {split!r} is not allowed for molecules; choose one of scaffold, random")
        split_name = split
    else:
        split_idx, split_name = check_split(split, n), "custom"

    src = table.edge_index[0] + torch.repeat_interleave(
        torch.cumsum(table.num_nodes, 0) - table.num_nodes, table.num_edges
    )
    meta = structure_meta(table.num_nodes.numpy(), table.num_edges.numpy(), src.numpy())
    meta.update(label_meta(y, kind))
    meta.update(
        num_outputs=float(num_outputs),
        num_tasks=float(y.shape[1]),
        feature_dim=float(len(ATOM_VOCAB)),
        edge_dim=float(len(BOND_VOCAB)),
        num_skipped=float(table.skipped),
    )
    if kind == "multiclass":
        meta["num_classes"] = float(num_outputs)
    return Task(
        name=name,
        level="graph",
        kind=kind,  # type: ignore[arg-type]
        metric=metric,  # type: ignore[arg-type]
        num_outputs=num_outputs,
        node_dim=len(ATOM_VOCAB),
        edge_dim=len(BOND_VOCAB),
        graphs=graphs,
        split=split_idx,
        split_name=split_name,
        node_categorical=True,
        edge_categorical=True,
        atom_vocab=ATOM_VOCAB,
        bond_vocab=BOND_VOCAB,
        meta=meta,
        fingerprint=fingerprint(table.key, kind, split_name, split_idx),
        label_names=label_names,
    )
