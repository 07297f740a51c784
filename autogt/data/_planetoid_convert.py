"""One-time converter: the bundled raw Planetoid ``ind.*`` pickles -> plain ``.npz`` arrays.

Run once when copying the data into the project (the runtime loader only reads the ``.npz``)::

    python -m autogt.data._planetoid_convert --src /work/shared/data/planetoid --dst data/planetoid

The raw files are the pickles published with the GCN paper's code. They are read here, and only here,
with an unpickler that refuses every class except the handful those files use (NumPy arrays, SciPy CSR
matrices, ``defaultdict``/``list``). The result follows PyG's ``Planetoid`` loader (``read_planetoid_data``):

- ``x = vstack(allx, tx)``, ``y = argmax(vstack(ally, ty))``; the test rows are stored in ``test.index`` order
  in the files, so rows ``test_index`` are filled from the rows at ``sorted(test_index)``;
- CiteSeer has 15 isolated test nodes missing from ``tx``/``ty``: ``tx``/``ty`` are extended to the full
  ``min..max(test_index)`` range with zero rows (zero features, label 0, never in a split);
- edges come from the adjacency dict, self loops removed, duplicates merged (the dict is symmetric);
- public split: train = first ``len(y)`` nodes, valid = the next 500, test = ``test.index``.

Stored arrays: ``x`` float32 ``[N, F]`` (raw 0/1 features, not normalised), ``edge_index`` int64 ``[2, E]``
sorted by (row, col), ``y`` int64 ``[N]``, ``train_index``/``val_index``/``test_index`` int64 (sorted).
"""

from __future__ import annotations

import argparse
import importlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["read_raw", "convert"]

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "numpy.core.multiarray"),
    ("numpy", "ndarray"): ("numpy",),
    ("numpy", "dtype"): ("numpy",),
    ("scipy.sparse.csr", "csr_matrix"): ("scipy.sparse",),
    ("collections", "defaultdict"): ("collections",),
    ("builtins", "list"): ("builtins",),
    ("__builtin__", "list"): ("builtins",),
}


class _RawUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the classes the Planetoid files are known to contain."""

    def find_class(self, module: str, name: str) -> Any:
        targets = _ALLOWED.get((module, name))
        if targets is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a Planetoid file")
        for target in targets:
            try:
                return getattr(importlib.import_module(target), name)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(f"cannot resolve {module}.{name}")


def _load(path: Path) -> Any:
    with open(path, "rb") as fh:
        return _RawUnpickler(io.BytesIO(fh.read()), encoding="latin1").load()


def _dense(a: Any) -> np.ndarray:
    return np.asarray(a.todense() if hasattr(a, "todense") else a, dtype=np.float32)


def read_raw(folder: str | Path, name: str) -> dict[str, np.ndarray]:
    """Read ``<folder>/ind.<name>.*`` and return the arrays described in the module docstring."""
    folder = Path(folder)
    prefix = name.lower()
    raw = {k: _load(folder / f"ind.{prefix}.{k}") for k in ("x", "tx", "allx", "y", "ty", "ally", "graph")}
    test_index = np.loadtxt(folder / f"ind.{prefix}.test.index", dtype=np.int64).reshape(-1)
    tx, ty = _dense(raw["tx"]), _dense(raw["ty"])
    allx, ally = _dense(raw["allx"]), _dense(raw["ally"])
    n_train = _dense(raw["y"]).shape[0]
    sorted_test = np.sort(test_index)

    if prefix == "citeseer":  # isolated test nodes are missing from tx/ty: add zero rows
        span = int(test_index.max() - test_index.min()) + 1
        tx_ext = np.zeros((span, tx.shape[1]), dtype=np.float32)
        ty_ext = np.zeros((span, ty.shape[1]), dtype=np.float32)
        tx_ext[sorted_test - test_index.min()] = tx
        ty_ext[sorted_test - test_index.min()] = ty
        tx, ty = tx_ext, ty_ext

    x = np.concatenate([allx, tx], axis=0)
    x[test_index] = x[sorted_test]
    y = np.concatenate([ally, ty], axis=0).argmax(axis=1).astype(np.int64)
    y[test_index] = y[sorted_test]
    num_nodes = y.shape[0]

    graph = raw["graph"]
    rows = np.concatenate([np.full(len(v), k, dtype=np.int64) for k, v in graph.items()])
    cols = np.concatenate([np.asarray(v, dtype=np.int64) for v in graph.values()])
    keep = rows != cols
    codes = np.unique(rows[keep] * num_nodes + cols[keep])  # sorted by (row, col), duplicates merged
    edge_index = np.stack([codes // num_nodes, codes % num_nodes]).astype(np.int64)

    return {
        "x": x,
        "edge_index": edge_index,
        "y": y,
        "train_index": np.arange(n_train, dtype=np.int64),
        "val_index": np.arange(n_train, n_train + 500, dtype=np.int64),
        "test_index": sorted_test.astype(np.int64),
    }


def convert(src: str | Path, dst: str | Path, names: tuple[str, ...] = ("Cora", "CiteSeer")) -> list[Path]:
    """Convert ``<src>/<Name>/raw/ind.*`` to ``<dst>/<name>.npz`` (compressed); returns the written paths."""
    out: list[Path] = []
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        arrays = read_raw(Path(src) / name / "raw", name)
        path = dst / f"{name.lower()}.npz"
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
        out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    from autogt._paths import resource

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--src", default="/work/shared/data/planetoid", help="folder holding <Name>/raw/ind.*")
    parser.add_argument("--dst", default=str(resource("data", "planetoid")), help="output folder for <name>.npz")
    args = parser.parse_args(argv)
    for path in convert(args.src, args.dst):
        with np.load(path, allow_pickle=False) as z:
            shapes = {k: z[k].shape for k in z.files}
        print(f"wrote {path}: {shapes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
