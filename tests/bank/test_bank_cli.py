"""``autogt bank ...`` through autogt.cli.main, with --json."""

from __future__ import annotations

import json

import pytest

from autogt.bank import Bank, BankTask
from autogt.cli import main
from autogt.testing.bank import spec_number


def _json(capsys, argv):
    assert main(argv) == 0
    out = capsys.readouterr().out
    return json.loads(out)


@pytest.fixture
def url(tmp_path):
    bank = Bank(tmp_path / "cli.db", shipped=False)
    bank.add_task(BankTask(name="mol", kind="binary", metric="rocauc", meta={"nodes_mean": 24.0}))
    bank.add_task(BankTask(name="mol2", kind="binary", metric="rocauc", meta={"nodes_mean": 25.0}))
    bank.add_task(BankTask(name="graph", kind="multiclass", metric="accuracy", level="node",
                           meta={"nodes_mean": 3000.0}))
    for i in range(3):
        bank.add_result("mol", spec_number(i), {"val": 0.5 + i / 10, "test": 0.4}, seed=0, fidelity=5)
    return str(tmp_path / "cli.db")


def test_list_show_similar(capsys, url):
    out = _json(capsys, ["bank", "list", "--bank", url, "--no-shipped", "--json"])
    rows = {r["name"]: r for r in out["tasks"]}
    assert rows["mol"]["results"] == 3 and rows["mol"]["best_val"] == pytest.approx(0.7)
    assert rows["graph"]["results"] == 0
    out = _json(capsys, ["bank", "show", "mol", "--top", "2", "--bank", url, "--no-shipped", "--json"])
    assert out["results"] == 3 and [r["val"] for r in out["top"]] == pytest.approx([0.7, 0.6])
    assert out["top"][0]["design"] == spec_number(2).hash() and out["top"][0]["fidelity"] == "epochs=5"
    out = _json(capsys, ["bank", "similar", "mol", "--k", "2", "--bank", url, "--no-shipped", "--json"])
    assert [name for name, _ in out["similar"]] == ["mol2", "graph"]
    assert main(["bank", "show", "mol", "--bank", url, "--no-shipped"]) == 0
    assert "mol" in capsys.readouterr().out


def test_export_import_and_errors(capsys, url, tmp_path):
    path = tmp_path / "out.jsonl"
    out = _json(capsys, ["bank", "export", str(path), "--bank", url, "--no-shipped", "--json"])
    assert out["rows"] == 6
    other = str(tmp_path / "other.db")
    out = _json(capsys, ["bank", "import", str(path), "--bank", other, "--no-shipped", "--json"])
    assert out["total"] == 3
    assert main(["bank", "show", "nope", "--bank", url, "--no-shipped"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
    assert main(["bank", "import", str(tmp_path / "missing.csv"), "--bank", url]) == 2
    assert main(["bank", "import", str(path), "--datasets", "cora", "--bank", url]) == 2
    assert main(["bank"]) == 2


def test_import_nasbench(capsys, tmp_path):
    url = str(tmp_path / "nb.db")
    out = _json(capsys, ["bank", "import", "nasbench", "--datasets", "proteins", "--bank", url, "--json"])
    assert out["imported"] == {"nasbench/proteins": 2021}
    assert main(["bank", "import", "nasbench", "--datasets", "mnist", "--bank", url]) == 2
    assert "unknown NAS-Bench-Graph data set" in capsys.readouterr().err


def test_default_bank_is_autogt_home(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("AUTOGT_BANK", raising=False)
    monkeypatch.setenv("AUTOGT_HOME", str(tmp_path / "home"))
    out = _json(capsys, ["bank", "list", "--no-shipped", "--json"])
    assert out["bank"].endswith("home/bank.db") and out["tasks"] == []
    monkeypatch.setenv("AUTOGT_BANK", str(tmp_path / "env.db"))
    assert _json(capsys, ["bank", "list", "--no-shipped", "--json"])["bank"].endswith("env.db")
