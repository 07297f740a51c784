from __future__ import annotations

import pytest

from autogt.hardware import cost, load_profile, profile_names
from autogt.hardware._blocks import block_keys
from autogt.models import builtin_spec

pytestmark = pytest.mark.skipif("cpu-2core" not in profile_names(), reason="no shipped CPU profile")


def test_shipped_cpu_profile_covers_every_registered_block():
    prof = load_profile("cpu-2core")
    assert prof.kind == "cpu" and prof.estimate == "measured-profile"
    assert set(block_keys()) <= set(prof.tables)
    assert prof.latency_correction is not None and prof.memory_correction is not None
    assert all(c >= 0 for c in prof.latency_correction.coef)


def test_cpu_resolves_to_a_measured_profile(mol_task):
    assert load_profile("cpu").estimate == "measured-profile"
    c = cost(builtin_spec("gps"), mol_task, "cpu", batch=32)
    assert c.estimate == "measured-profile" and 0.1 < c.latency_ms < 10_000
