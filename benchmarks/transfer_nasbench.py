"""Transfer priors on NAS-Bench-Graph, leave one data set out.

For each of the 9 NAS-Bench-Graph data sets (the *held-out* one), the bank holds the other 8 (their
tabular results, imported with ``autogt bank import nasbench``). The prior controller embeds the
held-out task (meta-features, and ``--anchors`` anchor queries on it), builds a prior from the most
similar bank tasks (:func:`autogt.controllers.prior.prior_for`) and searches with
:class:`~autogt.controllers.prior.PriorSampler` over TPE. Plain TPE (the registered ``tpe``
controller) is the baseline. Every query on the held-out data set counts against the budget,
anchor queries included; nothing else of the held-out data set is read (the bank view excludes it,
which the script asserts).

Figures, per data set, mean over ``--seeds`` seeds:

- validation regret, in points: best ``valid_perf`` in the whole space minus the best ``valid_perf``
  found within the budget;
- test accuracy (ROC-AUC on proteins) of the selected architecture (best validation among those queried).

Also printed: a reference row that *peeks* at the held-out data (its own top-10 / top-20 by test
accuracy), i.e. an oracle bound on what 10 / 20 well-chosen queries can reach; it is not a method.
And a *transfer ceiling* table (it peeks too, to explain the figures, not to search): how many designs
reach the reference TPE@100 regret on the held-out set, and where the best of them ranks in each bank
task's own ranking and in the consensus of all bank tasks. A method that proposes designs in the order
of the bank tasks' results cannot reach that regret within 10 queries unless some such design ranks in
the top 10 of the ranking it follows (``--ceiling-only`` prints just this table).

Usage::

    nice python benchmarks/transfer_nasbench.py                      # 20 seeds, all 9 data sets
    python benchmarks/transfer_nasbench.py --datasets cora,proteins --seeds 3

Prints Markdown tables and writes everything, per seed, to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import optuna

from autogt._paths import cache_dir
from autogt.bank import Bank, Prior
from autogt.bank._nasbench import DATASETS, dataset_meta, import_nasbench, space_params, task_name
from autogt.controllers._optuna import SAMPLERS, OptunaController
from autogt.controllers.prior import PriorSampler, prior_for
from autogt.controllers.tabular import TabularEvaluator
from autogt.spaces import nasbench

REFERENCE_TPE100 = {"cora": 0.97, "citeseer": 1.34, "pubmed": 1.08, "cs": 0.60, "physics": 1.13, "photo": 0.72,
                    "computers": 0.76, "arxiv": 0.31, "proteins": 0.31}
"""Plain-Optuna TPE regret at 100 queries, 20 seeds (from the issue)."""


def _bank(path: Path) -> Bank:
    bank = Bank(path, shipped=False)
    counts = bank.counts()
    missing = [d for d in DATASETS if counts.get(task_name(d), 0) == 0]
    if missing:
        t = time.perf_counter()
        import_nasbench(bank, missing)
        print(f"imported {', '.join(missing)} into {path} in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    return bank


def anchor_keys(bank: Bank, held_out: str, n: int) -> list[int]:
    """``n`` anchor architectures: the best by mean quantile over the bank tasks other than ``held_out``,
    restricted to the held-out space's ops (a fixed choice; it reads no held-out result)."""
    if n <= 0:
        return []
    from autogt.bank._prior import quantiles

    ops = set(nasbench.PROTEINS_OPS if held_out == "proteins" else nasbench.OPS)
    score: dict[str, float] = {}
    for d in DATASETS:
        if d == held_out:
            continue
        recs = bank.results(task_name(d))
        q = quantiles([r.val for r in recs])
        for r, qi in zip(recs, q, strict=True):
            score[r.key] = score.get(r.key, 0.0) + float(qi)
    keys = [k for k in sorted(score, key=lambda k: -score[k])
            if set(nasbench.decode_hash(int(k))[1]) <= ops]
    return [int(k) for k in keys[:n]]


