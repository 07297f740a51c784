"""Reusable contract checks for local ops, global attention and whole models.

Each check takes a model, a module or a factory and raises ``AssertionError`` with a readable
message. ``tests/models`` calls them for every registered op, so a newly registered op is checked
the moment it is registered; plug-in authors can call them from their own tests.

Example:
    >>> from autogt.models import ArchSpec, LayerSpec, build_model
    >>> from autogt.testing.layers import molecule_task, random_graphs, check_model_forward_backward
    >>> task = molecule_task()
    >>> model = build_model(ArchSpec(hidden=8, layers=(LayerSpec(local="gine"),)), task)
    >>> check_model_forward_backward(model, random_graphs([3, 5], task, seed=0))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "ATOM_VOCAB",
    "BOND_VOCAB",
    "molecule_task",
    "node_task",
    "random_graph",
    "random_graphs",
    "batch_of",
    "permute_graph",
    "check_local_op",
    "check_model_forward_backward",
    "check_permutation",
    "check_batch_vs_single",
    "check_attention_matches_reference",
]

ATOM_VOCAB = (119, 5, 12, 12, 10, 6, 6, 2, 2)
BOND_VOCAB = (5, 6, 2)


# ----------------------------------------------------------------------------- synthetic tasks and graphs
def molecule_task(num_outputs: int = 2, kind: str = "binary") -> dict[str, Any]:
    """A ``Task.describe()``-like dict for OGB-style molecules (9 atom and 3 bond columns)."""
    return {
        "name": "synthetic-mol", "level": "graph", "kind": kind, "metric": "rocauc", "num_outputs": num_outputs,
        "node_dim": len(ATOM_VOCAB), "edge_dim": len(BOND_VOCAB), "node_categorical": True,
        "edge_categorical": True, "atom_vocab": list(ATOM_VOCAB), "bond_vocab": list(BOND_VOCAB),
        "meta": {"nodes_mean": 25.0, "edges_mean": 54.0, "nodes_sq_mean": 680.0},
    }


def node_task(node_dim: int = 6, num_outputs: int = 3, edge_dim: int = 0) -> dict[str, Any]:
    """A ``Task.describe()``-like dict for node classification on float features."""
    return {
        "name": "synthetic-node", "level": "node", "kind": "multiclass", "metric": "accuracy",
        "num_outputs": num_outputs, "node_dim": node_dim, "edge_dim": edge_dim, "node_categorical": False,
        "edge_categorical": False, "atom_vocab": [], "bond_vocab": [],
    }


def random_graph(n: int, task: dict[str, Any], *, generator: torch.Generator, pe_dim: int = 8,
                 edge_prob: float = 0.3) -> Any:
    """A random undirected graph with features matching ``task`` and ``pe_rw`` / ``pe_lap`` attached.

    Categorical features include out-of-range values (to exercise clamping).
    """
    from torch_geometric.data import Data

    g = generator
    if task.get("node_categorical"):
        vocab = torch.tensor(task["atom_vocab"])
        x = (torch.rand(n, len(vocab), generator=g) * (vocab + 2)).long()  # some indices >= vocab
    else:
        x = torch.randn(n, task["node_dim"], generator=g)
    iu = torch.triu_indices(n, n, offset=1)
    keep = torch.rand(iu.size(1), generator=g) < edge_prob
    if n > 1:  # a path keeps the graph connected-ish
        keep |= iu[1] == iu[0] + 1
    und = iu[:, keep]
    edge_index = torch.cat([und, und.flip(0)], dim=1)  # [2, e]
    data = Data(x=x, edge_index=edge_index, num_nodes=n)
    e_dim = int(task.get("edge_dim", 0) or 0)
    if e_dim:
        if task.get("edge_categorical"):
            vocab = torch.tensor(task["bond_vocab"])
            half = (torch.rand(und.size(1), len(vocab), generator=g) * vocab).long()
        else:
            half = torch.randn(und.size(1), e_dim, generator=g)
        data.edge_attr = torch.cat([half, half])
    data.pe_rw = torch.rand(n, pe_dim, generator=g)
    data.pe_lap = torch.randn(n, pe_dim, generator=g)
    return data


def random_graphs(sizes: Sequence[int], task: dict[str, Any], *, seed: int = 0, pe_dim: int = 8,
                  edge_prob: float = 0.3) -> Any:
    """A PyG ``Batch`` of random graphs with the given node counts (see :func:`random_graph`)."""
    g = torch.Generator().manual_seed(seed)
    return batch_of([random_graph(n, task, generator=g, pe_dim=pe_dim, edge_prob=edge_prob) for n in sizes])


def batch_of(graphs: Sequence[Any]) -> Any:
    """``Batch.from_data_list``."""
    from torch_geometric.data import Batch

    return Batch.from_data_list(list(graphs))


def permute_graph(data: Any, perm: Tensor) -> Any:
    """Relabel nodes so that new node ``i`` is old node ``perm[i]`` (edges keep their order)."""
    from torch_geometric.data import Data

    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(perm.numel())
    out = Data(x=data.x[perm], edge_index=inv[data.edge_index], num_nodes=perm.numel())
    if getattr(data, "edge_attr", None) is not None:
        out.edge_attr = data.edge_attr
    for key in ("pe_rw", "pe_lap"):
        if getattr(data, key, None) is not None:
            out[key] = data[key][perm]
    return out


# ----------------------------------------------------------------------------- checks
def check_local_op(factory: Callable[..., Any], layer: Any, *, in_dim: int = 6, out_dim: int = 8,
                   edge_dim: int = 4, seed: int = 0, atol: float = 1e-5) -> None:
    """A local-op factory honours the contract: shapes, gradients and permutation equivariance."""
    torch.manual_seed(seed)
    op = factory(in_dim, out_dim, heads=layer.heads, edge_dim=edge_dim, layer=layer)
    if op is None:
        return
    assert isinstance(op, nn.Module), f"factory returned {type(op).__name__}, expected an nn.Module or None"
    op.eval()
    n = 7
    x = torch.randn(n, in_dim, requires_grad=True)
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 4, 4, 5, 2, 6], [1, 0, 2, 1, 4, 3, 5, 4, 6, 2]])
    edge_attr = torch.randn(edge_index.size(1), edge_dim) if edge_dim else None
    out = op(x, edge_index, edge_attr)
    assert out.shape == (n, out_dim), f"op output shape {tuple(out.shape)}, expected {(n, out_dim)}"
    assert torch.isfinite(out).all(), "op output is not finite"
    out.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all(), "no finite gradient reaches the op input"
    for name, p in op.named_parameters():
        assert p.grad is not None, f"parameter {name} gets no gradient"
    perm = torch.randperm(n)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(n)
    with torch.no_grad():
        out_p = op(x[perm], inv[edge_index], edge_attr)
    assert torch.allclose(out_p, out.detach()[perm], atol=atol), "op is not permutation equivariant"


def check_model_forward_backward(model: nn.Module, batch: Any) -> None:
    """Forward in training mode gives finite outputs of the right shape; every parameter gets a gradient."""
    model.train()
    out = model(batch)
    rows = batch.num_nodes if getattr(model, "level", "graph") == "node" else batch.num_graphs
    assert out.dim() == 2 and out.size(0) == rows, f"output shape {tuple(out.shape)}, expected ({rows}, outputs)"
    assert torch.isfinite(out).all(), "model output is not finite"
    model.zero_grad(set_to_none=True)
    out.square().mean().backward()
    missing = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"
    bad = [name for name, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad}"


def check_permutation(model: nn.Module, data: Any, *, seed: int = 0, atol: float = 1e-5) -> None:
    """Relabelling the nodes of one graph leaves graph-level outputs unchanged and permutes node-level ones."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(data.num_nodes, generator=gen)
    with torch.no_grad():
        out = model(batch_of([data]))
        out_p = model(batch_of([permute_graph(data, perm)]))
    expected = out[perm] if getattr(model, "level", "graph") == "node" else out
    err = (out_p - expected).abs().max().item()
    assert err <= atol, f"not permutation {'equivariant' if model.level == 'node' else 'invariant'}: max err {err:.2e}"


