"""Model assembly: DAG cells, encoders, PE/SE, virtual node, readouts and the layer's exact order."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from autogt.data.task import Task
from autogt.hardware.flops import count_params
from autogt.models import ArchSpec, AutoGTModel, GTLayer, LayerSpec, SpecError, build_model
from autogt.models._util import dropout
from autogt.models.encoders import CategoricalEncoder
from autogt.testing.layers import (
    batch_of,
    check_batch_vs_single,
    check_model_forward_backward,
    check_permutation,
    random_graphs,
)


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def _nasbench_cell(ops, inputs, combine="concat"):
    layers = tuple(
        LayerSpec(local=op, inputs=(i,), attn="none", ffn=0, norm="none", residual=False, act="relu", dropout=0.1)
        for op, i in zip(ops, inputs, strict=True)
    )
    return ArchSpec(hidden=8, layers=layers, combine=combine, pre_layers=1, post_layers=2)


def test_nasbench_graph_cell_concat_leaves(nd_task):
    spec = _nasbench_cell(["gat", "gcn", "skip", "cheb"], [0, 0, 1, 2])
    assert spec.leaves() == [3, 4]
    model = build_model(spec, nd_task)
    assert model.plan.out_dim == 16
    batch = random_graphs([12], nd_task)
    check_model_forward_backward(model, batch)
    check_permutation(model, batch.get_example(0))
    assert count_params(spec, nd_task) == _n_params(model)


@pytest.mark.parametrize("combine", ["concat", "sum", "mean", "last"])
def test_dag_with_mixed_widths(combine, mol_task):
    layers = (
        LayerSpec(local="gine", dim=6, norm="layer"),
        LayerSpec(local="gin", dim=10, inputs=(0,), norm="layer"),
        LayerSpec(local="gine", inputs=(1, 2, 0), attn="full", heads=2, norm="layer"),  # sums widths 6, 10, 8
        LayerSpec(local="sage", dim=5, inputs=(1,), residual=True, norm="layer"),
    )
    spec = ArchSpec(hidden=8, layers=layers, combine=combine, virtual_node=True)
    model = build_model(spec, mol_task)
    assert sorted(int(k) for k in model.edge_encoders) == [6, 8]  # one edge encoding per width
    batch = random_graphs([5, 3, 6], mol_task)
    if combine == "last":  # layers 2 and 3 do not reach the output: no gradient for them
        assert model(batch).shape == (3, 2)
    else:
        check_model_forward_backward(model, batch)
    check_batch_vs_single(model, batch.to_data_list())
    assert count_params(spec, mol_task) == _n_params(model)
    expected = {"concat": 8 + 5, "sum": 8, "mean": 8, "last": 5}[combine]
    assert model.plan.out_dim == expected


def test_simple_layer_is_act_op_then_dropout():
    layer = LayerSpec(local="gcn", residual=False, attn="none", ffn=0, norm="none", act="elu", dropout=0.5)
    gt = GTLayer(layer, 5, 7)
    x, ei = torch.randn(6, 5), torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    gt.eval()
    assert torch.allclose(gt(x, ei), F.elu(gt.local(x, ei)))
    gt.train()
    torch.manual_seed(3)
    out = gt(x, ei)
    torch.manual_seed(3)
    assert torch.allclose(out, dropout(F.elu(gt.local(x, ei)), 0.5, True))
    assert (out == 0).any() and (out != 0).any()
    assert _n_params(gt) == _n_params(gt.local)


def test_skip_layer_is_identity():
    layer = LayerSpec(local="skip", residual=True, attn="none", ffn=0, norm="batch", dropout=0.5)
    gt = GTLayer(layer, 4, 4).train()
    x = torch.randn(3, 4)
    assert torch.equal(gt(x, torch.zeros(2, 0, dtype=torch.long)), x)


def test_gps_order_with_residual_and_ffn():
    layer = LayerSpec(local="gin", attn="full", heads=2, ffn=6, norm="layer", residual=True, act="relu")
    gt = GTLayer(layer, 4, 4, head_dim=2).eval()
    x, ei = torch.randn(5, 4), torch.tensor([[0, 1, 2], [1, 2, 3]])
    batch, ptr = torch.zeros(5, dtype=torch.long), torch.tensor([0, 5])
    h = gt.local_norm(x + F.relu(gt.local(x, ei))) + gt.attn_norm(x + gt.attn(x, batch, ptr))
    h = gt.ffn_norm(h + gt.fc2(F.relu(gt.fc1(h))))
    assert torch.allclose(gt(x, ei, None, batch, ptr), h, atol=1e-6)


def test_atom_encoder_clamps_out_of_range():
    enc = CategoricalEncoder((3, 2), 4)
    x = torch.tensor([[5, 1], [2, -1], [2, 0]])
    out = enc(x)
    assert torch.allclose(out[0], out[1] + enc.embeddings[1].weight[1] - enc.embeddings[1].weight[0])
    assert torch.allclose(out[0] - enc.embeddings[1].weight[1], out[2] - enc.embeddings[1].weight[0])


@pytest.mark.parametrize("path", ["one-hot", "per-column (eval)", "per-column (large vocabulary)"])
def test_categorical_encoder_fused_lookup_equals_per_column_sum(path):
    vocab = (7, 3, 5, 2)
    enc = CategoricalEncoder(vocab, 6)
    if path == "per-column (eval)":
        enc.eval()
    elif path == "per-column (large vocabulary)":
        enc.one_hot_max = 16  # below sum(vocab) = 17
    x = torch.stack([torch.randint(-1, v + 2, (40,)) for v in vocab], 1)  # includes out-of-range values
    xc = torch.minimum(x.clamp_min(0), torch.tensor([v - 1 for v in vocab]))
    ref = sum(emb.weight[xc[:, c]] for c, emb in enumerate(enc.embeddings))
    with torch.no_grad():  # inference: the fused embedding_bag lookup
        assert torch.allclose(enc(x), ref, atol=1e-6)
        assert enc(x[:0]).shape == (0, 6)
    out = enc(x)  # with autograd: one-hot product (training) or per-column gathers
    assert torch.allclose(out, ref, atol=1e-6)
    out.pow(2).sum().backward()  # every table gets exactly the gradient of the explicit sum
    grads = [emb.weight.grad.clone() for emb in enc.embeddings]
    for emb in enc.embeddings:
        emb.weight.grad = None
    ref = sum(emb.weight[xc[:, c]] for c, emb in enumerate(enc.embeddings))
    ref.pow(2).sum().backward()
    for g, emb in zip(grads, enc.embeddings, strict=True):
        assert torch.allclose(g, emb.weight.grad, atol=1e-5)
    assert enc(x[:0]).shape == (0, 6)


@pytest.mark.parametrize("pe,pe_hidden", [("rw", 0), ("rw", 3), ("lap", 0), ("lap", 3)])
@pytest.mark.parametrize("encoder", ["auto", "linear", "none"])
def test_encoders_and_pe(pe, pe_hidden, encoder, nd_task, mol_task):
    task = nd_task if encoder != "auto" else mol_task
    spec = ArchSpec(hidden=8, layers=(LayerSpec(local="gcn", norm="layer"),), pe=pe, pe_dim=4, pe_hidden=pe_hidden,
                    node_encoder=encoder)
    model = build_model(spec, task)
    if encoder == "none":
        assert model.layers[0].in_dim == task["node_dim"] + pe_hidden
    batch = random_graphs([4, 6], task)
    check_model_forward_backward(model, batch)
    check_permutation(model, batch.get_example(1))
    assert count_params(spec, task) == _n_params(model)


def test_lap_sign_flip_only_in_training(nd_task):
    spec = ArchSpec(hidden=8, layers=(LayerSpec(local="fc", norm="none"),), pe="lap", pe_dim=4)
    model = build_model(spec, nd_task)
    batch = random_graphs([6, 6], nd_task)
    model.eval()
    assert torch.equal(model(batch), model(batch))
    model.train()
    outs = [model(batch) for _ in range(4)]
    assert any(not torch.allclose(outs[0], o) for o in outs[1:])


def test_missing_pe_is_a_clear_error(monkeypatch, mol_task):
    monkeypatch.setitem(sys.modules, "autogt.data.pe", None)  # as if the module did not exist
    model = build_model(ArchSpec(hidden=8, pe="rw", pe_dim=4), mol_task)
    batch = random_graphs([3], mol_task)
    del batch.pe_rw
    with pytest.raises(ValueError, match="pe_rw"):
        model(batch)


@pytest.mark.parametrize("pooling", ["mean", "sum", "max", "attention"])
def test_pooling_and_head(pooling, mol_task):
    spec = ArchSpec(hidden=8, layers=(LayerSpec(local="gine", norm="layer"),), pooling=pooling, post_layers=3,
                    pre_layers=2, in_dropout=0.1, head_dropout=0.2)
    model = build_model(spec, mol_task)
    batch = random_graphs([2, 5, 1], mol_task)
    check_model_forward_backward(model, batch)
    check_batch_vs_single(model, batch.to_data_list())
    check_permutation(model, batch.get_example(1))
    assert count_params(spec, mol_task) == _n_params(model)


def test_virtual_node_batch_norm(mol_task):
    spec = ArchSpec(hidden=8, layers=(LayerSpec(local="gin"),) * 3, virtual_node=True)
    model = build_model(spec, mol_task)
    check_model_forward_backward(model, random_graphs([4, 5, 6], mol_task))
    check_model_forward_backward(model, random_graphs([4], mol_task))  # one graph in training is fine
    check_batch_vs_single(model, random_graphs([4, 5, 6], mol_task).to_data_list())


def test_accepts_task_object_and_plain_data(mol_task):
    graphs = random_graphs([3, 4], mol_task).to_data_list()
    task = Task(name="t", level="graph", kind="binary", metric="rocauc", num_outputs=2, node_dim=9, edge_dim=3,
                graphs=graphs, split={k: torch.tensor([0]) for k in ("train", "valid", "test")},
                node_categorical=True, edge_categorical=True, atom_vocab=tuple(mol_task["atom_vocab"]),
                bond_vocab=tuple(mol_task["bond_vocab"]))
    spec = ArchSpec(hidden=8, layers=(LayerSpec(local="gine", attn="full", heads=2),))
    m1, m2 = build_model(spec, task), build_model(spec, task.describe())
    assert isinstance(m1, AutoGTModel) and _n_params(m1) == _n_params(m2) == count_params(spec, task)
    m1.eval()
    single = graphs[1]
    plain = Data(x=single.x, edge_index=single.edge_index, edge_attr=single.edge_attr)
    assert torch.allclose(m1(plain), m1(batch_of([single])), atol=1e-6)


@pytest.mark.parametrize("level", ["graph", "node"])
def test_last_layer_as_output(level, mol_task, nd_task):
    task = mol_task if level == "graph" else nd_task
    spec = ArchSpec(hidden=8, layers=(LayerSpec(local="gcn"), LayerSpec(local="gin", attn="full", heads=2)),
                    output="layer")
    model = build_model(spec, task)
    assert model.layers[-1].out_dim == task["num_outputs"] and len(model.head) == 0
    check_model_forward_backward(model, random_graphs([5, 4], task))
    assert count_params(spec, task) == _n_params(model)
    with pytest.raises(SpecError, match="output"):
        spec.replace(combine="concat")
    with pytest.raises(SpecError, match="output"):
        ArchSpec(output="neither")


def test_spec_task_mismatch_errors(nd_task, mol_task):
    with pytest.raises(SpecError, match="node_encoder"):
        build_model(ArchSpec(node_encoder="atom"), nd_task)
    with pytest.raises(SpecError, match="edge_encoder"):
        build_model(ArchSpec(edge_encoder="bond"), {**nd_task, "edge_dim": 2})
    with pytest.raises(SpecError, match="pe_hidden"):
        build_model(ArchSpec(hidden=8, pe="rw", pe_dim=4, pe_hidden=8), mol_task)


def test_raw_edge_features(nd_task):
    task = {**nd_task, "edge_dim": 3}
    spec = ArchSpec(hidden=8, layers=(LayerSpec(local="gine"), LayerSpec(local="gine", dim=6)), edge_encoder="none")
    model = build_model(spec, task)
    assert len(model.edge_encoders) == 0
    check_model_forward_backward(model, random_graphs([7], task))
    assert count_params(spec, task) == _n_params(model)


def test_pe_computed_on_the_fly(mol_task):
    pe_mod = pytest.importorskip("autogt.data.pe")
    spec = ArchSpec(hidden=8, layers=(LayerSpec(local="gine", norm="layer"),), pe="rw", pe_dim=4)
    model = build_model(spec, mol_task).eval()
    graphs = random_graphs([3, 5], mol_task).to_data_list()
    for g in graphs:
        g.pe_rw = pe_mod.compute_pe(g, "rw", 4)
    expected = model(batch_of(graphs))
    for g in graphs:
        del g.pe_rw
    assert torch.allclose(model(batch_of(graphs)), expected, atol=1e-6)


def test_prenorm_layer_normalises_its_input_and_leaves_branches_bare():
    layer = LayerSpec(local="gcn", attn="full", heads=2, ffn=6, norm="batch", residual=True, prenorm=True, dropout=0.3)
    gt = GTLayer(layer, 4, 4, head_dim=2).eval()
    x, ei = torch.randn(5, 4), torch.tensor([[0, 1, 2], [1, 2, 3]])
    batch, ptr = torch.zeros(5, dtype=torch.long), torch.tensor([0, 5])
    z = F.relu(gt.in_norm(x))
    h = (gt.local(z, ei) + x) + (gt.attn(z, batch, ptr) + x)
    h = h + gt.fc2(F.relu(gt.fc1(h)))
    assert torch.allclose(gt(x, ei, None, batch, ptr), h, atol=1e-6)
    # a layer on raw features has no input norm; the branch-output hooks still find their modules
    raw = GTLayer(layer, 4, 4, head_dim=2, raw_input=True)
    assert raw.in_norm is None and isinstance(raw.local_norm, torch.nn.Identity)
    assert _n_params(gt) == _n_params(raw) + 2 * 4


def test_prenorm_raw_input_and_head_acts_in_a_dag(nd_task):
    layers = (LayerSpec(local="skip", inputs=(0,), ffn=0, residual=False, prenorm=True),
              LayerSpec(local="gin1", inputs=(1,), ffn=0, residual=False, prenorm=True),
              LayerSpec(local="fc", inputs=(2,), ffn=0, residual=False, prenorm=True))
    spec = ArchSpec(hidden=8, layers=layers, node_encoder="none", combine="concat", readout_act="relu",
                    head_act="identity", post_layers=2)
    model = build_model(spec, nd_task)
    assert [lp.raw_input for lp in model.plan.layers] == [True, True, False]  # skip passes raw features on
    assert [layer.in_norm is None for layer in model.layers] == [True, True, False]
    assert isinstance(model.head[2], torch.nn.Identity) and isinstance(model.readout_act, torch.nn.ReLU)
    batch = random_graphs([7], nd_task)
    check_model_forward_backward(model, batch)
    assert count_params(spec, nd_task) == _n_params(model)
    with pytest.raises(SpecError, match="head_act"):
        ArchSpec(head_act="swish")
    with pytest.raises(SpecError, match="momentum"):
        ArchSpec(optimizer="sgd", momentum=1.5)


def test_gin1_is_one_linear_over_self_plus_neighbour_sum():
    layer = LayerSpec(local="gin1", attn="none", ffn=0, norm="none", residual=False, act="identity")
    gt = GTLayer(layer, 3, 2).eval()
    x, ei = torch.randn(4, 3), torch.tensor([[0, 1, 2], [1, 2, 3]])
    agg = torch.zeros(4, 3).index_add_(0, ei[1], x[ei[0]])
    assert torch.allclose(gt(x, ei), gt.local.lin(x + agg), atol=1e-6)
    assert _n_params(gt) == 3 * 2 + 2
