"""The exact NAS-Bench-Graph space (Qin et al., NeurIPS 2022 Datasets and Benchmarks) as ArchSpecs.

What NAS-Bench-Graph is, as found in its sources
------------------------------------------------
Sources read: the ``nas-bench-graph`` PyPI package (``architecture.py``, ``readbench.py``, the
``light/*.bench`` files), the THUMNLab/NAS-Bench-Graph repository (``README.md``, ``hpo.py``) and the
paper's released training code (files headed "Source code from: Yijian Qin ... NAS-Bench-Graph":
``net.py`` with ``gnn_map``/``Cell``/``Net``, ``worker.py``, and the ogbn-proteins client with its
hyper-parameter dict), opened through the code search index.

*Macro space.* A DAG of 4 computing nodes, each with exactly one input: ``link[i]`` is the input of node
``i + 1`` (0 = the input features, ``j`` = node ``j``). After removing isomorphic wirings the package keeps
9 link patterns (:data:`LINKS`); with 9 ops per node this is 9 x 9^4 = 59,049 encodings of 26,206 distinct
architectures (the all-``skip`` one is excluded). Ops (:data:`OPS`, digit order of the bench keys):
``gat`` = GATConv(in, dim/4, heads=4, concat) (the package comment says 2 heads, the training code uses 4),
``gcn`` = GCNConv (self-loops, symmetric norm), ``gin`` = GINConv(Linear(in, dim)) (one linear layer,
eps = 0 fixed), ``cheb`` = ChebConv(K=2), ``sage`` = SAGEConv (mean), ``arma`` = ARMAConv (1 stack,
1 layer), ``graph`` = GraphConv (k-GNN, sum), ``fc`` = Linear, ``skip`` = identity. ogbn-proteins only
has ``gcn sage arma fc skip`` (2,021 architectures); other archs are absent from its bench file.

*Model* (``Net``/``Cell`` in ``net.py``), full-batch node classification::

    x = dropout(x, p)                                      # on the raw features
    x = Linear(in, dim)(x) if num_pre else x                # one pre-layer, no activation after it
    node i: h = in[link[i]]
            if h is not raw input: h = dropout(relu(BatchNorm_i(h)), p)   # consumer-side, per node
            out_i = op_i(h)                                 # raw input: op maps in_dim -> dim
    leaves = nodes whose output no node reads
    y = Linear(#leaves * dim, dim if num_pro else out)(relu(concat(leaves)))
    y = Linear(dim, out)(y) if num_pro else y               # (ELU only between >= 2 post layers)

The loss is NLL of log-softmax (BCE-with-logits and ROC-AUC on ogbn-proteins), one Adam/SGD step per
epoch, no early stopping; ``perf`` = test metric at the epoch of best validation metric, ``valid_perf`` the
best validation metric, ``latency`` = seconds of one eval forward pass, ``para`` = parameters / 1e6;
values are averaged over 3 seeds in the light files.

*Bench keys.* ``Arch(link, ops).valid_hash()`` = ``link_index * 10^4 + ops as base-10 digits`` of a
canonical encoding. :func:`arch_hash` reimplements it from the semantics instead of their procedure: skip
nodes with children are contracted, a skip leaf adds one "output tap" to its parent, skip leaves on the raw
input are dropped (the package maps them onto the same key as without them), and the rooted tree is
canonicalised by sorting children. Each class is mapped to the key present in the bench files. This
agrees with ``valid_hash`` on all 157,464 (link, ops) inputs (24 valid link lists x 9^4 ops;
``tests/spaces/test_nasbench.py``). The all-skip architecture gets the package's key 88888, which no bench
file contains.

*Per-dataset hyper-parameters* (:data:`PROTOCOLS`). ``dim``, ``num_pre`` and ``num_pro`` are verified:
the parameter count of the model above with those values equals the bench's ``para`` for all 26,206
architectures on cora, citeseer, pubmed, cs, photo, computers and arxiv, 2,021/2,021 on proteins, and
24,639/26,206 on physics (the rest differ by fractions of a parameter, i.e. averaged runs). The proteins
row (dropout 0, dim 256, 1 pre, 1 post, lr 0.01, wd 5e-4, Adam, 500 epochs) is the dict in the released
ogbn-proteins client. The other training values (dropout, optimizer, lr, weight decay, epochs) are the
paper's hyper-parameter table as transcribed for this module; the full text of that table could not be
opened through the search index, so those cells are marked unverified in :data:`VERIFIED`.
``normalize_features`` is ``False``: the released training script loads Planetoid without transforms, so
the model sees the raw bag-of-words features (no row normalisation, which autogt applies to Cora and
CiteSeer by default). Load the task with ``normalize_features=protocol(name)["normalize_features"]`` to
train a bench architecture as the bench did; on the best-validation Cora architecture this is worth about
1.3 points of test accuracy (``benchmarks/out/baselines_nasbench.txt``).

How ArchSpec represents it (:func:`to_spec`), and where it is not exact
--------------------------------------------------------------------------
Node ``i`` -> layer ``i`` with ``inputs=(link[i],)``, ``local=op`` (``gin`` -> ``gin1``, the one-Linear GIN
with ``eps = 0``), ``attn=none``, ``ffn=0``, ``norm=batch``, ``act=relu``, ``residual=False``,
``prenorm=True`` (the consumer-side ``BN -> ReLU -> dropout``, none on raw-feature inputs, exactly as
``Cell`` does), ``dropout=p`` (``cheb``: ``local_out=2``; ``arma``: ``local_out=1``; ``gat``: ``heads=4``);
``combine=concat`` over the leaves, ``readout_act=relu`` (ReLU on the concatenation), ``head_act=identity``
(no activation between the two head Linears), ``hidden=dim``, ``node_encoder=none`` (``num_pre=0``) or
``linear`` (``num_pre=1``: one Linear without activation), ``post_layers=1+num_pro``, ``in_dropout=p``,
``lr``, ``weight_decay``, ``optimizer`` (plain SGD: ``momentum=0``). Remaining differences: (1) ``Cell``
allocates a BatchNorm for a node that reads raw features and never uses it (autogt builds none: ``2 * dim``
fewer parameters per such node); (2) with ``num_pre=1`` the benchmark applies input dropout before the
pre-layer, autogt after the encoder; (3) a ``skip`` reading raw features keeps the raw width there, autogt
projects it to ``dim``.
The tabular evaluator does not depend on any of this: it only needs :func:`from_spec`.

Example:
    >>> from autogt.spaces import nasbench
    >>> spec = nasbench.to_spec([0, 1, 2, 1], ["gcn", "gin", "fc", "cheb"], "cora")
    >>> nasbench.from_spec(spec)
    ((0, 1, 2, 1), ('gcn', 'gin', 'fc', 'cheb'))
    >>> nasbench.arch_hash([0, 1, 2, 1], ["gcn", "gin", "fc", "cheb"]) == nasbench.arch_hash(
    ...     [0, 1, 1, 3], ["gcn", "cheb", "gin", "fc"])
    True
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from autogt.models.spec import ArchSpec, LayerSpec
from autogt.spaces._schema import Space, SpaceError, load_space, parse_space

__all__ = [
    "OPS",
    "PROTEINS_OPS",
    "LINKS",
    "DATASETS",
    "PROTOCOLS",
    "VERIFIED",
    "EMPTY_KEY",
    "protocol",
    "arch_hash",
    "decode_hash",
    "all_archs",
    "to_spec",
    "from_spec",
    "space_for",
    "bench",
]

OPS = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
PROTEINS_OPS = ("gcn", "sage", "arma", "fc", "skip")
LINKS = (
    (0, 0, 0, 0),
    (0, 0, 0, 1),
    (0, 0, 1, 1),
    (0, 0, 1, 2),
    (0, 0, 1, 3),
    (0, 1, 1, 1),
    (0, 1, 1, 2),
    (0, 1, 2, 2),
    (0, 1, 2, 3),
)
DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")
EMPTY_KEY = 88888  # the package's key for the all-skip architecture; in no bench file

_COLUMNS = ("dim", "num_pre", "num_pro", "dropout", "optimizer", "lr", "weight_decay", "epochs")
_TABLE = {  # dataset: dim, num_pre, num_pro, dropout, optimizer, lr, weight_decay, epochs
    "cora": (256, 0, 1, 0.7, "sgd", 0.1, 5e-4, 400),
    "citeseer": (256, 0, 1, 0.7, "sgd", 0.2, 5e-4, 400),
    "pubmed": (128, 0, 0, 0.3, "sgd", 0.2, 5e-4, 500),
    "cs": (128, 1, 0, 0.6, "sgd", 0.5, 5e-4, 400),
    "physics": (256, 1, 0, 0.4, "sgd", 0.01, 0.0, 200),
    "photo": (128, 0, 0, 0.7, "adam", 0.0002, 5e-4, 500),
    "computers": (64, 1, 1, 0.1, "adam", 0.005, 5e-4, 500),
    "arxiv": (128, 0, 1, 0.2, "adam", 0.002, 0.0, 500),
    "proteins": (256, 1, 1, 0.0, "adam", 0.01, 5e-4, 500),
}
PROTOCOLS: dict[str, dict[str, Any]] = {
    name: {**dict(zip(_COLUMNS, row, strict=True)), "metric": "rocauc" if name == "proteins" else "accuracy",
           "normalize_features": False}
    for name, row in _TABLE.items()
}
"""Training protocol per data set (see the module docstring for what is verified and how)."""

VERIFIED: dict[str, tuple[str, ...]] = {
    name: ("dim", "num_pre", "num_pro", "metric", "normalize_features") + (_COLUMNS[3:] if name == "proteins" else ())
    for name in DATASETS
}
"""Which protocol fields were checked against a source (the rest: the paper's table, unverified here)."""


def _check_dataset(dataset: str) -> str:
    name = str(dataset).lower()
    if name not in PROTOCOLS:
        raise SpaceError(f"dataset: {dataset!r} is not a NAS-Bench-Graph data set; choose one of {', '.join(DATASETS)}")
    return name


def protocol(dataset: str) -> dict[str, Any]:
    """The training hyper-parameters NAS-Bench-Graph used on ``dataset`` (a fresh dict).

    Example:
        >>> protocol("cora")["dim"], protocol("proteins")["metric"]
        (256, 'rocauc')
    """
    return dict(PROTOCOLS[_check_dataset(dataset)])


# ----------------------------------------------------------------------------- architectures and keys
def _check_arch(link: Sequence[int], ops: Sequence[str]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    link, ops = tuple(link), tuple(ops)
    if len(link) != 4 or len(ops) != 4:
        raise SpaceError(f"link/ops: NAS-Bench-Graph has exactly 4 nodes, got {len(link)} links and {len(ops)} ops")
    for i, j in enumerate(link):
        if isinstance(j, bool) or not isinstance(j, int) or not 0 <= j <= i:
            raise SpaceError(f"link[{i}]: {j!r} is not allowed; choose one of {', '.join(map(str, range(i + 1)))}")
    for i, op in enumerate(ops):
        if op not in OPS:
            raise SpaceError(f"ops[{i}]: {op!r} is not allowed; choose one of {', '.join(OPS)}")
    return link, ops


def _canonical(link: Sequence[int], ops: Sequence[str]) -> str:
    """A string equal for exactly the architectures NAS-Bench-Graph considers the same (module docstring)."""
    parent = {i + 1: link[i] for i in range(4)}
    label = {i + 1: ops[i] for i in range(4)}
    has_children = {i: False for i in range(5)}
    for p in parent.values():
        has_children[p] = True

    def resolve(p: int) -> int:  # contract skip nodes that have children
        while p != 0 and label[p] == "skip" and has_children[p]:
            p = parent[p]
        return p

    kids: dict[int, list[int]] = {i: [] for i in range(5)}
    taps = dict.fromkeys(range(5), 0)
    for node in range(1, 5):
        if label[node] == "skip" and has_children[node]:
            continue
        owner = resolve(parent[node])
        if label[node] == "skip":
            taps[owner] += 1  # a skip leaf sends its owner's output to the concat
        else:
            kids[owner].append(node)

    def form(node: int) -> str:
        if node == 0:
            outs = 0  # skip leaves on the raw input are dropped
        else:
            outs = taps[node] if taps[node] else (0 if kids[node] else 1)
        return f"{label.get(node, 'in')}{outs}({','.join(sorted(form(k) for k in kids[node]))})"

    return form(0)


def decode_hash(key: int) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The (link, ops) encoded in a bench key (``link_index * 10^4 + op digits``).

    Example:
        >>> decode_hash(80111)
        ((0, 1, 2, 3), ('gat', 'gcn', 'gcn', 'gcn'))
    """
    key = int(key)
    digits = []
    for _ in range(4):
        key, d = divmod(key, 10)
        digits.append(d)
    if not 0 <= key < len(LINKS) or any(d >= len(OPS) for d in digits):
        raise SpaceError(f"key: {key} is not a NAS-Bench-Graph key")
    return LINKS[key], tuple(OPS[d] for d in reversed(digits))


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, int]:
    keys = bench("cora")  # the eight 26,206-arch files share one key set; proteins holds a subset of it
    return {_canonical(*decode_hash(k)): int(k) for k in keys}


def arch_hash(link: Sequence[int], ops: Sequence[str]) -> int:
    """The bench key of an architecture; equals ``nas_bench_graph.Arch(link, ops).valid_hash()``.

    Raises:
        SpaceError: ``link``/``ops`` are malformed (the message names the position and the allowed values).
    """
    link, ops = _check_arch(link, ops)
    if all(op == "skip" for op in ops):
        return EMPTY_KEY
    return _index()[_canonical(link, ops)]


def all_archs() -> list[tuple[tuple[int, ...], tuple[str, ...]]]:
    """The 26,206 distinct architectures, each in the encoding its bench key decodes to."""
    return [decode_hash(k) for k in sorted(_index().values())]


# ----------------------------------------------------------------------------- spec mapping
def to_spec(link: Sequence[int], ops: Sequence[str], dataset: str = "cora") -> ArchSpec:
    """The ArchSpec of NAS-Bench-Graph's model for (link, ops) under ``dataset``'s protocol.

    Example:
        >>> spec = to_spec([0, 0, 1, 1], ["gcn", "gat", "sage", "skip"], "pubmed")
        >>> spec.hidden, spec.combine, [layer.inputs for layer in spec.layers]
        (128, 'concat', [(0,), (0,), (1,), (1,)])
    """
    link, ops = _check_arch(link, ops)
    p = protocol(dataset)
    layers = []
    for j, op in zip(link, ops, strict=True):
        extra: dict[str, Any] = {}
        if op == "cheb":
            extra["local_out"] = 2
        elif op == "arma":
            extra["local_out"] = 1
        layers.append(LayerSpec(local="gin1" if op == "gin" else op, attn="none", heads=4, ffn=0, norm="batch",
                                act="relu", dropout=p["dropout"], residual=False, inputs=(j,), prenorm=True,
                                **extra))
    return ArchSpec(
        hidden=p["dim"],
        layers=tuple(layers),
        combine="concat",
        readout_act="relu",
        head_act="identity",
        node_encoder="linear" if p["num_pre"] else "none",
        pre_layers=0,
        post_layers=1 + p["num_pro"],
        in_dropout=p["dropout"],
        lr=p["lr"],
        weight_decay=p["weight_decay"],
        optimizer=p["optimizer"],
        momentum=0.0,
    )


def from_spec(spec: ArchSpec) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """(link, ops) of a NAS-Bench-Graph-shaped spec (4 single-input layers, NAS-Bench-Graph ops, no attention).

    Raises:
        SpaceError: the spec is not in the NAS-Bench-Graph space; the message says which key is off.
    """
    if len(spec.layers) != 4:
        raise SpaceError(f"layers: NAS-Bench-Graph has exactly 4 layers, got {len(spec.layers)}")
    link = []
    for i, (layer, inputs) in enumerate(zip(spec.layers, spec.resolved_inputs(), strict=True)):
        if len(inputs) != 1:
            raise SpaceError(f"layers[{i}].inputs: NAS-Bench-Graph nodes read exactly one input, got {inputs}")
        if layer.attn != "none":
            raise SpaceError(f"layers[{i}].attn: {layer.attn!r} is not allowed; NAS-Bench-Graph has none")
        link.append(inputs[0])
    return _check_arch(link, ["gin" if layer.local == "gin1" else layer.local for layer in spec.layers])


def space_for(dataset: str) -> Space:
    """The bundled ``nasbench_graph`` space with ``dataset``'s protocol fixed, so ``to_spec`` agrees with
    :func:`to_spec` (``space_for(d).to_spec(params) == to_spec(link, ops, d)``). On proteins the op choices
    are the benchmark's 5 (:data:`PROTEINS_OPS`), as NAS-Bench-Graph defines that space.

    Example:
        >>> space_for("proteins").distributions()["layer1.local"].choices
        ('gcn', 'sage', 'arma', 'fc', 'skip')
    """
    p = protocol(dataset)
    space = load_space("nasbench_graph")
    if dataset.lower() == "proteins":
        raw = json.loads(space.definition)
        ops = raw["layers"]["each"]["local"]["choices"]
        raw["layers"]["each"]["local"]["choices"] = {op: ops[op] for op in PROTEINS_OPS}
        space = parse_space(raw, name=space.name, source=space.source)
    return space.fix(
        hidden=p["dim"],
        node_encoder="linear" if p["num_pre"] else "none",
        post_layers=1 + p["num_pro"],
        in_dropout=p["dropout"],
        lr=p["lr"],
        weight_decay=p["weight_decay"],
        optimizer=p["optimizer"],
        momentum=0.0,
        **{"layers.dropout": p["dropout"]},
    )


@functools.lru_cache(maxsize=None)
def bench(dataset: str) -> dict[int, dict[str, float]]:
    """The package's light bench file for ``dataset`` as ``{key: {valid_perf, perf, latency, para}}`` (floats)."""
    from nas_bench_graph import light_read

    raw = light_read(_check_dataset(dataset))
    return {int(k): {m: float(v) for m, v in info.items()} for k, info in raw.items()}
