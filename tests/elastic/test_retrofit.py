from __future__ import annotations

import pytest
import torch
from elastic_helpers import tiny_spec

from autogt.elastic import ElasticError, Scorer, extract_model, ffn_importance, reorder_by_importance, retrofit
from autogt.models import build_model
from autogt.train import Budget, load_checkpoint, load_model, train
from autogt.train.metrics import TargetScaler


@pytest.fixture(scope="module")
def dense_ckpt(reg_task, tmp_path_factory):
    out = tmp_path_factory.mktemp("dense")
    torch.manual_seed(0)
    _, res = train(tiny_spec(elastic=()), reg_task, Budget(epochs=12, patience=0, latency_repeats=0), out_dir=out)
    assert res.status == "ok"
    return res.checkpoint


def _batches(task, spec):
    return Scorer.for_task(task, spec).batches["valid"]


def test_reordering_preserves_the_function(dense_ckpt, reg_task):
    model, ckpt = load_model(dense_ckpt)
    batches = _batches(reg_task, ckpt.spec)
    state = reorder_by_importance(model, batches)
    reordered = build_model(ckpt.spec, reg_task)
    reordered.load_state_dict(state)
    reordered.eval()
    with torch.no_grad():
        for b in batches:
            assert torch.allclose(model(b), reordered(b), atol=1e-5)
    assert not torch.equal(state["layers.0.fc1.weight"], model.state_dict()["layers.0.fc1.weight"])
    for i, score in ffn_importance(reordered, batches).items():  # now sorted, most important first
        assert torch.all(score[:-1] >= score[1:] - 1e-6), f"layer {i}"


def test_importance_order_beats_reverse_order_at_small_widths(dense_ckpt, reg_task):
    model, ckpt = load_model(dense_ckpt)
    elastic_spec = ckpt.spec.replace(elastic=(0.125, 0.25, 0.5, 1.0))
    state = reorder_by_importance(model, _batches(reg_task, ckpt.spec))
    reverse = dict(state)
    for i in range(len(ckpt.spec.layers)):
        pre = f"layers.{i}."
        reverse[f"{pre}fc1.weight"] = state[f"{pre}fc1.weight"].flip(0)
        reverse[f"{pre}fc1.bias"] = state[f"{pre}fc1.bias"].flip(0)
        reverse[f"{pre}fc2.weight"] = state[f"{pre}fc2.weight"].flip(1)
    scorer = Scorer.for_task(reg_task, elastic_spec, scaler=ckpt.target_scaler)
    scores = {}
    for name, weights in (("best-first", state), ("worst-first", reverse)):
        elastic = build_model(elastic_spec, reg_task)
        elastic.load_state_dict(weights)
        scores[name] = scorer.score(extract_model(elastic, 1, reg_task.describe()))
    assert scores["best-first"] < scores["worst-first"], scores  # rmse at a quarter of the FFN


def test_retrofit_makes_an_elastic_checkpoint(dense_ckpt, reg_task, tmp_path):
    model, result = retrofit(dense_ckpt, task=reg_task, budget=Budget(epochs=2, patience=0, latency_repeats=0),
                             out=tmp_path)
    assert result.status == "ok", result.reason
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt.spec.elastic == (0.125, 0.25, 0.5, 1.0)
    assert result.extra["elastic"]["retrofit_from"] == load_checkpoint(dense_ckpt).spec.hash()
    assert isinstance(ckpt.target_scaler, TargetScaler)
    reordered, none = retrofit(dense_ckpt, task=reg_task, importance="weight", finetune=False)
    assert none is None and reordered.spec.elastic


def test_retrofit_errors(dense_ckpt):
    with pytest.raises(ElasticError, match="training data"):
        retrofit(dense_ckpt)  # toy task: not a bundled data set
    with pytest.raises(ElasticError, match="importance"):
        retrofit(dense_ckpt, importance="random")
