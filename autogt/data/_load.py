"""``load_task``: one entry point for bundled names, SMILES CSV files and PyG data.

Bundled data sets are registered under the registry kind ``dataset``; each registered object is a
callable ``loader(**options) -> Task`` taking ``load_task``'s keyword options.

Example:
    >>> from autogt.data import load_task
    >>> from autogt.registry import names
    >>> names("dataset")
    ['bace', 'bbbp', 'citeseer', 'cora', 'esol', 'freesolv', 'hiv', 'tox21']
    >>> task = load_task("freesolv")
    >>> task.kind, task.metric, task.split_name
    ('regression', 'rmse', 'random')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autogt._paths import resource
from autogt.data.task import Task, TaskError
from autogt.registry import UnknownNameError, get, names, register

__all__ = ["load_task", "BUNDLED", "BundledMolecules", "BundledPlanetoid", "UnknownDatasetError"]


class UnknownDatasetError(UnknownNameError, TaskError):
    """``load_task`` got a string that is neither an existing file nor a bundled data set name."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__("dataset", name, known)
        looks_like_path = any(sep in name for sep in ("/", os.sep)) or Path(name).suffix != ""
        what = "no such file" if looks_like_path else "not a file"
        self.args = (
            f"{name!r}: {what}, and not a bundled data set; known dataset names: {', '.join(known) or '(none)'}",
        )


@dataclass(frozen=True)
class BundledMolecules:
    """A bundled SMILES CSV under ``data/moleculenet``; call it with ``load_task`` options to get a ``Task``."""

    name: str
    file: str
    smiles_col: str
    labels: tuple[str, ...] | None
    description: str = ""

    @property
    def path(self) -> Path:
        return resource("data", "moleculenet", self.file)

    def __call__(self, **options: Any) -> Task:
        from autogt.data._molecules import molecules_task

        options.pop("normalize_features", None)
        options.setdefault("smiles_col", self.smiles_col)
        if options.get("labels") is None:
            options["labels"] = self.labels
        options["name"] = options.get("name") or self.name
        return molecules_task(self.path, **options)


@dataclass(frozen=True)
class BundledPlanetoid:
    """A bundled Planetoid graph under ``data/planetoid``; call it with ``load_task`` options."""

    name: str
    file: str
    description: str = ""

    @property
    def path(self) -> Path:
        return resource("data", "planetoid", self.file)

    def __call__(self, **options: Any) -> Task:
        from autogt.data._planetoid import planetoid_task

        for key in ("smiles_col", "labels", "cache"):
            options.pop(key, None)
        options["name"] = options.get("name") or self.name
        return planetoid_task(self.path, **options)


_TOX21 = (
    "NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma",
    "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53",
)  # fmt: skip

BUNDLED: tuple[BundledMolecules | BundledPlanetoid, ...] = (
    BundledMolecules("bbbp", "BBBP.csv", "smiles", ("p_np",), "blood-brain barrier penetration (binary)"),
    BundledMolecules("bace", "bace.csv", "mol", ("Class",), "BACE-1 inhibition (binary)"),
    BundledMolecules("hiv", "HIV.csv.gz", "smiles", ("HIV_active",), "HIV replication inhibition (binary)"),
    BundledMolecules("esol", "delaney.csv", "smiles", ("logp",), "ESOL log solubility in mol/L (regression)"),
    BundledMolecules("freesolv", "freesolv.csv", "smiles", ("freesolv",), "hydration free energy (regression)"),
    BundledMolecules("tox21", "tox21.csv", "smiles", _TOX21, "12 toxicity assays (multilabel, missing values)"),
    BundledPlanetoid("cora", "cora.npz", "Cora citation graph (node classification, 7 classes)"),
    BundledPlanetoid("citeseer", "citeseer.npz", "CiteSeer citation graph (node classification, 6 classes)"),
)

for _entry in BUNDLED:
    register("dataset", _entry.name, _entry)


