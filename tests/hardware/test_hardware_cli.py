from __future__ import annotations

import json

from autogt.cli import main

KEYS = {"params", "flops", "latency_ms", "memory_mb", "estimate"}


def _json(capsys) -> dict:
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    return json.loads(out[0])


def test_cost_json_keys_with_a_roofline(capsys):
    assert main(["cost", "gps", "--device", "h100", "--batch", "16", "--json"]) == 0
    data = _json(capsys)
    assert KEYS <= set(data) and data["estimate"] == "roofline" and data["batch"] == 16
    assert data["params"] > 0 and data["latency_ms"] > 0


def test_cost_json_with_a_profile_file(tiny_profile, tmp_path, capsys):
    path = tiny_profile.save(tmp_path / "tiny.json")
    assert main(["cost", "gps", "--device", str(path), "--json"]) == 0
    data = _json(capsys)
    assert KEYS <= set(data) and data["estimate"] == "measured-profile" and data["device"] == "tiny"
    assert data["batch"] == 32  # the gps spec's batch size


def test_cost_reads_a_checkpoint(tmp_path, capsys, mol_task):
    from autogt.models import build_model, builtin_spec
    from autogt.train import save_checkpoint

    spec = builtin_spec("gps")
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, build_model(spec, mol_task), spec, mol_task)
    for source in (path, tmp_path):  # the file, or the run folder holding it
        assert main(["cost", str(source), "--device", "t4", "--json"]) == 0
        data = _json(capsys)
        assert data["spec_hash"] == spec.hash() and data["estimate"] == "roofline"


def test_cost_bad_input_exits_2(capsys):
    assert main(["cost", "gps", "--device", "tpu-v9", "--json"]) == 2
    err = capsys.readouterr().err
    assert "tpu-v9" in err and "h100" in err and "t4" in err
    assert main(["cost", "no-such-spec", "--device", "h100"]) == 2
    assert main(["cost", "gps", "--device", "h100", "--batch", "0"]) == 2


def test_profile_bad_device_exits_2(capsys, tmp_path):
    assert main(["profile", "--device", "tpu", "--out", str(tmp_path / "x.json")]) == 2
    assert "cpu, cuda or cuda:N" in capsys.readouterr().err
