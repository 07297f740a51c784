"""evaluate() with the real data, model and cost packages."""

from __future__ import annotations

import pytest
import torch
from train_standins import node_task

from autogt._paths import resource
from autogt.data import load_task
from autogt.hardware.flops import count_flops, count_params
from autogt.models import builtin_spec
from autogt.models.spec import ArchSpec, LayerSpec
from autogt.train import Budget, compute_metric, evaluate, load_model
from autogt.train.loop import make_feeder, predict

TINY_GPS = ArchSpec(hidden=16, layers=(LayerSpec(local="gine", attn="full", heads=2, ffn=32),) * 2, pe="rw", pe_dim=4,
                    pe_hidden=4, batch_size=8, lr=3e-3)


@pytest.fixture(scope="module")
def esol40(tmp_path_factory):
    rows = resource("data", "moleculenet", "delaney.csv").read_text().splitlines()[1:41]
    path = tmp_path_factory.mktemp("csv") / "esol40.csv"
    path.write_text("smiles,logs\n" + "\n".join(rows) + "\n")
    return load_task(str(path), labels=["logs"], split="random")


def test_checkpoint_reproduces_reported_metrics(esol40, tmp_path):
    result = evaluate(TINY_GPS, esol40, Budget(epochs=3, patience=0, latency_repeats=2), out_dir=tmp_path)
    assert result.status == "ok", result.reason
    assert result.params == count_params(TINY_GPS, esol40)
    assert result.flops == pytest.approx(count_flops(TINY_GPS, esol40)) and result.flops > 0
    assert esol40.graphs[0].pe_rw.shape[1] == 4  # the encoding the spec asks for was attached

    model, ckpt = load_model(result.checkpoint)
    assert ckpt.spec == TINY_GPS and ckpt.task_info["name"] == esol40.name
    feeder = make_feeder(esol40, TINY_GPS, 0, torch.device("cpu"))
    y, raw = predict(model, feeder.eval("test"))
    assert compute_metric("rmse", y, ckpt.denormalize(raw)) == pytest.approx(result.test, rel=1e-5)


def test_builtin_gcn_node_level():
    task = node_task()
    result = evaluate(builtin_spec("gcn"), task, Budget(epochs=60, patience=0, latency_repeats=1))
    assert result.status == "ok", result.reason
    assert result.test > 0.55  # 3 classes: chance is ~0.33
    assert result.params == count_params(builtin_spec("gcn"), task)


@pytest.mark.slow
def test_gcn_cora_kipf_protocol_seed0():
    result = evaluate("gcn", load_task("cora"), Budget(epochs=200, patience=0, latency_repeats=1), seed=0)
    assert result.status == "ok"
    assert 0.78 <= result.test <= 0.84
