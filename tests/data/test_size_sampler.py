"""Size-aware batch sampler: coverage, determinism, size homogeneity, randomness, trainer default."""

from __future__ import annotations

import pytest
import torch

from autogt.data import SizeAwareBatches, graph_loader, size_aware, size_aware_batches


def _sizes(n: int = 1000, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, generator=gen) * 0.45 + 3.1).exp().round().clamp(2, 150).long()  # molecule-like


def _epochs(sampler, count):
    return [[list(b) for b in sampler] for _ in range(count)]


def _padding(sizes: torch.Tensor, batches) -> float:
    """Dense cells of padding each batch to its largest graph / ideal ``sum n^2``."""
    padded = sum(len(b) * int(sizes[b].max()) ** 2 for b in batches)
    return padded / int((sizes**2).sum())


def _spread(sizes: torch.Tensor, batches) -> float:
    """Median over batches of largest / smallest graph."""
    return float(torch.tensor([float(sizes[b].max() / sizes[b].min()) for b in batches]).median())


@pytest.mark.parametrize(("n", "batch_size", "drop_last"), [(1000, 32, False), (1000, 32, True), (37, 8, False),
                                                            (5, 8, False), (5, 8, True), (0, 4, False)])
def test_every_graph_once_per_epoch(n, batch_size, drop_last):
    sizes = _sizes(n) if n else torch.zeros(0, dtype=torch.long)
    sampler = size_aware_batches(sizes, batch_size=batch_size, shuffle=True, seed=0, drop_last=drop_last)
    for epoch in _epochs(sampler, 3):
        assert len(epoch) == len(sampler) == (n // batch_size if drop_last else -(-n // batch_size))
        flat = [i for b in epoch for i in b]
        assert len(flat) == len(set(flat))
        if drop_last:
            assert all(len(b) == batch_size for b in epoch) and len(flat) == n - n % batch_size
        else:
            assert sorted(flat) == list(range(n))
            assert sum(len(b) < batch_size for b in epoch) <= 1  # at most one incomplete batch


def test_deterministic_given_seed_and_new_batches_every_epoch():
    sizes = _sizes()
    a = _epochs(size_aware_batches(sizes, batch_size=32, shuffle=True, seed=3, drop_last=False), 2)
    b = _epochs(size_aware_batches(sizes, batch_size=32, shuffle=True, seed=3, drop_last=False), 2)
    c = _epochs(size_aware_batches(sizes, batch_size=32, shuffle=True, seed=4, drop_last=False), 1)
    assert a == b
    assert a[0] != c[0]
    first, second = ({frozenset(x) for x in epoch} for epoch in a)
    assert len(first & second) < 0.2 * len(first)  # batch contents change across epochs (shuffle + jitter)


def test_batches_are_size_homogeneous_but_randomly_ordered():
    sizes = _sizes()
    sampler = size_aware_batches(sizes, batch_size=32, shuffle=True, seed=0, drop_last=False)
    plain = graph_loader.__globals__["default_batches"](sizes, batch_size=32, shuffle=True, seed=0, drop_last=False)
    ours, theirs = list(sampler), list(plain)
    assert _spread(sizes, ours) < 2.5 < 5.0 < _spread(sizes, theirs)
    assert _padding(sizes, ours) < 0.65 * _padding(sizes, theirs)
    means = torch.tensor([float(sizes[b].float().mean()) for b in ours])
    steps = torch.arange(len(means), dtype=torch.float64)
    corr = torch.corrcoef(torch.stack([means.double(), steps]))[0, 1]
    assert abs(float(corr)) < 0.5  # the order of batches is not sorted by size
    assert means.std() > 0.3 * sizes.float().std()  # batches differ in size range


def test_pool_and_jitter_control_mixing():
    sizes = _sizes()
    random_like = list(size_aware(pool=1)(sizes, batch_size=32, shuffle=True, seed=0, drop_last=False))
    tight = list(size_aware(pool=64, jitter=0.0)(sizes, batch_size=32, shuffle=True, seed=0, drop_last=False))
    loose = list(size_aware(jitter=4.0)(sizes, batch_size=32, shuffle=True, seed=0, drop_last=False))
    assert _spread(sizes, tight) < _spread(sizes, loose) < _spread(sizes, random_like)
    assert _spread(sizes, tight) < _spread(sizes, random_like)
    assert _padding(sizes, tight) < _padding(sizes, random_like)


def test_unshuffled_is_sorted_and_stable():
    sizes = torch.tensor([5, 3, 5, 1, 9, 3])
    batches = list(SizeAwareBatches(sizes, 4, shuffle=False, seed=0))
    assert batches == [[3, 1, 5, 0], [2, 4]]
    assert list(SizeAwareBatches(sizes, 4, shuffle=False, seed=1)) == batches


def test_invalid_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        SizeAwareBatches(torch.ones(3), 0, shuffle=True, seed=0)
    with pytest.raises(ValueError, match="pool"):
        SizeAwareBatches(torch.ones(3), 2, shuffle=True, seed=0, pool=0)
    with pytest.raises(ValueError, match="jitter"):
        SizeAwareBatches(torch.ones(3), 2, shuffle=True, seed=0, jitter=-1.0)


def _graphs(sizes):
    from torch_geometric.data import Data

    return [Data(x=torch.full((int(n), 1), float(i)), edge_index=torch.zeros(2, 0, dtype=torch.long),
                 y=torch.tensor([[float(i)]])) for i, n in enumerate(sizes)]


def test_through_graph_loader_hook():
    sizes = _sizes(200)
    graphs = _graphs(sizes)
    index = list(range(0, 200, 2))
    loader = graph_loader(graphs, index, 16, shuffle=True, seed=0, batch_sampler=size_aware_batches)
    seen = []
    for batch in loader:
        seen += batch.y.view(-1).long().tolist()
        counts = batch.ptr[1:] - batch.ptr[:-1]
        assert torch.equal(counts, sizes[batch.y.view(-1).long()])
    assert sorted(seen) == index and len(loader) == 7


def test_trainer_uses_size_aware_batches_by_default():
    from types import SimpleNamespace

    from autogt.models import builtin_spec
    from autogt.train.loop import make_feeder

    sizes = _sizes(256)
    task = SimpleNamespace(level="graph", graphs=_graphs(sizes), split={"train": torch.arange(256), "valid": [0]})
    spec = builtin_spec("gps")
    cpu = torch.device("cpu")

    def spread(feeder):
        batches = [batch.y.view(-1).long() for batch, _ in feeder.train(1)]
        assert sorted(torch.cat(batches).tolist()) == list(range(256))
        return _spread(sizes, batches)

    sized = spread(make_feeder(task, spec, 0, cpu))  # gps has global attention: size-aware by default
    plain = spread(make_feeder(task, spec, 0, cpu, batch_sampler="random"))
    assert sized < 0.7 * plain
    assert spread(make_feeder(task, spec, 0, cpu, batch_sampler=None)) == plain
    assert spread(make_feeder(task, builtin_spec("gin"), 0, cpu)) == plain  # no attention, no padding to save
    assert spread(make_feeder(task, builtin_spec("gin"), 0, cpu, batch_sampler="size")) == sized
    with pytest.raises(ValueError, match="batch_sampler"):
        make_feeder(task, spec, 0, cpu, batch_sampler="sorted")
