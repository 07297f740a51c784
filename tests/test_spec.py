from __future__ import annotations

import pytest

from autogt.models.spec import ArchSpec, LayerSpec, SpecError


def test_roundtrip_and_hash_stable():
    spec = ArchSpec(hidden=32,
                    layers=(LayerSpec(local="gin", attn="full", heads=2), LayerSpec(local="gcn", inputs=(0,))),
                    pe="rw", pe_dim=8, combine="concat")
    assert ArchSpec.from_json(spec.to_json()) == spec
    assert ArchSpec.from_yaml(spec.to_yaml()) == spec
    assert spec.hash() == ArchSpec.from_dict(spec.to_dict(full=True)).hash()
    assert spec.hash() != spec.replace(hidden=64).hash()
    assert spec.leaves() == [1, 2]
    assert spec.out_width() == 64


def test_errors_name_key_and_allowed():
    with pytest.raises(SpecError, match="pooling.*choose one of mean, sum, max, attention"):
        ArchSpec(pooling="median")
    with pytest.raises(SpecError, match=r"unknown key\(s\) hiden"):
        ArchSpec.from_dict({"hiden": 3})
    with pytest.raises(SpecError, match=r"layers\[1\].inputs"):
        ArchSpec(layers=(LayerSpec(), LayerSpec(inputs=(2,))))
    with pytest.raises(SpecError, match=r"layers\[0\]: unknown key"):
        ArchSpec.from_dict({"layers": [{"lcoal": "gin"}]})