def space_for(dataset: str) -> Any:
    """``nasbench.space_for(dataset)``, with the op choices cut to ``PROTEINS_OPS`` on proteins (the only
    ops its bench file holds; the reference TPE numbers search that smaller space too)."""
    space = nasbench.space_for(dataset)
    if dataset != "proteins":
        return space
    from autogt.spaces import parse_space

    raw = json.loads(space.definition)
    local = raw["layers"]["each"]["local"]
    local["choices"] = {op: v for op, v in local["choices"].items() if op in nasbench.PROTEINS_OPS}
    return parse_space(raw, name=space.name, source=space.source)


def run_study(dataset: str, controller_name: str, seed: int, budget: int, *, prior: Prior | None = None,
              anchors: list[tuple[dict[str, Any], dict[str, Any]]] = (), sampler_kw: dict[str, Any] | None = None
              ) -> list[tuple[float, float]]:
    """(val, test) of each query, in order (failed queries are (-inf, -inf)); anchors come first."""
    space = space_for(dataset)
    evaluator = TabularEvaluator(dataset)
    study = optuna.create_study(direction="maximize")
    controller = OptunaController(space, study)
    base = SAMPLERS["tpe"](space, study, seed)
    study.sampler = PriorSampler(prior, base, seed=seed, **(sampler_kw or {})) if controller_name == "prior" else base
    out: list[tuple[float, float]] = []
    from autogt.spaces import distributions

    dists = distributions(space)
    for params, info in anchors:  # already queried: add them as finished trials (they count)
        study.add_trial(optuna.trial.create_trial(params=params, distributions={k: dists[k] for k in params},
                                                  value=info["val"]))
        out.append((info["val"], info["test"]))
    while len(out) < budget:
        proposal = controller.ask()
        if proposal.spec is None:
            from autogt.train.result import EvalResult

            result = EvalResult(status="failed", metric=evaluator.metric, reason=proposal.error)
        else:
            result = evaluator(proposal.spec, seed=seed)
        controller.tell(proposal.trial_number, result)
        out.append((result.val, result.test) if result.ok else (-math.inf, -math.inf))
    return out


def summarise(queries: list[tuple[float, float]], n: int, best: float) -> tuple[float, float]:
    """(regret in points, test of the best-valid query in points) over the first ``n`` queries."""
    head = queries[:n]
    val, test = max(head, key=lambda q: q[0])
    return 100.0 * (best - val), 100.0 * test


