"""JSON helpers shared by the CLI and the reports."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["json_safe"]


def json_safe(obj: Any) -> Any:
    """``obj`` with non-finite floats replaced by ``None`` and keys made strings (strict JSON has no NaN/inf).

    Example:
        >>> json_safe({"a": float("nan"), 1: [1.0, float("inf")]})
        {'a': None, '1': [1.0, None]}
    """
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj
