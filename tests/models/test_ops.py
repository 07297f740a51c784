"""Contract tests parametrised over every registered local op and global kind."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from autogt.hardware.flops import count_params
from autogt.models import ArchSpec, LayerSpec, build_model
from autogt.registry import UnknownNameError, get, names, register, unregister
from autogt.testing.layers import (
    check_batch_vs_single,
    check_local_op,
    check_model_forward_backward,
    check_permutation,
    random_graphs,
)

LOCAL_OPS = names("local")
GLOBAL_OPS = names("global")


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("op", LOCAL_OPS)
@pytest.mark.parametrize("edge_dim", [0, 4])
def test_local_op_contract(op, edge_dim):
    layer = LayerSpec(local=op, heads=2, norm="layer", local_out=0)
    check_local_op(get("local", op), layer, in_dim=6, out_dim=8, edge_dim=edge_dim)
    check_local_op(get("local", op), layer, in_dim=8, out_dim=8, edge_dim=edge_dim)


def _local_spec(op: str, **kw) -> ArchSpec:
    layers = (LayerSpec(local=op, heads=2, norm="layer", dropout=0.1, **kw),
              LayerSpec(local=op, heads=2, norm="layer", dim=12, ffn=0, **kw))
    return ArchSpec(hidden=8, layers=layers, pe="rw", pe_dim=4)


@pytest.mark.parametrize("op", LOCAL_OPS)
def test_graph_model_with_local_op(op, mol_task):
    spec = _local_spec(op)
    model = build_model(spec, mol_task)
    batch = random_graphs([4, 1, 7], mol_task, seed=1)
    check_model_forward_backward(model, batch)
    check_permutation(model, batch.get_example(2))
    check_batch_vs_single(model, batch.to_data_list())
    assert count_params(spec, mol_task) == _n_params(model)


@pytest.mark.parametrize("op", LOCAL_OPS)
def test_node_model_with_local_op(op, nd_task):
    spec = _local_spec(op, attn="none").replace(pe="lap")
    model = build_model(spec, nd_task)
    batch = random_graphs([9], nd_task, seed=2)
    check_model_forward_backward(model, batch)
    check_permutation(model, batch.get_example(0))
    check_batch_vs_single(model, random_graphs([3, 5], nd_task, seed=3).to_data_list())
    assert count_params(spec, nd_task) == _n_params(model)


@pytest.mark.parametrize("attn", GLOBAL_OPS)
@pytest.mark.parametrize("local", ["none", "gine"])
def test_graph_model_with_global_op(attn, local, mol_task):
    layers = (LayerSpec(local=local, attn=attn, heads=2, norm="batch"),
              LayerSpec(local=local, attn=attn, heads=3, head_dim=5, dim=12, norm="layer", attn_dropout=0.1))
    spec = ArchSpec(hidden=8, layers=layers)
    model = build_model(spec, mol_task)
    batch = random_graphs([5, 1, 8, 2], mol_task, seed=4)
    check_model_forward_backward(model, batch)
    check_permutation(model, batch.get_example(2))
    check_batch_vs_single(model, batch.to_data_list())
    assert count_params(spec, mol_task) == _n_params(model)


@pytest.mark.parametrize("attn", GLOBAL_OPS)
def test_node_model_with_global_op(attn, nd_task):
    spec = ArchSpec(hidden=8, layers=(LayerSpec(local="gcn", attn=attn, heads=2, norm="layer"),) * 2)
    model = build_model(spec, nd_task)
    batch = random_graphs([10], nd_task, seed=5)
    check_model_forward_backward(model, batch)
    check_permutation(model, batch.get_example(0))
    check_batch_vs_single(model, random_graphs([4, 6], nd_task, seed=6).to_data_list())


def test_unknown_op_lists_known_names(mol_task):
    with pytest.raises(UnknownNameError, match="known local names: .*gcn.*gine"):
        build_model(ArchSpec(layers=(LayerSpec(local="nope"),)), mol_task)
    with pytest.raises(UnknownNameError, match="known global names: .*full.*performer"):
        build_model(ArchSpec(layers=(LayerSpec(attn="nope"),)), mol_task)
    with pytest.raises(UnknownNameError):
        count_params(ArchSpec(layers=(LayerSpec(local="nope"),)), mol_task)


class _Mean(nn.Module):
    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim)

    def forward(self, x, edge_index, edge_attr=None):
        agg = torch.zeros_like(x).index_add_(0, edge_index[1], x[edge_index[0]])
        return self.lin(agg + x)


def test_user_registered_op(mol_task):
    def factory(in_dim, out_dim, *, heads, edge_dim, layer):
        return _Mean(in_dim, out_dim)

    register("local", "test_mean", factory)
    try:
        assert "test_mean" in names("local")
        check_local_op(factory, LayerSpec(local="test_mean"))
        spec = ArchSpec(hidden=8, layers=(LayerSpec(local="test_mean"), LayerSpec(local="test_mean", dim=6)))
        model = build_model(spec, mol_task)
        check_model_forward_backward(model, random_graphs([3, 4], mol_task))
        assert count_params(spec, mol_task) == _n_params(model)  # meta-device fallback
    finally:
        unregister("local", "test_mean")


@pytest.mark.parametrize("edge_dim", [8, 5])
def test_gine_in_place_messages_match_the_formula_with_gradients(edge_dim):
    """``gine`` builds its messages in place; outputs and every gradient equal the out-of-place formula
    ``mlp((1 + eps) x + sum_j relu(x_j + lin(e_ij)))``."""
    from autogt.models.ops.gin import GINConv

    torch.manual_seed(0)
    conv = GINConv(8, 6, 10, norm="none", act="relu", edge_dim=edge_dim, use_edges=True).train()
    with torch.no_grad():
        conv.eps.fill_(0.3)
    x = torch.randn(7, 8, requires_grad=True)
    ea = torch.randn(12, edge_dim, requires_grad=True)
    ei = torch.randint(0, 7, (2, 12))

    def reference():
        e = ea if conv.edge_lin is None else conv.edge_lin(ea)
        msg = torch.relu(x[ei[0]] + e)
        agg = torch.zeros(7, 8).index_add(0, ei[1], msg)
        return conv.mlp((1 + conv.eps) * x + agg)

    outs, grads = [], []
    for fn in (lambda: conv(x, ei, ea), reference):
        params = [x, ea, *conv.parameters()]
        for p in params:
            p.grad = None
        out = fn()
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        outs.append(out.detach())
        grads.append([p.grad.clone() for p in params])
    torch.testing.assert_close(outs[0], outs[1])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)
