from __future__ import annotations

import json

import pytest
import torch

from autogt._paths import resource
from autogt.cli import main
from autogt.train import EvalResult, load_model

JSON_KEYS = {"status", "metric", "val", "test", "params", "flops", "latency_ms", "epochs", "checkpoint"}

TINY_SPEC = """
hidden: 16
layers:
  - {local: gine, attn: full, heads: 2, ffn: 32}
  - {local: gine, ffn: 32}
batch_size: 8
lr: 0.003
"""


@pytest.fixture
def esol_csv(tmp_path):
    """26 real molecules from ESOL with their solubility (a regression label named ``logs``)."""
    rows = resource("data", "moleculenet", "delaney.csv").read_text().splitlines()[1:27]
    path = tmp_path / "mols.csv"
    path.write_text("smiles,logs\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def tiny_spec(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPEC)
    return path


def test_json_output_and_checkpoint(esol_csv, tiny_spec, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--data", str(esol_csv), "--label", "logs", "--split", "random", "--spec", str(tiny_spec),
                 "--epochs", "2", "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1  # exactly one JSON object on stdout
    result = json.loads(lines[0])
    assert JSON_KEYS <= set(result)
    assert result["status"] == "ok" and result["metric"] == "rmse" and result["epochs"] == 2
    assert result["val"] > 0 and result["test"] > 0 and result["params"] > 0 and result["latency_ms"] > 0
    assert result["checkpoint"] == str(out / "model.safetensors")
    assert "it/s" not in captured.err and "ep/s" not in captured.err  # no progress bar in --json mode

    model, ckpt = load_model(result["checkpoint"])
    assert ckpt.task_info["kind"] == "regression" and ckpt.extra["test"] == pytest.approx(result["test"])
    assert ckpt.target_scaler is not None
    assert sum(p.numel() for p in model.parameters()) == result["params"]


def test_table_output_default_out_dir(esol_csv, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["train", "--data", str(esol_csv), "--label", "logs", "--spec", "gps", "--epochs", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "status" in captured.out and "rocauc" not in captured.out and "rmse" in captured.out
    ckpts = list((tmp_path / "runs").glob("train-mols-*/model.safetensors"))
    assert len(ckpts) == 1
    model, ckpt = load_model(ckpts[0])
    assert ckpt.spec.pe == "rw" and ckpts[0].parent.name == f"train-mols-{ckpt.spec.hash()}"


def test_failed_training_prints_json_and_exits_1(esol_csv, tiny_spec, monkeypatch, capsys, tmp_path):
    import autogt.train

    def failing(spec, task, budget, **kw):
        return EvalResult(status="failed", metric=task.metric, reason="non-finite training loss at epoch 1", epochs=1)

    monkeypatch.setattr(autogt.train, "evaluate", failing)
    code = main(["train", "--data", str(esol_csv), "--label", "logs", "--spec", str(tiny_spec), "--json",
                 "--out", str(tmp_path / "x")])
    captured = capsys.readouterr()
    assert code == 1
    result = json.loads(captured.out)
    assert result["status"] == "failed" and result["val"] is None and "non-finite" in result["reason"]


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BAD = {
    "unknown data": lambda p, csv: ["--data", "nosuchdata", "--spec", "gin"],
    "missing csv": lambda p, csv: ["--data", str(p / "missing.csv"), "--spec", "gin"],
    "bad label": lambda p, csv: ["--data", csv, "--label", "nope", "--spec", "gin"],
    "unknown builtin": lambda p, csv: ["--data", csv, "--label", "logs", "--spec", "transformer9000"],
    "missing spec file": lambda p, csv: ["--data", csv, "--label", "logs", "--spec", str(p / "none.yaml")],
    "malformed spec": lambda p, csv: ["--data", csv, "--label", "logs", "--spec",
                                      _write(p, "bad.yaml", "hidden: 16\nlayers: [{lcoal: gin}]\n")],
    "invalid yaml": lambda p, csv: ["--data", csv, "--label", "logs", "--spec", _write(p, "bad2.yaml", "a: [1,\n")],
    "unknown op": lambda p, csv: ["--data", csv, "--label", "logs", "--spec",
                                  _write(p, "op.json", json.dumps({"layers": [{"local": "nosuchop"}]}))],
    "bad epochs": lambda p, csv: ["--data", csv, "--label", "logs", "--spec", "gin", "--epochs", "0"],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exit_2_one_line(case, esol_csv, tmp_path, capsys):
    code = main(["train", *BAD[case](tmp_path, str(esol_csv)), "--epochs", "1", "--json"]
                if case != "bad epochs" else ["train", *BAD[case](tmp_path, str(esol_csv)), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autogt: error: "), captured.err
    assert not list(tmp_path.glob("**/*.safetensors"))


def test_unknown_op_message_names_the_op(esol_csv, tmp_path, capsys):
    spec = _write(tmp_path, "op.json", json.dumps({"layers": [{"local": "nosuchop"}]}))
    assert main(["train", "--data", str(esol_csv), "--label", "logs", "--spec", spec]) == 2
    assert "nosuchop" in capsys.readouterr().err


def test_cuda_unavailable_is_bad_input(esol_csv, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["train", "--data", str(esol_csv), "--label", "logs", "--spec", "gin", "--device", "cuda"]) == 2
    assert "CUDA" in capsys.readouterr().err
