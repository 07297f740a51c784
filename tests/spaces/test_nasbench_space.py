"""NAS-Bench-Graph mapping: hash agreement with the package, round trips, protocol, the bundled space."""

from __future__ import annotations

import itertools
import random

import nas_bench_graph as nbg
import pytest

from autogt.models import build_model
from autogt.spaces import SpaceError, load_space, nasbench

ALL_LINKS = list(itertools.product(*[range(i + 1) for i in range(4)]))  # the 24 valid link lists


def _mismatches(encodings):
    out = []
    for link, ops in encodings:
        ours = nasbench.arch_hash(link, ops)
        theirs = nbg.Arch(list(link), list(ops)).valid_hash()
        if ours != theirs:
            out.append((link, ops, ours, theirs))
    return out


def test_arch_hash_agrees_with_the_package_on_a_large_sample():
    everything = list(itertools.product(ALL_LINKS, itertools.product(nasbench.OPS, repeat=4)))
    assert len(everything) == 157_464
    sample = random.Random(0).sample(everything, 30_000)
    sample += [(link, ("skip",) * 4) for link in ALL_LINKS]  # the empty architecture in every wiring
    assert not _mismatches(sample)


@pytest.mark.slow
def test_arch_hash_agrees_with_the_package_on_every_encoding():
    assert not _mismatches(itertools.product(ALL_LINKS, itertools.product(nasbench.OPS, repeat=4)))


def test_26206_distinct_architectures_and_the_empty_one():
    archs = nasbench.all_archs()
    assert len(archs) == 26206
    keys = {nasbench.arch_hash(link, ops) for link in nasbench.LINKS
            for ops in itertools.product(nasbench.OPS, repeat=4)}
    assert len(keys) == 26206 + 1  # + the all-skip architecture
    assert nasbench.arch_hash([0, 1, 2, 3], ["skip"] * 4) == nasbench.EMPTY_KEY
    assert nasbench.EMPTY_KEY not in nasbench.bench("cora")
    assert set(nasbench.bench("cora")) == keys - {nasbench.EMPTY_KEY}
    assert len(nasbench.bench("proteins")) == 2021


def test_isomorphic_wirings_share_a_key():
    # the same DAG listed in another order (the README's version of this example, [0, 1, 1, 2], moves fc
    # under cheb; the package itself gives it another key)
    assert nasbench.arch_hash([0, 1, 2, 1], ["gcn", "gin", "fc", "cheb"]) == \
        nasbench.arch_hash([0, 1, 1, 3], ["gcn", "cheb", "gin", "fc"])
    assert nasbench.arch_hash([0, 1, 2, 1], ["gcn", "gin", "fc", "cheb"]) != \
        nasbench.arch_hash([0, 1, 1, 2], ["gcn", "cheb", "gin", "fc"])
    # swapping two parallel branches
    assert nasbench.arch_hash([0, 0, 0, 0], ["gcn", "gat", "sage", "gin"]) == \
        nasbench.arch_hash([0, 0, 0, 0], ["gin", "sage", "gat", "gcn"])
    # a skip with children is transparent
    assert nasbench.arch_hash([0, 1, 1, 1], ["skip", "gcn", "gat", "sage"]) == \
        nasbench.arch_hash([0, 0, 0, 0], ["gat", "sage", "gcn", "skip"])
    # different operations are different architectures
    assert nasbench.arch_hash([0, 1, 2, 3], ["gcn"] * 4) != nasbench.arch_hash([0, 1, 2, 3], ["gat"] * 4)


def test_round_trip_for_every_architecture():
    for key in sorted(nasbench.bench("cora")):
        link, ops = nasbench.decode_hash(key)
        spec = nasbench.to_spec(link, ops, "cora")
        assert nasbench.from_spec(spec) == (link, ops)
        assert nasbench.arch_hash(*nasbench.from_spec(spec)) == key


