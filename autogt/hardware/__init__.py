"""Target devices: what an architecture costs where it will run.

- :func:`cost` / :class:`Cost`: the one cost function (parameters, FLOPs, predicted latency and memory)
  used by search constraints, pruning targets and extraction budgets.
- :class:`DeviceProfile`: a measured profile (block tables + learned correction, plain JSON) or a roofline
  of a device that is not at hand; :func:`load_profile` resolves names (registry kind ``device``:
  ``cpu cuda h100 h200 a100 l4 t4``), paths and the profiles in ``profiles/``.
- :func:`profile`: measure this machine's CPU or a CUDA device; :func:`refit` refits a profile's corrections
  to its stored whole-model samples.
- :func:`predict_latency` / :func:`predict_memory`: fast (well under 1 ms) predictions, no device needed.
- :func:`count_params` / :func:`count_flops`: the analytic counts (:mod:`autogt.hardware.flops`).

Example:
    >>> from autogt.hardware import cost
    >>> from autogt.models import builtin_spec
    >>> c = cost(builtin_spec("gps"), {"nodes_mean": 24.0, "edges_mean": 52.0}, "a100", batch=64)
    >>> sorted(c.to_dict())
    ['batch', 'device', 'estimate', 'flops', 'latency_ms', 'memory_mb', 'params']
"""

from __future__ import annotations

from autogt.hardware._cost import Cost, cost
from autogt.hardware._device import (
    Correction,
    DeviceProfile,
    ProfileError,
    Sample,
    known_devices,
    load_profile,
    profile_names,
    roofline_profile,
)
from autogt.hardware._measure import FULL, QUICK, Grid, profile, refit
from autogt.hardware._predict import Prediction, predict, predict_latency, predict_memory
from autogt.hardware._roofline import ROOFLINES, RooflineSpec
from autogt.hardware._table import BlockTable
from autogt.hardware.flops import count_flops, count_params

__all__ = [
    "Cost",
    "cost",
    "DeviceProfile",
    "Correction",
    "Sample",
    "BlockTable",
    "ProfileError",
    "Prediction",
    "RooflineSpec",
    "ROOFLINES",
    "Grid",
    "QUICK",
    "FULL",
    "load_profile",
    "known_devices",
    "profile_names",
    "roofline_profile",
    "profile",
    "refit",
    "predict",
    "predict_latency",
    "predict_memory",
    "count_params",
    "count_flops",
]
