"""Export / import in every file format, and the shipped read-only records."""

from __future__ import annotations

import importlib.util

import pytest

from autogt.bank import Bank, BankError, BankTask
from autogt.testing.bank import spec_number


def _fill(bank: Bank) -> None:
    bank.add_task(BankTask(name="mol", fingerprint="fp1", level="graph", kind="binary", metric="rocauc",
                           meta={"nodes_mean": 24.5, "homophily": 0.5}), embeddings={"fisher": [0.5, 1.5]})
    for i in range(4):
        bank.add_result("mol", spec_number(i), {"val": 0.6 + i / 20, "test": 0.55, "metric": "rocauc",
                                               "num_params": 1000 * i, "latency_ms": 1.25, "note": "x,y"},
                        seed=i, fidelity=50, space="gnn", params={"hidden": 8 + i, "name": 'a "quoted", value'},
                        source="unit", device="cpu")


def _content(bank: Bank) -> list:
    return sorted((r.result.unique_key, r.val, r.result.test, r.result.num_params, r.result.latency_ms,
                   r.result.metrics, r.design.spec_json, r.design.params, r.design.key) for r in bank.results("mol"))


PARQUET = pytest.param("bank.parquet", marks=pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None,
                                                                reason="pyarrow not installed"))


@pytest.mark.parametrize("name", ["bank.csv", "bank.csv.gz", "bank.jsonl", "bank.jsonl.gz", PARQUET])
def test_round_trip(bank, tmp_path, name):
    _fill(bank)
    path = tmp_path / name
    assert bank.export(path) == 5
    other = Bank(tmp_path / "other.db", shipped=False)
    assert other.import_(path) == 4
    assert _content(other) == _content(bank)
    t = other.task("mol")
    assert (t.fingerprint, t.kind, t.meta, t.embeddings) == ("fp1", "binary", {"nodes_mean": 24.5, "homophily": 0.5},
                                                             {"fisher": (0.5, 1.5)})


def test_parquet_without_pyarrow_fails_clearly(bank, tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **kw):
        if name == "pyarrow":
            raise ImportError("no pyarrow")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)
    _fill(bank)
    with pytest.raises(BankError, match="pip install pyarrow"):
        bank.export(tmp_path / "x.parquet")


def test_bad_files(bank, tmp_path):
    with pytest.raises(BankError, match="unknown bank file type"):
        bank.export(tmp_path / "x.txt")
    with pytest.raises(BankError, match="no such file"):
        bank.import_(tmp_path / "missing.csv")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task": "a", "record": "result", "design": "h", "design_spec": "{}"}\nnot json\n')
    with pytest.raises(BankError, match="bad.jsonl:2"):
        bank.import_(bad)
    (tmp_path / "nodesign.csv").write_text("record,task,design\nresult,a,\n")
    with pytest.raises(BankError, match="row 0"):
        bank.import_(tmp_path / "nodesign.csv")


def test_shipped_records_are_read_not_written(tmp_path):
    src = Bank(tmp_path / "src.db", shipped=False)
    _fill(src)
    shipped = tmp_path / "shipped"
    src.export(shipped / "molecules.csv")
    (shipped / "README.md").write_text("not a bank file")

    bank = Bank(tmp_path / "user.db", shipped=shipped)
    assert [t.name for t in bank.tasks()] == ["mol"]
    assert len(bank.results("mol")) == 4
    assert bank.results("mol")[0].result.source == "unit"
    assert Bank(tmp_path / "user.db", shipped=False).tasks() == []  # nothing was copied into the user's bank
    # the writable store wins on the same (task, design, seed, fidelity); new results add to the view
    bank.add_result("mol", spec_number(0), {"val": 0.99}, seed=0, fidelity=50)
    bank.add_result("mol", spec_number(9), {"val": 0.42}, seed=0, fidelity=50)
    vals = sorted(r.val for r in bank.results("mol"))
    assert vals == sorted([0.99, 0.65, 0.7, 0.75, 0.42])
    assert bank.counts()["mol"] == 5
    assert bank.export(tmp_path / "mine.csv") == 3  # task + 2 own results; shipped ones left out
    assert bank.export(tmp_path / "all.csv", include_shipped=True) == 6


def test_repo_shipped_folder_loads():
    bank = Bank("sqlite://")  # default: the bank/ folder of the source tree
    for t in bank.tasks():
        assert t.name and bank.results(t) is not None
