from __future__ import annotations

import pytest
import torch
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

from autogt.data import TaskError, load_task, random_node_split, random_split, scaffold_split


def _parts(split):
    return [split[k].tolist() for k in ("train", "valid", "test")]


def test_scaffold_split_reference_order():
    # groups: A(3) B(2) then singletons; equal sizes go later-first-index first (reverse sort on (size, first))
    split = scaffold_split(["A", "A", "B", "C", "A", "B", "D", "E", "F", "G"])
    assert _parts(split) == [[0, 1, 2, 4, 5, 7, 8, 9], [6], [3]]


@pytest.mark.parametrize("name", ["bbbp", "bace"])  # bace: our GIN is ~6 points above Hu et al.; no leakage
def test_scaffold_split_has_no_shared_scaffold_or_molecule(name):
    task = load_task(name)
    assert task.split_name == "scaffold"
    again = load_task(name)
    assert all(torch.equal(task.split[k], again.split[k]) for k in ("train", "valid", "test"))
    n = len(task.graphs)
    train, valid, test = (set(p) for p in _parts(task.split))
    assert not (train & valid or train & test or valid & test)
    assert train | valid | test == set(range(n))
    assert 0.78 <= len(train) / n <= 0.81
    assert 0.08 <= len(valid) / n <= 0.12
    assert 0.08 <= len(test) / n <= 0.12

    def scaffolds(idx):
        return {MurckoScaffold.MurckoScaffoldSmiles(mol=Chem.MolFromSmiles(task.graphs[i].smiles)) for i in idx}

    s_train, s_valid, s_test = scaffolds(train), scaffolds(valid), scaffolds(test)
    assert not (s_train & s_valid or s_train & s_test or s_valid & s_test)
    canon = [{Chem.CanonSmiles(task.graphs[i].smiles) for i in idx} for idx in (train, valid, test)]
    assert not (canon[0] & canon[1] or canon[0] & canon[2] or canon[1] & canon[2])  # no duplicate molecule across
    assert task.fingerprint == again.fingerprint


def test_random_split_seeded():
    a, b, c = random_split(1000, seed=1), random_split(1000, seed=1), random_split(1000, seed=2)
    assert _parts(a) == _parts(b)
    assert _parts(a) != _parts(c)
    assert [len(p) for p in _parts(a)] == [800, 100, 100]
    assert sorted(sum(_parts(a), [])) == list(range(1000))
    assert all(a[k].dtype == torch.long for k in a)


def test_default_and_override_split_on_tasks():
    esol = load_task("esol")
    assert esol.split_name == "random"
    assert _parts(esol.split) == _parts(random_split(len(esol.graphs), seed=0))
    other_seed = load_task("esol", seed=3)
    assert _parts(other_seed.split) != _parts(esol.split)
    assert other_seed.fingerprint != esol.fingerprint
    bbbp_random = load_task("bbbp", split="random", seed=5)
    assert bbbp_random.split_name == "random"
    assert _parts(bbbp_random.split) == _parts(random_split(len(bbbp_random.graphs), seed=5))
    assert load_task("esol", split="scaffold").split_name == "scaffold"


def test_custom_and_bad_splits():
    task = load_task("freesolv", split={"train": [0, 1, 2], "val": [3], "test": [4, 5]})
    assert task.split_name == "custom" and task.split["valid"].tolist() == [3]
    with pytest.raises(TaskError, match="overlap"):
        load_task("freesolv", split={"train": [0, 1], "valid": [1], "test": [2]})
    with pytest.raises(TaskError, match=r"\[0, 642\)"):
        load_task("freesolv", split={"train": [0, 1], "valid": [2], "test": [10_000]})
    with pytest.raises(TaskError, match="missing test"):
        load_task("freesolv", split={"train": [0], "valid": [1]})
    with pytest.raises(TaskError, match="scaffold, random"):
        load_task("freesolv", split="public")


def test_random_node_split_per_class():
    y = torch.arange(7).repeat_interleave(50)
    split = random_node_split(y, 20, 100, 100, seed=0)
    assert torch.bincount(y[split["train"]]).tolist() == [20] * 7
    assert len(split["valid"]) == 100 and len(split["test"]) == 100
    assert _parts(split) == _parts(random_node_split(y, 20, 100, 100, seed=0))
    assert set(split["train"].tolist()).isdisjoint(split["valid"].tolist() + split["test"].tolist())
