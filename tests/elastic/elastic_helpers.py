"""Small molecule-like tasks and tiny elastic specs shared by the elastic tests (fixed seeds, seconds to train)."""

from __future__ import annotations

import torch

from autogt.data.task import Task
from autogt.models import ArchSpec, LayerSpec
from autogt.testing.layers import molecule_task, random_graph


def toy_task(kind: str = "regression", num_graphs: int = 120, seed: int = 0) -> Task:
    """Random molecule-like graphs (atom/bond categories, ``pe_rw``) whose label depends on atom types.

    ``y = mean_i [x_i1 <= 2] + 0.5 * mean_i [x_i7 == 0]`` over nodes ``i`` (regression, scaled) or that
    quantity above its median (binary): a mean-pooled embedding model learns it in a few epochs.
    """
    desc = molecule_task(num_outputs=1, kind=kind)
    g = torch.Generator().manual_seed(seed)
    graphs, values = [], []
    for _ in range(num_graphs):
        n = int(torch.randint(4, 13, (1,), generator=g))
        data = random_graph(n, desc, generator=g, pe_dim=4)
        data.pe_rw = data.pe_rw[:, :4]
        values.append(float((data.x[:, 1] <= 2).float().mean() + 0.5 * (data.x[:, 7] == 0).float().mean()))
        graphs.append(data)
    median = sorted(values)[len(values) // 2]
    for data, v in zip(graphs, values, strict=True):
        data.y = torch.tensor([[float(v > median) if kind == "binary" else 3.0 * v + 1.0]])
    nodes = torch.tensor([float(d.num_nodes) for d in graphs])
    edges = torch.tensor([float(d.edge_index.size(1)) for d in graphs])
    meta = {"num_graphs": float(num_graphs), "nodes_mean": float(nodes.mean()), "edges_mean": float(edges.mean()),
            "nodes_sq_mean": float((nodes**2).mean()), "nodes_max": float(nodes.max())}
    idx = torch.randperm(num_graphs, generator=g)
    cut1, cut2 = int(0.6 * num_graphs), int(0.8 * num_graphs)
    return Task(name=f"toy-{kind}", level="graph", kind=kind, metric="rocauc" if kind == "binary" else "rmse",
                num_outputs=1, node_dim=9, edge_dim=3, graphs=graphs,
                split={"train": idx[:cut1], "valid": idx[cut1:cut2], "test": idx[cut2:]}, split_name="random",
                node_categorical=True, edge_categorical=True, atom_vocab=tuple(desc["atom_vocab"]),
                bond_vocab=tuple(desc["bond_vocab"]), meta=meta, fingerprint=f"toy-{kind}-{seed}")


def tiny_spec(*, elastic: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0), layers: int = 3, ffn: int = 64,
              attn: str = "full", norm: str = "batch", **kw) -> ArchSpec:
    layer = LayerSpec(local="gine", attn=attn, heads=2, ffn=ffn, norm=norm, dropout=0.0)
    return ArchSpec(hidden=16, layers=(layer,) * layers, pe="rw", pe_dim=4, batch_size=16, lr=3e-3,
                    elastic=elastic, **kw)
