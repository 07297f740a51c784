from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from elastic_helpers import tiny_spec

from autogt.elastic import ElasticError, SubModel, extract, nested_modules, set_granularity
from autogt.train import Budget, load_model, train

EXPECTED_KEYS = {"budget", "spec", "params", "flops", "latency_ms", "val", "checkpoint"}


def _batch(task, n=24):
    from autogt.data.loader import graph_loader

    return next(iter(graph_loader(task.graphs, task.split["test"][:n], n, shuffle=False, seed=0)))


def test_extract_writes_standalone_checkpoints(elastic_ckpt, bin_task, tmp_path):
    subs = extract(elastic_ckpt, "params=70%,85%,100%", task=bin_task, out=tmp_path, bank=False)
    assert [s.budget for s in subs] == ["params=70%", "params=85%", "params=100%"]
    table = json.loads((tmp_path / "extract.json").read_text())
    assert len(table["models"]) == 3
    elastic, _ = load_model(elastic_ckpt)
    full_params = sum(p.numel() for p in elastic.parameters())
    for sub in subs:
        assert isinstance(sub, SubModel)
        assert EXPECTED_KEYS <= set(sub.to_dict())
        assert sub.params <= float(sub.budget.split("=")[1].rstrip("%")) / 100 * full_params * (1 + 1e-9)
        assert 0.0 <= sub.val <= 1.0 and sub.metric == "rocauc"
        assert sub.extract_time_s < 1.0
        model, ckpt = load_model(sub.checkpoint)  # plain checkpoint: no elastic code path
        assert ckpt.spec.elastic == () and not nested_modules(model)
        assert ckpt.spec == sub.spec and sum(p.numel() for p in model.parameters()) == sub.params
        assert ckpt.extra["budget"] == sub.budget and ckpt.extra["val"] == pytest.approx(sub.val)
    assert [s.val for s in subs] == sorted(s.val for s in subs)  # a larger budget never picks a worse model


def test_extracted_model_equals_elastic_forward(elastic_ckpt, bin_task, tmp_path):
    (sub,) = extract(elastic_ckpt, "flops=75%", task=bin_task, out=tmp_path, bank=False, calibrate=False)
    elastic, _ = load_model(elastic_ckpt)
    standalone, _ = load_model(sub.checkpoint)
    batch = _batch(bin_task)
    set_granularity(elastic, sub.choice)
    with torch.no_grad():
        assert torch.allclose(elastic(batch), standalone(batch), atol=1e-5)
    # recalibrated batch norms change the sub-model (and are what gets saved by default)
    (cal,) = extract(elastic_ckpt, "flops=75%", task=bin_task, out=tmp_path / "cal", bank=False)
    calibrated, _ = load_model(cal.checkpoint)
    with torch.no_grad():
        assert not torch.allclose(calibrated(batch), standalone(batch), atol=1e-4)


def test_extract_time_and_no_data(elastic_ckpt, tmp_path):
    subs = extract(elastic_ckpt, "flops=60%,80%", out=tmp_path, bank=False)  # toy task: no bundled data
    assert all(s.val is None and s.extract_time_s < 1.0 for s in subs)
    assert all(Path(s.checkpoint).is_file() for s in subs)


def test_extract_latency_budget(elastic_ckpt, bin_task, tmp_path):
    from autogt.elastic import CostModel

    costs = CostModel(tiny_spec(), bin_task.describe(), "cpu")
    low, high = costs.value(0, "latency_ms"), costs.value(None, "latency_ms")
    assert low < high
    limit = (low + high) / 2  # absolute milliseconds between the smallest and the full model
    (sub,) = extract(elastic_ckpt, f"latency_ms={limit}", task=bin_task, device="cpu", out=tmp_path, bank=False)
    assert sub.budget == f"latency_ms={limit:g}"
    assert sub.latency_ms is not None and sub.latency_ms <= limit * (1 + 1e-9)
    with pytest.raises(ElasticError, match="device profile"):
        extract(elastic_ckpt, "latency_ms=2", out=tmp_path, bank=False)


def test_extract_writes_the_bank(elastic_ckpt, bin_task, tmp_path, monkeypatch):
    from autogt.bank import Bank

    monkeypatch.setenv("AUTOGT_BANK", str(tmp_path / "bank.db"))
    extract(elastic_ckpt, "params=80%", task=bin_task, out=tmp_path / "a", bank=False)
    assert not (tmp_path / "bank.db").exists() or not Bank(shipped=False).results(bin_task.name)
    subs = extract(elastic_ckpt, "params=80%,100%", task=bin_task, out=tmp_path / "b")
    stored = Bank(shipped=False).results(bin_task.name)
    assert {r.result.design for r in stored} == {s.spec.hash() for s in subs}
    assert {r.result.source for r in stored} == {"elastic.extract"}
    assert {round(r.result.val, 6) for r in stored} == {round(s.val, 6) for s in subs}


def test_extract_rejects_dense_and_infeasible(bin_task, elastic_ckpt, tmp_path):
    _, res = train(tiny_spec(elastic=()), bin_task, Budget(epochs=1, patience=0, latency_repeats=0), out_dir=tmp_path)
    with pytest.raises(ElasticError, match="dense"):
        extract(res.checkpoint, "flops=0.5", bank=False)
    with pytest.raises(ElasticError, match="feasible: params >="):
        extract(elastic_ckpt, "params=5%", bank=False, out=tmp_path)
