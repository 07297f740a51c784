"""Local message-passing ops, registered under registry kind ``local`` by explicit imports.

See :mod:`autogt.models.ops._base` for the factory contract and how to register your own.
"""

from __future__ import annotations

from autogt.models.ops import arma, basic, cheb, gat, gcn, gin, graph, sage
from autogt.models.ops._base import local_op, op_attr

__all__ = ["local_op", "op_attr", "arma", "basic", "cheb", "gat", "gcn", "gin", "graph", "sage"]
