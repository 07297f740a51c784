from __future__ import annotations

import math
import time

import pytest
import torch
from train_standins import Boom, Constant, NaNAfter, PooledMLP

from autogt.models.spec import ArchSpec
from autogt.train import Budget, compute_metric, evaluate, load_checkpoint, train
from autogt.train.loop import make_feeder, make_optimizer, predict

SPEC = ArchSpec(hidden=16, lr=0.02, batch_size=16)
FAST = Budget(epochs=15, patience=0, latency_repeats=2)


def test_graph_binary_learns_and_reports_everything(binary_task, tmp_path):
    model = PooledMLP(4, 1)
    result = evaluate(SPEC, binary_task, FAST, model=model, out_dir=tmp_path)
    assert result.status == "ok", result.reason
    assert result.metric == "rocauc"
    assert result.val > 0.75 and result.test > 0.75  # chance is 0.5
    assert result.val == max(result.history)  # reported at the best validation epoch
    assert result.epochs == 15 and len(result.history) == 15
    assert result.params == sum(p.numel() for p in model.parameters())
    assert result.latency_ms is not None and result.latency_ms > 0
    assert 0 < result.extra["epoch_time_s"] <= result.train_time_s / result.epochs  # training steps only
    assert result.extra["best_epoch"] == result.history.index(result.val) + 1
    assert result.spec_hash == SPEC.hash() and result.task == "synthetic-binary" and result.seed == 0
    assert result.checkpoint == str(tmp_path / "model.safetensors")
    assert (tmp_path / "result.json").exists()

    # the checkpoint holds the best-validation weights: they reproduce val and test exactly
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt.spec == SPEC and ckpt.extra["test"] == pytest.approx(result.test)
    fresh = PooledMLP(4, 1)
    fresh.load_state_dict(ckpt.state_dict)
    feeder = make_feeder(binary_task, SPEC, 0, torch.device("cpu"))
    for split, expected in (("valid", result.val), ("test", result.test)):
        y, p = predict(fresh, feeder.eval(split))
        assert compute_metric("rocauc", y, p) == pytest.approx(expected)


def test_same_seed_same_run_other_seed_differs(binary_task):
    runs = [evaluate(SPEC, binary_task, Budget(epochs=4, patience=0, latency_repeats=0), seed=s,
                     model=_seeded_model(s)) for s in (3, 3, 4)]
    assert runs[0].history == runs[1].history
    assert runs[0].extra["train_loss"] == runs[1].extra["train_loss"]
    assert runs[0].extra["train_loss"] != runs[2].extra["train_loss"]


def _seeded_model(seed: int) -> PooledMLP:
    torch.manual_seed(seed)
    return PooledMLP(4, 1)


def test_regression_targets_are_standardised(regression_task):
    # targets are ~ 100 +- 3: without scaling the tiny model would not get close in 15 epochs
    result, model = None, PooledMLP(4, 1)
    model, result = train(SPEC, regression_task, FAST, model=model)
    assert result.status == "ok", result.reason
    assert result.metric == "rmse"
    ys = torch.cat([g.y for g in regression_task.graphs]).view(-1)
    assert result.test < 0.5 * float(ys.std())
    scaler = result.extra["target_scaler"]
    assert scaler["mean"][0] == pytest.approx(100.0, abs=3.0)
    assert result.val == min(result.history)  # lower is better


def test_node_level_full_batch(nodes):
    model = PooledMLP(6, 3, node_level=True)
    result = evaluate(SPEC.replace(lr=0.05), nodes, Budget(epochs=40, patience=0, latency_repeats=1), model=model)
    assert result.status == "ok", result.reason
    assert result.metric == "accuracy"
    assert result.val > 0.7 and result.test > 0.7
    assert result.latency_ms is not None


def test_nan_loss_fails_with_reason(binary_task):
    result = evaluate(SPEC, binary_task, FAST, model=NaNAfter(4, 1, after=5))
    assert result.status == "failed"
    assert "non-finite" in result.reason and "epoch 2" in result.reason  # 3 batches per epoch
    assert result.val is None and result.test is None


