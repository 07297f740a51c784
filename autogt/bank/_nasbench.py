"""Import NAS-Bench-Graph (Qin et al., 2022) into the bank: 9 data sets, every architecture.

Each data set becomes the task ``nasbench/<name>`` (node classification; published data-set
statistics as meta-features). Each architecture becomes a design whose ``key`` is the package's own
architecture hash (``Arch(link, ops).valid_hash()``, the key of ``light_read``) and whose ``hash`` is
the ``ArchSpec.hash()`` of ``autogt.spaces.nasbench.to_spec(link, ops, dataset)``; ``space`` is
``nasbench_graph`` and ``params`` are that space's parameters (``link``, ``layer1.local``...). Each
benchmark entry becomes one result: ``val``/``test`` = valid/test accuracy (ROC-AUC for proteins),
``latency_ms``, ``num_params``; fidelity ``tabular``, seed 0.

Example:
    >>> from autogt.bank import Bank
    >>> bank = Bank("sqlite://", shipped=False)
    >>> import_nasbench(bank, ["proteins"])          # doctest: +SKIP
    {'proteins': 2021}
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

from autogt.bank._records import BankDesign, BankError, BankRecord, BankResult, BankTask

__all__ = ["DATASETS", "SPACE", "TASK_PREFIX", "FIDELITY", "import_nasbench", "architectures", "task_name",
           "dataset_meta", "records_for", "check_hashes", "space_params"]

DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")
SPACE = "nasbench_graph"  # the bundled space (search_spaces/nasbench_graph.yaml)
TASK_PREFIX = "nasbench/"
FIDELITY = "tabular"
DEVICE = "nas-bench-graph"  # latencies as published by the benchmark (its own GPU)

# Published data-set statistics (PyG / OGB): nodes, directed edges, feature width, outputs, edge homophily.
_STATS: dict[str, tuple[int, int, int, int, float | None]] = {
    "cora": (2708, 10556, 1433, 7, 0.81),
    "citeseer": (3327, 9104, 3703, 6, 0.74),
    "pubmed": (19717, 88648, 500, 3, 0.80),
    "cs": (18333, 163788, 6805, 15, 0.81),
    "physics": (34493, 495924, 8415, 5, 0.93),
    "photo": (7650, 238162, 745, 8, 0.83),
    "computers": (13752, 491722, 767, 10, 0.78),
    "arxiv": (169343, 2315598, 128, 40, 0.65),
    "proteins": (132534, 79122504, 8, 112, None),
}


def task_name(dataset: str) -> str:
    """Bank task name of a NAS-Bench-Graph data set (``nasbench/cora``)."""
    return TASK_PREFIX + dataset


def dataset_meta(dataset: str) -> BankTask:
    """The bank task of a NAS-Bench-Graph data set, with meta-features from published statistics."""
    if dataset not in _STATS:
        raise BankError(f"unknown NAS-Bench-Graph data set {dataset!r}; choose from {', '.join(DATASETS)}")
    nodes, edges, feats, outputs, hom = _STATS[dataset]
    meta = {"num_graphs": 1.0, "nodes_mean": float(nodes), "nodes_max": float(nodes), "edges_mean": float(edges),
            "degree_mean": edges / nodes}
    if hom is not None:
        meta["homophily"] = hom
    kind, metric = ("multilabel", "rocauc") if dataset == "proteins" else ("multiclass", "accuracy")
    return BankTask(
        name=task_name(dataset), level="node", kind=kind, metric=metric, meta=meta,
        description={"name": task_name(dataset), "level": "node", "kind": kind, "metric": metric,
                     "node_dim": feats, "num_outputs": outputs, "benchmark": "nas-bench-graph"},
        fingerprint=f"nasbench-graph:{dataset}", source="nasbench",
    )  # fmt: skip


def architectures(dataset: str = "cora") -> dict[int, tuple[list[int], list[str]]]:
    """Every NAS-Bench-Graph architecture of ``dataset``: package hash -> canonical ``(link, ops)``.

    Enumerates ``link_list`` x ``gnn_list``^4 (``gnn_list_proteins`` for proteins), keeping the
    canonical representative of each isomorphism class (``Arch.check_isomorph()``).
    """
    import nas_bench_graph as nbg

    ops_list = nbg.gnn_list_proteins if dataset == "proteins" else nbg.gnn_list
    out: dict[int, tuple[list[int], list[str]]] = {}
    for link in nbg.link_list:
        for ops in itertools.product(ops_list, repeat=4):
            if all(o == "skip" for o in ops):
                continue
            if not nbg.Arch(list(link), list(ops)).check_isomorph():
                continue
            h = nbg.Arch(list(link), list(ops)).valid_hash()
            out.setdefault(h, (list(link), list(ops)))
    return out


ToSpec = Callable[[Sequence[int], Sequence[str], str], Any]
ArchHash = Callable[[Sequence[int], Sequence[str]], Any]


def _mapping() -> tuple[ToSpec, ArchHash]:
    try:
        from autogt.spaces.nasbench import arch_hash, to_spec
    except ImportError as exc:
        raise BankError(
            "the NAS-Bench-Graph space mapping autogt.spaces.nasbench (to_spec, arch_hash) is not available"
        ) from exc
    return to_spec, arch_hash


def space_params(link: Sequence[int], ops: Sequence[str]) -> dict[str, str]:
    """Parameters of the ``nasbench_graph`` space for (link, ops).

    Example:
        >>> space_params([0, 1, 2, 3], ["gcn", "gat", "fc", "skip"])["link"]
        '0-1-2-3'
    """
    out = {"link": "-".join(str(int(j)) for j in link)}
    out.update({f"layer{i + 1}.local": str(op) for i, op in enumerate(ops)})
    return out


def check_hashes(archs: dict[int, tuple[list[int], list[str]]]) -> None:
    """Raise :class:`BankError` unless ``autogt.spaces.nasbench.arch_hash`` agrees with the package on ``archs``."""
    _, arch_hash = _mapping()
    for h, (link, ops) in archs.items():
        ours = arch_hash(link, ops)
        if int(ours) != int(h):
            raise BankError(f"autogt.spaces.nasbench.arch_hash{tuple(link), tuple(ops)} = {ours}, package says {h}")


def records_for(dataset: str, *, archs: dict[int, tuple[list[int], list[str]]] | None = None) -> list[BankRecord]:
    """Bank records of every benchmark entry of ``dataset`` (``archs`` from :func:`architectures`)."""
    import nas_bench_graph as nbg

    to_spec, _ = _mapping()
    bench = nbg.light_read(dataset)
    if archs is None:
        archs = architectures(dataset)
        check_hashes(archs)
    name = task_name(dataset)
    metric = "rocauc" if dataset == "proteins" else "accuracy"
    now = time.time()
    records: list[BankRecord] = []
    for h, (link, ops) in archs.items():
        entry = bench.get(h)
        if entry is None:
            continue
        design = BankDesign.from_spec(to_spec(link, ops, dataset), space=SPACE, key=str(h),
                                      params=space_params(link, ops))
        para = float(entry.get("para", 0.0))
        result = BankResult(
            task=name, design=design.hash, seed=0, fidelity=FIDELITY, status="ok", metric=metric,
            val=float(entry["valid_perf"]), test=float(entry["perf"]), num_params=int(round(para * 1e6)),
            latency_ms=float(entry["latency"]) * 1000.0, device=DEVICE, source="nasbench", time=now,
            metrics={"para_m": para},
        )  # fmt: skip
        records.append(BankRecord(result=result, design=design))
    return records


def import_nasbench(bank: Any, datasets: Sequence[str] | None = None) -> dict[str, int]:
    """Import NAS-Bench-Graph into ``bank``; returns the number of new results per data set.

    Idempotent: importing twice adds nothing the second time.
    """
    chosen = list(datasets) if datasets else list(DATASETS)
    unknown = [d for d in chosen if d not in DATASETS]
    if unknown:
        raise BankError(f"unknown NAS-Bench-Graph data set(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    full = None
    out: dict[str, int] = {}
    for dataset in chosen:
        if dataset == "proteins":
            archs = architectures("proteins")
            check_hashes(archs)
        else:
            if full is None:
                full = architectures("cora")
                check_hashes(full)
            archs = full
        task = dataset_meta(dataset)
        bank.add_task(task, source="nasbench")
        out[dataset] = bank.add_records([task], records_for(dataset, archs=archs))
    return out
