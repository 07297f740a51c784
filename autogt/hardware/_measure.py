"""Measuring a device: block tables over a grid, whole-model samples, corrections -> ``DeviceProfile``.

Timing: ``warmup`` untimed calls, then the median of ``repeats`` timed calls, under ``torch.no_grad`` in
eval mode. On CUDA each call is bracketed by CUDA events and the median of ``elapsed_time`` is taken after
a synchronisation. On CPU the clock is either the wall clock (``time.perf_counter``) or, with one thread,
the process CPU time (``clock="cpu"``, the default for ``threads=1``): it excludes the time the OS gives to
other processes, so a loaded shared machine gives stable numbers; on an idle machine both agree.

Memory: on CUDA the allocator's peak (``max_memory_allocated`` minus what was allocated before). On CPU
a dispatch-mode tracker adds up the storages of every tensor created by aten ops while they are alive
(no tracemalloc, no RSS sampling: deterministic). The same pass counts aten ops (kernels), bytes read
and written, and matmul/attention FLOPs; these device-independent counts feed rooflines.

Batches: real molecules. A grid point ``(batch=B, nodes=n)`` is ``B`` bundled BBBP graphs "resized" to
the bucket: each is a random BBBP graph's size times ``n / mean size``, replaced by a BBBP graph of the
nearest available size, so every bucket keeps the data set's spread of sizes (and thus its number of
attention size buckets per batch); of 16 draws the one whose mean size is closest to ``n`` is kept
(``B = 1``: one graph of the size nearest ``n``). Layer blocks get random float node features of the
block's width and random encoded edge features; PE tensors are random (their values do not change the
cost). Whole-model samples use random BBBP graphs as they come.

Example:
    >>> prof = profile("cpu", grid=Grid(width=(16,), heads=(2,), ffn=(32,), batch=(2,), nodes=(12,)),
    ...                blocks=("ffn", "overhead"), fit_samples=0, warmup=1, repeats=1)  # doctest: +SKIP
    >>> sorted(prof.tables)                                                              # doctest: +SKIP
    ['ffn', 'overhead']
"""

from __future__ import annotations

import contextlib
import datetime
import random
import statistics
import sys
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from autogt.hardware._blocks import block_axes, block_keys, nominal_layer
from autogt.hardware._device import DeviceProfile, Sample
from autogt.hardware._host import cpu_facts, cuda_facts
from autogt.hardware._roofline import ROOFLINES, match_roofline
from autogt.hardware._table import BlockTable, monotone
from autogt.models.spec import ArchSpec, LayerSpec

__all__ = ["Grid", "QUICK", "FULL", "profile", "refit", "time_call", "MemoryCounter", "GraphPool", "measure_model",
           "synthetic_molecules"]


@dataclass(frozen=True)
class Grid:
    """Grid values of every axis (a block uses the axes :func:`~autogt.hardware._blocks.block_axes` names)."""

    width: tuple[int, ...]
    heads: tuple[int, ...]
    ffn: tuple[int, ...]
    batch: tuple[int, ...]
    nodes: tuple[int, ...]

    def axis(self, name: str) -> tuple[float, ...]:
        return tuple(float(v) for v in getattr(self, name))

    def to_dict(self) -> dict[str, list[int]]:
        return {k: list(v) for k, v in asdict(self).items()}


QUICK = Grid(width=(32, 64, 96, 128, 192, 256), heads=(1, 2, 4, 8), ffn=(64, 128, 256, 512, 1024),
             batch=(1, 4, 16, 32, 64, 128), nodes=(12, 24, 48))
"""Quick grid: the widths, heads, FFN widths and batch sizes of the bundled spaces, 3 graph sizes (about
10 minutes on a loaded 2-core CPU)."""

FULL = Grid(width=(16, 32, 64, 96, 128, 192, 256, 384, 512), heads=(1, 2, 4, 8, 16),
            ffn=(32, 64, 128, 256, 512, 1024, 2048), batch=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            nodes=(8, 12, 16, 24, 32, 48, 64, 96))
"""Full grid (many hours on a CPU; meant for GPUs, about an hour there)."""

_SETTINGS = {"quick": {"warmup": 2, "repeats": 7, "fit_samples": 150},
             "full": {"warmup": 5, "repeats": 15, "fit_samples": 300}}


