from __future__ import annotations

import dataclasses

import pytest
import torch
from elastic_helpers import tiny_spec
from torch import nn

from autogt.elastic import (
    DEFAULT_GRANULARITIES,
    ElasticError,
    NestedFFN,
    elastic_layers,
    extract_model,
    get_granularity,
    granularities,
    nested_modules,
    nested_widths,
    set_granularity,
    slice_spec,
    use_granularity,
)
from autogt.hardware import count_params
from autogt.models import ArchSpec, LayerSpec, build_model
from autogt.testing.layers import molecule_task, random_graphs

TASK = molecule_task()


def test_default_granularities_and_widths():
    assert DEFAULT_GRANULARITIES == (0.125, 0.25, 0.5, 1.0)
    assert nested_widths(128, DEFAULT_GRANULARITIES) == (16, 32, 64, 128)
    assert nested_widths(4, DEFAULT_GRANULARITIES) == (1, 1, 2, 4)  # at least one neuron
    assert granularities(ArchSpec(elastic=(0.5, 0.25))) == (0.25, 0.5, 1.0)  # sorted, full width added
    assert granularities(ArchSpec()) == ()
    with pytest.raises(ElasticError, match="must be in"):
        nested_widths(8, (0.0,))


def test_nested_ffn_uses_first_neurons():
    fc1, fc2, act = nn.Linear(6, 16), nn.Linear(16, 6), nn.ReLU()
    nested = NestedFFN(16, (0.25, 0.5, 1.0))
    x = torch.randn(5, 6)
    for g, m in enumerate(nested.widths):
        nested.active = g
        ref = act(x @ fc1.weight[:m].T + fc1.bias[:m]) @ fc2.weight[:, :m].T + fc2.bias
        assert torch.allclose(nested(x, fc1, act, fc2), ref, atol=1e-6)
    nested.active = None
    assert torch.allclose(nested(x, fc1, act, fc2), fc2(act(fc1(x))), atol=1e-6)


def test_elastic_spec_builds_nested_ffns_with_dense_state_dict_names():
    dense = build_model(tiny_spec(elastic=()), TASK)
    elastic = build_model(tiny_spec(), TASK)
    assert not nested_modules(dense)
    assert len(nested_modules(elastic)) == 3
    assert list(dense.state_dict()) == list(elastic.state_dict())  # fc1/fc2 keep their names
    elastic.load_state_dict(dense.state_dict(), strict=True)
    assert sum(p.numel() for p in elastic.parameters()) == count_params(tiny_spec(), TASK)


@pytest.mark.parametrize("choice", [0, 1, 2, 3, (0, 1, 3), (3, 0, 2)])
def test_slice_equals_granularity_forward(choice):
    spec = tiny_spec(virtual_node=True)
    model = build_model(spec, TASK).eval()
    for p in model.parameters():  # non-trivial weights everywhere (norms included)
        p.data.normal_(0, 0.3)
    batch = random_graphs([5, 9, 3, 7], TASK, seed=1, pe_dim=4)
    set_granularity(model, choice)
    sub = extract_model(model, choice).eval()
    assert sub.spec.elastic == ()
    assert not nested_modules(sub)
    assert torch.allclose(model(batch), sub(batch), atol=1e-5)
    picks = (choice,) * 3 if isinstance(choice, int) else choice
    assert [layer.ffn for layer in sub.spec.layers] == [(8, 16, 32, 64)[c] for c in picks]
    assert sum(p.numel() for p in sub.parameters()) == count_params(sub.spec, TASK)


def test_slice_dag_layers_of_different_widths():
    layers = (LayerSpec(local="gin", ffn=None, dim=12), LayerSpec(local="gin", ffn=0),
              LayerSpec(local="gcn", attn="performer", heads=2, ffn=40, inputs=(0, 1)))
    spec = ArchSpec(hidden=16, layers=layers, combine="concat", elastic=(0.25, 0.5, 1.0))
    model = build_model(spec, TASK).eval()
    assert elastic_layers(spec, TASK) == [0, 2]  # layer 1 has no FFN
    batch = random_graphs([6, 4], TASK, seed=2)
    for choice in [(0, 2), (1, 0), None]:
        set_granularity(model, choice)
        sub = extract_model(model, choice).eval()
        assert torch.allclose(model(batch), sub(batch), atol=1e-5)
    assert [layer.ffn for layer in slice_spec(spec, (0, 1), TASK).layers] == [6, 0, 20]  # 2 * 12 * 0.25, 40 * 0.5


def test_granularity_context_and_errors():
    model = build_model(tiny_spec(), TASK)
    with use_granularity(model, (0, 1, 2)):
        assert get_granularity(model) == (0, 1, 2)
    assert get_granularity(model) == (None, None, None)
    with pytest.raises(ElasticError, match="one granularity per elastic layer"):
        set_granularity(model, (0, 1))
    with pytest.raises(ElasticError, match="out of range"):
        set_granularity(model, 4)
    with pytest.raises(ElasticError, match="no nested FFN"):
        set_granularity(build_model(tiny_spec(elastic=()), TASK), 0)
    with pytest.raises(ElasticError, match="dense"):
        slice_spec(tiny_spec(elastic=()), 0, TASK)


def test_granularity_changes_output_and_full_equals_dense():
    spec = tiny_spec()
    model = build_model(spec, TASK).eval()
    dense = build_model(dataclasses.replace(spec, elastic=()), TASK).eval()
    dense.load_state_dict(model.state_dict())
    batch = random_graphs([5, 6], TASK, seed=3, pe_dim=4)
    full = model(batch)
    assert torch.allclose(full, dense(batch), atol=1e-6)
    with use_granularity(model, 0):
        assert not torch.allclose(model(batch), full, atol=1e-4)
