"""A tabular evaluator: answers NAS-Bench-Graph queries from the package's bench files, no training.

It has the evaluator's call signature (``evaluator(spec, task, budget, *, seed, device, callback,
out_dir) -> EvalResult``), so :func:`~autogt.controllers.search` uses it exactly like
:func:`autogt.train.evaluate`. ``val``/``test`` are the bench's ``valid_perf``/``perf`` (accuracy, or
ROC-AUC on proteins), ``params`` its ``para`` x 1e6, ``latency_ms`` its ``latency`` x 1000, ``epochs``
the protocol's epochs. A spec outside the NAS-Bench-Graph space, or an architecture the bench file does
not hold (the all-skip one; on proteins, every arch with an op other than gcn sage arma fc skip), is a
spent query with status ``failed``. The light bench files hold no per-epoch values, so ``callback`` is
never called and nothing is pruned.

Example:
    >>> from autogt.controllers.tabular import TabularEvaluator
    >>> from autogt.spaces import nasbench
    >>> ev = TabularEvaluator("cora")
    >>> r = ev(nasbench.to_spec([0, 1, 2, 3], ["gcn", "gcn", "gcn", "gcn"]))
    >>> r.status, round(r.val, 4) == round(nasbench.bench("cora")[nasbench.arch_hash([0, 1, 2, 3], ["gcn"] * 4)][
    ...     "valid_perf"], 4)
    ('ok', True)
"""

from __future__ import annotations

import time
from typing import Any

from autogt.models.spec import ArchSpec
from autogt.spaces import SpaceError, nasbench
from autogt.train.result import EvalResult

__all__ = ["TabularEvaluator", "parse_tabular"]

PREFIX = "nasbench:"


def parse_tabular(data: Any) -> str | None:
    """``"nasbench:cora"`` -> ``"cora"``; anything else -> None. Unknown data set names raise SpaceError."""
    if isinstance(data, str) and data.lower().startswith(PREFIX):
        name = data[len(PREFIX):].lower()
        nasbench.protocol(name)  # validates the name
        return name
    return None


class TabularEvaluator:
    """Looks architectures up in NAS-Bench-Graph's bench file for ``dataset``.

    Args:
        dataset: one of :data:`autogt.spaces.nasbench.DATASETS`.
        delay_s: sleep this long per query (to exercise progress bars, timeouts and kill/resume in tests).
    """

    def __init__(self, dataset: str, *, delay_s: float = 0.0) -> None:
        self.dataset = dataset.lower()
        self.protocol = nasbench.protocol(self.dataset)
        self.table = nasbench.bench(self.dataset)
        self.delay_s = float(delay_s)
        self.metric = self.protocol["metric"]
        self.maximize = True
        self.name = PREFIX + self.dataset

    def query(self, link: Any, ops: Any) -> dict[str, float] | None:
        """The bench entry of (link, ops), or None when the file has none."""
        return self.table.get(nasbench.arch_hash(link, ops))

    def best(self, key: str = "valid_perf") -> float:
        """The best value of ``key`` over the whole bench file (for regret)."""
        return max(info[key] for info in self.table.values())

    def __call__(self, spec: ArchSpec, task: Any = None, budget: Any = None, *, seed: int = 0,
                 device: Any = None, callback: Any = None, out_dir: Any = None, **_: Any) -> EvalResult:
        started = time.perf_counter()
        if self.delay_s:
            time.sleep(self.delay_s)
        result = EvalResult(status="failed", metric=self.metric, seed=seed, task=self.name)
        try:
            result.spec_hash = spec.hash()
            link, ops = nasbench.from_spec(spec)
            key = nasbench.arch_hash(link, ops)
        except SpaceError as exc:
            result.reason = f"not a NAS-Bench-Graph architecture: {exc}"
            return result
        info = self.table.get(key)
        result.extra = {"arch_hash": key, "link": list(link), "ops": list(ops)}
        if info is None:
            result.reason = f"architecture {key} is not in the {self.dataset} bench file"
            return result
        result.status = "ok"
        result.val = info["valid_perf"]
        result.test = info["perf"]
        result.params = int(round(info["para"] * 1e6))
        result.latency_ms = info["latency"] * 1000.0
        result.epochs = int(self.protocol["epochs"])
        result.train_time_s = time.perf_counter() - started
        return result