# ----------------------------------------------------------------------------- timing
def time_call(fn: Callable[[], Any], *, device: torch.device, warmup: int, repeats: int, clock: str = "wall") -> float:
    """Median latency of ``fn()`` in milliseconds (see module docstring for the clocks).

    Example:
        >>> t = time_call(lambda: sum(range(1000)), device=torch.device("cpu"), warmup=1, repeats=3)
        >>> t > 0
        True
    """
    for _ in range(warmup):
        fn()
    times: list[float] = []
    if device.type == "cuda":  # pragma: no cover - needs a GPU
        torch.cuda.synchronize(device)
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(repeats)]
        for start, end in events:
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize(device)
        times = [start.elapsed_time(end) for start, end in events]
    else:
        now = time.process_time if clock == "cpu" else time.perf_counter
        for _ in range(max(repeats, 1)):
            t0 = now()
            fn()
            times.append((now() - t0) * 1e3)
    return float(statistics.median(times))


# ----------------------------------------------------------------------------- memory and counts
def _storage_key(t: Tensor) -> int:
    try:
        return int(t.untyped_storage().data_ptr())
    except (RuntimeError, NotImplementedError):
        return 0


_SDPA = {"_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
         "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
         "_scaled_dot_product_attention_math"}


def _op_flops(name: str, args: Sequence[Any], outs: list[Tensor]) -> float:
    tensors = [a for a in args if isinstance(a, Tensor)]
    if name in ("mm", "addmm", "bmm", "baddbmm"):
        a, b = tensors[-2], tensors[-1]
        return 2.0 * a.numel() * b.shape[-1]
    if name in _SDPA:
        q, k = tensors[0], tensors[1]
        return 4.0 * q.numel() * k.shape[-2]
    return float(sum(o.numel() for o in outs[:1]))


class MemoryCounter(TorchDispatchMode):
    """Dispatch mode that tracks live tensor bytes (peak), aten ops, bytes moved and FLOPs.

    Tensors that exist before the mode starts (parameters, inputs) are not counted.

    Example:
        >>> x = torch.randn(100, 10)
        >>> with MemoryCounter() as mc:
        ...     y = (x @ x.T).relu()
        >>> mc.peak >= 100 * 100 * 4, mc.ops
        (True, 2)
    """

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, list[int]] = {}
        self.external: set[int] = set()
        self.current = 0
        self.peak = 0
        self.ops = 0
        self.bytes = 0.0
        self.flops = 0.0

    def _release(self, key: int) -> None:
        entry = self.live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            self.current -= entry[0]
            del self.live[key]

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        ins = [t for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, Tensor)]
        for t in ins:
            key = _storage_key(t)
            if key and key not in self.live:
                self.external.add(key)
        out = func(*args, **kwargs)
        outs = [t for t in pytree.tree_leaves(out) if isinstance(t, Tensor)]
        if not getattr(func, "is_view", False):
            self.ops += 1
            self.bytes += float(sum(t.numel() * t.element_size() for t in (*ins, *outs)))
            self.flops += _op_flops(func.__name__.split(".")[0], args, outs)
        for t in outs:
            key = _storage_key(t)
            if not key or key in self.external:
                continue
            entry = self.live.get(key)
            if entry is None:
                nbytes = int(t.untyped_storage().nbytes())
                entry = self.live[key] = [nbytes, 0]
                self.current += nbytes
                self.peak = max(self.peak, self.current)
            entry[1] += 1
            weakref.finalize(t, self._release, key)
        return out


def measure_memory_mb(fn: Callable[[], Any], device: torch.device) -> tuple[float, tuple[float, float, float]]:
    """``(peak MB of new tensors during fn(), (ops, flops, bytes))``; CUDA uses the allocator's peak."""
    with MemoryCounter() as mc:
        out = fn()
    del out
    counts = (float(mc.ops), float(mc.flops), float(mc.bytes))
    if device.type == "cuda":  # pragma: no cover - needs a GPU
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        out = fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - base
        del out
        return peak / 2**20, counts
    return mc.peak / 2**20, counts


