"""Contract tests every bank backend must pass; reuse them by providing one fixture.

In a test module::

    from autogt.testing.bank import *  # noqa: F401,F403

    @pytest.fixture
    def bank_url(tmp_path):
        return f"sqlite:///{tmp_path / 'bank.db'}"

``bank_url`` names an empty bank (a SQLite file, a PostgreSQL database...). The tests write tasks,
designs and results, check that writes are idempotent, that several processes writing at once lose
and duplicate nothing, and that an export re-imports to the same content.
"""

from __future__ import annotations

import multiprocessing
import random
from typing import Any

from autogt.bank import Bank, BankRecord, BankResult, BankTask
from autogt.bank._records import BankDesign
from autogt.models.spec import ArchSpec, LayerSpec
from autogt.train.result import EvalResult

__all__ = [
    "test_bank_idempotent_writes",
    "test_bank_better_status_replaces_a_stored_result",
    "test_bank_seed_and_fidelity_are_part_of_the_key",
    "test_bank_task_updates_merge",
    "test_bank_results_best_and_keys",
    "test_bank_export_import_round_trip",
    "test_bank_concurrent_writers",
    "spec_number",
    "concurrent_writer",
]


def spec_number(i: int) -> ArchSpec:
    """A distinct small spec for each ``i``."""
    return ArchSpec(hidden=8 + i, layers=(LayerSpec(local="gcn"),))


def _open(url: str) -> Bank:
    return Bank(url, shipped=False)


def test_bank_idempotent_writes(bank_url: str) -> None:
    bank = _open(bank_url)
    task = BankTask(name="t", fingerprint="abc", kind="binary", metric="rocauc", meta={"nodes_mean": 20.0})
    bank.add_task(task)
    bank.add_task(task)
    result = EvalResult(status="ok", metric="rocauc", val=0.81, test=0.77, params=1234, seed=3, epochs=5)
    for _ in range(3):
        bank.add_result(task, spec_number(1), result, fidelity=10, source="test", device="cpu")
    records = bank.results("t")
    assert len(records) == 1, f"the same (task, design, seed, fidelity) was stored {len(records)} times"
    rec = records[0]
    assert rec.result.seed == 3 and rec.result.fidelity == "epochs=10"
    assert rec.result.val == 0.81 and rec.result.num_params == 1234 and rec.result.device == "cpu"
    assert rec.design.hash == spec_number(1).hash() and rec.design.spec == spec_number(1)
    assert [t.name for t in bank.tasks()] == ["t"]


def test_bank_better_status_replaces_a_stored_result(bank_url: str) -> None:
    # a worker killed mid-trial leaves a failed result; the re-queued trial completing the same design replaces it,
    # while a later failure or pruning of a completed design changes nothing
    bank = _open(bank_url)
    spec = spec_number(2)
    bank.add_result("t", spec, EvalResult(status="failed", metric="rocauc", reason="killed"), seed=0, fidelity=10)
    assert [r.result.status for r in bank.results("t", status=None)] == ["failed"]
    bank.add_result("t", spec, EvalResult(status="pruned", metric="rocauc", val=0.6), seed=0, fidelity=10)
    assert [(r.result.status, r.val) for r in bank.results("t", status=None)] == [("pruned", 0.6)]
    ok = EvalResult(status="ok", metric="rocauc", val=0.8, test=0.7, params=99)
    records = [BankRecord(BankResult.from_eval("t", spec.hash(), ok, seed=0, fidelity=10),
                          BankDesign.from_spec(spec))]
    bank.add_records([], records)  # the bulk path (imports, build_bank) too
    for later in ("failed", "pruned"):
        bank.add_result("t", spec, EvalResult(status=later, metric="rocauc", val=0.1), seed=0, fidelity=10)
    stored = bank.results("t", status=None)
    assert [(r.result.status, r.val, r.result.test, r.result.num_params) for r in stored] == [("ok", 0.8, 0.7, 99)]
    assert bank.counts() == {"t": 1}


def test_bank_seed_and_fidelity_are_part_of_the_key(bank_url: str) -> None:
    bank = _open(bank_url)
    for seed in (0, 1):
        for fidelity in (10, 20):
            bank.add_result("t", spec_number(1), {"val": 0.5 + seed / 10 + fidelity / 100}, seed=seed,
                            fidelity=fidelity)
    keys = sorted((r.result.seed, r.result.fidelity) for r in bank.results("t"))
    assert keys == [(0, "epochs=10"), (0, "epochs=20"), (1, "epochs=10"), (1, "epochs=20")]


