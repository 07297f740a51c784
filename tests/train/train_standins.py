"""Synthetic tasks and tiny stand-in models: the training loop is tested without the model zoo."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import global_mean_pool

from autogt.data.task import Task


def _ring(n: int) -> torch.Tensor:
    src = torch.arange(n)
    dst = (src + 1) % n
    return torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])


def graph_task(kind: str = "binary", num_graphs: int = 60, seed: int = 0) -> Task:
    """Graphs whose label is a function of the mean of node feature 0 (learnable by a pooled MLP)."""
    g = torch.Generator().manual_seed(seed)
    graphs = []
    for _ in range(num_graphs):
        n = int(torch.randint(4, 10, (1,), generator=g))
        x = torch.randn(n, 4, generator=g)
        signal = x[:, 0].mean()
        y = (signal > 0).float() if kind == "binary" else 10.0 * signal + 100.0
        graphs.append(Data(x=x, edge_index=_ring(n), y=y.view(1, 1)))
    idx = torch.arange(num_graphs)
    cut1, cut2 = int(0.6 * num_graphs), int(0.8 * num_graphs)
    return Task(name=f"synthetic-{kind}", level="graph", kind=kind, metric="rocauc" if kind == "binary" else "rmse",
                num_outputs=1, node_dim=4, edge_dim=0, graphs=graphs,
                split={"train": idx[:cut1], "valid": idx[cut1:cut2], "test": idx[cut2:]}, split_name="random",
                meta={"num_graphs": float(num_graphs), "nodes_mean": 6.5})


def node_task(num_nodes: int = 150, seed: int = 0) -> Task:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, 6, generator=g)
    y = x[:, :3].argmax(1)
    # homophilous: every node gets 4 random neighbours of its own class (so message passing helps)
    src, dst = [], []
    for c in range(3):
        members = (y == c).nonzero().view(-1)
        picks = members[torch.randint(0, len(members), (len(members), 4), generator=g)]
        src.append(members.repeat_interleave(4))
        dst.append(picks.reshape(-1))
    edge_index = torch.stack([torch.cat(src + dst), torch.cat(dst + src)])
    perm = torch.randperm(num_nodes, generator=g)
    split = {"train": perm[:60], "valid": perm[60:100], "test": perm[100:]}
    return Task(name="synthetic-node", level="node", kind="multiclass", metric="accuracy", num_outputs=3,
                node_dim=6, edge_dim=0, graphs=[Data(x=x, edge_index=edge_index, y=y)], split=split,
                split_name="random")


class PooledMLP(nn.Module):
    """Node MLP, mean-pooled per graph for graph tasks."""

    def __init__(self, in_dim: int, out_dim: int, *, node_level: bool = False, hidden: int = 16) -> None:
        super().__init__()
        self.node_level = node_level
        self.lin = nn.Linear(in_dim, hidden)
        self.norm = nn.BatchNorm1d(hidden)
        self.out = nn.Linear(hidden, out_dim)

    def forward(self, batch) -> torch.Tensor:
        h = torch.relu(self.norm(self.lin(batch.x.float())))
        if not self.node_level:
            h = global_mean_pool(h, batch.batch)
        return self.out(h)


class NaNAfter(PooledMLP):
    """Produces NaN outputs from its ``after``-th forward in training mode on."""

    def __init__(self, *args, after: int = 3, **kw) -> None:
        super().__init__(*args, **kw)
        self.after = after
        self.calls = 0

    def forward(self, batch) -> torch.Tensor:
        out = super().forward(batch)
        if self.training:
            self.calls += 1
            if self.calls >= self.after:
                return out * float("nan")
        return out


class Boom(PooledMLP):
    def __init__(self, *args, exc: BaseException, **kw) -> None:
        super().__init__(*args, **kw)
        self.exc = exc

    def forward(self, batch) -> torch.Tensor:
        raise self.exc


class Constant(nn.Module):
    """Ignores its input: the validation metric never improves after the first epoch."""

    def __init__(self, out_dim: int = 1) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(out_dim))

    def forward(self, batch) -> torch.Tensor:
        return self.bias.expand(batch.num_graphs, -1) + 0.0 * batch.x[:1, :1].sum()