def test_exception_becomes_failed_but_keyboard_interrupt_propagates(binary_task, tmp_path):
    result = evaluate(SPEC, binary_task, FAST, model=Boom(4, 1, exc=RuntimeError("CUDA out of memory\nmore")),
                      out_dir=tmp_path)
    assert result.status == "failed"
    assert result.reason == "RuntimeError: CUDA out of memory"
    assert result.checkpoint is None and not (tmp_path / "model.safetensors").exists()
    with pytest.raises(KeyboardInterrupt):
        evaluate(SPEC, binary_task, FAST, model=Boom(4, 1, exc=KeyboardInterrupt()))


def test_unbuildable_spec_fails(binary_task):
    bad = SPEC.replace_layer(0, local="no-such-op")
    result = evaluate(bad, binary_task, FAST)
    assert result.status == "failed" and "no-such-op" in result.reason
    assert result.val is None


def test_callback_prunes(binary_task):
    seen = []

    def callback(epoch: int, val: float) -> bool:
        seen.append((epoch, val))
        return epoch == 3

    result = evaluate(SPEC, binary_task, FAST, model=PooledMLP(4, 1), callback=callback)
    assert result.status == "pruned"
    assert result.epochs == 3 and [e for e, _ in seen] == [1, 2, 3]
    assert result.history == [v for _, v in seen]
    assert "pruned" in result.reason and result.val == max(result.history)
    assert result.test is None


def test_early_stopping_patience_and_min_epochs(binary_task):
    result = evaluate(SPEC, binary_task, Budget(epochs=50, patience=3, latency_repeats=0), model=Constant())
    assert result.status == "ok"
    assert result.epochs == 4 and "early stop" in result.reason  # best at 1, no improvement through 4
    result = evaluate(SPEC, binary_task, Budget(epochs=50, patience=3, min_epochs=10, latency_repeats=0),
                      model=Constant())
    assert result.epochs == 10


def test_eval_every(binary_task):
    result = evaluate(SPEC, binary_task, Budget(epochs=5, patience=0, eval_every=2, latency_repeats=0),
                      model=PooledMLP(4, 1))
    assert len(result.history) == 3  # epochs 2, 4 and the last one


class Slow(PooledMLP):
    def forward(self, batch):
        time.sleep(0.02)
        return super().forward(batch)


def test_time_budget(binary_task):
    start = time.perf_counter()
    result = evaluate(SPEC, binary_task, Budget(epochs=1000, patience=0, time_s=0.3, latency_repeats=0),
                      model=Slow(4, 1))
    assert time.perf_counter() - start < 5
    assert result.status == "ok" and "time budget" in result.reason
    assert 1 <= result.epochs < 20
    assert result.history and result.val is not None and not math.isnan(result.val)


def test_optimizer_from_spec():
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt = make_optimizer(ArchSpec(optimizer="sgd", lr=0.5, weight_decay=0.1), params)
    assert isinstance(opt, torch.optim.SGD)
    assert opt.defaults["lr"] == 0.5 and opt.defaults["weight_decay"] == 0.1 and opt.defaults["momentum"] == 0.9
    plain = make_optimizer(ArchSpec(optimizer="sgd", momentum=0.0), params)  # NAS-Bench-Graph's plain SGD
    assert plain.defaults["momentum"] == 0.0
    assert isinstance(make_optimizer(ArchSpec(optimizer="adamw"), params), torch.optim.AdamW)
    assert type(make_optimizer(ArchSpec(), params)) is torch.optim.Adam


def test_bad_device_is_an_argument_error(binary_task, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        evaluate(SPEC, binary_task, FAST, model=PooledMLP(4, 1), device="cuda")


def test_autogt_train_is_callable_whatever_was_imported_first(binary_task):
    import autogt
    import autogt.train

    model, result = autogt.train(SPEC, binary_task, Budget(epochs=1, patience=0, latency_repeats=0),
                                 model=PooledMLP(4, 1))
    assert result.status == "ok" and isinstance(model, PooledMLP)
    assert autogt.train.evaluate is evaluate
