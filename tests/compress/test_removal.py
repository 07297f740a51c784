"""Physical removal: the pruned standard model equals the masked model's deterministic outputs."""

from __future__ import annotations

import copy

import pytest
import torch

from autogt.compress import (
    CostModel,
    GateValues,
    HardConcreteMasker,
    MaskedModel,
    StaticMasker,
    derive_spec,
    finalize,
    make_layout,
    remove,
)
from autogt.models import ArchSpec, LayerSpec, build_model, builtin_spec
from autogt.testing.layers import random_graphs
from autogt.testing.maskers import check_masker, random_values

SPECS = {
    "gps": builtin_spec("gps"),
    "gps_default_ffn_layernorm": ArchSpec(hidden=16, layers=(LayerSpec(local="gine", attn="full", heads=4, norm="layer",
                                                                         act="gelu"),) * 3),
    "performer_sage_graph": ArchSpec(hidden=12, layers=(LayerSpec(local="sage", attn="performer", heads=3, ffn=20),
                                                        LayerSpec(local="graph", attn="full", heads=2, ffn=16),
                                                        LayerSpec(local="gcn", attn="none", ffn=24, norm="none")),
                                     pooling="attention", post_layers=3, pre_layers=1),
    "attention_only_concat_dag": ArchSpec(hidden=12, layers=(
        LayerSpec(local="none", attn="full", heads=3, ffn=16),
        LayerSpec(local="skip", attn="full", heads=2, ffn=16, inputs=(0, 1)),
        LayerSpec(local="fc", attn="none", ffn=8, inputs=(1,)),
        LayerSpec(local="gin", attn="full", heads=2, ffn=8)), combine="concat", pe="rw", pe_dim=4),
    "varying_widths_vn": ArchSpec(hidden=16, layers=(
        LayerSpec(local="gine", attn="full", heads=2, ffn=24, dim=12),
        LayerSpec(local="gat", attn="full", heads=2, ffn=16),
        LayerSpec(local="cheb", attn="performer", heads=2, ffn=8, dim=8)), virtual_node=True, combine="last"),
    "sum_combine": ArchSpec(hidden=10, layers=(
        LayerSpec(local="gcn", attn="full", heads=2, ffn=12),
        LayerSpec(local="gine", attn="full", heads=2, ffn=12),
        LayerSpec(local="sage", attn="none", ffn=6, inputs=(1,))), combine="sum"),
}


def _randomize_norms(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)


def _setup(name, task):
    spec = SPECS[name]
    model = build_model(spec, task)
    _randomize_norms(model, 0)
    batch = random_graphs([5, 7, 1, 9, 4], task, seed=3, pe_dim=16)
    return spec, model.eval(), batch


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("seed", [0, 1])
def test_static_masker_contract(name, seed, mol_task):
    spec, model, batch = _setup(name, mol_task)
    layout = make_layout(spec, mol_task, ("heads", "neurons", "attn", "local", "ffn", "layers", "hidden"))
    check_masker(StaticMasker(layout, random_values(layout, seed=seed, p_close=0.3)), model, mol_task, batch)


@pytest.mark.parametrize("name", ["gps", "performer_sage_graph", "attention_only_concat_dag"])
def test_hard_concrete_masker_contract_with_edges(name, mol_task):
    spec, model, batch = _setup(name, mol_task)
    layout = make_layout(spec, mol_task, ("heads", "neurons", "attn", "local", "ffn", "layers", "hidden", "edges"))
    masker = HardConcreteMasker(layout, mol_task)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for gate in masker.gates.values():
            gate.log_alpha.copy_(torch.randn(gate.n, generator=g) * 3)
        if masker.scorer is not None:
            masker.scorer.bias.fill_(0.5)
            for t in masker.scorer.edge_tables:
                t.weight.normal_(0, 2, generator=g)
    check_masker(masker, model, mol_task, batch)


def test_blocks_heads_ffn_and_layers_removed(mol_task):
    spec, model, batch = _setup("gps", mol_task)
    layout = make_layout(spec, mol_task)
    v = GateValues.ones(layout)
    v.layers[0].heads = torch.tensor([0.0, 0.7, 0.0, 1.0])  # 2 heads kept, one value folded into o
    v.layers[0].neurons[::2] = 0.0
    v.layers[1].attn = torch.zeros(())  # whole attention block
    v.layers[1].local = torch.zeros(())  # whole message-passing block
    v.layers[2].ffn = torch.zeros(())  # whole FFN
    v.layers[3].layer = torch.zeros(())  # whole layer
    v.hidden[[3, 20, 50, 60]] = 0.0  # two node channels, two PE channels
    fin = finalize(layout, v)
    masked = MaskedModel(copy.deepcopy(model), StaticMasker(layout, fin)).eval()
    with torch.no_grad():
        want = masked(batch)
    new_spec, small = remove(model, layout, fin, mol_task)
    assert [layer.heads for layer in new_spec.layers] == [2, 4, 4]
    assert new_spec.layers[0].head_dim == 16 and new_spec.layers[0].ffn == 64
    assert new_spec.layers[1].attn == "none" and new_spec.layers[1].local == "none"
    assert new_spec.layers[2].ffn == 0 and len(new_spec.layers) == 3
    assert new_spec.hidden == 60 and new_spec.pe_hidden == 14
    with torch.no_grad():
        got = small(batch)
    assert torch.allclose(got, want, atol=1e-5)
    assert CostModel(layout, mol_task).exact(new_spec) < CostModel(layout, mol_task).dense


def test_removal_fails_loudly_when_values_are_wrong(mol_task):
    # the test can fail: removing heads without folding their values must change the outputs
    spec, model, batch = _setup("gps", mol_task)
    layout = make_layout(spec, mol_task)
    v = GateValues.ones(layout)
    v.layers[0].heads = torch.tensor([0.5, 0.5, 0.5, 0.5])
    masked = MaskedModel(copy.deepcopy(model), StaticMasker(layout, v)).eval()
    with torch.no_grad():
        want = masked(batch)
        plain = model(batch)
    assert not torch.allclose(want, plain, atol=1e-4)
    _spec, small = remove(model, layout, finalize(layout, v), mol_task)
    with torch.no_grad():
        assert torch.allclose(small(batch), want, atol=1e-5)


def test_all_heads_closed_closes_the_block(mol_task):
    spec, _model, _batch = _setup("gps", mol_task)
    layout = make_layout(spec, mol_task)
    v = GateValues.ones(layout)
    v.layers[2].heads = torch.zeros(4)
    v.layers[1].neurons = torch.zeros(128)
    d = derive_spec(layout, finalize(layout, v))
    assert d.spec.layers[2].attn == "none" and d.spec.layers[1].ffn == 0


def test_layout_notes_explain_unavailable_granularities(mol_task):
    layout = make_layout(SPECS["varying_widths_vn"], mol_task)
    assert layout.hidden == 0 and any("virtual node" in n for n in layout.notes)
    assert layout.layers[1].heads == 0 and any("shares 'heads'" in n for n in layout.notes)
    assert not any(s.layer for s in layout.layers)
    ln = make_layout(SPECS["gps_default_ffn_layernorm"], mol_task)
    assert ln.hidden == 0 and any("LayerNorm" in n for n in ln.notes)
