from __future__ import annotations

import math

import pytest

from autogt.hardware import BlockTable
from autogt.hardware._table import monotone


def _power_table():
    widths, batches = (16.0, 64.0, 256.0), (1.0, 8.0)
    values = [w**1.5 * b for w in widths for b in batches]  # a power law: exact in log-log
    return BlockTable(axes=(("width", widths), ("batch", batches)), values={"latency_ms": tuple(values)})


def test_lookup_is_exact_on_grid_points_and_power_laws():
    t = _power_table()
    for p, v in zip(t.points(), t.values["latency_ms"], strict=True):
        assert t.lookup("latency_ms", p) == pytest.approx(v)
    assert t.lookup("latency_ms", {"width": 32.0, "batch": 4.0}) == pytest.approx(32**1.5 * 4)


def test_lookup_extrapolates_along_edge_segments():
    t = _power_table()
    assert t.lookup("latency_ms", {"width": 1024.0, "batch": 8.0}) == pytest.approx(1024**1.5 * 8)
    assert t.lookup("latency_ms", {"width": 8.0, "batch": 1.0}) == pytest.approx(8**1.5)


def test_heads_axis_is_clamped():
    t = BlockTable(axes=(("heads", (1.0, 4.0)),), values={"latency_ms": (1.0, 2.0)})
    assert t.lookup("latency_ms", {"heads": 16.0}) == pytest.approx(2.0)
    assert t.lookup("latency_ms", {"heads": 2.0}) == pytest.approx(math.sqrt(2.0))


def test_bad_tables_and_lookups_raise():
    with pytest.raises(ValueError, match="strictly increasing"):
        BlockTable(axes=(("width", (64.0, 16.0)),), values={})
    with pytest.raises(ValueError, match="expected 2 values"):
        BlockTable(axes=(("width", (16.0, 64.0)),), values={"latency_ms": (1.0,)})
    t = _power_table()
    with pytest.raises(KeyError, match="batch"):
        t.lookup("latency_ms", {"width": 16.0})
    with pytest.raises(KeyError, match="memory_mb"):
        t.lookup("memory_mb", {"width": 16.0, "batch": 1.0})


def test_round_trip():
    t = _power_table()
    assert BlockTable.from_dict(t.to_dict()) == t

def test_monotone_smoothing_averages_violations_instead_of_propagating_them():
    # one noisy spike in the middle of a power law: it is pooled with its neighbour, later points stay put
    vals = [1.0, 2.0, 9.0, 4.0, 8.0, 16.0]
    out = monotone(vals, (6,), [0])
    assert out == sorted(out)
    assert out[:2] == pytest.approx([1.0, 2.0]) and out[4:] == pytest.approx([8.0, 16.0])
    assert out[2] == pytest.approx(out[3]) == pytest.approx(6.0)  # geometric mean of 9 and 4
    # two axes: every row and column ends up non-decreasing; untouched axes are left alone
    grid = [3.0, 1.0, 2.0, 0.5]
    both = monotone(grid, (2, 2), [0, 1])
    assert both[0] <= both[1] and both[2] <= both[3] and both[0] <= both[2] and both[1] <= both[3]
    only_rows = monotone(grid, (2, 2), [1])
    assert only_rows[0] == pytest.approx(only_rows[1]) == pytest.approx(3.0**0.5)
