"""Size-aware batching: mini-batches of graphs of similar size (a ``BatchSamplerFactory``).

Attention over a batch costs about ``sum_b G_b L_b^2`` for blocks of ``G_b`` graphs padded to
``L_b`` nodes (see :mod:`autogt.models.attention`), so batches whose graphs have similar sizes pad
less and need fewer blocks. Each epoch :class:`SizeAwareBatches`

1. shuffles all graphs (seeded, a new permutation every epoch),
2. cuts the permutation into *pools* of ``pool * batch_size`` graphs,
3. sorts each pool by size rank plus ``U(-jitter, jitter) * batch_size`` (a graph can move up to
   ``jitter`` batches away from its sorted place, so batch contents change from epoch to epoch even
   when a pool holds the whole data set; ties in size are broken at random),
4. cuts each sorted pool into batches of ``batch_size`` and shuffles the order of all batches.

Every graph is used exactly once per epoch and the number of batches equals that of plain
shuffled batching (``ceil(N / batch_size)``, or ``floor`` with ``drop_last``; only the last pool can
leave an incomplete batch). Without ``shuffle`` the graphs are sorted by size once (ties by position)
and batched in that order, which suits inference. The trainer uses it for the training batches of
specs with global attention (:func:`autogt.train.loop.make_feeder`, ``batch_sampler="auto"``); any
``graph_loader`` takes it as ``batch_sampler=size_aware_batches``.

Known effect on training: a batch is still a random draw at the batch level (which pool, which size
range, in which order), but graphs inside a batch are correlated by size, so per-batch statistics
(BatchNorm, the mean loss) vary more from step to step than with uniform batches; where size
correlates with the label this adds gradient variance but no bias over an epoch. ``pool`` and
``jitter`` trade speed for mixing (``pool=1`` sorts within one batch's worth of random graphs, i.e.
plain random batches; a large ``jitter`` approaches them too).

Example:
    >>> import torch
    >>> sizes = torch.tensor([30, 5, 28, 6, 31, 4, 7, 29])
    >>> batches = size_aware_batches(sizes, batch_size=4, shuffle=False, seed=0, drop_last=False)
    >>> [sizes[b].tolist() for b in batches]
    [[4, 5, 6, 7], [28, 29, 30, 31]]
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["SizeAwareBatches", "size_aware_batches", "size_aware"]


class SizeAwareBatches:
    """Batches of positions ``0..len(num_nodes)-1`` grouped by graph size (see the module doc).

    Args:
        num_nodes: node count of every graph.
        batch_size: graphs per batch.
        shuffle: new random batches every epoch (otherwise size-sorted, deterministic).
        seed: seed of the generator; iterating again continues the same seeded sequence of epochs.
        drop_last: drop the incomplete batch.
        pool: batches per sorting pool (larger: more similar sizes, less mixing).
        jitter: how far (in batches) a graph may move from its size-sorted place (uniform).

    Shapes:
        num_nodes ``[N]`` -> batches of ``<= batch_size`` positions.
    """

    def __init__(self, num_nodes: torch.Tensor, batch_size: int, *, shuffle: bool, seed: int,
                 drop_last: bool = False, pool: int = 16, jitter: float = 3.0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        if pool < 1:
            raise ValueError(f"pool: must be >= 1, got {pool}")
        if jitter < 0:
            raise ValueError(f"jitter: must be >= 0, got {jitter}")
        self.sizes = torch.as_tensor(num_nodes, dtype=torch.float64).view(-1)  # [N]
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.pool, self.jitter = pool, jitter
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = self.sizes.numel()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _cut(self, positions: torch.Tensor) -> list[torch.Tensor]:
        batches = list(positions.split(self.batch_size)) if positions.numel() else []
        if batches and self.drop_last and batches[-1].numel() < self.batch_size:
            batches.pop()
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        n = self.sizes.numel()
        if not self.shuffle:
            order = torch.sort(self.sizes, stable=True).indices  # [N]
            for batch in self._cut(order):
                yield batch.tolist()
            return
        gen = self.generator
        perm = torch.randperm(n, generator=gen)  # [N]: random order, so equal sizes tie at random
        step = self.pool * self.batch_size
        pools = []
        for a in range(0, n, step):
            chunk = perm[a : a + step]  # [m]
            rank = torch.empty(chunk.numel(), dtype=torch.float64)
            rank[torch.sort(self.sizes[chunk], stable=True).indices] = torch.arange(chunk.numel(), dtype=torch.float64)
            shift = (torch.rand(chunk.numel(), generator=gen, dtype=torch.float64) * 2 - 1) * self.jitter
            pools.append(chunk[torch.argsort(rank + shift * self.batch_size, stable=True)])
        batches = self._cut(torch.cat(pools)) if pools else []  # full batches except possibly the last
        for i in torch.randperm(len(batches), generator=gen).tolist():
            yield batches[i].tolist()


def size_aware_batches(num_nodes: torch.Tensor, *, batch_size: int, shuffle: bool, seed: int, drop_last: bool,
                       pool: int = 16, jitter: float = 3.0) -> SizeAwareBatches:
    """:class:`~autogt.data.loader.BatchSamplerFactory` making :class:`SizeAwareBatches`.

    Pass it as ``graph_loader(..., batch_sampler=size_aware_batches)``; :func:`size_aware` binds
    other ``pool`` / ``jitter`` values.
    """
    return SizeAwareBatches(num_nodes, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last, pool=pool,
                            jitter=jitter)


def size_aware(*, pool: int = 16, jitter: float = 3.0) -> Any:
    """A size-aware batch sampler factory with the given ``pool`` and ``jitter``.

    Example:
        >>> import torch
        >>> factory = size_aware(pool=4, jitter=0.0)
        >>> len(factory(torch.arange(1, 11), batch_size=3, shuffle=True, seed=0, drop_last=False))
        4
    """
    return functools.partial(size_aware_batches, pool=pool, jitter=jitter)
