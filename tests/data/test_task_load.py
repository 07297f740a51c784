from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from autogt.data import Task, TaskError, UnknownDatasetError, load_task
from autogt.registry import UnknownNameError, get, names

BUNDLED = ["bace", "bbbp", "citeseer", "cora", "esol", "freesolv", "hiv", "tox21"]


def test_registry_and_unknown_names():
    assert set(BUNDLED) <= set(names("dataset"))
    assert callable(get("dataset", "bbbp"))
    with pytest.raises(UnknownNameError, match="bbbp") as info:
        load_task("zinc")
    assert isinstance(info.value, TaskError) and isinstance(info.value, UnknownDatasetError)
    assert "esol" in str(info.value) and "zinc" in str(info.value)
    with pytest.raises(TaskError, match="no such file") as info:
        load_task("nowhere/missing.csv")
    assert "not a bundled data set" in str(info.value) and "tox21" in str(info.value)
    assert load_task("FreeSolv").name == "freesolv"


def test_meta_features_bbbp():
    task = load_task("bbbp")
    meta = task.meta
    n = torch.tensor([g.num_nodes for g in task.graphs], dtype=torch.float64)
    e = torch.tensor([g.edge_index.shape[1] for g in task.graphs], dtype=torch.float64)
    assert meta["num_graphs"] == len(task.graphs) == 2039
    assert meta["nodes_mean"] == pytest.approx(float(n.mean()))
    assert meta["nodes_std"] == pytest.approx(float(n.std(unbiased=False)))
    assert meta["nodes_max"] == float(n.max())
    assert meta["nodes_sq_mean"] == pytest.approx(float((n**2).mean()))
    assert meta["edges_mean"] == pytest.approx(float(e.mean()))  # directed count, as in edge_index
    assert meta["degree_mean"] == pytest.approx(float(e.sum() / n.sum()))
    deg = torch.cat([torch.bincount(g.edge_index[0], minlength=g.num_nodes) for g in task.graphs]).double()
    assert meta["degree_std"] == pytest.approx(float(deg.std(unbiased=False)))
    y = torch.cat([g.y for g in task.graphs])
    assert meta["label_pos_rate"] == pytest.approx(float(y.mean()))
    assert meta["label_missing_rate"] == 0.0
    assert meta["num_outputs"] == 1 and meta["feature_dim"] == 9
    assert set(task.stats()) == {"num_graphs", "nodes_mean", "edges_mean", "nodes_sq_mean", "nodes_max"}
    described = json.loads(json.dumps(task.describe()))
    assert described["atom_vocab"] == list(task.atom_vocab) and described["fingerprint"] == task.fingerprint
    assert len(task.fingerprint) == 16


def test_fingerprint_depends_on_split_and_content(write_csv):
    smiles = ["CCO", "CCC", "CCN", "CCCl", "CCBr", "CCF", "CC=O", "CC#N", "CCS", "CCCC"]
    rows = [[s, 0.5 + i] for i, s in enumerate(smiles)]
    a = write_csv([["smiles", "y"], *rows], "a.csv")
    b = write_csv([["smiles", "y"], *rows[:-1], ["CCCC", 7.25]], "b.csv")
    fa, fa2 = load_task(a).fingerprint, load_task(a).fingerprint
    assert fa == fa2
    assert load_task(b).fingerprint != fa  # same split, different labels
    assert load_task(a, seed=1).fingerprint != fa  # same data, different split
    assert load_task(a, split="scaffold").fingerprint != fa


def _toy_node_graph(n=40, masks=True):
    gen = torch.Generator().manual_seed(0)
    src = torch.arange(n)
    dst = (src + 1) % n
    ei = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
    g = Data(x=torch.randn(n, 5, generator=gen), edge_index=ei, y=torch.arange(n) % 4)
    if masks:
        g.train_mask = torch.arange(n) < 8
        g.val_mask = (torch.arange(n) >= 8) & (torch.arange(n) < 16)
        g.test_mask = torch.arange(n) >= 16
    return g


def test_pyg_node_data():
    g = _toy_node_graph()
    task = load_task(g)
    assert (task.level, task.kind, task.num_outputs, task.split_name) == ("node", "multiclass", 4, "public")
    assert task.split["train"].tolist() == list(range(8))
    assert task.meta["homophily"] == 0.0 and task.meta["num_classes"] == 4
    assert task.node_dim == 5
    rnd = load_task(g, split="random", seed=0)
    assert torch.bincount(task.graphs[0].y[rnd.split["train"]]).tolist() == [2, 2, 2, 2]
    assert g.train_mask.sum() == 8  # input untouched
    no_masks = load_task(_toy_node_graph(masks=False))
    assert no_masks.split_name == "random" and [len(no_masks.split[k]) for k in ("train", "valid", "test")] == [
        32,
        4,
        4,
    ]
    with pytest.raises(TaskError, match="public"):
        load_task(_toy_node_graph(masks=False), split="public")
    reg = _toy_node_graph(masks=False)
    reg.y = torch.randn(40)
    reg_task = load_task(reg, split="random")
    assert reg_task.kind == "regression" and reg_task.graphs[0].y.shape == (40, 1)


def test_pyg_graph_list_and_dataset():
    from torch_geometric.datasets import FakeDataset

    graphs = [
        Data(x=torch.randn(n, 3), edge_index=torch.tensor([[0, 1], [1, 0]]), y=torch.tensor([float(n % 2)]))
        for n in range(2, 22)
    ]
    task = load_task(graphs)
    assert (task.level, task.kind, task.split_name, task.num_outputs) == ("graph", "binary", "random", 1)
    assert task.graphs[0].y.shape == (1, 1) and task.node_dim == 3 and task.edge_dim == 0
    assert graphs[0].y.shape == (1,)  # caller's graphs are not modified
    assert task.meta["num_graphs"] == 20 and task.meta["nodes_max"] == 21
    ds = FakeDataset(num_graphs=30, avg_num_nodes=8, num_channels=4, num_classes=3, task="graph")
    ds_task = load_task(ds, seed=1)
    assert ds_task.level == "graph" and ds_task.kind in ("multiclass", "binary")
    assert len(ds_task.graphs) == 30 and ds_task.name == "fakedataset"
    assert len(ds_task.split["train"]) == 24
    single = load_task([_toy_node_graph()])
    assert single.level == "node"


def test_own_molecule_graphs_roundtrip():
    task = load_task("freesolv")
    again = load_task(task.graphs[:100], kind="regression")
    assert again.node_categorical and again.atom_vocab == task.atom_vocab and again.bond_vocab == task.bond_vocab
    assert again.edge_dim == 3
    clf = load_task("bbbp")
    scaff = load_task(clf.graphs[:200])
    assert scaff.split_name == "scaffold"


def test_bad_inputs():
    with pytest.raises(TaskError, match="no graphs"):
        load_task([])
    with pytest.raises(TaskError, match="cannot make a task"):
        load_task(np.zeros(3))
    with pytest.raises(TaskError, match="label"):
        load_task([Data(x=torch.ones(2, 1), edge_index=torch.zeros(2, 0, dtype=torch.long))])
    with pytest.raises(TaskError):
        Task(name="x", level="graph", kind="binary", metric="rocauc", num_outputs=1, node_dim=1, edge_dim=0,
             graphs=[], split={})  # fmt: skip