def _mean_se(xs: list[float]) -> tuple[float, float]:
    m = statistics.fmean(xs)
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0
    return m, se


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--bank", default=None,
                   help="bank file with NAS-Bench-Graph imported (default: <AUTOGT_HOME>/cache/bank/nasbench.db; "
                        "built if missing)")
    p.add_argument("--anchors", type=int, default=0, help="anchor queries on the held-out set (counted)")
    p.add_argument("--k", type=int, default=3, help="similar tasks in the prior")
    p.add_argument("--top", type=int, default=20, help="designs per similar task voting in the prior")
    p.add_argument("--n-designs", type=int, default=5, help="concrete designs to try first")
    p.add_argument("--min-distance", type=int, default=1, help="proposed designs differ in this many parameters")
    p.add_argument("--method", default="auto", help="similarity: auto, meta, anchors")
    p.add_argument("--w0", type=float, default=0.9)
    p.add_argument("--c", type=float, default=10.0)
    p.add_argument("--eps", type=float, default=0.1, help="uniform share of prior draws")
    p.add_argument("--skip-tpe100", action="store_true", help="use the issue's TPE@100 reference numbers")
    p.add_argument("--ceiling-only", action="store_true", help="print only the transfer-ceiling table (no searches)")
    p.add_argument("--out", default="benchmarks/out/transfer_nasbench.json")
    args = p.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    bank = _bank(Path(args.bank) if args.bank else cache_dir("bank") / "nasbench.db")
    if args.ceiling_only:
        ceiling = {d: transfer_ceiling(bank, d) for d in datasets}
        Path(args.out).write_text(json.dumps({"config": vars(args), "ceiling": ceiling}, indent=1))
        print(ceiling_markdown(ceiling))
        return 0
    sampler_kw = {"w0": args.w0, "c": args.c, "eps": args.eps}
    seeds = list(range(args.seeds))
    raw: dict[str, Any] = {"config": vars(args), "datasets": {}}
    rows = []
    t0 = time.perf_counter()
    for d in datasets:
        evaluator = TabularEvaluator(d)
        best = evaluator.best("valid_perf")
        # anchors: fixed architectures, queried on the held-out set (counted in every prior run)
        anchors = []
        anchor_vals: dict[str, float] = {}
        for key in anchor_keys(bank, d, args.anchors):
            link, ops = nasbench.decode_hash(key)
            info = evaluator.table[key]
            anchors.append((space_params(link, ops), {"val": info["valid_perf"], "test": info["perf"]}))
            anchor_vals[str(key)] = info["valid_perf"]
        query = dataset_meta(d)  # meta-features only; its results are never read
        prior = prior_for(query, bank, space_for(d), k=args.k, anchors=anchor_vals or None,
                          method=args.method, top=args.top, n_designs=args.n_designs, min_distance=args.min_distance)
        assert all(name != task_name(d) for name, _ in prior.tasks), "held-out data set leaked into its prior"
        res: dict[str, list[list[float]]] = {"prior10": [], "prior20": [], "tpe10": [], "tpe100": []}
        for seed in seeds:
            q = run_study(d, "prior", seed, 20, prior=prior, anchors=anchors, sampler_kw=sampler_kw)
            res["prior10"].append(list(summarise(q, 10, best)))
            res["prior20"].append(list(summarise(q, 20, best)))
            q = run_study(d, "tpe", seed, 10 if args.skip_tpe100 else 100)
            res["tpe10"].append(list(summarise(q, 10, best)))
            if not args.skip_tpe100:
                res["tpe100"].append(list(summarise(q, 100, best)))
        raw["datasets"][d] = {"best_valid": best, "prior": prior.to_dict(), "anchors": anchor_vals, **res,
                              "oracle": oracle(evaluator, best)}
        row = {"dataset": d, "tasks": ", ".join(f"{n.split('/')[-1]} {s:.2f}" for n, s in prior.tasks)}
        for name, runs in res.items():
            if runs:
                row[name] = _mean_se([r[0] for r in runs])
                row[name + "_test"] = statistics.fmean(r[1] for r in runs)
        if not res["tpe100"]:
            row["tpe100"] = (REFERENCE_TPE100[d], float("nan"))
        rows.append(row)
        print(f"{d}: done in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    raw["rows"] = rows
    raw["ceiling"] = {d: transfer_ceiling(bank, d) for d in datasets}
    Path(args.out).write_text(json.dumps(raw, indent=1, default=float))
    print(markdown(rows, raw, args))
    print()
    print(ceiling_markdown(raw["ceiling"]))
    return 0


def oracle(evaluator: TabularEvaluator, best: float) -> dict[str, float]:
    """Peeking reference: valid regret of the held-out set's own top-10 / top-20 architectures by test metric."""
    ranked = sorted(evaluator.table.values(), key=lambda info: -info["perf"])
    return {f"top{n}": 100.0 * (best - max(info["valid_perf"] for info in ranked[:n])) for n in (10, 20)}


def transfer_ceiling(bank: Bank, held_out: str) -> dict[str, Any]:
    """Peeking analysis (not a method): the held-out set's designs within the reference TPE@100 regret
    ("good"), and the rank (1 = first) of the best-ranked good design in each bank task's ranking (mean
    of its validation and test quantiles, restricted to the held-out space) and in their consensus (mean
    log-odds of those quantiles, the order :func:`autogt.bank.build_prior` proposes designs in)."""
    from autogt.bank._prior import _logit, quantiles

    table = TabularEvaluator(held_out).table
    best = max(info["valid_perf"] for info in table.values())
    tol = REFERENCE_TPE100[held_out] + 1e-9
    good = {str(k) for k, info in table.items() if 100.0 * (best - info["valid_perf"]) <= tol}
    space = {str(k) for k in table}
    ranks: dict[str, int] = {}
    consensus: dict[str, float] = {k: 0.0 for k in space}
    for d in DATASETS:
        if d == held_out:
            continue
        recs = [r for r in bank.results(task_name(d)) if r.key in space]
        q = (quantiles([r.val for r in recs]) + quantiles([r.result.test for r in recs])) / 2
        order = [recs[i].key for i in sorted(range(len(recs)), key=lambda i: -q[i])]
        ranks[d] = 1 + min((i for i, k in enumerate(order) if k in good), default=len(order))
        for r, lq in zip(recs, _logit(q), strict=True):
            consensus[r.key] += float(lq)
    order = sorted(consensus, key=lambda k: -consensus[k])
    return {"good": len(good), "space": len(space), "ranks": ranks,
            "consensus": 1 + min(i for i, k in enumerate(order) if k in good)}


def ceiling_markdown(ceiling: dict[str, dict[str, Any]]) -> str:
    """The transfer-ceiling table of :func:`transfer_ceiling` results."""
    lines = ["Transfer ceiling (peeks at the held-out set): designs within the reference TPE@100 regret, and the "
             "rank of the first of them in each bank task's ranking", "",
             "| held out | good designs | consensus rank | best single-task rank (task) | reachable in 10 |",
             "|---|---|---|---|---|"]
    reach = 0
    for d, c in ceiling.items():
        task, rank = min(c["ranks"].items(), key=lambda kv: kv[1])
        ok = min(rank, c["consensus"]) <= 10
        reach += ok
        lines.append(f"| {d} | {c['good']} of {c['space']} | {c['consensus']} | {rank} ({task}) | "
                     f"{'yes' if ok else 'no'} |")
    lines += ["", "reachable within 10 queries by following one bank task's ranking or the consensus: "
              f"{reach}/{len(ceiling)}"]
    return "\n".join(lines)


def markdown(rows: list[dict[str, Any]], raw: dict[str, Any], args: argparse.Namespace) -> str:
    def f(x: tuple[float, float]) -> str:
        m, se = x
        return f"{m:.2f}" if math.isnan(se) else f"{m:.2f} ± {se:.2f}"

    lines = [
        f"Validation regret (points; mean ± s.e. over {args.seeds} seeds; anchors = {args.anchors} counted queries)",
        "",
        "| data set | prior@10 | prior@20 | TPE@10 | TPE@100 | ref TPE@100 | p@10 ≤ T@100 | p@20 ≤ T@100 "
        "| p@10 ≤ T@10 | oracle top-10/20 | prior built from |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    hits10 = hits20 = nw = 0
    for r in rows:
        t100 = r["tpe100"][0]
        ok10 = r["prior10"][0] <= t100 + 1e-9
        ok20 = r["prior20"][0] <= t100 + 1e-9
        okw = r["prior10"][0] <= r["tpe10"][0] + 1e-9
        hits10 += ok10
        hits20 += ok20
        nw += okw
        o = raw["datasets"][r["dataset"]]["oracle"]
        lines.append(
            f"| {r['dataset']} | {f(r['prior10'])} | {f(r['prior20'])} | {f(r['tpe10'])} | {f(r['tpe100'])} | "
            f"{REFERENCE_TPE100[r['dataset']]:.2f} | {'yes' if ok10 else 'no'} | {'yes' if ok20 else 'no'} | "
            f"{'yes' if okw else 'no'} | {o['top10']:.2f} / {o['top20']:.2f} | {r['tasks']} |"
        )
    n = len(rows)
    lines += ["", f"prior@10 ≤ TPE@100 on {hits10}/{n} (target ≥ 5/9); prior@20 ≤ TPE@100 on {hits20}/{n} "
              f"(target ≥ 7/9); prior@10 ≤ TPE@10 on {nw}/{n} (target 9/9)", "",
              "Test metric of the selected architecture (best validation among those queried; points)", "",
              "| data set | prior@10 | prior@20 | TPE@10 | TPE@100 |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['prior10_test']:.2f} | {r['prior20_test']:.2f} | {r['tpe10_test']:.2f} | "
                     f"{r.get('tpe100_test', float('nan')):.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