# ----------------------------------------------------------------------------- graphs
def synthetic_molecules(count: int, *, sizes: tuple[int, int] = (4, 100), seed: int = 0) -> list[Any]:
    """Molecule-like graphs: a chain with a ring bond every 6 atoms (about 2.2 directed edges per node),
    OGB-style integer atom / bond features. For tests and machines without the bundled data.

    Example:
        >>> g = synthetic_molecules(1, sizes=(12, 12))[0]
        >>> g.num_nodes, g.x.shape[1], g.edge_attr.shape[1]
        (12, 9, 3)
    """
    from torch_geometric.data import Data

    from autogt.data import ATOM_VOCAB, BOND_VOCAB

    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    graphs = []
    for _ in range(count):
        n = rng.randint(*sizes)
        pairs = [(i, i + 1) for i in range(n - 1)] + [(i, i + 5) for i in range(0, n - 5, 6)]
        src = [a for a, b in pairs] + [b for a, b in pairs]
        dst = [b for a, b in pairs] + [a for a, b in pairs]
        x = torch.stack([torch.randint(0, v, (n,), generator=gen) for v in ATOM_VOCAB], 1)
        half = torch.stack([torch.randint(0, v, (len(pairs),), generator=gen) for v in BOND_VOCAB], 1)
        graphs.append(Data(x=x, edge_index=torch.tensor([src, dst], dtype=torch.long).view(2, -1),
                           edge_attr=torch.cat([half, half]), y=torch.zeros(1, 1)))
    return graphs


class GraphPool:
    """Molecule graphs to build batches from: bundled BBBP by default, any graph-level ``Task`` or a list of
    molecule-like PyG ``Data`` (see module docstring and :func:`synthetic_molecules`)."""

    def __init__(self, data: Any = "bbbp", seed: int = 0) -> None:
        if isinstance(data, (list, tuple)):
            self.task = None
            self.graphs = list(data)
        else:
            from autogt.data import load_task

            self.task = data if hasattr(data, "graphs") else load_task(data)
            if self.task.level != "graph":
                raise ValueError("profiling needs a graph-level data set (molecules)")
            self.graphs = list(self.task.graphs)
        if not self.graphs:
            raise ValueError("profiling needs at least one graph")
        self.sizes = [int(g.num_nodes) for g in self.graphs]
        self.seed = seed
        edges = sum(int(g.edge_index.size(1)) for g in self.graphs)
        self.degree = edges / max(sum(self.sizes), 1)

    @property
    def name(self) -> str:
        return self.task.name if self.task is not None else "synthetic"

    def description(self) -> dict[str, Any]:
        if self.task is None:
            import numpy as np

            from autogt.data import ATOM_VOCAB, BOND_VOCAB

            n = np.array(self.sizes, dtype=float)
            e = np.array([int(g.edge_index.size(1)) for g in self.graphs], dtype=float)
            meta = {"num_graphs": float(len(n)), "nodes_mean": float(n.mean()), "nodes_sq_mean": float((n**2).mean()),
                    "edges_mean": float(e.mean()), "nodes_max": float(n.max())}
            return {"name": "synthetic", "level": "graph", "kind": "binary", "num_outputs": 1, "node_dim": 9,
                    "edge_dim": 3, "node_categorical": True, "edge_categorical": True, "atom_vocab": list(ATOM_VOCAB),
                    "bond_vocab": list(BOND_VOCAB), "meta": meta}
        d = self.task.describe()
        return {k: d[k] for k in ("name", "level", "kind", "num_outputs", "node_dim", "edge_dim", "node_categorical",
                                  "edge_categorical", "atom_vocab", "bond_vocab", "meta")}

    def pick(self, batch: int, nodes: float | None, seed: int) -> list[int]:
        """Indices of ``batch`` graphs of mean size close to ``nodes`` (random graphs when ``None``).

        The batch keeps the data set's spread of sizes (which sets how many attention size buckets a batch
        has): each graph is a random graph's size rescaled by ``nodes / mean size``, replaced by a graph of
        the nearest available size. Of several such draws the one whose mean is closest to ``nodes`` is kept.
        """
        import bisect

        rng = random.Random(seed)
        if nodes is None:
            return [rng.randrange(len(self.graphs)) for _ in range(batch)]
        by_size: dict[int, list[int]] = {}
        for i, s in enumerate(self.sizes):
            by_size.setdefault(s, []).append(i)
        avail = sorted(by_size)

        def nearest(x: float) -> int:
            j = bisect.bisect_left(avail, x)
            cands = avail[max(j - 1, 0): j + 1]
            return min(cands, key=lambda s: abs(s - x))

        if batch == 1:
            return [rng.choice(by_size[nearest(nodes)])]
        scale = nodes / (sum(self.sizes) / len(self.sizes))
        best, best_err = [], float("inf")
        for _ in range(16):
            idx = [rng.choice(by_size[nearest(self.sizes[rng.randrange(len(self.sizes))] * scale)])
                   for _ in range(batch)]
            err = abs(sum(self.sizes[i] for i in idx) / batch - nodes)
            if err < best_err:
                best, best_err = idx, err
        return best

    def batch(self, index: list[int], device: torch.device, pe_dim: int = 20) -> Any:
        from torch_geometric.data import Batch

        b = Batch.from_data_list([self.graphs[i] for i in index])
        gen = torch.Generator().manual_seed(len(index) * 7919 + b.num_nodes)
        b.pe_rw = torch.rand(b.num_nodes, pe_dim, generator=gen)
        b.pe_lap = torch.rand(b.num_nodes, pe_dim, generator=gen) - 0.5
        return b.to(device)