def check_batch_vs_single(model: nn.Module, graphs: Sequence[Any], *, atol: float = 1e-5) -> None:
    """In eval mode a batch gives the same per-graph (per-node) outputs as each graph alone."""
    model.eval()
    with torch.no_grad():
        out = model(batch_of(graphs))
        singles = [model(batch_of([g])) for g in graphs]
    ref = torch.cat(singles)
    assert out.shape == ref.shape, f"batched shape {tuple(out.shape)} != stacked singles {tuple(ref.shape)}"
    err = (out - ref).abs().max().item()
    assert err <= atol, f"batched output differs from single-graph outputs: max err {err:.2e}"


def check_attention_matches_reference(module: Any, sizes: Sequence[int], *, dim: int | None = None,
                                      seed: int = 0, atol: float = 1e-5) -> None:
    """A :class:`~autogt.models.attention.MultiHeadAttention` gives the same outputs and gradients with
    ``impl="bucket"`` and the padded reference ``impl="padded"`` (eval mode, no dropout)."""
    module.eval()
    gen = torch.Generator().manual_seed(seed)
    sizes_t = torch.tensor(list(sizes))
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), sizes_t.cumsum(0)])
    batch = torch.repeat_interleave(torch.arange(len(sizes)), sizes_t)
    in_dim = dim if dim is not None else module.q.in_features
    x0 = torch.randn(int(ptr[-1]), in_dim, generator=gen)
    results = {}
    for impl in ("bucket", "padded"):
        module.zero_grad(set_to_none=True)
        module.impl = impl
        x = x0.clone().requires_grad_(True)
        out = module(x, batch, ptr)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads = {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}
        assert x.grad is not None, "no gradient reaches the attention input"
        results[impl] = (out.detach(), x.grad.clone(), grads)
    module.impl = "bucket"
    (o_b, gx_b, gp_b), (o_p, gx_p, gp_p) = results["bucket"], results["padded"]
    assert torch.allclose(o_b, o_p, atol=atol), f"outputs differ: {(o_b - o_p).abs().max().item():.2e}"
    assert torch.allclose(gx_b, gx_p, atol=atol), f"input grads differ: {(gx_b - gx_p).abs().max().item():.2e}"
    for name in gp_b:
        assert torch.allclose(gp_b[name], gp_p[name], atol=atol), f"grad of {name} differs"
