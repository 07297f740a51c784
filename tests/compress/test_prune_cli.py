"""``autogt prune``: JSON keys, files, plain-PyTorch opt-ins and input errors."""

from __future__ import annotations

import json

import pytest
import torch

from autogt._paths import resource
from autogt.cli import main

KEYS = {"metric", "val", "test", "params", "flops", "latency_ms"}


@pytest.fixture(scope="module")
def esol_csv(tmp_path_factory):
    rows = resource("data", "moleculenet", "delaney.csv").read_text().splitlines()[1:41]
    path = tmp_path_factory.mktemp("data") / "mols.csv"
    path.write_text("smiles,logs\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def esol_ckpt(esol_csv, tmp_path_factory):
    spec = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    spec.write_text("hidden: 16\nlayers:\n  - {local: gine, attn: full, heads: 2, ffn: 32}\n"
                    "  - {local: gine, attn: full, heads: 2, ffn: 32}\nbatch_size: 8\n")
    out = tmp_path_factory.mktemp("train")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code = main(["train", "--data", str(esol_csv), "--label", "logs", "--split", "random", "--spec", str(spec),
                     "--epochs", "2", "--out", str(out), "--json"])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    return out / "model.safetensors"


def _args(ckpt, csv, out, *extra):
    return ["prune", str(ckpt), "--data", str(csv), "--label", "logs", "--split", "random", "--target", "flops=0.5",
            "--epochs", "1", "--finetune-epochs", "1", "--out", str(out), "--no-bank", "--json", *extra]


def test_json_keys_and_files(esol_ckpt, esol_csv, tmp_path, capsys):
    out = tmp_path / "pruned"
    code = main(_args(esol_ckpt, esol_csv, out))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert {"before", "after", "checkpoint"} <= set(result)
    assert KEYS <= set(result["before"]) and KEYS <= set(result["after"])
    assert result["after"]["flops"] <= 0.5 * result["before"]["flops"] * 1.001
    assert (out / "model.safetensors").is_file() and (out / "report.json").is_file() and (out / "report.md").is_file()
    assert result["checkpoint"] == str(out / "model.safetensors")


def test_taylor_method(esol_ckpt, esol_csv, tmp_path, capsys):
    code = main(_args(esol_ckpt, esol_csv, tmp_path / "t", "--method", "taylor"))
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["method"] == "taylor"


def test_a_second_target_is_a_bound(esol_ckpt, esol_csv, tmp_path, capsys):
    args = _args(esol_ckpt, esol_csv, tmp_path / "pruned")
    args[args.index("flops=0.5")] = "flops=0.5,params=0.45"
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["target"] == "flops=0.5,params=0.45"
    assert [c["target"] for c in result["constraints"]] == ["flops=0.5", "params=0.45"]
    assert all(c["achieved_ratio"] <= c["target_ratio"] + 1e-9 for c in result["constraints"])
    assert result["after"]["params"] <= 0.45 * result["before"]["params"] * 1.001


@pytest.mark.parametrize("target, message", [("flops=2", "fraction"), ("speed=3", "not allowed"), ("0.5", "METRIC"),
                                             ("flops=0.5,flops=0.3", "twice")])
def test_bad_target_exits_2(esol_ckpt, esol_csv, tmp_path, capsys, target, message):
    args = _args(esol_ckpt, esol_csv, tmp_path / "x")
    args[args.index("flops=0.5")] = target
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_missing_checkpoint_exits_2(esol_csv, tmp_path, capsys):
    assert main(_args(tmp_path / "nope.safetensors", esol_csv, tmp_path / "x")) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert main(_args(tmp_path, esol_csv, tmp_path / "x")) == 2
    assert "folder without model.safetensors" in capsys.readouterr().err


def test_run_folder_is_accepted(esol_ckpt, esol_csv, tmp_path, capsys):
    from pathlib import Path

    assert Path(esol_ckpt).name == "model.safetensors"
    args = _args(Path(esol_ckpt).parent, esol_csv, tmp_path / "f", "--method", "magnitude")
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "magnitude"


def test_plain_module_via_entry_point_and_pickle(esol_csv, tmp_path, capsys):
    import plain_models
    from safetensors.torch import save_file

    net = plain_models.build()
    weights = tmp_path / "plain.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
    assert main(_args(weights, esol_csv, tmp_path / "a")) == 2  # no opt-in: refused
    assert "--trust-pickle" in capsys.readouterr().err
    code = main(_args(weights, esol_csv, tmp_path / "b", "--module", "plain_models:build", "--method", "magnitude"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["after"]["params"] < json.loads(captured.out)["before"]["params"]
    pickled = tmp_path / "plain.pt"
    torch.save(net, pickled)
    code = main(_args(pickled, esol_csv, tmp_path / "c", "--trust-pickle", "--method", "magnitude"))
    assert code == 0, capsys.readouterr().err
