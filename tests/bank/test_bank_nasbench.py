"""NAS-Bench-Graph import: every architecture, values as in the package, hashes that agree with it."""

from __future__ import annotations

import time

import nas_bench_graph as nbg
import pytest

from autogt.bank import Bank
from autogt.bank._nasbench import DATASETS, architectures, check_hashes, import_nasbench, space_params, task_name
from autogt.spaces import nasbench


def _link_ops(params):
    link = [int(x) for x in params["link"].split("-")]
    return link, [params[f"layer{i}.local"] for i in range(1, 5)]


def test_import_proteins_matches_the_package(bank):
    assert import_nasbench(bank, ["proteins"]) == {"proteins": 2021}
    assert import_nasbench(bank, ["proteins"]) == {"proteins": 0}  # idempotent
    light = nbg.light_read("proteins")
    records = bank.results(task_name("proteins"))
    assert len(records) == len(light) == 2021
    assert {int(r.key) for r in records} == set(light)
    for rec in records:
        link, ops = _link_ops(rec.design.params)
        key = int(rec.key)
        assert nbg.Arch(list(link), list(ops)).valid_hash() == key  # the package's own hash
        assert nasbench.arch_hash(link, ops) == key
        assert rec.design.hash == nasbench.to_spec(link, ops, "proteins").hash()  # our ArchSpec hash
        assert set(ops) <= set(nbg.gnn_list_proteins)
        entry = light[key]
        assert rec.val == pytest.approx(float(entry["valid_perf"]))
        assert rec.result.test == pytest.approx(float(entry["perf"]))
        assert rec.result.latency_ms == pytest.approx(float(entry["latency"]) * 1000)
        assert rec.result.num_params == round(float(entry["para"]) * 1e6)
        assert rec.result.metric == "rocauc" and rec.result.fidelity == "tabular"
    task = bank.task(task_name("proteins"))
    assert task.kind == "multilabel" and task.meta["nodes_mean"] == 132534


def test_full_space_enumeration_agrees_with_the_package():
    archs = architectures("cora")
    assert len(archs) == 26206
    assert set(archs) == set(nbg.light_read("cora"))
    check_hashes(archs)  # raises if autogt.spaces.nasbench.arch_hash disagrees anywhere


def test_space_params_round_trip():
    space = nasbench.space_for("citeseer")
    link, ops = [0, 1, 1, 2], ["gat", "skip", "cheb", "fc"]
    assert space.to_spec(space_params(link, ops)) == nasbench.to_spec(link, ops, "citeseer")


@pytest.mark.slow
def test_import_all_nine_fast(tmp_path):
    bank = Bank(tmp_path / "nb.db", shipped=False)
    start = time.process_time()  # CPU seconds: immune to other load on shared machines
    added = import_nasbench(bank)
    elapsed = time.process_time() - start
    assert added == {d: (2021 if d == "proteins" else 26206) for d in DATASETS}
    assert sum(bank.counts().values()) == 8 * 26206 + 2021
    assert elapsed < 60, f"import took {elapsed:.0f} CPU seconds"
