"""Attention over batches of small graphs: autogt's block plans vs PyG's padded ``GPSConv``.

Stand-alone; prints Markdown tables and writes every measurement to ``--out`` (JSON). Batches are
random samples of real molecules (``autogt.data.load_task("bbbp" / "hiv")``), seeded, the same for
both sides. Timings interleave the compared implementations in every round (order alternating) and
report the minimum over rounds (the median goes to the JSON): on a shared machine the minimum is the
least disturbed run.

Tables:

1. **GPS layer.** One layer, ``GINE`` local + multi-head attention + FFN (``2 x hidden``), batch norm,
   dropout 0.1, attention dropout 0.2, ``hidden / heads`` per head: autogt's ``GTLayer`` (default
   ``impl="auto"``) vs ``torch_geometric.nn.GPSConv(GINEConv(...), attn_kwargs={"dropout": 0.2})``
   (same widths and parameter count). *fwd*: eval mode under ``no_grad`` (inference latency);
   *fwd+bwd*: training mode, forward, ``sum().backward()``.
2. **Attention cost vs the ideal** ``sum_i n_i^2``, attention core only (``q, k, v`` given, no
   projections), ``H = heads``, ``D = 32``. *cells x*: attention cells computed / ideal (``auto``,
   ``bucket``, and one padded block as in PyG). *time x*: measured time / time of an *equal-size
   oracle*: the same number of graphs, all of the root-mean-square size, one mask-free call without
   any gather, scaled to the same ideal cells (``t_oracle * ideal / oracle_cells``); it is the price
   of size variety: padding, extra calls, gathers. Given for ``auto`` and for the padded SDPA (one
   call, key-padding mask, ``to_dense_batch``), forward and forward+backward.
   *GFLOP/s*: ``4 * cells * H * D`` (x3 with backward) per second, counting what is really computed
   (left) and the ideal cells (right): with padding included the rate is similar across
   implementations, so FLOPs (``count_flops`` with ``attn_sq_mean``) track latency. *plan ms*: building
   the block plan once (per batch, shared by every layer and the backward pass).
3. **Training throughput** (graphs/s) of the builtin ``gps`` model on BBBP (4 layers, width 64,
   RWSE 16) vs the same model on PyG ``GPSConv`` (atom/bond embeddings, RWSE, 4 ``GPSConv`` layers,
   mean pooling, 2-layer head), AdamW steps on the same pre-collated batches of 32 training graphs,
   with plain random batches and with size-aware batches (:mod:`autogt.data.sampler`).
4. **CUDA**: table 1 on the GPU when one is present (``cuda`` available), else a note.
5. **Inference kernels** (CPU): the whole ``gps`` model (width 64 with 4 heads, width 128 with 8) in eval mode on
   each batch, with the default kernel choice (explicit products for blocks shorter than
   ``CPU_FUSED_MIN_LENGTH``, fused ``scaled_dot_product_attention`` above) vs every block through the fused call
   (both on the same contiguous head-major blocks).

Usage::

    nice python benchmarks/attention.py | tee benchmarks/out/attention.txt   # full grid
    python benchmarks/attention.py --quick                                   # smoke run
    python benchmarks/attention.py --data bbbp --batches 256 --hidden 128 --heads 4 --threads 1,2
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autogt.data import add_pe, graph_loader, load_task, size_aware_batches
from autogt.models import build_model, builtin_spec
from autogt.models.attention import AttentionPlan, attention_cost, bucketed_attention
from autogt.models.layer import GTLayer
from autogt.models.spec import LayerSpec
from autogt.train.loop import make_optimizer

# ----------------------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(fns: dict[str, Callable[[], Any]], rounds: int, device: torch.device, warmup: int = 1
                ) -> dict[str, list[float]]:
    """Seconds of every call of every function, ``rounds`` rounds, order alternating per round."""
    for f in fns.values():
        for _ in range(warmup):
            f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(rounds):
        for k in names if r % 2 == 0 else reversed(names):
            _sync(device)
            start = time.perf_counter()
            fns[k]()
            _sync(device)
            times[k].append(time.perf_counter() - start)
    return times


def _ms(ts: list[float]) -> float:
    return 1000.0 * min(ts)


# ----------------------------------------------------------------------------- batches


def sample_batch(task: Any, graphs: int, seed: int, keep: tuple[str, ...] | None = ("x", "edge_index", "edge_attr")
                 ) -> Any:
    """``graphs`` random graphs of ``task`` (seeded) as one PyG ``Batch`` of their ``keep`` attributes (None: all)."""
    from torch_geometric.data import Batch

    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(task.graphs), generator=gen)[:graphs].tolist()
    if keep is None:
        return Batch.from_data_list([task.graphs[i] for i in idx])
    return Batch.from_data_list([task.graphs[i].__class__(**{k: task.graphs[i][k] for k in keep}) for i in idx])


def size_stats(ptr: Tensor) -> dict[str, float]:
    n = (ptr[1:] - ptr[:-1]).double()
    g = n.numel()
    return {"graphs": g, "nodes": float(n.sum()), "mean": float(n.mean()), "max": float(n.max()),
            "token_padding": float(g * n.max() / n.sum()), "cell_padding": float(g * n.max() ** 2 / (n**2).sum())}


# ----------------------------------------------------------------------------- table 1: one GPS layer


def _layer_pair(hidden: int, heads: int) -> tuple[nn.Module, nn.Module]:
    from torch_geometric.nn import GINEConv, GPSConv

    spec = LayerSpec(local="gine", attn="full", heads=heads, ffn=2 * hidden, norm="batch", act="relu", dropout=0.1,
                     attn_dropout=0.2, residual=True)
    ours = GTLayer(spec, hidden, hidden, edge_dim=hidden, head_dim=hidden // heads)
    mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, hidden))
    theirs = GPSConv(hidden, GINEConv(mlp, train_eps=True), heads=heads, dropout=0.1, attn_kwargs={"dropout": 0.2})
    return ours, theirs


def bench_layer(batch: Any, hidden: int, heads: int, rounds: int, device: torch.device) -> dict[str, Any]:
    torch.manual_seed(0)
    ours, theirs = (m.to(device) for m in _layer_pair(hidden, heads))
    params = [sum(p.numel() for p in m.parameters()) for m in (ours, theirs)]
    b = batch.to(device)
    x = torch.randn(b.num_nodes, hidden, device=device)
    ea = torch.randn(b.edge_index.size(1), hidden, device=device)

    def fwd(model: nn.Module, call: Callable[[], Tensor]) -> Callable[[], Any]:
        def run() -> None:
            model.eval()
            with torch.no_grad():
                call()
        return run

    def fwd_bwd(model: nn.Module, call: Callable[[], Tensor]) -> Callable[[], Any]:
        def run() -> None:
            model.train()
            model.zero_grad(set_to_none=True)
            call().sum().backward()
        return run

    call_ours = lambda: ours(x, b.edge_index, ea, b.batch, b.ptr)  # noqa: E731
    call_theirs = lambda: theirs(x, b.edge_index, b.batch, edge_attr=ea)  # noqa: E731
    t_fwd = interleaved({"ours": fwd(ours, call_ours), "pyg": fwd(theirs, call_theirs)}, rounds, device)
    t_fb = interleaved({"ours": fwd_bwd(ours, call_ours), "pyg": fwd_bwd(theirs, call_theirs)}, rounds, device)
    return {"params": params, "fwd": t_fwd, "fwd_bwd": t_fb}


# ----------------------------------------------------------------------------- table 2: attention cost


def _padded_sdpa(q: Tensor, k: Tensor, v: Tensor, batch: Tensor) -> Tensor:
    """One SDPA call over ``to_dense_batch`` padding with a key mask (PyG's layout, best kernel)."""
    from torch_geometric.utils import to_dense_batch

    n, h, d = q.shape
    qd, valid = to_dense_batch(q.reshape(n, h * d), batch)
    kd, _ = to_dense_batch(k.reshape(n, h * d), batch)
    vd, _ = to_dense_batch(v.reshape(n, h * d), batch)
    g, length = valid.shape
    qd, kd, vd = (t.view(g, length, h, d).transpose(1, 2) for t in (qd, kd, vd))
    out = F.scaled_dot_product_attention(qd, kd, vd, attn_mask=valid[:, None, None, :])
    return out.transpose(1, 2)[valid]


def bench_attention(ptr: Tensor, batch: Tensor, heads: int, head_dim: int, rounds: int,
                    device: torch.device) -> dict[str, Any]:
    sizes = (ptr[1:] - ptr[:-1]).cpu()
    g, n = sizes.numel(), int(sizes.sum())
    ideal = float((sizes.double() ** 2).sum())
    rms = max(1, round(math.sqrt(ideal / g)))
    optr = torch.arange(g + 1, device=device) * rms  # oracle: g graphs of the RMS size
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(n, heads, head_dim, generator=gen).to(device) for _ in range(3))
    oq, ok, ov = (torch.randn(g * rms, heads, head_dim, generator=gen).to(device) for _ in range(3))
    inner = heads * head_dim

    def fwd(f: Callable[..., Tensor], *args: Tensor) -> Callable[[], Any]:
        def run() -> None:
            with torch.no_grad():
                f(*args)
        return run

    def fwd_bwd(f: Callable[..., Tensor], *args: Tensor) -> Callable[[], Any]:
        def run() -> None:
            leaves = [a.detach().requires_grad_(True) for a in args[:3]]
            f(*leaves, *args[3:]).sum().backward()
        return run

    impls: dict[str, tuple[Callable[..., Tensor], tuple[Tensor, ...]]] = {
        "auto": (lambda a, b_, c, p: bucketed_attention(a, b_, c, p), (q, k, v, ptr)),
        "padded": (_padded_sdpa, (q, k, v, batch)),
        "oracle": (lambda a, b_, c, p: bucketed_attention(a, b_, c, p), (oq, ok, ov, optr)),
    }
    t_fwd = interleaved({name: fwd(f, *a) for name, (f, a) in impls.items()}, rounds, device)
    t_fb = interleaved({name: fwd_bwd(f, *a) for name, (f, a) in impls.items()}, rounds, device)
    cells = {impl: attention_cost(ptr, impl=impl, inner=inner)["cells"] for impl in ("auto", "bucket", "padded")}
    scale = ideal / (g * rms * rms)  # oracle time -> time for exactly the ideal cells
    out: dict[str, Any] = {"ideal_cells": ideal, "cells": cells, "oracle_size": rms, "fwd": t_fwd, "fwd_bwd": t_fb}
    for phase, ts, mult in (("fwd", t_fwd, 1.0), ("fwd_bwd", t_fb, 3.0)):
        t_ideal = min(ts["oracle"]) * scale
        out[f"{phase}_time_ratio"] = {k: min(ts[k]) / t_ideal for k in ("auto", "padded")}
        flops = {k: mult * 4 * cells[k] * inner for k in ("auto", "padded")}
        out[f"{phase}_gflops_computed"] = {k: flops[k] / min(ts[k]) / 1e9 for k in ("auto", "padded")}
        out[f"{phase}_gflops_ideal"] = {k: mult * 4 * ideal * inner / min(ts[k]) / 1e9 for k in ("auto", "padded")}
    plan_s = []
    for _ in range(rounds):
        start = time.perf_counter()
        AttentionPlan(ptr, inner=inner)  # uncached: once per batch in a real model, shared by all layers
        plan_s.append(time.perf_counter() - start)
    out["plan_ms"] = _ms(plan_s)
    return out


