from __future__ import annotations

import pytest
import torch

import autogt.data._molecules as molecules
from autogt._paths import cache_dir
from autogt.data import DataWarning, load_task


@pytest.fixture
def counting(monkeypatch):
    calls = []
    real = molecules.featurize_many

    def wrapped(smiles, **kw):
        calls.append(len(smiles))
        return real(smiles, **kw)

    monkeypatch.setattr(molecules, "featurize_many", wrapped)
    return calls


def _entries(stem):
    return sorted(cache_dir("data").glob(f"{stem}-*.safetensors"))


def test_cache_hit_and_invalidation(write_csv, counting):
    rows = [["smiles", "y"], ["CCO", 0.5], ["c1ccccc1", 1.5], ["CC(=O)O", 2.5]]
    path = write_csv(rows, "cachetest.csv")
    first = load_task(path)
    assert counting == [3] and len(_entries("cachetest")) == 1
    second = load_task(path, split="random", seed=4)  # task options do not change the cached tensors
    assert counting == [3]
    for a, b in zip(first.graphs, second.graphs, strict=True):
        assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
        assert torch.equal(a.edge_attr, b.edge_attr) and torch.equal(a.y, b.y) and a.smiles == b.smiles
    path.write_text(path.read_text().replace("2.5", "9.0"))
    changed = load_task(path)
    assert counting == [3, 3]
    assert float(changed.graphs[2].y) == 9.0
    assert len(_entries("cachetest")) == 1  # the stale entry was replaced
    load_task(path, labels=["y"])  # different options -> different key
    assert counting == [3, 3, 3]
    load_task(path, cache=False)
    assert counting == [3, 3, 3, 3]


def test_corrupt_cache_is_rebuilt(write_csv, counting):
    path = write_csv([["smiles", "y"], ["CCO", 0], ["CCN", 1]], "corrupt.csv")
    load_task(path)
    (entry,) = _entries("corrupt")
    entry.write_bytes(b"\x00garbage" * 10)
    with pytest.warns(DataWarning, match="unreadable data cache"):
        task = load_task(path)
    assert len(task.graphs) == 2 and counting == [2, 2]
    load_task(path)
    assert counting == [2, 2]  # the rebuilt entry is valid again


def test_cache_file_is_plain_safetensors(write_csv):
    from safetensors.torch import load_file

    path = write_csv([["smiles", "y"], ["CCO", 0], ["CCN", 1]], "plain.csv")
    load_task(path)
    (entry,) = _entries("plain")
    tensors = load_file(str(entry))
    assert {"x", "edge_index", "edge_attr", "y", "num_nodes", "num_edges", "smiles_bytes"} <= set(tensors)
    assert bytes(tensors["smiles_bytes"].tolist()) == b"CCOCCN"
