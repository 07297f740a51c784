from __future__ import annotations

import json

import pytest

from autogt.hardware import DeviceProfile, ProfileError, load_profile, predict
from autogt.models import ArchSpec, LayerSpec


def _spec(width: int = 32) -> ArchSpec:
    return ArchSpec(hidden=width, layers=(LayerSpec(local="gcn", attn="full", heads=4, ffn=2 * width),) * 2)


def test_tiny_profile_has_every_block_and_axis(tiny_profile, tiny_grid, tiny_blocks):
    assert tiny_profile.kind == "cpu" and tiny_profile.estimate == "measured-profile"
    assert sorted(tiny_profile.tables) == sorted(tiny_blocks)
    attn = tiny_profile.tables["attn:full"]
    assert attn.axis_names == ("width", "heads", "batch", "nodes")
    assert attn.shape == (len(tiny_grid.width), len(tiny_grid.heads), len(tiny_grid.batch), len(tiny_grid.nodes))
    assert set(attn.values) == {"latency_ms", "memory_mb", "ops", "flops", "bytes"}
    assert all(v > 0 for v in attn.values["latency_ms"])
    assert tiny_profile.measurement["threads"] == 1 and tiny_profile.measurement["clock"] == "cpu"
    assert tiny_profile.latency_correction is not None and len(tiny_profile.samples) == 8


def test_json_round_trip_keeps_predictions(tiny_profile, tmp_path, mol_task):
    path = tiny_profile.save(tmp_path / "tiny.json")
    data = json.loads(path.read_text())  # plain JSON: numbers and strings only
    assert data["format"] == "autogt-device-profile" and data["estimate"] == "measured-profile"
    loaded = DeviceProfile.load(path)
    assert loaded.to_json() == tiny_profile.to_json()  # numbers are stored to 6 significant digits
    assert sorted(loaded.tables) == sorted(tiny_profile.tables)
    assert loaded.samples[0].spec == tiny_profile.samples[0].spec
    assert loaded.latency_correction.space == "log"
    a = predict(_spec(), tiny_profile, batch=8, stats=mol_task)
    b = predict(_spec(), str(path), batch=8, stats=mol_task)
    assert b.latency_ms == pytest.approx(a.latency_ms, rel=1e-4) and b.memory_mb == pytest.approx(a.memory_mb, rel=1e-4)


def test_bad_profile_files_raise(tmp_path):
    with pytest.raises(ProfileError, match="no such profile"):
        load_profile(tmp_path / "missing.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "junk.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ProfileError, match="not an autogt device profile"):
        load_profile(tmp_path / "other.json")


def test_profiles_are_found_by_name_in_profile_dirs(tiny_profile, tmp_path, monkeypatch):
    tiny_profile.save(tmp_path / "my-box.json")
    monkeypatch.setenv("AUTOGT_PROFILES", str(tmp_path))
    prof = load_profile("my-box")
    assert prof.name == "tiny" and prof.source.endswith("my-box.json")