def batch_stats(b: Any) -> tuple[float, float, float]:
    """Mean nodes, directed edges and squared nodes per graph of a PyG batch."""
    sizes = (b.ptr[1:] - b.ptr[:-1]).double()
    g = max(int(b.num_graphs), 1)
    return float(sizes.mean()), float(b.edge_index.size(1)) / g, float((sizes**2).mean())


# ----------------------------------------------------------------------------- block runners
def _seeded(seed: int) -> None:
    torch.manual_seed(seed)


def _layer_inputs(b: Any, width: int, edge_dim: int, device: torch.device) -> tuple[Any, ...]:
    gen = torch.Generator().manual_seed(width)
    x = torch.randn(b.num_nodes, width, generator=gen).to(device)
    ea = torch.randn(b.edge_index.size(1), edge_dim, generator=gen).to(device) if edge_dim else None
    return x, b.edge_index, ea, b.batch, b.ptr


def _runner(key: str, point: dict[str, float], b: Any, task: dict[str, Any],
            device: torch.device) -> Callable[[], Any]:
    """A no-argument callable running block ``key`` at ``point`` on batch ``b``."""
    from autogt.models import build_model
    from autogt.models._util import make_act, make_norm
    from autogt.models.encoders import PEEncoder
    from autogt.models.layer import GTLayer
    from autogt.registry import get

    w = int(point["width"])
    family, _, name = key.partition(":")
    _seeded(w)
    if family in ("local", "attn", "ffn"):
        layer, width, edge_dim, head_dim = nominal_layer(key, point)
        module: nn.Module = GTLayer(layer, width, width, edge_dim=edge_dim, head_dim=head_dim).to(device).eval()
        x, ei, ea, batch, ptr = _layer_inputs(b, width, edge_dim, device)
        return lambda: module(x, ei, ea, batch, ptr)
    if family == "overhead":
        skip = LayerSpec(local="skip", attn="none", ffn=0, norm="none")
        model = build_model(ArchSpec(hidden=w, layers=(skip,)), task).to(device).eval()
        return lambda: model(b)
    if family == "edge":
        model = build_model(ArchSpec(hidden=w, layers=(LayerSpec(local="gine", ffn=0),)), task)
        enc = model.edge_encoders[str(w)].to(device).eval()
        return lambda: enc(b.edge_attr)
    if family == "pe":
        from autogt.hardware._blocks import REF_PE_DIM

        pe_mod = PEEncoder(name, REF_PE_DIM, w).to(device).eval()
        pe = getattr(b, f"pe_{name}")
        g = int(b.num_graphs)
        return lambda: pe_mod(pe, b.batch, g)
    x = _layer_inputs(b, w, 0, device)[0]
    if family == "linear":
        lin = nn.Linear(w, w).to(device).eval()
        return lambda: lin(x)
    if family == "norm":
        norm = make_norm(name, w).to(device).eval()
        return lambda: norm(x)
    if family == "act":
        act = make_act(name).to(device).eval()
        return lambda: act(x)
    if family == "pool":
        pool = get("pooling", name)(w).to(device).eval()
        g = int(b.num_graphs)
        return lambda: pool(x, b.batch, g)
    raise ValueError(f"unknown block {key!r}; known: {', '.join(block_keys())}")


