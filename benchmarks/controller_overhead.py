"""Per-trial search overhead (ask + tell + storage) at 1,000 trials, SQLite file storage, tabular evaluator.

Runs :func:`autogt.controllers.search` on ``nasbench:cora`` (NAS-Bench-Graph look-ups, no training)
with a fresh SQLite file per controller, and times every trial of the search loop minus the look-up
itself. So the figure is what the controller and the storage cost per trial: sampling, suggesting the
parameters, the spec/metrics/owner user attributes, the heartbeat record, telling, and the budget count.
Controllers: TPE (objective: metric) and NSGA-II (objectives: metric, params).

Usage:
    python benchmarks/controller_overhead.py [--trials 1000]

Writes ``benchmarks/out/controller_overhead.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path


class TimedLookup:
    """The tabular evaluator, recording when each trial's look-up starts and how long it takes."""

    def __init__(self, dataset: str) -> None:
        from autogt.controllers import TabularEvaluator

        self.inner = TabularEvaluator(dataset)
        self.metric = self.inner.metric
        self.starts: list[float] = []
        self.lookup_s: list[float] = []

    def __call__(self, spec, task=None, budget=None, **kwargs):  # noqa: ANN001, ANN204
        t0 = time.perf_counter()
        self.starts.append(t0)
        result = self.inner(spec, task, budget, **kwargs)
        self.lookup_s.append(time.perf_counter() - t0)
        return result


def measure(controller: str, objectives: tuple[str, ...], trials: int, folder: Path) -> dict[str, float]:
    from autogt.controllers import search

    evaluator = TimedLookup("cora")
    started = time.perf_counter()
    result = search("nasbench:cora", "nasbench_graph", trials=trials, controller=controller, objectives=objectives,
                    out=str(folder / controller), progress=False, report=False, evaluator=evaluator)
    total = time.perf_counter() - started
    assert result.trials == trials, result.trials
    # per-trial wall time between consecutive look-up starts, minus the look-up
    starts = evaluator.starts + [started + total]
    per_trial = [(b - a - lk) * 1000 for a, b, lk in zip(starts, starts[1:], evaluator.lookup_s, strict=False)]
    return {
        "trials": trials,
        "mean_ms": statistics.fmean(per_trial),
        "median_ms": statistics.median(per_trial),
        "first100_ms": statistics.fmean(per_trial[:100]),
        "last100_ms": statistics.fmean(per_trial[-100:]),
        "lookup_ms": statistics.fmean(evaluator.lookup_s) * 1000,
        "total_s": total,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "controller_overhead.json"))
    args = ap.parse_args(argv)
    import optuna
    import torch

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    from autogt.spaces import nasbench

    nasbench.arch_hash([0, 0, 0, 0], ["gcn"] * 4)  # load the key index and bench once, outside the timing
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for controller, objectives in (("tpe", ("metric",)), ("nsga2", ("metric", "params"))):
            rows[controller] = {"objectives": list(objectives), **measure(controller, objectives, args.trials,
                                                                          Path(tmp))}
    lines = ["| controller | objectives | trials | mean ms/trial | median | trials 1-100 | last 100 | look-up ms |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {'+'.join(r['objectives'])} | {r['trials']} | {r['mean_ms']:.1f} | "
                     f"{r['median_ms']:.1f} | {r['first100_ms']:.1f} | {r['last100_ms']:.1f} | {r['lookup_ms']:.2f} |")
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "markdown": text}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