# ----------------------------------------------------------------------------- table 3: training throughput


class PygGPS(nn.Module):
    """The builtin ``gps`` spec on PyG ``GPSConv`` layers (same widths, encoders, pooling and head)."""

    def __init__(self, spec: Any, task: Any) -> None:
        super().__init__()
        from torch_geometric.nn import GINEConv, GPSConv

        layer = spec.layers[0]
        dim = spec.hidden
        self.atom = nn.ModuleList(nn.Embedding(v, dim - spec.pe_hidden) for v in task.atom_vocab)
        self.bond = nn.ModuleList(nn.Embedding(v, dim) for v in task.bond_vocab)
        self.pe = nn.Linear(spec.pe_dim, spec.pe_hidden)
        self.pe_attr = f"pe_{spec.pe}"
        self.layers = nn.ModuleList()
        for _ in spec.layers:
            mlp = nn.Sequential(nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.ReLU(), nn.Linear(dim, dim))
            self.layers.append(GPSConv(dim, GINEConv(mlp, train_eps=True), heads=layer.heads, dropout=layer.dropout,
                                       attn_kwargs={"dropout": layer.attn_dropout}))
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, task.num_outputs))

    def forward(self, data: Any) -> Tensor:
        from torch_geometric.nn import global_mean_pool

        x = sum(emb(data.x[:, i]) for i, emb in enumerate(self.atom))  # [n, dim - pe]
        x = torch.cat([x, self.pe(getattr(data, self.pe_attr))], -1)  # [n, dim]
        e = sum(emb(data.edge_attr[:, i]) for i, emb in enumerate(self.bond))  # [E, dim]
        for conv in self.layers:
            x = conv(x, data.edge_index, data.batch, edge_attr=e)
        return self.head(global_mean_pool(x, data.batch))