def _vn_models(point: dict[str, float], task: dict[str, Any], device: torch.device) -> tuple[nn.Module, nn.Module]:
    from autogt.models import build_model

    w = int(point["width"])
    skip = LayerSpec(local="skip", attn="none", ffn=0, norm="none")
    spec = ArchSpec(hidden=w, layers=(skip, skip))
    _seeded(w)
    with_vn = build_model(spec.replace(virtual_node=True), task).to(device).eval()
    without = build_model(spec, task).to(device).eval()
    return with_vn, without


# ----------------------------------------------------------------------------- measuring
@dataclass
class _Settings:
    device: torch.device
    warmup: int
    repeats: int
    clock: str


def _measure_point(key: str, point: dict[str, float], b: Any, task: dict[str, Any], st: _Settings) -> dict[str, float]:
    with torch.no_grad():
        if key == "vn":
            with_vn, without = _vn_models(point, task, st.device)
            t1 = time_call(lambda: with_vn(b), device=st.device, warmup=st.warmup, repeats=st.repeats, clock=st.clock)
            t0 = time_call(lambda: without(b), device=st.device, warmup=st.warmup, repeats=st.repeats, clock=st.clock)
            m1, c1 = measure_memory_mb(lambda: with_vn(b), st.device)
            m0, c0 = measure_memory_mb(lambda: without(b), st.device)
            counts = tuple(max(x - y, 1.0) for x, y in zip(c1, c0, strict=True))
            return {"latency_ms": max(t1 - t0, 1e-4), "memory_mb": max(m1 - m0, 1e-6), "ops": counts[0],
                    "flops": counts[1], "bytes": counts[2]}
        fn = _runner(key, point, b, task, st.device)
        latency = time_call(fn, device=st.device, warmup=st.warmup, repeats=st.repeats, clock=st.clock)
        mem, (ops, flops, nbytes) = measure_memory_mb(fn, st.device)
    return {"latency_ms": max(latency, 1e-4), "memory_mb": max(mem, 1e-6), "ops": max(ops, 1.0),
            "flops": max(flops, 1.0), "bytes": max(nbytes, 1.0)}


_MONOTONE_AXES = ("width", "ffn", "batch", "nodes")


def measure_table(key: str, grid: Grid, pool: GraphPool, st: _Settings, *, seed: int = 0) -> BlockTable:
    """Measure block ``key`` at every point of ``grid`` (latency made non-decreasing along size axes)."""
    axes = tuple((name, grid.axis(name)) for name in block_axes(key))
    task = pool.description()
    cols: dict[str, list[float]] = {f: [] for f in ("latency_ms", "memory_mb", "ops", "flops", "bytes")}
    batches: dict[tuple[float, float], Any] = {}
    probe = BlockTable(axes=axes, values={})
    for point in probe.points():
        bk = (point["batch"], point["nodes"])
        if bk not in batches:
            idx = pool.pick(int(bk[0]), bk[1], seed=hash((seed, bk)) & 0xFFFF)
            batches[bk] = pool.batch(idx, st.device)
        row = _measure_point(key, point, batches[bk], task, st)
        for f, v in row.items():
            cols[f].append(v)
    shape = tuple(len(v) for _, v in axes)
    mono = [i for i, (name, _) in enumerate(axes) if name in _MONOTONE_AXES]
    cols["latency_ms"] = monotone(cols["latency_ms"], shape, mono)
    return BlockTable(axes=axes, values={k: tuple(v) for k, v in cols.items()})


def measure_model(spec: ArchSpec, b: Any, task: dict[str, Any], *, device: torch.device, warmup: int, repeats: int,
                  clock: str) -> tuple[float, float]:
    """``(latency_ms, memory_mb)`` of one forward of ``build_model(spec, task)`` on batch ``b``; memory counts
    parameters, buffers, the batch's tensors and the activation peak."""
    from autogt.models import build_model

    _seeded(0)
    model = build_model(spec, task).to(device).eval()
    with torch.no_grad():
        latency = time_call(lambda: model(b), device=device, warmup=warmup, repeats=repeats, clock=clock)
        act, _ = measure_memory_mb(lambda: model(b), device)
    static = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    for key in ("x", "edge_index", "edge_attr", "batch", "ptr", "y"):
        value = getattr(b, key, None)
        if isinstance(value, Tensor):
            static += value.numel() * value.element_size()
    if spec.pe != "none":  # the model reads the first pe_dim columns
        static += 4 * b.num_nodes * spec.pe_dim
    return latency, act + static / 2**20


