"""A plain PyG model (not an autogt one) for the ``--module`` / ``--trust-pickle`` CLI paths."""

from __future__ import annotations

import torch
from torch import nn

ATOM_VOCAB = (119, 5, 12, 12, 10, 6, 6, 2, 2)
BOND_VOCAB = (5, 7, 2)
C = 16


class PlainGPS(nn.Module):
    """Atom/bond embeddings -> two GPSConv(GINE) layers -> mean pool -> MLP head; forward takes a PyG batch."""

    def __init__(self) -> None:
        super().__init__()
        from torch_geometric.nn import GINEConv, GPSConv

        self.atom = nn.ModuleList(nn.Embedding(v, C) for v in ATOM_VOCAB)
        self.bond_encoder = nn.ModuleList(nn.Embedding(v, C) for v in BOND_VOCAB)
        self.convs = nn.ModuleList(
            GPSConv(C, GINEConv(nn.Sequential(nn.Linear(C, C), nn.BatchNorm1d(C), nn.ReLU(), nn.Linear(C, C),
                                              nn.ReLU())), heads=2) for _ in range(2))
        self.head = nn.Sequential(nn.Linear(C, C), nn.ReLU(), nn.Linear(C, 1))

    def forward(self, b):  # noqa: ANN001
        from torch_geometric.nn import global_mean_pool

        x = sum(e(b.x[:, i].clamp(max=e.num_embeddings - 1)) for i, e in enumerate(self.atom))
        ea = sum(e(b.edge_attr[:, i].clamp(max=e.num_embeddings - 1)) for i, e in enumerate(self.bond_encoder))
        for conv in self.convs:
            x = conv(x, b.edge_index, b.batch, edge_attr=ea)
        return self.head(global_mean_pool(x, b.batch))


def build() -> nn.Module:
    """Entry point for ``autogt prune --module plain_models:build``."""
    torch.manual_seed(0)
    return PlainGPS()
