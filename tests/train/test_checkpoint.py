from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

import autogt
from autogt.models.spec import ArchSpec, LayerSpec
from autogt.train.checkpoint import FORMAT, CheckpointError, checkpoint_file, load_checkpoint, save_checkpoint
from autogt.train.metrics import TargetScaler

TASK = {"name": "demo", "level": "graph", "kind": "regression", "metric": "rmse", "num_outputs": 1, "node_dim": 9}
SPEC = ArchSpec(hidden=16, layers=(LayerSpec(local="gin"), LayerSpec(local="gin", attn="full")), pe="rw", pe_dim=4)


class Tied(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(3, 3)
        self.b = torch.nn.Linear(3, 3)
        self.b.weight = self.a.weight  # shared storage: safetensors refuses it unless copied
        self.register_buffer("steps", torch.tensor(7, dtype=torch.long))


def test_roundtrip_holds_spec_task_version_extra_and_weights(tmp_path):
    model = Tied()
    scaler = TargetScaler((1.5,), (2.0,))
    path = save_checkpoint(tmp_path / "sub" / "model.safetensors", model, SPEC, TASK, extra={"val": 0.25},
                           target_scaler=scaler)
    assert path.exists() and not path.with_name("model.safetensors.tmp").exists()
    ckpt = load_checkpoint(path)
    assert ckpt.spec == SPEC
    assert ckpt.task_info == TASK
    assert ckpt.extra == {"val": 0.25}
    assert ckpt.version == autogt.__version__
    assert ckpt.target_scaler == scaler
    assert ckpt.denormalize(torch.tensor([[1.0]])).item() == pytest.approx(3.5)
    assert set(ckpt.state_dict) == set(model.state_dict())
    for k, v in model.state_dict().items():
        assert torch.equal(ckpt.state_dict[k], v)
    fresh = Tied()
    fresh.load_state_dict(ckpt.state_dict, strict=True)


def test_metadata_is_plain_json_strings(tmp_path):
    from safetensors import safe_open

    path = save_checkpoint(tmp_path / "m.safetensors", torch.nn.Linear(2, 2), SPEC, TASK)
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    assert meta["format"] == FORMAT
    assert json.loads(meta["spec"]) == json.loads(SPEC.to_json())
    assert json.loads(meta["task"])["name"] == "demo"
    assert "target_scaler" not in meta


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_run_folder_stands_for_its_model_file(tmp_path):
    path = save_checkpoint(tmp_path / "run" / "model.safetensors", torch.nn.Linear(2, 2), SPEC, TASK)
    assert checkpoint_file(tmp_path / "run") == path
    assert load_checkpoint(tmp_path / "run").path == str(path)
    with pytest.raises(CheckpointError, match="folder without model.safetensors"):
        load_checkpoint(tmp_path)


def test_truncated_file(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", torch.nn.Linear(64, 64), SPEC, TASK)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path)


def test_not_a_safetensors_file(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("hello, I am a text file and not a checkpoint\n" * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(path)


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not an autogt checkpoint"):
        load_checkpoint(path)
    # explicit spec: accepted as plain weights
    ckpt = load_checkpoint(path, spec=SPEC, task=TASK)
    assert ckpt.spec == SPEC and ckpt.task_info == TASK and ckpt.version == ""
    assert torch.equal(ckpt.state_dict["w"], torch.zeros(2))


def test_corrupt_spec_metadata(tmp_path):
    path = tmp_path / "bad.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": FORMAT, "spec": '{"hiden": 3}', "task": "{}"})
    with pytest.raises(CheckpointError, match="invalid spec"):
        load_checkpoint(path)


def test_torch_state_dict_only_with_explicit_spec(tmp_path):
    model = torch.nn.Linear(3, 2)
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(path)
    ckpt = load_checkpoint(path, spec=SPEC, task=TASK)
    assert ckpt.spec == SPEC
    assert torch.equal(ckpt.state_dict["weight"], model.weight.detach())


class _Payload:
    def __reduce__(self):  # executed on a full unpickle; weights_only must refuse it
        return (print, ("pwned",))


def test_torch_file_with_objects_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(1), "x": _Payload()}, path)
    with pytest.raises(CheckpointError, match="weights-only"):
        load_checkpoint(path, spec=SPEC, task=TASK)
    assert "pwned" not in capsys.readouterr().out
