"""L0 variants vs the Torch-Pruning baselines at one FLOPs target (the 70%-reduction point of ``prune.py``).

For each seed a ``gps`` model is trained as in ``benchmarks/prune.py`` (100 epochs, patience 20; cached in
``--workdir`` so more variants can be added later), then pruned to ``--target`` of its FLOPs by every
variant below with the same post-pruning budget of 30 epochs (L0: mask epochs + fine-tune epochs). One JSON
line per run goes to ``--out`` (appended); ``--table`` prints the mean validation and test metric per variant.

Variants (``granularities`` are what the L0 gates may remove; see :class:`autogt.compress.PruneConfig`):

- ``l0``: the defaults, every granularity, 20 mask + 10 fine-tune epochs;
- ``l0-hnaf``: heads, FFN neurons, whole attention blocks and whole FFNs only (no message-passing
  blocks, layers or hidden channels: the structure magnitude / Taylor pruning can reach);
- ``l0-hnalf``: as ``l0-hnaf`` plus whole message-passing blocks;
- ``l0-10+20``, ``l0-5+25``, ``hnaf-10+20``, ``hnalf-10+20``: the same with another mask / fine-tune split;
- ``magnitude``, ``taylor``: 30 fine-tune epochs.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/prune_variants.py --data esol --seeds 0 1 2 \
        --variants l0 l0-hnaf magnitude taylor --out benchmarks/out/prune_variants.jsonl
    python benchmarks/prune_variants.py --table benchmarks/out/prune_variants.jsonl
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

HNAF = ("heads", "neurons", "attn", "ffn")
VARIANTS: dict[str, dict[str, Any]] = {
    "l0": dict(method="l0", epochs=20, finetune_epochs=10),
    "l0-hnaf": dict(method="l0", epochs=20, finetune_epochs=10, granularities=HNAF),
    "l0-hnalf": dict(method="l0", epochs=20, finetune_epochs=10, granularities=(*HNAF, "local")),
    "l0-10+20": dict(method="l0", epochs=10, finetune_epochs=20),
    "l0-5+25": dict(method="l0", epochs=5, finetune_epochs=25),
    "hnaf-10+20": dict(method="l0", epochs=10, finetune_epochs=20, granularities=HNAF),
    "hnalf-10+20": dict(method="l0", epochs=10, finetune_epochs=20, granularities=(*HNAF, "local")),
    "magnitude": dict(method="magnitude", finetune_epochs=30),
    "taylor": dict(method="taylor", finetune_epochs=30),
}


def _join(values: Any) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


def table(files: list[str]) -> str:
    rows = [json.loads(line) for f in files for line in Path(f).read_text().splitlines() if line.strip()]
    lines = []
    for ds in dict.fromkeys(r["ds"] for r in rows):
        by: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        for r in rows:
            if r["ds"] == ds:
                by[r["variant"]].append(r)
        first = next(iter(by.values()))[0]
        lines += [f"\n### {ds} (FLOPs kept {first['target']}, {first['metric']}; mean over seeds)", "",
                  "| variant | seeds | val after | test after | test per seed | FLOPs ratio per seed |",
                  "|---|---|---|---|---|---|"]
        for v, rs in by.items():
            rs.sort(key=lambda r: r["seed"])
            lines.append(f"| {v} | {len(rs)} | {statistics.fmean(r['val_after'] for r in rs):.4f} | "
                         f"{statistics.fmean(r['test_after'] for r in rs):.4f} | "
                         f"{_join(r['test_after'] for r in rs)} | {_join(r['flops_ratio'] for r in rs)} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="esol")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--target", type=float, default=0.3, help="FLOPs kept")
    p.add_argument("--workdir", default="runs/prune-variants", help="dense checkpoints (reused across calls)")
    p.add_argument("--out", default="benchmarks/out/prune_variants.jsonl")
    p.add_argument("--table", nargs="+", default=None, metavar="JSONL", help="no runs: print the table of these")
    args = p.parse_args()
    if args.table:
        print(table(args.table))
        return 0
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from prune import _train_dense

    from autogt.compress import prune
    from autogt.data import load_task
    from autogt.models import builtin_spec
    from autogt.train.loop import attach_pe

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    task = attach_pe(load_task(args.data), builtin_spec("gps"))
    t0 = time.perf_counter()
    for seed in args.seeds:
        folder = Path(args.workdir) / f"{args.data}-{seed}"
        mark = folder / "checkpoint.txt"
        if not mark.exists():
            folder.mkdir(parents=True, exist_ok=True)
            mark.write_text(_train_dense(task, seed, 100, 20, folder)[0])
        ckpt = mark.read_text()
        for name in args.variants:
            r = prune(ckpt, task, f"flops={args.target}", seed=seed, latency_batch=256, latency_repeats=1, bank=False,
                      **VARIANTS[name])
            row = dict(ds=args.data, seed=seed, variant=name, target=args.target, metric=task.metric,
                       val_before=r.before["val"], val_after=r.after["val"], test_before=r.before["test"],
                       test_after=r.after["test"], flops_ratio=r.after["flops"] / r.before["flops"],
                       spec=r.spec.to_dict())
            print(f"[{time.perf_counter() - t0:6.0f}s] {args.data} seed {seed} {name}: val {row['val_before']:.4f} -> "
                  f"{row['val_after']:.4f}, test {row['test_before']:.4f} -> {row['test_after']:.4f}, FLOPs x"
                  f"{row['flops_ratio']:.3f}", file=sys.stderr, flush=True)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
