"""Task similarity: meta-features from real data, embeddings, anchor ranks, and Bank.similar."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from autogt._paths import resource
from autogt.bank import BankError, BankTask, embedding_similarity, meta_similarity, rank_similarity, task_features
from autogt.bank._nasbench import dataset_meta
from autogt.data import load_task
from autogt.testing.bank import spec_number


@pytest.fixture(scope="module")
def molecule_tasks(tmp_path_factory):
    """Three small real molecule tasks: two overlapping BBBP slices and an HIV slice."""
    d = tmp_path_factory.mktemp("mols")
    bbbp = pd.read_csv(resource("data", "moleculenet", "BBBP.csv"))
    hiv = pd.read_csv(resource("data", "moleculenet", "HIV.csv.gz"))[["smiles", "HIV_active"]]
    bbbp.iloc[:150].to_csv(d / "bbbp_a.csv", index=False)
    bbbp.iloc[6:156].to_csv(d / "bbbp_b.csv", index=False)
    hiv.iloc[:150].to_csv(d / "hiv_a.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one HIV SMILES does not parse
        return {n: load_task(str(d / f"{n}.csv")) for n in ("bbbp_a", "bbbp_b", "hiv_a")}


def test_near_duplicate_task_ranks_first(bank, molecule_tasks):
    bank.add_task(molecule_tasks["bbbp_a"])
    bank.add_task(molecule_tasks["hiv_a"])
    bank.add_task(dataset_meta("cora"))
    bank.add_task(BankTask(name="big-molecules", level="graph", kind="binary", metric="rocauc",
                           meta={"num_graphs": 40000.0, "nodes_mean": 60.0, "edges_mean": 130.0,
                                 "label_pos_rate": 0.1}))
    ranked = bank.similar(molecule_tasks["bbbp_b"], k=4)
    names = [t.name for t, _ in ranked]
    assert names[0] == "bbbp_a", ranked
    assert names[-1] == "nasbench/cora", ranked
    sims = [s for _, s in ranked]
    assert sims == sorted(sims, reverse=True) and all(0.0 <= s <= 1.0 for s in sims)
    # a task never comes back as similar to itself (by name or fingerprint)
    assert "bbbp_a" not in [t.name for t, _ in bank.similar("bbbp_a", k=5)]
    renamed = BankTask.from_task(molecule_tasks["bbbp_a"], name="copy")
    assert "bbbp_a" not in [t.name for t, _ in bank.similar(renamed, k=5)]


def test_meta_similarity_is_scale_free():
    a = task_features({"nodes_mean": 25.0, "edges_mean": 54.0, "homophily": 0.8})
    pool = {"x": task_features({"nodes_mean": 26.0, "edges_mean": 55.0, "homophily": 0.8}),
            "y": task_features({"nodes_mean": 2500.0, "edges_mean": 5400.0, "homophily": 0.8})}
    sims = meta_similarity(a, pool)
    assert sims["x"] > 0.6 > sims["y"]
    cats = meta_similarity(a, {"x": pool["x"]}, query_cats={"level": "graph"}, pool_cats={"x": {"level": "node"}})
    assert cats["x"] < sims["x"]


def test_rank_and_embedding_similarity():
    q = {"a": 0.9, "b": 0.5, "c": 0.1, "d": 0.3}
    assert rank_similarity(q, {"a": 0.8, "b": 0.6, "c": 0.2, "d": 0.4}) == 1.0
    assert rank_similarity(q, {"a": 0.1, "b": 0.5, "c": 0.9, "d": 0.7}) == 0.0
    assert rank_similarity(q, {"a": 0.1}) == 0.5  # too few shared anchors: no information
    sims = embedding_similarity([1.0, 0.0, 2.0], {"same": [1.1, 0.1, 2.0], "opposite": [-1.0, 3.0, -2.0],
                                                 "short": [1.0]})
    assert sims["same"] > 0.9 and sims["opposite"] < 0.1 and sims["short"] == 0.0


def test_similar_by_anchor_ranks(bank):
    good = [0.9, 0.8, 0.7, 0.6, 0.5]
    for name, vals in (("agrees", good), ("reversed", good[::-1])):
        bank.add_task(BankTask(name=name, kind="binary", metric="rocauc"))
        for i, v in enumerate(vals):
            bank.add_result(name, spec_number(i), {"val": v})
    anchors = {spec_number(i).hash(): v for i, v in enumerate([0.95, 0.85, 0.75, 0.65, 0.55])}
    ranked = bank.similar(BankTask(name="new", kind="binary", metric="rocauc"), k=2, anchors=anchors,
                          method="anchors")
    assert [(t.name, round(s, 3)) for t, s in ranked] == [("agrees", 1.0), ("reversed", 0.0)]
    with pytest.raises(BankError, match="anchors"):
        bank.similar("agrees", method="anchors")
    with pytest.raises(BankError, match="method"):
        bank.similar("agrees", method="psychic")


def test_similar_by_embedding(bank):
    bank.add_task(BankTask(name="near", meta={"x": 1.0}), embeddings={"fisher": [1.0, 2.0, 3.0, 4.0]})
    bank.add_task(BankTask(name="far", meta={"x": 1.0}), embeddings={"fisher": [4.0, 3.0, 2.0, 1.0]})
    query = BankTask(name="q", meta={"x": 1.0}, embeddings={"fisher": (1.1, 2.0, 3.1, 3.9)})
    assert [t.name for t, _ in bank.similar(query, k=2, method="embedding:fisher")] == ["near", "far"]
    assert [t.name for t, _ in bank.similar(query, k=2)] == ["near", "far"]  # auto uses the shared embedding