def test_spec_follows_the_protocol_of_each_data_set():
    for name in nasbench.DATASETS:
        p = nasbench.protocol(name)
        spec = nasbench.to_spec([0, 0, 1, 2], ["cheb", "arma", "gat", "skip"], name)
        assert spec.hidden == p["dim"]
        assert spec.node_encoder == ("linear" if p["num_pre"] else "none")
        assert spec.post_layers == 1 + p["num_pro"]
        assert spec.combine == "concat" and spec.pre_layers == 0
        assert (spec.lr, spec.weight_decay, spec.optimizer) == (p["lr"], p["weight_decay"], p["optimizer"])
        assert [layer.inputs for layer in spec.layers] == [(0,), (0,), (1,), (2,)]
        assert [layer.local_out for layer in spec.layers] == [2, 1, 0, 0]
        assert all(layer.attn == "none" and layer.ffn == 0 and not layer.residual and layer.norm == "batch"
                   and layer.dropout == p["dropout"] for layer in spec.layers)
        assert spec.leaves() == [3, 4]
    assert nasbench.protocol("proteins")["metric"] == "rocauc"
    assert nasbench.protocol("cora")["metric"] == "accuracy"


def test_protocol_trains_on_raw_features():
    """The bench's script loads Planetoid without NormalizeFeatures; the protocol says so and load_task obeys."""
    import torch

    import autogt

    proto = nasbench.protocol("cora")
    assert proto["normalize_features"] is False and "normalize_features" in nasbench.VERIFIED["cora"]
    x = autogt.load_task("cora", normalize_features=proto["normalize_features"]).graphs[0].x
    assert torch.equal(x, x.round()) and float(x.sum(1).max()) > 1.0  # binary bag of words, not rows summing to 1


def _nbg_params(link, ops, in_dim, out_dim, dim, pre, pro):
    """Parameter count of NAS-Bench-Graph's Net (gnn_map ops, one BatchNorm per node, concat head)."""
    per_op = {"gcn": lambda a, b: a * b + b, "gat": lambda a, b: a * b + 3 * b, "gin": lambda a, b: a * b + b,
              "cheb": lambda a, b: 2 * a * b + b, "sage": lambda a, b: 2 * a * b + b,
              "arma": lambda a, b: 2 * a * b + b * b + b, "graph": lambda a, b: 2 * a * b + b,
              "fc": lambda a, b: a * b + b, "skip": lambda a, b: 0}
    n = sum((in_dim if i == 0 else dim) * dim + dim for i in range(pre))
    n += sum(dim * (out_dim if i == pro - 1 else dim) + (out_dim if i == pro - 1 else dim) for i in range(pro))
    raw = [not pre] + [False] * 4  # which node outputs still have the raw input width
    for i, (op, j) in enumerate(zip(ops, link, strict=True)):
        raw[i + 1] = raw[j] and op == "skip"
    leaves = sum(1 for node in range(1, 5) if node not in link)
    head_out = dim if pro else out_dim
    n += leaves * dim * head_out + head_out
    return n + sum(per_op[op](in_dim if raw[j] else dim, dim) + 2 * dim for op, j in zip(ops, link, strict=True))


@pytest.mark.parametrize("name, dims", [("cora", (1433, 7)), ("pubmed", (500, 3)), ("cs", (6805, 15)),
                                        ("computers", (767, 10)), ("arxiv", (128, 40)), ("proteins", (8, 112))])
def test_protocol_widths_reproduce_the_bench_parameter_counts(name, dims):
    p = nasbench.protocol(name)
    table = nasbench.bench(name)
    for key, info in table.items():
        link, ops = nasbench.decode_hash(key)
        assert _nbg_params(link, ops, *dims, p["dim"], p["num_pre"], p["num_pro"]) == round(info["para"] * 1e6), \
            (name, link, ops)


