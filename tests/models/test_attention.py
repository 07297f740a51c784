"""Global attention: block plans, equivalence with the padded reference, dropout, bias, performer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from autogt.models.attention import (
    AttentionPlan,
    BlockCost,
    MultiHeadAttention,
    PerformerAttention,
    attention_cost,
    attention_plan,
    bucket_length,
    bucketed_attention,
    bucketed_linear_attention,
    padded_attention,
    padded_linear_attention,
    set_attention_impl,
)


def _layout(sizes, device="cpu"):
    sizes_t = torch.tensor(sizes, dtype=torch.long)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), sizes_t.cumsum(0)]).to(device)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), sizes_t).to(device)
    return batch, ptr


def _random_sizes(seed: int, graphs: int, hi: int = 200) -> list[int]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(1, hi + 1, (graphs,), generator=gen).tolist()


def _run(module, x0, batch, ptr, impl, bias=None):
    """Output, input gradient and parameter gradients of ``module`` under ``impl``."""
    module.impl = impl
    module.zero_grad(set_to_none=True)
    x = x0.clone().requires_grad_(True)
    out = module(x, batch, ptr) if bias is None else module(x, batch, ptr, bias=bias)
    weight = torch.linspace(-1, 1, out.numel(), device=out.device).view_as(out)
    (out * weight).sum().backward()
    grads = {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}
    return out.detach(), x.grad.clone(), grads


def _assert_same(module, sizes, *, impls=("auto", "bucket"), seed=0, bias=None, device="cpu",
                 dtype=torch.float32, atol=None):
    """Outputs and gradients of ``impls`` equal the ``padded`` reference.

    float32: outputs and input gradients within ``1e-5``; parameter gradients are sums over all ``n``
    nodes, so their float32 rounding (the reference's own error against float64 is of the same size)
    is allowed to grow like ``1e-5 * sqrt(n)``. float64: everything within ``1e-9``, which pins down
    the algorithm exactly (summation order is the only difference left).
    """
    atol = atol if atol is not None else (1e-9 if dtype == torch.float64 else 1e-5)
    module.eval().to(device=device, dtype=dtype)
    batch, ptr = _layout(sizes, device)
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.randn(int(ptr[-1]), module.q.in_features, generator=gen).to(device=device, dtype=dtype)
    ref_out, ref_gx, ref_gp = _run(module, x0, batch, ptr, "padded", bias)
    assert set(ref_gp) == {name for name, p in module.named_parameters() if p.requires_grad}
    sum_atol = atol * max(1.0, float(ptr[-1]) ** 0.5) if dtype == torch.float32 else atol
    for impl in impls:
        out, gx, gp = _run(module, x0, batch, ptr, impl, bias)
        torch.testing.assert_close(out, ref_out, atol=atol, rtol=0, msg=lambda m, i=impl: f"{i} output: {m}")
        torch.testing.assert_close(gx, ref_gx, atol=atol, rtol=0, msg=lambda m, i=impl: f"{i} input grad: {m}")
        for name, g in ref_gp.items():
            torch.testing.assert_close(gp[name], g, atol=sum_atol, rtol=0,
                                       msg=lambda m, i=impl, nm=name: f"{i} grad of {nm}: {m}")


# --------------------------------------------------------------------------- plans
def test_bucket_length():
    assert [bucket_length(n) for n in range(1, 14)] == [1, 2, 3, 4, 6, 6, 8, 8, 12, 12, 12, 12, 16]
    for n in range(1, 500):
        b = bucket_length(n)
        assert n <= b <= 1.5 * n and (b - n) <= b / 3  # at most a third of a bucket is padding
    sizes = list(range(1, 300))
    plan = AttentionPlan(_layout(sizes)[1], strategy="bucket")
    assert {b.length for b in plan.blocks} == {bucket_length(n) for n in sizes}


@pytest.mark.parametrize("strategy", ["auto", "bucket"])
@pytest.mark.parametrize("sizes", [[5, 0, 3, 9, 1, 1, 3, 12], [7], [4, 4, 4], [0, 2], _random_sizes(3, 40)])
def test_plan_layout_round_trips(strategy, sizes):
    batch, ptr = _layout(sizes)
    plan = AttentionPlan(ptr, strategy=strategy, inner=32)
    n = int(ptr[-1])
    rows = torch.arange(n).float().unsqueeze(-1) + 1.0  # [n, 1], no zero rows
    packed = plan.pack(rows)
    assert packed.shape[0] == plan.num_slots == sum(b.graphs * b.length for b in plan.blocks)
    assert torch.equal(plan.unpack(packed), rows)  # node -> slot -> node
    assert sorted(b.length for b in plan.blocks) == [b.length for b in plan.blocks]
    assert sum(b.graphs for b in plan.blocks) == sum(s > 0 for s in sizes)
    for block, view in zip(plan.blocks, plan.views(packed), strict=True):
        nodes = plan.nodes(block)  # [G_b, L_b]
        assert torch.equal(view[..., 0], rows[nodes, 0])
        assert torch.equal(batch[nodes], batch[nodes[:, :1]].expand_as(nodes))  # a row never leaves its graph
        mask = plan.mask(block)
        valid = torch.ones_like(nodes, dtype=torch.bool) if mask is None else mask.view_as(nodes)
        assert block.masked == (mask is not None) == (not bool(valid.all()))
        assert torch.equal(valid.sum(1), torch.tensor(sizes)[batch[nodes[:, 0]]])  # real slots = graph size
    assert plan.cells >= plan.ideal_cells == sum(s * s for s in sizes)


def test_plan_identity_for_one_graph_or_equal_sizes():
    for sizes in ([1], [150], [6, 6, 6], [3, 0, 3]):
        plan = AttentionPlan(_layout(sizes)[1])
        assert plan.identity and plan.gather is None and len(plan.blocks) == 1 and not plan.blocks[0].masked
        assert plan.cells == plan.ideal_cells
    assert not AttentionPlan(_layout([3, 4])[1]).identity


def _brute_force_cost(sizes, cost, inner):
    s = np.sort(np.asarray(sizes))
    values = np.unique(s)
    best = np.inf
    for k in range(len(values)):
        for cut in itertools.combinations(range(1, len(values)), k):
            edges = [0, *cut, len(values)]
            total = 0.0
            for a, b in itertools.pairwise(edges):
                count = int(((s >= values[a]) & (s <= values[b - 1])).sum())
                length = values[b - 1]
                total += count * inner * (cost.cell * length**2 + cost.row * length) + cost.call
            best = min(best, total)
    return best


@pytest.mark.parametrize("seed", range(5))
def test_auto_plan_is_cost_optimal(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 5, 9, 17, 30, 64, 120], size=int(rng.integers(1, 30))).tolist()
    cost = BlockCost.for_device("cpu")
    plan = AttentionPlan(_layout(sizes)[1], inner=64, cost=cost)
    got = sum(b.graphs * 64 * (cost.cell * b.length**2 + cost.row * b.length) + cost.call for b in plan.blocks)
    assert got == pytest.approx(_brute_force_cost(sizes, cost, 64))


def test_auto_plan_trades_calls_for_padding():
    sizes = [2, 3] * 5 + [100]
    cpu = AttentionPlan(_layout(sizes)[1], inner=64)
    assert [b.length for b in cpu.blocks] == [3, 100]  # tiny graphs merge; one big graph stays alone
    expensive_calls = AttentionPlan(_layout(sizes)[1], inner=64, cost=BlockCost(1e-9, 1e-9, 1e6))
    assert len(expensive_calls.blocks) == 1 and expensive_calls.blocks[0].length == 100


def test_plan_cache_follows_ptr():
    _, ptr = _layout([3, 5, 8])
    plan = attention_plan(ptr, inner=16)
    assert attention_plan(ptr, inner=16) is plan  # every layer of a forward reuses it
    assert attention_plan(ptr.clone(), inner=16) is not plan
    ptr2 = ptr.clone()
    first = attention_plan(ptr2, inner=16)
    ptr2[1:] = torch.tensor([4, 9, 16])  # modified in place: rebuilt
    second = attention_plan(ptr2, inner=16)
    assert second is not first and second.num_nodes == 16


def test_attention_cost():
    _, ptr = _layout([2, 3, 10])
    padded = attention_cost(ptr, impl="padded")
    assert padded["cells"] == 3 * 100 and padded["ideal_cells"] == 4 + 9 + 100 and padded["nodes"] == 15
    assert padded["attn_sq_mean"] == pytest.approx(100.0)
    auto = attention_cost(ptr, impl="auto", inner=64)
    assert padded["ideal_cells"] <= auto["cells"] <= padded["cells"]
    with pytest.raises(ValueError, match="impl"):
        attention_cost(ptr, impl="nested")


def test_auto_waste_on_molecule_like_batch():
    """A log-normal mix like BBBP (mean ~24, max ~130): padding costs ~10x, the auto plan < 1.3x."""
    rng = np.random.default_rng(0)
    sizes = np.clip(rng.lognormal(3.1, 0.4, 256).round().astype(int), 2, 132).tolist()
    _, ptr = _layout(sizes)
    assert attention_cost(ptr, impl="padded")["ratio"] > 5
    assert attention_cost(ptr, impl="auto", inner=128)["ratio"] < 1.3
    assert attention_cost(ptr, impl="bucket")["ratio"] < 1.8


# --------------------------------------------------------------------------- equivalence
@pytest.mark.parametrize("seed", range(4))
def test_full_matches_padded_random_sizes(seed):
    gen = torch.Generator().manual_seed(100 + seed)
    sizes = _random_sizes(seed, int(torch.randint(2, 14, (1,), generator=gen))) + [1, 1]  # incl. single nodes
    heads, head_dim = [(1, 8), (2, 4), (3, 5), (4, 2)][seed]
    torch.manual_seed(seed)
    _assert_same(MultiHeadAttention(8, 6, heads=heads, head_dim=head_dim), sizes, seed=seed)


@pytest.mark.parametrize("sizes", [[1], [200], [1, 1, 1], [6, 6, 6], [1, 200], [37]])
def test_full_matches_padded_edge_cases(sizes):
    torch.manual_seed(0)
    _assert_same(MultiHeadAttention(6, 6, heads=2, head_dim=3), sizes)


@pytest.mark.parametrize("cls", [MultiHeadAttention, PerformerAttention])
def test_float64_exact(cls):
    torch.manual_seed(0)
    _assert_same(cls(8, 6, heads=2, head_dim=4), _random_sizes(11, 12) + [1, 3, 3], dtype=torch.float64)


@pytest.mark.parametrize("seed", range(2))
def test_performer_matches_padded(seed):
    torch.manual_seed(seed)
    sizes = _random_sizes(seed, 10) + [1]
    _assert_same(PerformerAttention(8, 6, heads=2, head_dim=4), sizes, seed=seed)
    _assert_same(PerformerAttention(8, 6, heads=2, head_dim=4), [1], seed=seed)


def test_empty_graph_in_batch():
    q = k = v = torch.randn(5, 2, 3)
    batch, ptr = _layout([2, 0, 3])
    for strategy in ("auto", "bucket"):
        out = bucketed_attention(q, k, v, ptr, strategy=strategy)
        torch.testing.assert_close(out, padded_attention(q, k, v, batch), atol=1e-6, rtol=0)
        phi = torch.rand(5, 2, 4) + 0.1
        lin = bucketed_linear_attention(phi, phi, v, ptr, strategy=strategy)
        torch.testing.assert_close(lin, padded_linear_attention(phi, phi, v, batch), atol=1e-6, rtol=0)


def test_bias_hook_matches_padded_and_gets_gradients():
    torch.manual_seed(0)
    slope = torch.nn.Parameter(torch.tensor([0.5, -0.3]))  # one per head
    position = torch.randn(40)  # a per-node scalar, e.g. a coordinate

    def bias(nodes):  # [G, L] -> [G, H, L, L]
        p = position[nodes]
        return -slope.view(1, -1, 1, 1) * (p[:, None, :, None] - p[:, None, None, :]).abs()

    att = MultiHeadAttention(6, 6, heads=2, head_dim=3)
    sizes = [9, 1, 4, 17, 9]
    _assert_same(att, sizes, bias=bias)
    batch, ptr = _layout(sizes)
    x = torch.randn(40, 6)
    for impl in ("auto", "padded"):
        att.impl, slope.grad = impl, None
        att(x, batch, ptr, bias=bias).square().sum().backward()
        assert slope.grad is not None and slope.grad.abs().sum() > 0
    att.impl = "auto"
    assert not torch.allclose(att(x, batch, ptr, bias=bias), att(x, batch, ptr))


# --------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("cls", [MultiHeadAttention, PerformerAttention])
@pytest.mark.parametrize("impl", ["auto", "bucket", "padded"])
def test_attention_stays_within_graphs(cls, impl):
    torch.manual_seed(0)
    att = cls(6, 6, heads=2, head_dim=3, impl=impl).eval()
    batch, ptr = _layout([4, 5, 3])
    x = torch.randn(12, 6)
    out = att(x, batch, ptr)
    x2 = x.clone()
    x2[4:9] += torch.randn(5, 6)  # change graph 1 only
    out2 = att(x2, batch, ptr)
    assert torch.allclose(out[:4], out2[:4], atol=1e-6) and torch.allclose(out[9:], out2[9:], atol=1e-6)
    assert not torch.allclose(out[4:9], out2[4:9])


@pytest.mark.parametrize("impl", ["auto", "padded"])
def test_dropout_only_in_training(impl):
    torch.manual_seed(0)
    att = MultiHeadAttention(6, 6, heads=2, head_dim=3, dropout=0.5, impl=impl)
    batch, ptr = _layout([5, 7, 1])
    x = torch.randn(13, 6)
    att.eval()
    assert torch.equal(att(x, batch, ptr), att(x, batch, ptr))
    att.train()
    assert not torch.allclose(att(x, batch, ptr), att(x, batch, ptr))


def test_dropout_is_unbiased_and_trains():
    """Averaged over many draws, attention dropout gives the no-dropout output (inverted scaling).

    The draws are 3000 copies each of three graphs (4, 9 and 17 nodes, so several blocks) in one
    batch: every copy gets its own dropout mask. The relative error of the mean is ~1% (the standard
    error), against 30% when the ``1 / (1 - p)`` scaling is missing.
    """
    torch.manual_seed(0)
    copies, sizes = 3000, [4, 9, 17]
    q, k, v = (torch.randn(30, 2, 4) for _ in range(3))
    _, ptr = _layout(sizes * copies)
    assert len(attention_plan(ptr, inner=8).blocks) > 1

    def tile(t):
        return t.repeat(copies, 1, 1)  # [copies * 30, 2, 4]

    clean = bucketed_attention(q, k, v, _layout(sizes)[1])
    drop = bucketed_attention(tile(q), tile(k), tile(v), ptr, dropout_p=0.3).view(copies, 30, 2, 4)
    assert not torch.allclose(drop[0], drop[1])  # independent masks per graph
    assert (drop.mean(0) - clean).norm() < 0.05 * clean.norm()
    qg = tile(q).requires_grad_(True)
    bucketed_attention(qg, tile(k), tile(v), ptr, dropout_p=0.3).sum().backward()
    assert qg.grad is not None and torch.isfinite(qg.grad).all()


@pytest.mark.parametrize("sizes", [[3, 5, 7, 2, 1, 1, 6], [20, 31, 17, 40, 1], [2, 3, 1, 150, 160]])
@pytest.mark.parametrize("with_bias", [False, True])
def test_dropout_path_layout_matches_padded(monkeypatch, sizes, with_bias):
    """The explicit-product path used with dropout (head-major blocks; keys on dim -2 for blocks
    shorter than 16) is exact once the dropout draw is fixed."""
    import autogt.models.attention as attention

    monkeypatch.setattr(attention, "dropout", lambda w, p, training=True: w)
    torch.manual_seed(0)
    att = MultiHeadAttention(8, 6, heads=3, head_dim=4, dropout=0.5)
    batch, ptr = _layout(sizes)
    position = torch.randn(int(ptr[-1]))
    slope = torch.tensor([0.5, -0.3, 0.1])

    def bias(nodes):  # [G, L] -> [G, H, L, L]
        p = position[nodes]
        return -slope.view(1, -1, 1, 1) * (p[:, None, :, None] - p[:, None, None, :]).abs()

    x0 = torch.randn(int(ptr[-1]), 8)
    att.train()
    out, gx, gp = _run(att, x0, batch, ptr, "auto", bias if with_bias else None)
    lengths = [b.length for b in attention_plan(ptr, inner=12).blocks]
    assert lengths == {7: [7], 40: [40], 160: [3, 160]}[max(sizes)]  # short, long, and both in one batch
    att.dropout = 0.0
    ref_out, ref_gx, ref_gp = _run(att, x0, batch, ptr, "padded", bias if with_bias else None)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=0)
    torch.testing.assert_close(gx, ref_gx, atol=1e-5, rtol=0)
    for name, g in ref_gp.items():
        torch.testing.assert_close(gp[name], g, atol=1e-5 * float(ptr[-1]) ** 0.5, rtol=0)


def test_impl_setting():
    model = torch.nn.ModuleList([MultiHeadAttention(4, 4, 1, 4), PerformerAttention(4, 4, 1, 4), torch.nn.Linear(2, 2)])
    assert all(m.impl == "auto" for m in model[:2])
    assert set_attention_impl(model, "padded") == 2
    assert all(m.impl == "padded" for m in model[:2])
    with pytest.raises(ValueError, match="impl"):
        set_attention_impl(model, "flash")
    with pytest.raises(ValueError, match="impl"):
        MultiHeadAttention(4, 4, 1, 4, impl="dense")


def test_o_sees_node_rows():
    """Head pruning hooks ``o``'s input: it must stay ``[n, heads * head_dim]`` under every impl."""
    att = MultiHeadAttention(6, 6, heads=3, head_dim=2)
    seen = []
    att.o.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))
    batch, ptr = _layout([3, 8, 1])
    for impl in ("auto", "bucket", "padded"):
        att.impl = impl
        att(torch.randn(12, 6), batch, ptr)
    assert seen == [(12, 6)] * 3


