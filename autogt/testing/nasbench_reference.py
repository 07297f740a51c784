"""NAS-Bench-Graph's model written directly in PyG: the reference that autogt's ArchSpec-built models are
checked against (``tests/spaces/test_nasbench_reference.py``) and the control of ``benchmarks/baselines.py``.

Example:
    >>> from autogt.spaces import nasbench
    >>> net = BenchNet((0, 1, 2, 3), ("fc", "gat", "fc", "gin"), 1433, 7, nasbench.protocol("cora"))
    >>> net.leaves
    [4]
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["BenchNet"]


def _bench_op(op: str, d_in: int, dim: int) -> nn.Module:
    import torch_geometric.nn as pyg

    if op == "gat":
        return pyg.GATConv(d_in, dim // 4, heads=4)
    if op == "gin":
        return pyg.GINConv(nn.Linear(d_in, dim))
    if op == "cheb":
        return pyg.ChebConv(d_in, dim, K=2)
    if op == "fc":
        return nn.Linear(d_in, dim)
    if op == "skip":
        return nn.Identity()
    conv = {"gcn": pyg.GCNConv, "sage": pyg.SAGEConv, "arma": pyg.ARMAConv, "graph": pyg.GraphConv}[op]
    return conv(d_in, dim)


class BenchNet(nn.Module):
    """NAS-Bench-Graph's model for one (link, ops), written directly in PyG from the benchmark's description.

    ``x = dropout(x)``; node ``i`` reads ``h = out[link[i]]``, applies ``dropout(relu(BN_i(h)))`` unless ``h``
    is raw features, then its op; ``relu(concat(leaves))`` goes through ``Linear -> Linear`` (``num_pro=1``) or
    one ``Linear``. Only the ``num_pre=0`` data sets (cora, citeseer, pubmed, arxiv) are covered.
    """

    def __init__(self, link: tuple[int, ...], ops: tuple[str, ...], in_dim: int, out_dim: int, proto: dict) -> None:
        super().__init__()
        if proto["num_pre"]:
            raise ValueError("BenchNet covers num_pre=0 protocols only")
        dim, self.p, self.link = proto["dim"], proto["dropout"], link
        self.raw = [True]  # raw[j]: node j's output is the raw features
        for op, j in zip(ops, link, strict=True):
            self.raw.append(self.raw[j] and op == "skip")
        self.ops, self.bns = nn.ModuleList(), nn.ModuleList()
        for op, j in zip(ops, link, strict=True):
            d_in = in_dim if self.raw[j] else dim
            self.ops.append(_bench_op(op, d_in, dim))
            self.bns.append(nn.BatchNorm1d(dim))
        self.leaves = [i for i in range(1, len(link) + 1) if i not in link]
        width = sum(in_dim if self.raw[i] else dim for i in self.leaves)
        self.head = nn.Sequential(nn.Linear(width, dim), nn.Linear(dim, out_dim)) if proto["num_pro"] \
            else nn.Linear(width, out_dim)

    def forward(self, data: Any) -> torch.Tensor:
        import torch.nn.functional as F

        outs = [F.dropout(data.x, self.p, self.training)]
        for op, bn, j in zip(self.ops, self.bns, self.link, strict=True):
            h = outs[j]
            if not self.raw[j]:
                h = F.dropout(F.relu(bn(h)), self.p, self.training)
            outs.append(op(h) if isinstance(op, (nn.Linear, nn.Identity)) else op(h, data.edge_index))
        return self.head(torch.relu(torch.cat([outs[i] for i in self.leaves], dim=-1)))
