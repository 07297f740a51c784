"""``cost()``: the one cost function used by search constraints, pruning targets and extraction budgets.

``cost(spec, task_or_stats, device)`` returns parameters and FLOPs (analytic, exact: the same functions as
:mod:`autogt.hardware.flops`) and, when a device is given, the predicted latency and peak memory of one
inference forward over ``batch`` graphs on that device, labelled with how they were obtained
(``measured-profile`` or ``roofline``).

Example:
    >>> from autogt.models import builtin_spec
    >>> stats = {"nodes_mean": 24.0, "edges_mean": 52.0, "nodes_sq_mean": 690.0}
    >>> c = cost(builtin_spec("gps"), stats, "h100", batch=32)
    >>> c.estimate, c.params > 0, c.latency_ms > 0
    ('roofline', True, True)
    >>> cost(builtin_spec("gps"), stats).latency_ms is None
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from autogt.hardware._device import load_profile
from autogt.hardware._predict import _batch, predict, resolve_task
from autogt.models.spec import ArchSpec, load_spec

__all__ = ["Cost", "cost"]


@dataclass(frozen=True)
class Cost:
    """What one architecture costs.

    Attributes:
        params: exact parameter count.
        flops: FLOPs of one forward over ``batch`` graphs (2 x multiply-adds; see ``count_flops``).
        latency_ms: predicted latency of that forward on ``device`` (``None`` without a device).
        memory_mb: predicted peak memory of that forward: parameters, inputs, activations (``None``
            without a device).
        estimate: ``measured-profile`` or ``roofline`` (``None`` without a device).
        device: the profile's name.
        batch: graphs per forward.
    """

    params: int
    flops: float
    latency_ms: float | None = None
    memory_mb: float | None = None
    estimate: str | None = None
    device: str | None = None
    batch: int = 1

    def to_dict(self) -> dict[str, Any]:
        """``{"params", "flops", "latency_ms", "memory_mb", "estimate", "device", "batch"}``."""
        return asdict(self)

    def violations(self, *, max_params: float | None = None, max_flops: float | None = None,
                   max_latency_ms: float | None = None, max_memory_mb: float | None = None) -> list[str]:
        """Human-readable list of the bounds this cost exceeds (empty when within all of them).

        Example:
            >>> Cost(params=10, flops=5.0, latency_ms=3.0).violations(max_params=8, max_latency_ms=4)
            ['params 10 > max_params 8']
        """
        out = []
        checks = (("params", self.params, max_params), ("flops", self.flops, max_flops),
                  ("latency_ms", self.latency_ms, max_latency_ms), ("memory_mb", self.memory_mb, max_memory_mb))
        for key, value, bound in checks:
            if bound is not None and value is not None and value > bound:
                out.append(f"{key} {value:.4g} > max_{key} {bound:.4g}")
        return out


def cost(spec: ArchSpec | str | dict[str, Any], task_or_stats: Any = None, device: Any = None, *,
         batch: int | None = None, task: Any = None) -> Cost:
    """Parameters, FLOPs and (with ``device``) predicted latency and memory of ``spec``.

    Args:
        spec: an ``ArchSpec`` or anything :func:`autogt.models.load_spec` takes.
        task_or_stats: a ``Task``, its ``describe()`` dict, or a stats dict (``nodes_mean``, ``edges_mean``,
            ``nodes_sq_mean``; task dimensions then come from ``task`` or default to BBBP molecules).
            ``None``: bundled BBBP (or the device profile's reference task).
        device: ``None`` (parameters and FLOPs only), a ``DeviceProfile``, a profile JSON path, a profile
            name in ``profiles/``, ``cpu`` / ``cuda`` or a roofline name (``h100 h200 a100 l4 t4``).
        batch: graphs per forward; default ``spec.batch_size`` (1 for node-level tasks), the batch
            ``autogt.train.evaluate`` measures latency on.
        task: task dimensions when ``task_or_stats`` is a plain stats dict.

    Raises:
        UnknownNameError: an unknown device name (the message lists the known ones).
    """
    from autogt.hardware.flops import count_flops, count_params

    spec = load_spec(spec)
    prof = load_profile(device) if device is not None else None
    st = resolve_task(task_or_stats, task, prof)
    b = _batch(spec, st.info, batch)
    meta = {"nodes_mean": st.nodes, "edges_mean": st.edges, "nodes_sq_mean": st.nodes_sq}
    params = int(count_params(spec, st.info))
    flops = float(count_flops(spec, meta, batch=b, task=st.info))
    if prof is None:
        return Cost(params=params, flops=flops, batch=b)
    pred = predict(spec, prof, batch=b, stats=meta, task=st.info)
    return Cost(params=params, flops=flops, latency_ms=pred.latency_ms, memory_mb=pred.memory_mb,
                estimate=pred.estimate, device=prof.name, batch=b)