# ----------------------------------------------------------------------------- profile
@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[int]:
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(old)


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(msg, file=sys.stderr, flush=True)


def profile(
    device: str = "cpu",
    *,
    out: str | None = None,
    quick: bool = False,
    name: str | None = None,
    grid: Grid | None = None,
    blocks: Sequence[str] | None = None,
    threads: int | None = None,
    clock: str = "auto",
    warmup: int | None = None,
    repeats: int | None = None,
    fit_samples: int | None = None,
    data: Any = "bbbp",
    seed: int = 0,
    progress: bool = False,
) -> DeviceProfile:
    """Measure ``device`` and return (and with ``out``, write) its :class:`DeviceProfile`.

    Args:
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        out: JSON path to write (e.g. ``profiles/cpu-2core.json``).
        quick: the :data:`QUICK` grid and fewer repeats/samples instead of :data:`FULL`.
        name: profile name (default: the stem of ``out``, else the device).
        grid, blocks: override the grid and the block keys (default: every registered block).
        threads: CPU threads while measuring (default: torch's current setting); stored in the profile.
        clock: ``wall``, ``cpu`` (process CPU time; one thread only) or ``auto`` (``cpu`` when ``threads == 1``
            on a CPU, else ``wall``). CUDA always uses CUDA events.
        warmup, repeats: untimed and timed calls per measurement (median of the timed ones).
        fit_samples: whole-model measurements for the corrections (0 = no correction).
        data: graphs to measure on: a bundled graph-level name, a Task or a list of molecule-like ``Data``
            (default: BBBP molecules).
        seed: seed for batches and the sampled architectures.
        progress: print one line per block on stderr.

    Example:
        >>> prof = profile("cpu", quick=True, out="profiles/cpu-2core.json")  # doctest: +SKIP
    """
    from autogt.hardware._sample import random_spec

    dev = torch.device(device)
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device: {device!r} is not allowed; choose cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: cuda requested but torch.cuda.is_available() is False")
    mode = "quick" if quick else "full"
    grid = grid or (QUICK if quick else FULL)
    defaults = _SETTINGS[mode]
    warmup = defaults["warmup"] if warmup is None else warmup
    repeats = defaults["repeats"] if repeats is None else repeats
    fit_samples = defaults["fit_samples"] if fit_samples is None else fit_samples
    keys = list(blocks) if blocks is not None else block_keys()
    if name is None:
        from pathlib import Path

        name = Path(out).stem if out else dev.type
    start = time.perf_counter()
    with _threads(threads) as n_threads:
        if clock == "auto":
            clock = "cpu" if dev.type == "cpu" and n_threads == 1 else "wall"
        if clock not in ("wall", "cpu"):
            raise ValueError(f"clock: {clock!r} is not allowed; choose one of auto, wall, cpu")
        if clock == "cpu" and n_threads != 1:
            raise ValueError("clock 'cpu' (process CPU time) needs threads=1")
        st = _Settings(dev, warmup, repeats, clock)
        pool = GraphPool(data, seed)
        tables: dict[str, BlockTable] = {}
        for i, key in enumerate(keys, start=1):
            t0 = time.perf_counter()
            tables[key] = measure_table(key, grid, pool, st, seed=seed)
            _log(progress, f"[{i}/{len(keys)}] {key}: {tables[key].size} points, {time.perf_counter() - t0:.1f}s")

        hardware: dict[str, Any] = {**cpu_facts(), "torch": torch.__version__}
        roof = None
        if dev.type == "cuda":  # pragma: no cover - needs a GPU
            hardware.update(cuda_facts(dev.index or 0))
            match = match_roofline(str(hardware["gpu_name"]))
            if match:
                hardware["roofline"] = match
                roof = ROOFLINES[match]
        prof = DeviceProfile(
            name=name, kind=dev.type, hardware=hardware,
            measurement={"threads": n_threads, "clock": clock if dev.type == "cpu" else "cuda-events",
                         "warmup": warmup, "repeats": repeats, "statistic": "median", "grid": mode if grid in (
                             QUICK, FULL) else "custom", "grid_values": grid.to_dict(), "blocks": len(keys),
                         "data": pool.name, "seed": seed,
                         "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
            reference={"task": pool.description(), "degree": pool.degree},
            tables=tables, roofline=roof,
        )

        # ---- whole-model samples and corrections
        rng = random.Random(seed + 1)
        samples: list[Sample] = []
        task = pool.description()
        batch_choices = sorted({1, 8, 32, 64, *grid.batch} & set(range(1, max(grid.batch) + 1)))
        for j in range(fit_samples):
            spec = random_spec(rng, widths=grid.width, keys=set(keys))
            bsize = rng.choice(batch_choices)
            b = pool.batch(pool.pick(bsize, None, seed=rng.randrange(2**31)), dev)
            n, e, nsq = batch_stats(b)
            try:
                latency, memory = measure_model(spec, b, task, device=dev, warmup=warmup, repeats=repeats,
                                                clock=clock)
            except Exception as exc:  # pragma: no cover - an op that cannot run a sampled shape
                _log(progress, f"sample {j}: skipped ({type(exc).__name__}: {exc})")
                continue
            samples.append(Sample(spec.to_dict(), bsize, n, e, nsq, latency, memory))
            if progress and (j + 1) % 10 == 0:
                _log(progress, f"samples: {j + 1}/{fit_samples}")
        prof.samples = samples
        refit(prof)
    prof.measurement["seconds"] = round(time.perf_counter() - start, 1)
    if out:
        prof.save(out)
    return prof


def refit(prof: DeviceProfile, *, min_samples: int = 8) -> DeviceProfile:
    """(Re)fit ``prof``'s latency and memory corrections (and, for a known GPU, its roofline efficiencies) to
    its stored whole-model samples, in place; with fewer than ``min_samples`` samples they are cleared.

    Example:
        >>> prof = refit(load_profile("cpu-2core"))  # doctest: +SKIP
    """
    from autogt.hardware._predict import (
        LATENCY_FEATURES,
        MEMORY_FEATURES,
        fit_correction,
        fit_roofline,
        latency_features,
        predict,
    )

    prof.latency_correction = prof.memory_correction = None
    samples = prof.samples
    if len(samples) < min_samples:
        return prof
    lat_rows, mem_rows = [], []
    for s in samples:  # uncorrected predictions (no correction set now) -> features
        stats = {"nodes_mean": s.nodes, "edges_mean": s.edges, "nodes_sq_mean": s.nodes_sq}
        spec = ArchSpec.from_dict(s.spec)
        lat_rows.append(latency_features(spec, predict(spec, prof, batch=s.batch, stats=stats).groups))
        mem_rows.append(_memory_row(prof, s, stats))
    latency_fit = fit_correction(lat_rows, [s.latency_ms for s in samples], LATENCY_FEATURES, space="log")
    memory_fit = fit_correction(mem_rows, [s.memory_mb or 1e-6 for s in samples], MEMORY_FEATURES)
    prof.latency_correction, prof.memory_correction = latency_fit, memory_fit
    if prof.kind == "cuda" and prof.roofline is not None:  # pragma: no cover - needs a GPU
        prof.roofline_fit = fit_roofline(prof, prof.roofline)
    return prof


def _memory_row(prof: DeviceProfile, s: Sample, stats: dict[str, float]) -> dict[str, float]:
    from autogt.hardware._blocks import decompose
    from autogt.hardware._predict import _coords, memory_features, resolve_task
    from autogt.models.plan import make_plan

    spec = ArchSpec.from_dict(s.spec)
    st = resolve_task(stats, None, prof)
    plan = make_plan(spec, st.info)
    blocks = decompose(spec, plan, nodes=st.nodes, edges=st.edges, nodes_sq=st.nodes_sq, batch=s.batch,
                       ref_degree=prof.ref_degree)

    def mem_of(blk: Any) -> float:
        t = prof.tables.get(blk.key)
        return t.lookup("memory_mb", _coords(t, blk)) if t is not None and t.has("memory_mb") else 0.0

    return memory_features(spec, plan, blocks, st, s.batch, mem_of)
