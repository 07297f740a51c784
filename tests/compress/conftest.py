from __future__ import annotations

import pytest
import torch

import autogt.models  # noqa: F401  (registers the built-in ops)
from autogt.testing.layers import molecule_task, random_graph


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Seed, and one intra-op thread: on a shared 2-core machine more threads only add contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def mol_task():
    return molecule_task()


def make_tiny_task(num_graphs: int = 96, seed: int = 0):
    """A small molecule-like regression task whose label depends on atom types (learnable in seconds)."""
    from autogt.data import load_task

    mt = molecule_task(num_outputs=1, kind="regression")
    g = torch.Generator().manual_seed(seed)
    graphs = []
    for _ in range(num_graphs):
        n = int(torch.randint(4, 12, (1,), generator=g))
        d = random_graph(n, mt, generator=g, pe_dim=4)
        d.y = torch.tensor([[float((d.x[:, 0] % 3 == 0).sum()) / n]])
        del d.pe_lap, d.pe_rw
        graphs.append(d)
    return load_task(graphs, name="tiny", split="random", seed=seed)


@pytest.fixture(scope="session")
def tiny_task():
    return make_tiny_task()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_task):
    """A small GPS-like model trained for a few epochs on ``tiny_task`` (written once per session)."""
    from autogt.models import ArchSpec, LayerSpec
    from autogt.train import Budget, train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    spec = ArchSpec(hidden=16, layers=(LayerSpec(local="gine", attn="full", heads=2, ffn=32),) * 3,
                    batch_size=16, post_layers=2)
    out = tmp_path_factory.mktemp("tiny_ckpt")
    try:
        _model, result = train(spec, tiny_task, Budget(epochs=4, patience=0, latency_repeats=1), out_dir=out)
    finally:
        torch.set_num_threads(threads)
    assert result.status == "ok", result.reason
    return result.checkpoint
