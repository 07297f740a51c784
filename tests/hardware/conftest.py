from __future__ import annotations

import pytest

from autogt.hardware import Grid, profile
from autogt.hardware._measure import synthetic_molecules

TINY_GRID = Grid(width=(16, 64), heads=(1, 4), ffn=(32, 128), batch=(1, 16), nodes=(12, 24))
TINY_BLOCKS = ("local:gcn", "local:gine", "attn:full", "ffn", "overhead", "edge", "linear", "norm:batch",
               "norm:layer", "act:relu", "act:gelu", "pool:mean")


@pytest.fixture(scope="session")
def tiny_grid():
    return TINY_GRID


@pytest.fixture(scope="session")
def tiny_blocks():
    return TINY_BLOCKS


@pytest.fixture(scope="session")
def molecules():
    """Molecule-like synthetic graphs (no RDKit featurisation needed)."""
    return synthetic_molecules(200, sizes=(6, 40), seed=0)


@pytest.fixture(scope="session")
def tiny_profile(molecules):
    """A profile measured here on a tiny grid and a few blocks (a few seconds)."""
    return profile("cpu", grid=TINY_GRID, blocks=TINY_BLOCKS, data=molecules, threads=1, warmup=1, repeats=3,
                   fit_samples=8, name="tiny")


@pytest.fixture()
def mol_task():
    """Task dimensions and size statistics of a molecule task (BBBP-like)."""
    from autogt.data import ATOM_VOCAB, BOND_VOCAB

    return {"name": "mol", "level": "graph", "kind": "binary", "metric": "rocauc", "num_outputs": 1, "node_dim": 9,
            "edge_dim": 3, "node_categorical": True, "edge_categorical": True, "atom_vocab": list(ATOM_VOCAB),
            "bond_vocab": list(BOND_VOCAB),
            "meta": {"nodes_mean": 24.0, "edges_mean": 52.0, "nodes_sq_mean": 690.0, "num_graphs": 2039.0}}