def test_performer_deterministic_and_buffered():
    torch.manual_seed(0)
    att = PerformerAttention(6, 6, heads=2, head_dim=3).eval()
    batch, ptr = _layout([5, 1, 7])
    x = torch.randn(13, 6)
    assert torch.equal(att(x, batch, ptr), att(x, batch, ptr))
    assert "features" in att.state_dict() and "features" not in dict(att.named_parameters())
    twin = PerformerAttention(6, 6, heads=2, head_dim=3)
    twin.load_state_dict(att.state_dict())
    assert torch.allclose(twin.eval()(x, batch, ptr), att(x, batch, ptr))


def test_performer_approximates_softmax_attention():
    torch.manual_seed(0)
    full = MultiHeadAttention(8, 8, heads=1, head_dim=8).eval()
    perf = PerformerAttention(8, 8, heads=1, head_dim=8, num_features=4096).eval()
    perf.load_state_dict({**full.state_dict(), "features": perf.features})
    batch, ptr = _layout([6, 9])
    x = 0.3 * torch.randn(15, 8)
    err = (full(x, batch, ptr) - perf(x, batch, ptr)).abs().max().item()
    assert err < 0.05


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_padded():
    torch.manual_seed(0)
    sizes = _random_sizes(7, 40) + [1]
    _assert_same(MultiHeadAttention(16, 16, heads=4, head_dim=4), sizes, device="cuda", atol=1e-4)
    _assert_same(PerformerAttention(16, 16, heads=4, head_dim=4), sizes, device="cuda", atol=1e-4)
    plan = attention_plan(_layout(sizes, "cuda")[1], inner=16)
    assert plan.gather is not None and plan.gather.device.type == "cuda"


