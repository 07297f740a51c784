"""Built-in reference architectures: ``builtin_spec(name) -> ArchSpec``.

- ``gcn``: Kipf & Welling (2017). Dropout 0.5 on the raw features, ``GCN(F -> 16)``, ReLU, dropout 0.5,
  ``GCN(16 -> C)`` as the output layer (``output="layer"``, no head), lr 0.01, weight decay 5e-4, no
  FFN / norm / residual, raw features into the first layer (``node_encoder="none"``). About 82% test
  accuracy on Cora (public split, 200 epochs; a factorised ``GCN(16 -> 16)`` + ``Linear(16 -> C)``
  head reaches only ~79%).
- ``gin``: the no-pretraining GIN of Hu et al. (2020): 5 ``gine`` layers of width 300 with a
  600-wide MLP, batch norm, dropout 0.5, no activation after the last layer, atom/bond embeddings,
  mean pooling, Adam lr 1e-3, batch 32.
- ``gps``: a GraphGPS-style molecule model: 4 layers of ``gine`` + full attention (4 heads) + FFN,
  width 64, RWSE with k=16 concatenated as 16 of the 64 channels, batch norm, dropout 0.1,
  attention dropout 0.2, mean pooling, 2-layer head, AdamW lr 1e-3, batch 32.

Example:
    >>> builtin_spec("gin").hidden
    300
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from autogt.models.spec import ArchSpec, LayerSpec, SpecError

__all__ = ["builtin_spec", "builtin_names"]


def _gcn() -> ArchSpec:
    simple = LayerSpec(local="gcn", attn="none", ffn=0, norm="none", residual=False, act="relu", dropout=0.5)
    return ArchSpec(
        hidden=16,
        layers=(simple, dataclasses.replace(simple, act="identity", dropout=0.0)),
        node_encoder="none",
        in_dropout=0.5,
        post_layers=1,
        output="layer",
        lr=0.01,
        weight_decay=5e-4,
        optimizer="adam",
    )


def _gin() -> ArchSpec:
    block = LayerSpec(local="gine", attn="none", ffn=0, norm="batch", act="relu", dropout=0.5, residual=False,
                      local_out=600)
    last = LayerSpec(local="gine", attn="none", ffn=0, norm="batch", act="identity", dropout=0.5, residual=False,
                     local_out=600)
    return ArchSpec(
        hidden=300,
        layers=(block,) * 4 + (last,),
        node_encoder="auto",
        edge_encoder="auto",
        pooling="mean",
        post_layers=1,
        lr=1e-3,
        weight_decay=0.0,
        optimizer="adam",
        batch_size=32,
    )


def _gps() -> ArchSpec:
    block = LayerSpec(local="gine", attn="full", heads=4, ffn=128, norm="batch", act="relu", dropout=0.1,
                      attn_dropout=0.2, residual=True)
    return ArchSpec(
        hidden=64,
        layers=(block,) * 4,
        pe="rw",
        pe_dim=16,
        pe_hidden=16,
        pooling="mean",
        post_layers=2,
        lr=1e-3,
        weight_decay=1e-5,
        optimizer="adamw",
        batch_size=32,
    )


_BUILTINS: dict[str, Callable[[], ArchSpec]] = {"gcn": _gcn, "gin": _gin, "gps": _gps}


def builtin_names() -> list[str]:
    """Names accepted by :func:`builtin_spec`."""
    return sorted(_BUILTINS)


def builtin_spec(name: str) -> ArchSpec:
    """The built-in architecture ``name`` (``gcn``, ``gin``, ``gps``).

    Raises:
        SpecError: unknown name; the message lists the built-in names.
    """
    if name not in _BUILTINS:
        raise SpecError(f"unknown built-in spec {name!r}; built-in specs: {', '.join(builtin_names())} "
                        "(or pass a YAML/JSON path)")
    return _BUILTINS[name]()
