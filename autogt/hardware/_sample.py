"""Random architectures for fitting a profile's corrections.

They cover the union of the bundled spaces (GraphGPS hybrids, GraphGym-style GNNs, pure transformers with
per-layer widths and explicit head widths) rather than any one space, so the correction is not fitted to
the distribution it is later benchmarked on (``benchmarks/latency_model.py`` uses ``search_spaces/gps.yaml``).

Example:
    >>> import random
    >>> spec = random_spec(random.Random(0), widths=(32, 64))
    >>> spec.hidden in (32, 64)
    True
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence

from autogt.models.spec import ArchSpec, LayerSpec
from autogt.registry import names

__all__ = ["random_spec"]

_COMMON_LOCAL = ("gine", "gin", "gcn", "gatv2", "sage", "gat")


def _allowed(keys: Collection[str] | None, key: str) -> bool:
    return keys is None or key in keys


def random_spec(rng: random.Random, *, widths: Sequence[int] = (32, 64, 128, 256),
                keys: Collection[str] | None = None) -> ArchSpec:
    """A random spec whose blocks all have tables among ``keys`` (all blocks when ``None``)."""
    widths = [w for w in widths if w >= 16] or [64]
    locals_ = [op for op in names("local") if op != "none" and _allowed(keys, f"local:{op}")]
    common = [op for op in _COMMON_LOCAL if op in locals_]
    attns = [a for a in names("global") if a != "none" and _allowed(keys, f"attn:{a}")]
    hidden = rng.choice(widths)
    depth = rng.randint(1, 6)
    norm = rng.choice(["batch", "layer", "batch", "layer", "none"])
    act = rng.choice(["relu", "gelu", "relu", "gelu", "elu", "prelu", "tanh"])
    if not _allowed(keys, f"act:{act}"):
        act = "relu"
    if norm != "none" and not _allowed(keys, f"norm:{norm}"):
        norm = "batch"
    per_layer_dims = rng.random() < 0.15
    explicit_head_dim = rng.random() < 0.15
    layers = []
    for _ in range(depth):
        r = rng.random()
        local = "none" if r < 0.15 or not locals_ else rng.choice(common if (common and r < 0.8) else locals_)
        attn = "none"
        if attns and rng.random() < 0.55:
            attn = rng.choice(attns)
        heads = rng.choice([1, 2, 4, 8])
        dim = rng.choice(widths) if per_layer_dims else None
        head_dim = rng.choice([8, 16, 32]) if explicit_head_dim and attn != "none" else None
        ffn = rng.choice([0, 64, 128, 256, 512, None]) if _allowed(keys, "ffn") else 0
        layers.append(LayerSpec(local=local, attn=attn, heads=heads, head_dim=head_dim, dim=dim, ffn=ffn, norm=norm,
                                act=act, residual=rng.random() < 0.85))
    pe = rng.choice(["none", "none", "rw", "lap"])
    if pe != "none" and not _allowed(keys, f"pe:{pe}"):
        pe = "none"
    pooling = rng.choice(["mean", "mean", "sum", "max", "attention"])
    if pooling != "mean" and not _allowed(keys, f"pool:{pooling}"):
        pooling = "mean"
    vn = rng.random() < 0.1 and _allowed(keys, "vn") and depth > 1
    return ArchSpec(
        hidden=hidden,
        layers=tuple(layers),
        pe=pe,
        pe_dim=rng.choice([8, 16, 20]) if pe != "none" else 0,
        pooling=pooling,
        virtual_node=vn,
        pre_layers=1 if rng.random() < 0.15 else 0,
        post_layers=rng.randint(1, 3),
    )


def sample_specs(n: int, seed: int = 0, **kw: object) -> list[ArchSpec]:
    """``n`` random specs (see :func:`random_spec`)."""
    rng = random.Random(seed)
    return [random_spec(rng, **kw) for _ in range(n)]  # type: ignore[arg-type]