def load_task(
    data: Any,
    *,
    split: str | dict[str, Any] | None = None,
    seed: int = 0,
    smiles_col: str = "smiles",
    labels: str | Sequence[str] | None = None,
    kind: str | None = None,
    metric: str | None = None,
    name: str | None = None,
    normalize_features: bool | None = None,
    cache: bool = True,
) -> Task:
    """Build a :class:`~autogt.data.task.Task` from a bundled name, a SMILES CSV or PyG data.

    Args:
        data: a bundled name (``bbbp bace hiv esol freesolv tox21 cora citeseer``, case-insensitive), a path
            to a CSV with a SMILES column, a PyG ``Data`` (node task), or a PyG ``Dataset`` / list of ``Data``
            (graph task; a one-graph collection whose graph has ``train_mask`` is a node task).
        split: ``scaffold`` or ``random`` (graph tasks), ``public`` or ``random`` (node tasks), or a dict of
            ``train``/``valid``/``test`` indices. ``None``: scaffold for classification molecules, random for
            regression and for graphs without SMILES, public for graphs with masks.
        seed: seed of random splits.
        smiles_col: SMILES column of a CSV (bundled sets know theirs).
        labels: target column(s) of a CSV; ``None`` takes every numeric non-SMILES column.
        kind: ``binary``/``multilabel``/``multiclass``/``regression``; inferred from the labels when ``None``.
        metric: ``rocauc``/``accuracy``/``rmse``/``mae``; ``None`` picks the kind's default.
        name: task name (default: bundled name or file stem).
        normalize_features: row-normalise node features (default: on for Cora/CiteSeer, off otherwise).
        cache: use the on-disk cache of featurized molecules.

    Returns:
        The task, with ``meta`` and ``fingerprint`` filled.

    Raises:
        TaskError: bad files, columns, labels or options; ``UnknownDatasetError`` (also a ``TaskError`` and
            the registry's ``UnknownNameError``) for a string that is neither a file nor a bundled name.

    Example:
        >>> task = load_task("bace", split="random", seed=1)
        >>> task.level, task.kind, task.split_name, task.atom_vocab[:2]
        ('graph', 'binary', 'random', (119, 5))
    """
    options: dict[str, Any] = dict(split=split, seed=seed, kind=kind, metric=metric, name=name)
    if isinstance(data, (str, os.PathLike)):
        text = os.fspath(data)
        path = Path(text).expanduser()
        if path.is_file():
            if path.suffix.lower() == ".npz":
                from autogt.data._planetoid import planetoid_task

                npz_options = {**options, "name": name or path.stem}
                return planetoid_task(path, normalize_features=normalize_features, **npz_options)
            from autogt.data._molecules import molecules_task

            return molecules_task(path, smiles_col=smiles_col, labels=labels, cache=cache, **options)
        if path.is_dir():
            raise TaskError(f"{text!r} is a folder; pass a CSV file or a bundled name ({', '.join(names('dataset'))})")
        key = text.strip().lower()
        if key not in names("dataset"):
            raise UnknownDatasetError(text, names("dataset"))
        extra: dict[str, Any] = {"labels": labels, "normalize_features": normalize_features, "cache": cache}
        if smiles_col != "smiles":
            extra["smiles_col"] = smiles_col
        return get("dataset", key)(**extra, **options)
    return _load_pyg(data, normalize_features=normalize_features, **options)


def _load_pyg(data: Any, *, normalize_features: bool | None, **options: Any) -> Task:
    from torch_geometric.data import Data, Dataset

    from autogt.data._pyg import graph_list_task, node_task

    normalize = bool(normalize_features)
    if isinstance(data, Data):
        return node_task(data, normalize_features=normalize, **options)
    if isinstance(data, Dataset) or isinstance(data, (list, tuple)):
        graphs = list(data)
        bad = [type(g).__name__ for g in graphs if not isinstance(g, Data)]
        if bad:
            raise TaskError(f"expected PyG Data objects, got {bad[0]}")
        if len(graphs) == 1 and getattr(graphs[0], "train_mask", None) is not None:
            return node_task(graphs[0], normalize_features=normalize, **options)
        if options.get("name") is None and isinstance(data, Dataset):
            options["name"] = type(data).__name__.lower()
        return graph_list_task(graphs, **options)
    raise TaskError(
        f"cannot make a task from {type(data).__name__}; pass a bundled name ({', '.join(names('dataset'))}), "
        "a CSV path, a PyG Data, a PyG Dataset or a list of Data"
    )
