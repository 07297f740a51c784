from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from autogt._paths import resource
from autogt.data import ATOM_VOCAB, BOND_VOCAB, DataWarning, TaskError, load_task, smiles_to_graph
from autogt.data._featurize import encode_atoms, encode_bonds


def test_vocab_sizes_are_ogb_like_with_other_buckets():
    assert ATOM_VOCAB == (119, 5, 12, 12, 10, 6, 6, 2, 2)
    assert BOND_VOCAB == (5, 7, 2)


def test_benzene_features():
    g = smiles_to_graph("c1ccccc1")
    assert g.x.dtype == torch.long and g.x.shape == (6, 9)
    assert g.edge_index.shape == (2, 12) and g.edge_attr.shape == (12, 3)
    assert g.x[:, 0].tolist() == [5] * 6  # carbon: Z - 1
    assert g.x[:, 7].tolist() == [1] * 6  # aromatic
    assert g.x[:, 8].tolist() == [1] * 6  # in ring
    assert g.x[:, 6].tolist() == [1] * 6  # SP2
    assert g.x[:, 4].tolist() == [1] * 6  # one H each
    assert g.x[:, 2].tolist() == [3] * 6  # total degree incl. H
    assert g.edge_attr[:, 0].tolist() == [3] * 12  # aromatic bonds
    assert g.edge_attr[:, 2].tolist() == [1] * 12  # conjugated
    # both directions of every bond, consecutively
    ei = g.edge_index.t().tolist()
    assert all(ei[i + 1] == ei[i][::-1] for i in range(0, 12, 2))


def test_ethanol_and_charges():
    g = smiles_to_graph("CCO")
    assert g.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert g.x[:, 0].tolist() == [5, 5, 7]  # C, C, O
    assert g.x[:, 7].sum() == 0 and g.x[:, 8].sum() == 0  # not aromatic, not in a ring
    assert g.x[:, 4].tolist() == [3, 2, 1]  # H counts
    assert g.edge_attr[:, 0].tolist() == [0, 0, 0, 0]  # single bonds
    ammonium = smiles_to_graph("[NH4+]")
    assert ammonium.x[0, 3] == 6  # charge +1 -> index 5 + 1
    assert ammonium.edge_index.shape == (2, 0) and ammonium.edge_attr.shape == (0, 3)
    assert smiles_to_graph("F/C=C/F").edge_attr[2].tolist() == [1, 2, 0]  # double, E


def test_unseen_values_fall_into_other_bucket():
    dummy = smiles_to_graph("*C")
    assert dummy.x[0, 0] == ATOM_VOCAB[0] - 1  # atomic number 0 -> other
    iron = smiles_to_graph("[Fe+6]")
    assert iron.x[0, 3] == ATOM_VOCAB[3] - 1  # charge +6 -> other
    raw = np.array([[200, 8, 15, 9, 12, 7, 99, 1, 1]])
    assert encode_atoms(raw).tolist() == [[v - 1 for v in ATOM_VOCAB[:7]] + [1, 1]]
    assert encode_bonds(np.array([[13, 7, 0]])).tolist() == [[4, 6, 0]]


def test_bad_smiles_return_none():
    assert smiles_to_graph("not a smiles") is None
    assert smiles_to_graph("C1CC") is None  # unclosed ring
    assert smiles_to_graph("") is None  # no atoms


def test_invalid_smiles_skipped_with_report(write_csv):
    path = write_csv([["smiles", "y"], ["CCO", 1], ["not_a_smiles", 0], ["", 1], ["C1CC", 0], ["c1ccccc1", 0]])
    with pytest.warns(DataWarning, match=r"skipped 3 of 5") as caught:
        task = load_task(path)
    message = str(caught[0].message)
    assert "not_a_smiles" in message and "C1CC" in message
    assert [g.smiles for g in task.graphs] == ["CCO", "c1ccccc1"]
    assert [float(g.y) for g in task.graphs] == [1.0, 0.0]
    assert task.meta["num_skipped"] == 3


def test_all_invalid_raises(write_csv):
    path = write_csv([["smiles", "y"], ["xx", 1], ["yy", 0]])
    with pytest.warns(DataWarning), pytest.raises(TaskError, match="no molecule"):
        load_task(path)