def test_autogt_models_match_the_bench_parameter_counts_for_exact_ops():
    """gat gcn gin cheb sage graph fc are built exactly as NAS-Bench-Graph builds them (arma, skip are not), up
    to the BatchNorm that NAS-Bench-Graph allocates, and never uses, for a node reading raw features."""
    count_params = pytest.importorskip("autogt.hardware.flops").count_params
    exact = {"gat", "gcn", "gin", "cheb", "sage", "graph", "fc"}
    rng = random.Random(0)
    for name, (in_dim, out_dim) in {"cora": (1433, 7), "cs": (6805, 15), "computers": (767, 10)}.items():
        task = {"level": "node", "kind": "multiclass", "num_outputs": out_dim, "node_dim": in_dim, "edge_dim": 0}
        table = nasbench.bench(name)
        keys = [k for k in table if set(nasbench.decode_hash(k)[1]) <= exact]
        for key in rng.sample(keys, 60):
            link, ops = nasbench.decode_hash(key)
            spec = nasbench.to_spec(link, ops, name)
            unused_bns = 0 if nasbench.protocol(name)["num_pre"] else 2 * spec.hidden * link.count(0)
            assert count_params(spec, task) + unused_bns == round(table[key]["para"] * 1e6), (name, link, ops)
            if key % 7 == 0:  # the built model agrees with the analytic count
                assert sum(p.numel() for p in build_model(spec, task).parameters()) == count_params(spec, task)


def test_bundled_space_is_exactly_the_benchmark_space():
    space = load_space("nasbench_graph")
    dists = space.fixed_distributions()
    assert dists["link"].choices == tuple("-".join(map(str, lk)) for lk in nasbench.LINKS)
    for i in range(1, 5):
        assert dists[f"layer{i}.local"].choices == nasbench.OPS
    rng = random.Random(1)
    for name in nasbench.DATASETS:
        fixed = nasbench.space_for(name)
        ops_of = nasbench.PROTEINS_OPS if name == "proteins" else nasbench.OPS
        assert fixed.distributions()["layer1.local"].choices == ops_of  # proteins: the benchmark's 5 ops
        for _ in range(20):
            link, ops = rng.choice(nasbench.LINKS), [rng.choice(ops_of) for _ in range(4)]
            params = {"link": "-".join(map(str, link)), **{f"layer{i + 1}.local": op for i, op in enumerate(ops)}}
            assert fixed.to_spec(params) == nasbench.to_spec(link, ops, name)
    assert space.to_spec({"link": "0-1-2-3", **{f"layer{i}.local": "gcn" for i in range(1, 5)}}) == \
        nasbench.to_spec([0, 1, 2, 3], ["gcn"] * 4, "cora")


@pytest.mark.parametrize("link, ops, words", [
    ([0, 0, 0], ["gcn"] * 3, ["exactly 4"]),
    ([0, 2, 0, 0], ["gcn"] * 4, ["link[1]", "choose one of 0, 1"]),
    ([0, 0, 0, 0], ["gcn", "gcn", "transformer", "gcn"], ["ops[2]", "'transformer'", "gat, gcn, gin"]),
])
def test_malformed_architectures_name_the_position(link, ops, words):
    with pytest.raises(SpaceError) as info:
        nasbench.arch_hash(link, ops)
    for word in words:
        assert word in str(info.value)


def test_from_spec_rejects_specs_outside_the_space():
    spec = nasbench.to_spec([0, 1, 2, 3], ["gcn"] * 4)
    with pytest.raises(SpaceError, match="exactly 4 layers"):
        nasbench.from_spec(spec.replace(layers=spec.layers[:3]))
    with pytest.raises(SpaceError, match=r"layers\[1\].inputs"):
        nasbench.from_spec(spec.replace_layer(1, inputs=(0, 1)))
    with pytest.raises(SpaceError, match=r"layers\[2\].attn"):
        nasbench.from_spec(spec.replace_layer(2, attn="full"))
    with pytest.raises(SpaceError, match=r"ops\[3\]: 'gine'"):
        nasbench.from_spec(spec.replace_layer(3, local="gine"))
    with pytest.raises(SpaceError, match="not a NAS-Bench-Graph data set; choose one of cora"):
        nasbench.protocol("mnist")