def test_count_flops_counts_computed_cells():
    """``count_flops`` charges the attention cells really computed when the stats carry them."""
    from autogt.hardware.flops import count_flops
    from autogt.models import ArchSpec, LayerSpec
    from autogt.testing.layers import molecule_task

    spec = ArchSpec(hidden=16, layers=(LayerSpec(local="gin", attn="full", heads=2),))
    _, ptr = _layout([3, 5, 20, 21, 22])
    cost = attention_cost(ptr, impl="auto", inner=16)
    stats = {"nodes_mean": 14.2, "edges_mean": 30.0, "nodes_sq_mean": cost["ideal_cells"] / 5}
    ideal = count_flops(spec, stats, task=molecule_task())
    real = count_flops(spec, {**stats, "attn_sq_mean": cost["attn_sq_mean"]}, task=molecule_task())
    assert real - ideal == pytest.approx(4 * 16 * (cost["cells"] - cost["ideal_cells"]) / 5)
    assert real > ideal


@pytest.mark.parametrize("p", [0.0, 0.4])
@pytest.mark.parametrize("sizes", [[3, 5, 7, 2, 1, 1, 6], [1], [2, 3, 1, 150, 160, 40]])
def test_gather_backward_equals_scatter_add_backward(monkeypatch, p, sizes):
    """Packing for softmax attention backpropagates by gathering through the inverse index, which is
    exact only because padding slots get exactly zero gradient; the plain ``index_select`` backward
    (a scatter-add over every slot, padding included) must give the same gradients, dropout included."""
    import autogt.models.attention as attention

    batch, ptr = _layout(sizes)
    n = int(ptr[-1])

    def grads():
        torch.manual_seed(1)
        q, k, v = (torch.randn(n, 3, 4, requires_grad=True) for _ in range(3))
        out = bucketed_attention(q, k, v, ptr, dropout_p=p)
        (out * torch.randn(out.shape)).sum().backward()
        return out, q.grad, k.grad, v.grad

    fast = grads()
    monkeypatch.setattr(attention._Regather, "apply", lambda t, index, back, valid: t.index_select(0, index))
    plain = grads()
    for a, b in zip(fast, plain, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
