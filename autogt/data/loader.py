"""Mini-batches of graphs: ``graph_loader`` -> an iterable of PyG ``Batch`` objects.

Batching is deterministic given ``seed``: two loaders built with the same arguments yield the same
sequence of batches, epoch after epoch. The batch sampler is pluggable: pass ``batch_sampler`` to
replace the default shuffled/sequential ``batch_size`` chunks (e.g. with a size-aware sampler).

Example:
    >>> import torch
    >>> from torch_geometric.data import Data
    >>> graphs = [Data(x=torch.zeros(n, 1), edge_index=torch.zeros(2, 0, dtype=torch.long)) for n in (1, 2, 3, 4)]
    >>> loader = graph_loader(graphs, [0, 2, 3], batch_size=2, shuffle=False, seed=0)
    >>> [b.num_graphs for b in loader]
    [2, 1]
    >>> len(loader)
    2
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import torch

__all__ = ["graph_loader", "GraphLoader", "BatchSamplerFactory", "default_batches"]


class BatchSamplerFactory(Protocol):
    """Makes the batches of one loader; positions refer to the selected ``index`` (0..len(index)-1).

    Called once per loader with the node count of every selected graph. Returns an iterable that is
    re-iterated every epoch (a ``torch.utils.data.Sampler`` yielding lists of positions is fine).
    """

    def __call__(
        self, num_nodes: torch.Tensor, *, batch_size: int, shuffle: bool, seed: int, drop_last: bool
    ) -> Iterable[Sequence[int]]: ...


class _DefaultBatches:
    """Shuffled (seeded; a new permutation every epoch) or sequential chunks of ``batch_size`` positions."""

    def __init__(self, size: int, batch_size: int, shuffle: bool, seed: int, drop_last: bool) -> None:
        self.size = size
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(self.size, generator=self.generator) if self.shuffle else torch.arange(self.size)
        for start in range(0, self.size, self.batch_size):
            batch = order[start : start + self.batch_size].tolist()
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return self.size // self.batch_size
        return -(-self.size // self.batch_size)


def default_batches(
    num_nodes: torch.Tensor, *, batch_size: int, shuffle: bool, seed: int, drop_last: bool
) -> Iterable[Sequence[int]]:
    """The default :class:`BatchSamplerFactory`: plain (optionally shuffled) chunks of ``batch_size``."""
    return _DefaultBatches(len(num_nodes), batch_size, shuffle, seed, drop_last)


class GraphLoader:
    """Iterable of PyG ``Batch`` objects over ``graphs[index]`` (see :func:`graph_loader`)."""

    def __init__(self, graphs: Sequence[Any], batches: Iterable[Sequence[int]]) -> None:
        from torch_geometric.loader.dataloader import Collater

        self.graphs = graphs
        self.batches = batches
        self._collate = Collater(dataset=list(graphs[:1]))

    def __iter__(self) -> Iterator[Any]:
        for positions in self.batches:
            yield self._collate([self.graphs[int(p)] for p in positions])

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]


def graph_loader(
    graphs: Sequence[Any],
    index: torch.Tensor | Sequence[int] | None,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    drop_last: bool = False,
    batch_sampler: BatchSamplerFactory | Iterable[Sequence[int]] | None = None,
) -> GraphLoader:
    """Batches of ``graphs[index]`` as PyG ``Batch`` objects, like ``torch_geometric.loader.DataLoader``.

    Args:
        graphs: the graphs (e.g. ``task.graphs``).
        index: which graphs to use (e.g. ``task.split["train"]``); ``None`` means all.
        batch_size: graphs per batch (for the default sampler).
        shuffle: reshuffle every epoch; the sequence of epochs is fixed by ``seed``.
        seed: seed of the shuffling generator.
        drop_last: drop a final incomplete batch.
        batch_sampler: ``None`` for the default; a :class:`BatchSamplerFactory` called with the node counts of
            the selected graphs; or a ready iterable of position lists (positions into ``index``).

    Returns:
        A re-iterable loader with ``len()`` where the sampler has one.

    Example:
        >>> from autogt.data import load_task
        >>> task = load_task("freesolv")
        >>> batch = next(iter(graph_loader(task.graphs, task.split["train"], 32, shuffle=True, seed=0)))
        >>> batch.num_graphs, batch.y.shape
        (32, torch.Size([32, 1]))
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    if index is None:
        selected = list(graphs)
    else:
        idx = torch.as_tensor(index, dtype=torch.long).view(-1).tolist()
        selected = [graphs[i] for i in idx]
    if batch_sampler is None:
        batch_sampler = default_batches
    if callable(batch_sampler) and not hasattr(batch_sampler, "__iter__"):
        factory: Callable[..., Iterable[Sequence[int]]] = batch_sampler
        num_nodes = torch.tensor([int(g.num_nodes) for g in selected], dtype=torch.long)
        batches = factory(num_nodes, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    else:
        batches = batch_sampler  # type: ignore[assignment]
    return GraphLoader(selected, batches)