def test_bank_task_updates_merge(bank_url: str) -> None:
    bank = _open(bank_url)
    bank.add_task(BankTask(name="t", meta={"a": 1.0}))
    bank.add_task(BankTask(name="t", meta={"b": 2.0}), embeddings={"fisher": [1.0, 2.0]})
    bank.add_task(BankTask(name="t"), embeddings={"other": [3.0]})
    t = bank.task("t")
    assert t.meta == {"a": 1.0, "b": 2.0}
    assert t.embeddings == {"fisher": (1.0, 2.0), "other": (3.0,)}


def test_bank_results_best_and_keys(bank_url: str) -> None:
    bank = _open(bank_url)
    bank.add_task(BankTask(name="reg", metric="rmse", kind="regression"))
    bank.add_task(BankTask(name="cls", metric="rocauc", kind="binary"))
    for i, v in enumerate([0.5, 0.2, 0.9, 0.7]):
        bank.add_result("reg", spec_number(i), {"val": v})
        bank.add_result("cls", spec_number(i), {"val": v})
    assert [r.val for r in bank.results("cls", best=2)] == [0.9, 0.7]
    assert [r.val for r in bank.results("reg", best=2)] == [0.2, 0.5]  # rmse: lower is better
    assert [r.val for r in bank.results("cls", keys=[spec_number(2).hash()])] == [0.9]


def test_bank_export_import_round_trip(bank_url: str, tmp_path: Any) -> None:
    bank = _open(bank_url)
    bank.add_task(BankTask(name="t", fingerprint="f", kind="binary", metric="rocauc", meta={"nodes_mean": 3.5}),
                  embeddings={"fisher": [0.25, -1.0]})
    for i in range(5):
        bank.add_result("t", spec_number(i), {"val": i / 10, "test": None, "metric": "rocauc", "num_params": 100 + i},
                        seed=i % 2, fidelity="epochs=3", space="demo", params={"hidden": 8 + i})
    path = tmp_path / "round_trip.csv"
    assert bank.export(path) == 6
    other = Bank(f"sqlite:///{tmp_path / 'other.db'}", shipped=False)
    assert other.import_(path) == 5
    assert other.import_(path) == 0  # idempotent
    def tasks(b: Bank) -> list[Any]:
        return [(t.name, t.fingerprint, t.kind, t.metric, t.meta, t.embeddings) for t in b.tasks()]

    assert tasks(other) == tasks(bank)

    def content(b: Bank) -> list[Any]:
        return sorted((r.result.unique_key, r.val, r.result.test, r.result.num_params, r.design.spec_json,
                       r.design.params, r.design.space) for r in b.results("t"))

    assert content(other) == content(bank)


def concurrent_writer(url: str, worker: int, shared: int, own: int) -> None:
    """Write ``shared`` results every worker writes and ``own`` results only this worker writes, in a random
    order, one transaction each, then both again in one bulk call."""
    bank = _open(url)
    items = [("shared", i) for i in range(shared)] + [(f"w{worker}", i) for i in range(own)]
    random.Random(worker).shuffle(items)
    records = []
    for task, i in items:
        spec = spec_number(i)
        bank.add_result(task, spec, {"val": i / 100}, seed=0, fidelity="f", source=f"worker{worker}")
        records.append(BankRecord(BankResult(task=task, design=spec.hash(), fidelity="f", val=i / 100),
                                  BankDesign.from_spec(spec)))
    bank.add_records([], records)
    bank.close()


def test_bank_concurrent_writers(bank_url: str) -> None:
    if bank_url.startswith("sqlite") and ("memory" in bank_url or bank_url.rstrip("/") == "sqlite:"):
        return  # an in-memory database is private to its process
    _open(bank_url).close()  # create the schema first, as a shared bank would have it
    workers, shared, own = 4, 40, 15
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=concurrent_writer, args=(bank_url, w, shared, own)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert all(p.exitcode == 0 for p in procs), f"writer exit codes {[p.exitcode for p in procs]}"
    bank = _open(bank_url)
    counts = bank.counts()
    assert counts.get("shared") == shared, f"shared results: expected {shared}, got {counts.get('shared')}"
    for w in range(workers):
        assert counts.get(f"w{w}") == own, f"worker {w}: expected {own}, got {counts.get(f'w{w}')}"
    keys = [r.result.unique_key for name in counts for r in bank.results(name)]
    assert len(keys) == len(set(keys)) == shared + workers * own
