"""Train/valid/test splits: scaffold and random (graph tasks), public and random (node tasks).

All splits return ``{"train": long[...], "valid": long[...], "test": long[...]}`` with sorted indices.

Example:
    >>> from autogt.data import random_split, scaffold_split
    >>> s = random_split(10, seed=0)
    >>> [len(s[k]) for k in ("train", "valid", "test")]
    [8, 1, 1]
    >>> s = scaffold_split(["c1ccccc1O", "c1ccccc1N", "CCO", "CCN"])
    >>> sorted(s["train"].tolist() + s["valid"].tolist() + s["test"].tolist())
    [0, 1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["scaffold_split", "random_split", "random_node_split", "check_split"]

FRACTIONS = (0.8, 0.1, 0.1)


def _as_split(train: Sequence[int] | np.ndarray, valid: Sequence[int] | np.ndarray, test: Sequence[int] | np.ndarray):
    return {
        name: torch.as_tensor(np.sort(np.asarray(idx, dtype=np.int64)), dtype=torch.long)
        for name, idx in (("train", train), ("valid", valid), ("test", test))
    }


def scaffold_split(
    scaffolds: Sequence[str], fractions: tuple[float, float, float] = FRACTIONS
) -> dict[str, torch.Tensor]:
    """Deterministic Bemis-Murcko scaffold split (OGB / Hu et al. 2020 convention).

    Molecules are grouped by scaffold; groups are ordered by ``(size, first index)`` descending — the
    reference implementation's ``sorted(..., key=lambda g: (len(g), g[0]), reverse=True)``, so among
    equally large groups the one whose first molecule comes later goes first — and then poured into
    train until it would exceed ``0.8 * n``, then valid until ``0.9 * n``, then test. No scaffold is
    shared between two parts.

    Args:
        scaffolds: one scaffold key per molecule (e.g. ``MurckoScaffoldSmiles(includeChirality=False)``).
        fractions: train/valid/test fractions.

    Returns:
        The split as sorted index tensors.

    Example:
        >>> s = scaffold_split(["A", "A", "B", "C", "A", "B", "D", "E", "F", "G"])
        >>> s["train"].tolist(), s["valid"].tolist(), s["test"].tolist()
        ([0, 1, 2, 4, 5, 7, 8, 9], [6], [3])
    """
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(scaffolds):
        groups.setdefault(key, []).append(i)
    ordered = sorted(groups.values(), key=lambda g: (len(g), g[0]), reverse=True)
    n = len(scaffolds)
    train_cut = fractions[0] * n
    valid_cut = (fractions[0] + fractions[1]) * n
    train: list[int] = []
    valid: list[int] = []
    test: list[int] = []
    for group in ordered:
        if len(train) + len(group) > train_cut:
            if len(train) + len(valid) + len(group) > valid_cut:
                test += group
            else:
                valid += group
        else:
            train += group
    return _as_split(train, valid, test)


def random_split(n: int, seed: int = 0, fractions: tuple[float, float, float] = FRACTIONS) -> dict[str, torch.Tensor]:
    """Seeded random split of ``n`` items (``round(0.8 n)`` train, ``round(0.1 n)`` valid, rest test).

    Args:
        n: number of items.
        seed: NumPy ``default_rng`` seed; equal seeds give equal splits.
        fractions: train/valid/test fractions.

    Example:
        >>> random_split(100, seed=1)["valid"].shape
        torch.Size([10])
    """
    perm = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_valid = int(round(fractions[1] * n))
    return _as_split(perm[:n_train], perm[n_train : n_train + n_valid], perm[n_train + n_valid :])


def random_node_split(
    y: torch.Tensor, num_train_per_class: int, num_valid: int, num_test: int, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Planetoid-style random node split: ``num_train_per_class`` per class, then valid/test from the rest.

    Nodes with a negative label count as unlabelled and are never picked.

    Args:
        y: node labels ``long[N]``.
        num_train_per_class: training nodes per class (fewer if a class is smaller).
        num_valid: validation nodes drawn from the remaining labelled nodes.
        num_test: test nodes drawn after the validation nodes.
        seed: NumPy ``default_rng`` seed.

    Example:
        >>> import torch
        >>> s = random_node_split(torch.tensor([0, 0, 0, 1, 1, 1]), 1, 2, 2)
        >>> len(s["train"]), len(s["valid"]), len(s["test"])
        (2, 2, 2)
    """
    rng = np.random.default_rng(seed)
    labels = y.numpy()
    train: list[np.ndarray] = []
    for c in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == c)
        train.append(rng.permutation(members)[:num_train_per_class])
    train_idx = np.concatenate(train) if train else np.zeros(0, dtype=np.int64)
    rest = np.setdiff1d(np.flatnonzero(labels >= 0), train_idx)
    rest = rng.permutation(rest)
    return _as_split(train_idx, rest[:num_valid], rest[num_valid : num_valid + num_test])


def check_split(split: dict[str, Sequence[int] | torch.Tensor], n: int) -> dict[str, torch.Tensor]:
    """Validate a user-given split (keys, range, disjointness) and return it as sorted long tensors."""
    from autogt.data.task import TaskError

    if not isinstance(split, dict):
        raise TaskError(f"split: expected a name or a dict with train/valid/test, got {type(split).__name__}")
    aliases = {"val": "valid", "validation": "valid"}
    clean = {aliases.get(k, k): v for k, v in split.items()}
    missing = [k for k in ("train", "valid", "test") if k not in clean]
    if missing:
        raise TaskError(f"split: missing {', '.join(missing)} indices (keys given: {', '.join(map(str, split))})")
    out = _as_split(*(torch.as_tensor(clean[k], dtype=torch.long).view(-1).numpy() for k in ("train", "valid", "test")))
    seen = torch.cat(list(out.values()))
    if seen.numel() and (int(seen.min()) < 0 or int(seen.max()) >= n):
        raise TaskError(f"split: indices must lie in [0, {n}), got range [{int(seen.min())}, {int(seen.max())}]")
    if seen.unique().numel() != seen.numel():
        raise TaskError("split: train/valid/test indices overlap or repeat")
    return out
