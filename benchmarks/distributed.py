"""Distributed-search benchmark: ``autogt worker`` throughput on PostgreSQL next to the file storages.

A tabular NAS-Bench-Graph study (``nasbench:cora``, ``nasbench_graph`` space, ``random`` controller, no
delay: a look-up takes microseconds, so what is measured is the storage and loop overhead) is created
with ``search(..., timeout=0)`` and W ``python -m autogt.cli worker`` processes share its budget. Storages:

- ``postgres``: a private PostgreSQL server (:func:`autogt.testing.postgres.private_postgres`, fsync off),
- ``sqlite``: the default file storage of ``autogt search`` (WAL, 60 s busy timeout),
- ``journal``: Optuna's JournalStorage on a file with the ``open(O_EXCL)`` lock (``journal:PATH``).

Throughput is measured from the trials' own timestamps (first start to last completion), so the workers'
start-up (imports) is excluded. ``overhead ms`` is the mean wall time per trial of one worker minus the
look-up time, over the last 20 % of the trials, i.e. the marginal storage + loop cost at that study size
(it grows with the study: each loop iteration reads the study's trials).

Usage:
    python benchmarks/distributed.py                                  # 200 trials; 1 2 4 workers
    python benchmarks/distributed.py --trials 1000 --sizes 1000,5000  # the full table (long)

Writes ``benchmarks/out/distributed.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from autogt.controllers.search import search
from autogt.distributed import resolve_storage
from autogt.testing.postgres import postgres_available, private_postgres

OUT = Path(__file__).parent / "out"


def _create(name: str, storage: str, trials: int, out: Path) -> None:
    search("nasbench:cora", "nasbench_graph", trials=trials, controller="random", storage=resolve_storage(storage),
           study=name, out=str(out), progress=False, report=False, timeout=0)


def run_workers(name: str, storage: str, trials: int, workers: int, cwd: Path) -> dict[str, Any]:
    """Create a study, run ``workers`` worker processes to its budget; -> throughput figures."""
    _create(name, storage, trials, cwd)
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "autogt.cli", "worker", "--study", name, "--storage", storage,
                               "--json", "--poll", "0.2"], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(workers)]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - t0
    if any(codes):
        raise RuntimeError(f"worker failed: {procs[codes.index(next(c for c in codes if c))].stderr.read()[-2000:]}")
    study = optuna.load_study(study_name=name, storage=resolve_storage(storage))
    done = sorted((t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE),
                  key=lambda t: t.datetime_complete)
    span = (done[-1].datetime_complete - done[0].datetime_start).total_seconds()
    tail = done[int(len(done) * 0.8):]
    by_owner: dict[int, list[Any]] = {}
    for t in tail:
        by_owner.setdefault(t.user_attrs["autogt:owner"]["pid"], []).append(t)
    gaps = []
    for ts in by_owner.values():  # per worker: completion-to-completion time = one loop iteration
        ts.sort(key=lambda t: t.datetime_complete)
        gaps += [(b.datetime_complete - a.datetime_complete).total_seconds() for a, b in zip(ts, ts[1:], strict=False)]
    lookup = sum(float((t.user_attrs.get("metrics") or {}).get("train_time_s") or 0.0) for t in tail) / len(tail)
    overhead = (sum(gaps) / len(gaps) - lookup) * 1000 if gaps else float("nan")
    return {"complete": len(done), "wall_s": round(wall, 2), "span_s": round(span, 2),
            "trials_per_s": round(len(done) / span, 2) if span > 0 else None, "overhead_ms": round(overhead, 1)}


@contextlib.contextmanager
def _storages(kinds: list[str], tmp: Path) -> Iterator[dict[str, Any]]:
    with contextlib.ExitStack() as stack:
        urls: dict[str, Any] = {}
        if "postgres" in kinds:
            if postgres_available():
                urls["postgres"] = stack.enter_context(private_postgres())
            else:
                print("PostgreSQL not installed: skipping it", file=sys.stderr)
        yield urls


def _url(kind: str, urls: dict[str, Any], tmp: Path, name: str) -> str:
    if kind == "postgres":
        import psycopg

        server = urls["postgres"]
        with psycopg.connect(f"host=127.0.0.1 port={server.port} user=postgres dbname=autogt", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{server.port}/{name}"
    if kind == "sqlite":
        return f"sqlite:///{tmp / (name + '.db')}"
    return f"journal:{tmp / (name + '.log')}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=200, help="budget of the throughput runs (default: 200)")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--storages", default="postgres,sqlite,journal")
    ap.add_argument("--sizes", default="", help="study sizes for the 1-worker overhead column, e.g. 1000,5000")
    args = ap.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kinds = [k.strip() for k in args.storages.split(",") if k.strip()]
    workers = [int(w) for w in args.workers.split(",")]
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rows: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="autogt-bench-dist-"))
    with _storages(kinds, tmp) as urls:
        for kind in kinds:
            if kind == "postgres" and "postgres" not in urls:
                continue
            for w in workers:
                name = f"b_{kind}_{w}"
                r = run_workers(name, _url(kind, urls, tmp, name), args.trials, w, tmp)
                rows.append({"storage": kind, "workers": w, "trials": args.trials, **r})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            for n in sizes:
                name = f"s_{kind}_{n}"
                r = run_workers(name, _url(kind, urls, tmp, name), n, 1, tmp)
                rows.append({"storage": kind, "workers": 1, "trials": n, **r})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    OUT.mkdir(exist_ok=True)
    info = {"cpus": os.cpu_count(), "load": os.getloadavg()[0], "rows": rows}
    (OUT / "distributed.json").write_text(json.dumps(info, indent=1))
    print("| storage | workers | trials | trials/s | overhead ms/trial (last 20%) | wall s (incl. start-up) |\n"
          "|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['storage']} | {r['workers']} | {r['trials']} | {r['trials_per_s']} | {r['overhead_ms']} | "
              f"{r['wall_s']} |")
    print(f"\n{info['cpus']} CPUs, load average {info['load']:.1f} at the end.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
