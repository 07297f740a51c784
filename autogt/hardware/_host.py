"""Facts about the machine a profile is measured on (stored in ``DeviceProfile.hardware``)."""

from __future__ import annotations

import functools
import os
import platform
from typing import Any

__all__ = ["cpu_facts", "cuda_facts"]


@functools.lru_cache(maxsize=1)
def cpu_facts() -> dict[str, Any]:
    """CPU model name, usable cores, total memory (GB) and platform.

    Example:
        >>> cpu_facts()["cores"] >= 1
        True
    """
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    memory_gb = None
    try:
        import psutil

        memory_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:  # pragma: no cover - psutil missing
        pass
    return {"cpu_model": model, "cores": cores, "memory_gb": memory_gb, "platform": platform.platform()}


def cuda_facts(index: int = 0) -> dict[str, Any]:
    """Name, memory (GB), SM count and compute capability of CUDA device ``index``."""
    import torch

    props = torch.cuda.get_device_properties(index)
    return {
        "gpu_name": props.name,
        "memory_gb": round(props.total_memory / 2**30, 1),
        "sm_count": props.multi_processor_count,
        "capability": f"{props.major}.{props.minor}",
        "cuda": torch.version.cuda,
    }
