from __future__ import annotations

import json

import pytest

from autogt._paths import resource
from autogt.cli import main

SPEC = {"hidden": 16, "batch_size": 16, "pe": "rw", "pe_dim": 4,
        "layers": [{"local": "gine", "attn": "full", "heads": 2, "ffn": 32}] * 2}
JSON_KEYS = {"budget", "spec", "params", "flops", "latency_ms", "val", "checkpoint"}


@pytest.fixture(scope="module")
def csv_and_spec(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    lines = resource("data", "moleculenet", "BBBP.csv").read_text().splitlines()
    (tmp / "mols.csv").write_text("\n".join(lines[:1] + lines[1:81] + lines[-40:]) + "\n")
    (tmp / "spec.json").write_text(json.dumps(SPEC))
    return tmp


@pytest.fixture(scope="module")
def elastic_run(csv_and_spec):
    tmp = csv_and_spec
    out = tmp / "run"
    code = main(["train", "--data", str(tmp / "mols.csv"), "--spec", str(tmp / "spec.json"), "--epochs", "2",
                 "--elastic", "--elastic-mode", "joint", "--out", str(out), "--json"])
    assert code == 0
    return out / "model.safetensors"


def test_train_elastic_cli(elastic_run, capsys):
    from autogt.train import load_checkpoint

    ckpt = load_checkpoint(elastic_run)
    assert ckpt.spec.elastic == (0.125, 0.25, 0.5, 1.0)


def test_train_elastic_cli_options(csv_and_spec, capsys, tmp_path):
    tmp = csv_and_spec
    code = main(["train", "--data", str(tmp / "mols.csv"), "--spec", str(tmp / "spec.json"), "--epochs", "1",
                 "--elastic", "0.25,0.5,1", "--elastic-probs", "1,1,2", "--out", str(tmp_path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["elastic"] == [0.25, 0.5, 1.0] and out["elastic_mode"] == "sampled"
    code = main(["train", "--data", str(tmp / "mols.csv"), "--spec", str(tmp / "spec.json"), "--elastic-probs", "1,1",
                 "--out", str(tmp_path)])
    assert code == 2 and "granularities" in capsys.readouterr().err
    code = main(["train", "--data", str(tmp / "mols.csv"), "--spec", "gin", "--elastic", "--out", str(tmp_path)])
    assert code == 2 and "no FFN" in capsys.readouterr().err
    code = main(["train", "--data", str(tmp / "mols.csv"), "--spec", str(tmp / "spec.json"), "--epochs", "1",
                 "--elastic-distill", "0.5", "--out", str(tmp_path / "d"), "--json"])
    out = json.loads(capsys.readouterr().out)  # distillation implies --elastic and the joint loss
    assert code == 0 and out["elastic_mode"] == "joint" and out["elastic_distill"] == 0.5
    code = main(["train", "--data", str(tmp / "mols.csv"), "--spec", str(tmp / "spec.json"), "--elastic-mode",
                 "sampled", "--elastic-distill", "0.5", "--out", str(tmp_path / "e")])
    assert code == 2 and "joint" in capsys.readouterr().err


def test_extract_cli_json(elastic_run, csv_and_spec, capsys, tmp_path):
    capsys.readouterr()
    code = main(["extract", str(elastic_run), "--budgets", "params=80%,90%,100%", "--data",
                 str(csv_and_spec / "mols.csv"), "--out", str(tmp_path), "--device", "cpu", "--json", "--no-bank"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["models"] and len(out["models"]) == 3
    for rec in out["models"]:
        assert JSON_KEYS <= set(rec)
        assert rec["val"] is not None and rec["latency_ms"] is not None
        assert rec["spec"].get("elastic") is None  # canonical JSON omits the empty default
        assert (tmp_path / rec["checkpoint"].split("/")[-1]).is_file()


def test_extract_cli_table_and_errors(elastic_run, capsys, tmp_path):
    # the run folder stands for its model.safetensors
    code = main(["extract", str(elastic_run.parent), "--budget", "flops=0.9", "--out", str(tmp_path), "--no-bank"])
    captured = capsys.readouterr()
    assert code == 0 and "flops=90%" in captured.out and "no data" in captured.err
    for argv, match in ((["--budget", "params=1%"], "feasible"), (["--budget", "latency_ms=2"], "device"),
                        (["--budget", "speed=2"], "unknown cost")):
        code = main(["extract", str(elastic_run), *argv, "--out", str(tmp_path), "--no-bank"])
        assert code == 2 and match in capsys.readouterr().err
    code = main(["extract", str(tmp_path / "missing.safetensors"), "--budget", "flops=0.5"])
    assert code == 2
    (tmp_path / "empty").mkdir()
    code = main(["extract", str(tmp_path / "empty"), "--budget", "flops=0.5"])
    assert code == 2 and "folder without model.safetensors" in capsys.readouterr().err


def test_search_elastic_trains_the_winner_nested(csv_and_spec, capsys, tmp_path):
    from autogt.train import load_checkpoint

    space = tmp_path / "tiny.yaml"
    space.write_text("name: tiny\nmodel:\n  hidden: 16\n  batch_size: 16\nlayers:\n  depth: 1\n  each:\n"
                     "    local: {choices: [gine, gin]}\n    attn: full\n    heads: 2\n    ffn: 32\n")
    capsys.readouterr()
    code = main(["search", "--data", str(csv_and_spec / "mols.csv"), "--space", str(space), "--trials", "2",
                 "--epochs", "1", "--controller", "random", "--out", str(tmp_path / "s"), "--no-bank",
                 "--no-report", "--no-progress", "--elastic", "0.5,1", "--elastic-mode", "joint", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    e = out["elastic"]
    assert e["status"] == "ok" and e["granularities"] == [0.5, 1.0] and e["mode"] == "joint"
    ckpt = load_checkpoint(e["checkpoint"])
    assert ckpt.spec.elastic == (0.5, 1.0)
    from autogt.models.spec import ArchSpec

    assert ckpt.spec.replace(elastic=()) == ArchSpec.from_dict(out["best"]["spec"])  # the winner, made elastic
    code = main(["search", "--data", "nasbench:cora", "--space", "nasbench_graph", "--trials", "1", "--elastic",
                 "--out", str(tmp_path / "t"), "--no-bank"])
    assert code == 2 and "tabular" in capsys.readouterr().err
