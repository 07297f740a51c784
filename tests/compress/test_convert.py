"""from_module: GPSConv stacks, TransformerEncoder and wrapped models convert exactly or are refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from autogt.compress import ConversionError, from_module
from autogt.models import build_model
from autogt.testing.layers import molecule_task, random_graphs

pyg_nn = pytest.importorskip("torch_geometric.nn")
C = 16


def _gine(edge_dim=None, norm=True):
    mid = [nn.BatchNorm1d(2 * C)] if norm else []
    return pyg_nn.GINEConv(nn.Sequential(nn.Linear(C, 2 * C), *mid, nn.ReLU(), nn.Linear(2 * C, C), nn.ReLU()),
                           train_eps=True, edge_dim=edge_dim)


def _randomize(module):
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
            if isinstance(m, pyg_nn.GINEConv):
                m.eps.fill_(0.25)
    return module.eval()


def _float_batch(task, seed=0):
    return random_graphs([5, 9, 2, 7], task, seed=seed, edge_prob=0.4)


def _reference_gps(stack, batch):
    x = batch.x
    for conv in stack:
        x = conv(x, batch.edge_index, batch.batch, edge_attr=batch.edge_attr.float())
    return x


@pytest.mark.parametrize("edge_dim", [None, 3])
def test_gpsconv_stack_equal_outputs(edge_dim):
    stack = _randomize(nn.ModuleList(pyg_nn.GPSConv(C, _gine(edge_dim), heads=4, dropout=0.1,
                                                    attn_kwargs={"dropout": 0.2}) for _ in range(3)))
    spec, state, task = from_module(stack)
    assert spec.layers[0].local == "gine" and spec.layers[0].attn == "full" and spec.layers[0].heads == 4
    assert spec.layers[0].ffn == 2 * C and spec.layers[0].dropout == 0.1 and spec.layers[0].attn_dropout == 0.2
    model = build_model(spec, task)
    model.load_state_dict(state, strict=True)
    batch = _float_batch({**task, "meta": {}}, seed=4)
    with torch.no_grad():
        want = _reference_gps(stack, batch)
        got = model.eval()(batch)
    assert torch.allclose(got, want, atol=1e-5)
    # MultiheadAttention's packed in_proj was split into q/k/v
    w = stack[0].attn.in_proj_weight
    assert torch.equal(state["layers.0.attn.k.weight"], w[C:2 * C])


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_encoder_equal_outputs(batch_first, activation):
    from torch_geometric.utils import to_dense_batch

    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(C, 4, 24, dropout=0.1, activation=activation,
                                                           batch_first=batch_first), 2, enable_nested_tensor=False)
    enc.eval()
    spec, state, task = from_module(enc)
    assert all(layer.norm == "layer" and layer.local == "none" and layer.ffn == 24 for layer in spec.layers)
    model = build_model(spec, task)
    model.load_state_dict(state, strict=True)
    batch = _float_batch({**task, "meta": {}}, seed=1)
    dense, mask = to_dense_batch(batch.x, batch.batch)
    with torch.no_grad():
        inp = dense if batch_first else dense.transpose(0, 1)
        out = enc(inp, src_key_padding_mask=~mask)
        want = (out if batch_first else out.transpose(0, 1))[mask]
        got = model.eval()(batch)
    assert torch.allclose(got, want, atol=1e-5)


class _Wrapped(nn.Module):
    def __init__(self, task):
        super().__init__()
        self.atom = nn.ModuleList(nn.Embedding(v, C) for v in task["atom_vocab"])
        self.bond_encoder = nn.ModuleList(nn.Embedding(v, C) for v in task["bond_vocab"])
        self.convs = nn.ModuleList(pyg_nn.GPSConv(C, _gine(), heads=2) for _ in range(2))
        self.head = nn.Sequential(nn.Linear(C, C), nn.ReLU(), nn.Linear(C, task["num_outputs"]))

    def forward(self, b):
        x = sum(e(b.x[:, i].clamp(max=e.num_embeddings - 1)) for i, e in enumerate(self.atom))
        ea = sum(e(b.edge_attr[:, i].clamp(max=e.num_embeddings - 1)) for i, e in enumerate(self.bond_encoder))
        for conv in self.convs:
            x = conv(x, b.edge_index, b.batch, edge_attr=ea)
        return self.head(pyg_nn.global_mean_pool(x, b.batch))


def test_wrapped_gps_model_equal_outputs():
    task = molecule_task()
    net = _randomize(_Wrapped(task))
    spec, state, desc = from_module(net, task)
    assert spec.node_encoder == "atom" and spec.edge_encoder == "bond" and spec.post_layers == 2
    model = build_model(spec, desc)
    model.load_state_dict(state, strict=True)
    batch = random_graphs([4, 6, 3], task, seed=7)
    with torch.no_grad():
        assert torch.allclose(model.eval()(batch), net(batch), atol=1e-5)


def test_wrong_pooling_is_caught_by_the_numeric_check():
    task = molecule_task()
    net = _randomize(_Wrapped(task))
    with pytest.raises(ConversionError, match="differ"):
        from_module(net, task, pooling="sum")


@pytest.mark.parametrize("make, match", [
    (lambda: nn.ModuleList([pyg_nn.GPSConv(C, pyg_nn.GATConv(C, C), heads=2)]), "GATConv"),
    (lambda: nn.ModuleList([pyg_nn.GPSConv(C, _gine(), heads=2, norm="layer_norm")]), "whole graph"),
    (lambda: nn.ModuleList([pyg_nn.GPSConv(C, _gine(norm=False), heads=2)]), "inner norm"),
    (lambda: nn.ModuleList([pyg_nn.GPSConv(C, _gine(), heads=2, attn_type="performer")]), "PerformerAttention"),
    (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(C, 4, 32, norm_first=True), 1,
                                   enable_nested_tensor=False), "norm_first"),
    (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(C, 4, 32), 1, norm=nn.LayerNorm(C),
                                   enable_nested_tensor=False), "final norm"),
    (lambda: nn.LSTM(4, 4), "LSTM"),
])
def test_refusals_name_the_layer(make, match):
    with pytest.raises(ConversionError, match=match):
        from_module(make())


def test_wrapped_with_unknown_child_is_refused():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Conv1d(3, 3, 1)
            self.convs = nn.ModuleList([pyg_nn.GPSConv(C, _gine(), heads=2)])
            self.head = nn.Linear(C, 1)

    with pytest.raises(ConversionError, match="Conv1d"):
        from_module(Net(), molecule_task(num_outputs=1))