def _train_steps(model: nn.Module, opt: torch.optim.Optimizer, batches: list[Any], device: torch.device
                 ) -> list[float]:
    model.train()
    out = []
    for batch in batches:
        _sync(device)
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        pred = model(batch)
        y = batch.y
        mask = ~torch.isnan(y)
        loss = F.binary_cross_entropy_with_logits(pred[mask], y[mask])
        loss.backward()
        opt.step()
        float(loss.detach())
        _sync(device)
        out.append(time.perf_counter() - start)
    return out


def bench_throughput(num_batches: int, rounds: int, device: torch.device) -> dict[str, Any]:
    spec = builtin_spec("gps")
    task = add_pe(load_task("bbbp"), spec.pe, spec.pe_dim)
    results: dict[str, Any] = {}
    for sampler_name, sampler in (("random", None), ("size-aware", size_aware_batches)):
        loader = graph_loader(task.graphs, task.split["train"], spec.batch_size, shuffle=True, seed=0,
                              batch_sampler=sampler)
        batches = [b.to(device) for _, b in zip(range(num_batches), loader, strict=False)]
        graphs = sum(b.num_graphs for b in batches)
        torch.manual_seed(0)
        models = {"autogt gps": build_model(spec, task).to(device), "PyG GPSConv": PygGPS(spec, task).to(device)}
        # same optimizer for both (the model is what is compared) ...
        opts = {k: torch.optim.AdamW(m.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
                for k, m in models.items()}
        # ... and the model as autogt's trainer runs it (make_optimizer: fused AdamW where torch has it)
        models["autogt gps, autogt optimizer"] = build_model(spec, task).to(device)
        opts["autogt gps, autogt optimizer"] = make_optimizer(spec, models["autogt gps, autogt optimizer"].parameters())
        for k, m in models.items():  # warm-up
            _train_steps(m, opts[k], batches[:3], device)
        steps: dict[str, list[list[float]]] = {k: [] for k in models}
        for r in range(rounds):
            for k in list(models) if r % 2 == 0 else list(reversed(models)):
                steps[k].append(_train_steps(models[k], opts[k], batches, device))
        best = {k: graphs / sum(min(t) for t in zip(*v, strict=True)) for k, v in steps.items()}
        median = {k: statistics.median(graphs / sum(r) for r in v) for k, v in steps.items()}
        cells = [attention_cost(b.ptr, impl="auto", inner=spec.hidden)["ratio"] for b in batches]
        pads = [attention_cost(b.ptr, impl="padded")["ratio"] for b in batches]
        results[sampler_name] = {
            "graphs": graphs, "batches": len(batches), "best_graphs_per_s": best, "median_graphs_per_s": median,
            "params": {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()},
            "auto_cells_ratio": statistics.fmean(cells), "padded_cells_ratio": statistics.fmean(pads),
        }
    return results


# ----------------------------------------------------------------------------- main


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _csv(value: str, cast: Callable[[str], Any]) -> list[Any]:
    return [cast(v) for v in value.split(",") if v.strip()]


def bench_inference_kernels(task: Any, graphs: int, seed: int, hidden: int, heads: int, rounds: int,
                            device: torch.device) -> dict[str, Any]:
    """Eval-mode forward of the whole ``gps`` model: default CPU kernel choice vs the fused call for every block."""
    import dataclasses

    from autogt.models import attention as attn_mod

    spec = builtin_spec("gps")
    spec = dataclasses.replace(spec, hidden=hidden,
                               layers=tuple(dataclasses.replace(layer, heads=heads) for layer in spec.layers))
    task = add_pe(task, spec.pe, spec.pe_dim)
    model = build_model(spec, task).to(device).eval()
    batch = sample_batch(task, graphs, seed, keep=None).to(device)  # the graphs of tables 1-2, with their PE
    default = attn_mod.CPU_FUSED_MIN_LENGTH
    choices = {"default": default, "fused": 0}
    times: dict[str, list[float]] = {k: [] for k in choices}
    try:
        with torch.no_grad():
            for r in range(rounds + 1):
                for k in choices if r % 2 == 0 else reversed(list(choices)):
                    attn_mod.CPU_FUSED_MIN_LENGTH = choices[k]
                    _sync(device)
                    t0 = time.perf_counter()
                    model(batch)
                    _sync(device)
                    if r:  # the first round warms up
                        times[k].append(time.perf_counter() - t0)
    finally:
        attn_mod.CPU_FUSED_MIN_LENGTH = default
    return {k: {"times_s": v, "median_s": statistics.median(v)} for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="bbbp,hiv")
    parser.add_argument("--batches", default="64,256", help="graphs per batch")
    parser.add_argument("--hidden", default="64,128,256")
    parser.add_argument("--heads", default="4,8")
    parser.add_argument("--threads", default="1,2", help="CPU thread counts for tables 1-2 (table 3: the first)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parts", default="layer,attention,throughput,cuda,inference")
    parser.add_argument("--train-batches", type=int, default=40, help="training steps per round (table 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: bbbp, 64 graphs, hidden 64, 2 rounds")
    parser.add_argument("--out", default="benchmarks/out/attention.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.data, args.batches, args.hidden, args.heads, args.rounds = "bbbp", "64", "64", "4", 2
        args.threads, args.train_batches = args.threads.split(",")[0], 6
    datasets, sizes = _csv(args.data, str), _csv(args.batches, int)
    hiddens, heads_list, threads = _csv(args.hidden, int), _csv(args.heads, int), _csv(args.threads, int)
    parts = set(_csv(args.parts, str))
    cpu = torch.device("cpu")
    started = time.perf_counter()
    raw: dict[str, Any] = {"args": vars(args), "torch": torch.__version__, "machine": platform.platform(),
                           "processor": platform.processor(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                           "batches": {}, "layer": {}, "attention": {}, "throughput": {}, "cuda": None}
    out_text: list[str] = []

    def emit(text: str) -> None:
        print(text, flush=True)
        out_text.append(text)

    tasks = {name: load_task(name) for name in datasets}
    batches = {(d, g): sample_batch(tasks[d], g, seed=0) for d in datasets for g in sizes}
    for (d, g), b in batches.items():
        raw["batches"][f"{d}/{g}"] = size_stats(b.ptr)
    emit(f"torch {torch.__version__}, {platform.processor() or 'cpu'} ({torch.backends.cpu.get_cpu_capability()}), "
         f"rounds {args.rounds} (min reported)\n")
    emit(_table(["batch", "nodes", "mean n", "max n", "token padding", "cell padding (PyG)"],
                [[f"{d} x{g}", f"{s['nodes']:.0f}", f"{s['mean']:.1f}", f"{s['max']:.0f}",
                  f"{s['token_padding']:.1f}x", f"{s['cell_padding']:.1f}x"]
                 for (d, g), s in ((k, raw["batches"][f"{k[0]}/{k[1]}"]) for k in batches)]))

    if "layer" in parts:
        for nt in threads:
            torch.set_num_threads(nt)
            rows = []
            for (d, g), b in batches.items():
                for hidden in hiddens:
                    for heads in heads_list:
                        r = bench_layer(b, hidden, heads, args.rounds, cpu)
                        raw["layer"][f"t{nt}/{d}/{g}/{hidden}/{heads}"] = r
                        f_o, f_p = _ms(r["fwd"]["ours"]), _ms(r["fwd"]["pyg"])
                        b_o, b_p = _ms(r["fwd_bwd"]["ours"]), _ms(r["fwd_bwd"]["pyg"])
                        rows.append([f"{d} x{g}", str(hidden), str(heads), f"{f_o:.1f}", f"{f_p:.1f}",
                                     f"{f_p / f_o:.2f}x", f"{b_o:.1f}", f"{b_p:.1f}", f"{b_p / b_o:.2f}x"])
                        print(f"  layer t{nt} {d} x{g} h{hidden} H{heads}: fwd {f_o:.1f}/{f_p:.1f} "
                              f"fb {b_o:.1f}/{b_p:.1f} ms", file=sys.stderr, flush=True)
            emit(f"\n### 1. One GPS layer, ours vs PyG GPSConv (CPU, {nt} thread{'s' if nt > 1 else ''}; ms)\n")
            emit(_table(["batch", "hidden", "heads", "fwd ours", "fwd PyG", "speed-up", "fwd+bwd ours",
                         "fwd+bwd PyG", "speed-up"], rows))

    if "attention" in parts:
        for nt in threads:
            torch.set_num_threads(nt)
            rows = []
            for (d, g), b in batches.items():
                for heads in heads_list:
                    r = bench_attention(b.ptr, b.batch, heads, 32, args.rounds, cpu)
                    raw["attention"][f"t{nt}/{d}/{g}/{heads}"] = r
                    c, ideal = r["cells"], r["ideal_cells"]
                    rows.append([f"{d} x{g}", f"{heads}x32",
                                 f"{c['auto'] / ideal:.2f} / {c['bucket'] / ideal:.2f} / {c['padded'] / ideal:.1f}",
                                 f"{r['fwd_time_ratio']['auto']:.2f}", f"{r['fwd_time_ratio']['padded']:.1f}",
                                 f"{r['fwd_bwd_time_ratio']['auto']:.2f}", f"{r['fwd_bwd_time_ratio']['padded']:.1f}",
                                 f"{r['fwd_bwd_gflops_computed']['auto']:.0f} / "
                                 f"{r['fwd_bwd_gflops_ideal']['auto']:.0f}",
                                 f"{r['fwd_bwd_gflops_computed']['padded']:.0f} / "
                                 f"{r['fwd_bwd_gflops_ideal']['padded']:.1f}", f"{r['plan_ms']:.2f}"])
                    print(f"  attention t{nt} {d} x{g} H{heads}: {r['fwd_time_ratio']} {r['fwd_bwd_time_ratio']}",
                          file=sys.stderr, flush=True)
            emit(f"\n### 2. Attention cost relative to the ideal sum n_i^2 (CPU, {nt} thread{'s' if nt > 1 else ''})\n")
            emit(_table(["batch", "H x D", "cells x (auto / bucket / padded)", "time x fwd auto", "time x fwd padded",
                         "time x fwd+bwd auto", "time x fwd+bwd padded", "GFLOP/s auto (computed / ideal)",
                         "GFLOP/s padded (computed / ideal)", "plan ms"], rows))

    if "throughput" in parts:
        torch.set_num_threads(threads[0])
        r = bench_throughput(args.train_batches, max(3, args.rounds - 2), cpu)
        raw["throughput"] = r
        rows = []
        for sampler, res in r.items():
            ours, theirs = res["best_graphs_per_s"]["autogt gps"], res["best_graphs_per_s"]["PyG GPSConv"]
            trainer = res["best_graphs_per_s"]["autogt gps, autogt optimizer"]
            rows.append([sampler, f"{ours:.0f}", f"{theirs:.0f}", f"{ours / theirs:.2f}x",
                         f"{trainer:.0f} ({trainer / theirs:.2f}x)",
                         f"{res['auto_cells_ratio']:.2f} / {res['padded_cells_ratio']:.1f}",
                         f"{res['params']['autogt gps']} / {res['params']['PyG GPSConv']}"])
        emit(f"\n### 3. Training throughput, builtin gps on BBBP, batch 32 (CPU, {threads[0]} thread"
             f"{'s' if threads[0] > 1 else ''}; graphs/s)\n")
        emit(_table(["batches", "autogt gps", "PyG GPSConv", "speed-up (same AdamW)",
                     "autogt gps with autogt's optimizer (vs PyG)", "cells x (auto / padded)",
                     "params (ours / PyG)"], rows))

    if "cuda" in parts:
        if torch.cuda.is_available():
            dev = torch.device("cuda")
            rows = []
            for (d, g), b in batches.items():
                for hidden in hiddens:
                    for heads in heads_list:
                        r = bench_layer(b, hidden, heads, args.rounds, dev)
                        raw.setdefault("cuda_layer", {})[f"{d}/{g}/{hidden}/{heads}"] = r
                        f_o, f_p = _ms(r["fwd"]["ours"]), _ms(r["fwd"]["pyg"])
                        b_o, b_p = _ms(r["fwd_bwd"]["ours"]), _ms(r["fwd_bwd"]["pyg"])
                        rows.append([f"{d} x{g}", str(hidden), str(heads), f"{f_o:.2f}", f"{f_p:.2f}",
                                     f"{f_p / f_o:.2f}x", f"{b_o:.2f}", f"{b_p:.2f}", f"{b_p / b_o:.2f}x"])
            emit(f"\n### 4. One GPS layer on CUDA ({torch.cuda.get_device_name()}; ms)\n")
            emit(_table(["batch", "hidden", "heads", "fwd ours", "fwd PyG", "speed-up", "fwd+bwd ours",
                         "fwd+bwd PyG", "speed-up"], rows))
        else:
            emit("\n### 4. CUDA\n\nNo CUDA device on this machine; table 4 not measured.")

    if "inference" in parts:
        torch.set_num_threads(threads[0])
        rows = []
        for d, g in batches:
            for hidden, heads in ((64, 4), (128, 8)):
                r = bench_inference_kernels(tasks[d], g, 0, hidden, heads, args.rounds, cpu)
                raw.setdefault("inference", {})[f"{d}/{g}/{hidden}/{heads}"] = r
                f_d, f_f = _ms(r["default"]["times_s"]), _ms(r["fused"]["times_s"])
                rows.append([f"{d} x{g}", str(hidden), str(heads), f"{f_d:.1f}", f"{f_f:.1f}", f"{f_f / f_d:.2f}x"])
        emit(f"\n### 5. Inference kernels, whole gps model in eval mode (CPU, {threads[0]} thread"
             f"{'s' if threads[0] > 1 else ''}; ms)\n")
        emit(_table(["batch", "hidden", "heads", "default (explicit < 128 nodes)", "fused SDPA on every block",
                     "speed-up"], rows))

    raw["seconds"] = time.perf_counter() - started
    raw["markdown"] = "\n".join(out_text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(raw, indent=1, default=str) + "\n")
    print(f"\n(total {raw['seconds']:.0f} s; results written to {out})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