def test_graph_format(write_csv):
    path = write_csv([["smiles", "a", "b"], ["CCO", 1, 0], ["CCN", 0, None]])
    task = load_task(path)
    g = task.graphs[1]
    assert g.x.dtype == g.edge_index.dtype == g.edge_attr.dtype == torch.long
    assert g.y.dtype == torch.float32 and g.y.shape == (1, 2)
    assert g.y[0, 0] == 0 and math.isnan(float(g.y[0, 1]))
    assert g.smiles == "CCN"
    assert task.node_categorical and task.edge_categorical
    assert task.atom_vocab == ATOM_VOCAB and task.bond_vocab == BOND_VOCAB
    assert (task.node_dim, task.edge_dim) == (9, 3)


def _check_tox21(task, total_rows):
    assert task.kind == "multilabel" and task.num_outputs == 12 and task.metric == "rocauc"
    assert len(task.label_names) == 12 and task.label_names[0] == "NR-AR"
    first = task.graphs[0]
    assert first.smiles == "CCOc1ccc2nc(S(N)(=O)=O)sc2c1"
    expected = [0, 0, 1, None, None, 0, 0, 1, 0, 0, 0, 0]
    for got, want in zip(first.y[0].tolist(), expected, strict=True):
        assert math.isnan(got) if want is None else got == want
    y = torch.cat([g.y for g in task.graphs])
    assert y.shape == (len(task.graphs), 12)
    assert 0.05 < task.meta["label_missing_rate"] < 0.4
    assert abs(task.meta["label_missing_rate"] - float(torch.isnan(y).double().mean())) < 1e-9
    known = y[~torch.isnan(y)]
    assert set(known.unique().tolist()) == {0.0, 1.0}
    assert task.meta["label_pos_rate"] == pytest.approx(float(known.mean()))
    assert len(task.graphs) + task.meta["num_skipped"] == total_rows


def test_tox21_missing_labels_are_nan(tmp_path):
    lines = resource("data", "moleculenet", "tox21.csv").read_text().splitlines()[:401]
    path = tmp_path / "tox21_head.csv"
    path.write_text("\n".join(lines) + "\n")
    _check_tox21(load_task(path), 400)


@pytest.mark.slow
def test_tox21_bundled():
    with pytest.warns(DataWarning, match="tox21: skipped 8 of 7831"):
        task = load_task("tox21")
    _check_tox21(task, 7831)


def test_bundled_columns():
    bace = load_task("bace")  # SMILES column is "mol"
    assert len(bace.graphs) == 1513 and bace.kind == "binary"
    esol = load_task("esol")
    assert esol.kind == "regression" and esol.metric == "rmse" and esol.label_names == ("logp",)
    assert all(torch.isfinite(g.y).all() for g in esol.graphs)
    bbbp = load_task("bbbp")
    x = torch.cat([g.x for g in bbbp.graphs])
    assert (x.max(0).values < torch.tensor(ATOM_VOCAB)).all() and int(x.min()) >= 0


def test_missing_smiles_column_lists_columns(write_csv):
    path = write_csv([["molecule", "y"], ["CCO", 1]])
    with pytest.raises(TaskError, match="columns are molecule, y"):
        load_task(path)
    assert len(load_task(path, smiles_col="molecule").graphs) == 1


def test_non_numeric_label_columns(write_csv):
    path = write_csv([["name", "smiles", "y"], ["ethanol", "CCO", 1.5], ["propane", "CCC", 2.0]])
    with pytest.warns(DataWarning, match="ignoring non-numeric column"):
        task = load_task(path)
    assert task.label_names == ("y",)
    with pytest.raises(TaskError, match="non-numeric"):
        load_task(path, labels=["name"])
    with pytest.raises(TaskError, match="no label column"):
        load_task(path, labels=["nope"])


@pytest.mark.slow
def test_hiv_cold_and_cached():
    import time

    with pytest.warns(DataWarning, match="hiv: skipped 7 of 41127"):
        cold = load_task("hiv")
    start = time.perf_counter()
    with pytest.warns(DataWarning):
        cached = load_task("hiv")
    assert time.perf_counter() - start < 15
    assert len(cold.graphs) == len(cached.graphs) == 41120
    assert cold.fingerprint == cached.fingerprint and cold.split_name == "scaffold"
    assert 0.02 < cold.meta["label_pos_rate"] < 0.05
