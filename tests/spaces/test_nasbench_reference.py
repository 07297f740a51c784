"""autogt's NAS-Bench-Graph models compute exactly what the benchmark's model (written in plain PyG) computes."""

from __future__ import annotations

import random

import pytest
import torch
from torch_geometric.data import Data

from autogt.models import build_model
from autogt.spaces import nasbench
from autogt.testing.nasbench_reference import BenchNet

EXACT = ("gat", "gcn", "gin", "cheb", "sage", "graph", "fc")  # arma and skip differ (see autogt.spaces.nasbench)


def _graph(n: int = 30, d: int = 12) -> Data:
    """A simple undirected graph (no self-loops, no repeated edges), like the citation graphs."""
    from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

    g = torch.Generator().manual_seed(0)
    ei = remove_self_loops(torch.randint(0, n, (2, 4 * n), generator=g))[0]
    return Data(x=torch.randn(n, d, generator=g), edge_index=coalesce(to_undirected(ei), num_nodes=n))


def _copy_weights(model: torch.nn.Module, ref: BenchNet) -> None:
    with torch.no_grad():
        for i, layer in enumerate(model.layers):
            ours, theirs = sorted(layer.local.named_parameters()), sorted(ref.ops[i].named_parameters())
            assert [p.shape.numel() for _, p in ours] == [q.shape.numel() for _, q in theirs], (i, ours, theirs)
            for (_, p), (_, q) in zip(ours, theirs, strict=True):
                p.copy_(q.reshape(p.shape))
            if layer.in_norm is not None:
                for name in ("weight", "bias", "running_mean", "running_var"):
                    getattr(layer.in_norm, name).copy_(getattr(ref.bns[i], name))
        ours_head = [m for m in model.head if isinstance(m, torch.nn.Linear)]
        ref_head = [m for m in ref.head.modules() if isinstance(m, torch.nn.Linear)]
        for a, b in zip(ours_head, ref_head, strict=True):
            a.weight.copy_(b.weight)
            a.bias.copy_(b.bias)


@pytest.mark.parametrize("dataset", ["cora", "pubmed"])  # num_pro 1 and 0
def test_spec_built_models_equal_the_plain_pyg_reference(dataset):
    proto = nasbench.protocol(dataset)
    graph = _graph()
    task = {"level": "node", "kind": "multiclass", "num_outputs": 5, "node_dim": 12, "edge_dim": 0}
    rng = random.Random(dataset)
    for link in nasbench.LINKS:
        ops = tuple(rng.choice(EXACT) for _ in range(4))
        torch.manual_seed(0)
        ref = BenchNet(link, ops, 12, 5, proto)
        for bn in ref.bns:  # non-trivial running statistics
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
        model = build_model(nasbench.to_spec(link, ops, dataset), task)
        _copy_weights(model, ref)
        ref.eval()
        model.eval()
        assert torch.allclose(model(graph), ref(graph), atol=1e-5), (link, ops)
