from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from autogt._paths import resource
from autogt.data import load_task
from autogt.data._planetoid import read_npz

RAW = Path("/work/shared/data/planetoid")


@pytest.mark.parametrize(
    ("name", "nodes", "features", "classes", "sizes", "edges"),
    [("cora", 2708, 1433, 7, (140, 500, 1000), 10556), ("citeseer", 3327, 3703, 6, (120, 500, 1000), 9104)],
)
def test_shapes_and_public_split(name, nodes, features, classes, sizes, edges):
    task = load_task(name)
    assert (task.level, task.kind, task.metric, task.split_name) == ("node", "multiclass", "accuracy", "public")
    g = task.graphs[0]
    assert len(task.graphs) == 1
    assert g.x.shape == (nodes, features) and g.x.dtype == torch.float32
    assert g.y.shape == (nodes,) and g.y.dtype == torch.long
    assert g.edge_index.shape == (2, edges)
    assert task.num_outputs == classes == int(g.y.max()) + 1
    assert task.node_dim == features and not task.node_categorical
    assert tuple(len(task.split[k]) for k in ("train", "valid", "test")) == sizes
    assert torch.bincount(g.y[task.split["train"]]).tolist() == [20] * classes
    assert task.split["train"].tolist() == list(range(sizes[0]))
    assert task.split["valid"].tolist() == list(range(sizes[0], sizes[0] + 500))
    for key, mask in (("train", "train_mask"), ("valid", "val_mask"), ("test", "test_mask")):
        assert torch.equal(getattr(g, mask).nonzero().view(-1), task.split[key])
    # undirected, no self loops
    ei = g.edge_index
    assert not bool((ei[0] == ei[1]).any())
    pairs = set(map(tuple, ei.t().tolist()))
    assert all((j, i) in pairs for i, j in pairs)
    assert task.meta["num_classes"] == classes and task.meta["edges_mean"] == edges
    assert task.meta["nodes_sq_mean"] == nodes**2


def test_feature_normalisation_option():
    normed = load_task("cora").graphs[0].x
    raw = load_task("cora", normalize_features=False).graphs[0].x
    assert set(raw.unique().tolist()) == {0.0, 1.0}
    sums = normed.sum(1)
    assert torch.allclose(sums[raw.sum(1) > 0], torch.ones(1), atol=1e-6)
    assert torch.allclose(normed, raw / raw.sum(1, keepdim=True).clamp(min=1))
    citeseer = load_task("citeseer").graphs[0].x
    assert int((citeseer.sum(1) == 0).sum()) > 0  # the zero-feature isolated test nodes stay zero


def test_random_node_split_planetoid():
    public = load_task("cora")
    task = load_task("cora", split="random", seed=1)
    again = load_task("cora", split="random", seed=1)
    g = task.graphs[0]
    assert task.split_name == "random"
    assert torch.bincount(g.y[task.split["train"]]).tolist() == [20] * 7
    assert (len(task.split["valid"]), len(task.split["test"])) == (500, 1000)
    assert all(torch.equal(task.split[k], again.split[k]) for k in task.split)
    assert not torch.equal(task.split["test"], public.split["test"])
    assert int(g.train_mask.sum()) == 140 and not bool((g.train_mask & g.test_mask).any())
    assert task.fingerprint != public.fingerprint
    assert public.graphs[0].train_mask.sum() == 140  # the public task's graph is untouched


def test_homophily_and_npz_are_plain_arrays():
    assert load_task("cora").meta["homophily"] == pytest.approx(0.81, abs=0.01)
    assert load_task("citeseer").meta["homophily"] == pytest.approx(0.736, abs=0.01)
    for name in ("cora", "citeseer"):
        with np.load(resource("data", "planetoid", f"{name}.npz"), allow_pickle=False) as z:
            assert all(z[k].dtype != object for k in z.files)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Cora", "CiteSeer"])
def test_matches_pyg_planetoid(name, tmp_path):
    from torch_geometric.datasets import Planetoid

    shutil.copytree(RAW / name / "raw", tmp_path / name / "raw")
    ref = Planetoid(str(tmp_path), name)[0]
    ours = read_npz(resource("data", "planetoid", f"{name.lower()}.npz"))
    assert torch.equal(ref.x, ours.x)
    assert torch.equal(ref.y, ours.y)
    assert set(map(tuple, ref.edge_index.t().tolist())) == set(map(tuple, ours.edge_index.t().tolist()))
    assert ref.edge_index.shape == ours.edge_index.shape
    for mask in ("train_mask", "val_mask", "test_mask"):
        assert torch.equal(getattr(ref, mask), getattr(ours, mask))


@pytest.mark.slow
def test_converter_reproduces_bundled_npz(tmp_path):
    from autogt.data._planetoid_convert import convert

    for path in convert(RAW, tmp_path):
        with np.load(path) as new, np.load(resource("data", "planetoid", path.name)) as old:
            assert sorted(new.files) == sorted(old.files)
            assert all(np.array_equal(new[k], old[k]) for k in new.files)
