from __future__ import annotations

import pytest
import torch
from elastic_helpers import tiny_spec

from autogt.elastic import ElasticError, ElasticStep, Scorer, elastic_spec, extract_model, train_elastic
from autogt.models import build_model, builtin_spec
from autogt.train import Budget, loss_fn, train

BUDGET = Budget(epochs=12, patience=0, latency_repeats=0)


def _per_granularity(model, task, spec):
    scorer = Scorer.for_task(task, spec, scaler=None if task.kind != "regression" else _scaler(task))
    return [scorer.score(extract_model(model, g, task.describe())) for g in range(4)]


def _scaler(task):
    from autogt.train.metrics import TargetScaler

    return TargetScaler.fit(torch.cat([task.graphs[int(i)].y for i in task.split["train"]]))


def test_elastic_spec_defaults_and_errors():
    assert elastic_spec(builtin_spec("gps")).elastic == (0.125, 0.25, 0.5, 1.0)
    assert elastic_spec(builtin_spec("gps"), (0.5,)).elastic == (0.5, 1.0)
    with pytest.raises(ElasticError, match="no FFN"):
        elastic_spec(builtin_spec("gin"))  # every GIN layer has ffn: 0
    with pytest.raises(ElasticError, match="mode"):
        ElasticStep("both")
    with pytest.raises(ElasticError, match="probs"):
        ElasticStep("sampled", probs=(0.0, 0.0))


def test_step_sampled_follows_probs_and_joint_sums(reg_task):
    spec = tiny_spec()
    model = build_model(spec, reg_task).train()
    from autogt.data.loader import graph_loader

    batch = next(iter(graph_loader(reg_task.graphs, reg_task.split["train"][:16], 16, shuffle=False, seed=0)))
    y = batch.y
    loss = loss_fn("regression")
    step = ElasticStep("sampled", probs=(0.0, 1.0, 0.0, 1.0), seed=0)
    for _ in range(40):
        step(model, batch, None, y, loss)
    assert step.counts[0] == step.counts[2] == 0 and step.counts[1] > 5 and step.counts[3] > 5
    joint = ElasticStep("joint")
    total = joint(model, batch, None, y, loss)
    assert joint.counts == [1, 1, 1, 1]
    torch.manual_seed(0)  # no dropout in the tiny spec: the sum is deterministic
    parts = []
    for g in range(4):
        single = ElasticStep("sampled", probs=[1.0 if i == g else 0.0 for i in range(4)])
        parts.append(single(model, batch, None, y, loss))
    assert torch.allclose(total, sum(parts), atol=1e-5)
    with pytest.raises(ElasticError, match="4 granularities"):
        ElasticStep("sampled", probs=(1.0, 1.0))(model, batch, None, y, loss)


@pytest.mark.parametrize("kind", ["regression", "binary"])
def test_joint_distillation_teaches_the_smaller_granularities_with_the_full_predictions(reg_task, kind):
    from autogt.data.loader import graph_loader
    from autogt.elastic import use_granularity
    from autogt.train.metrics import soft_loss

    model = build_model(tiny_spec(), reg_task).train()  # no dropout: every forward is deterministic
    batch = next(iter(graph_loader(reg_task.graphs, reg_task.split["train"][:16], 16, shuffle=False, seed=0)))
    y = batch.y if kind == "regression" else (batch.y > batch.y.median()).float()
    loss, w = loss_fn(kind), 0.7
    step = ElasticStep("joint", distill=w)
    total = step(model, batch, None, y, loss)
    assert step.counts == [1, 1, 1, 1]
    outs = []
    for g in range(4):
        with use_granularity(model, g):
            outs.append(model(batch))
    teacher = outs[3].detach()
    expected = loss(outs[3], y) + sum((1 - w) * loss(outs[g], y) + w * soft_loss(loss)(outs[g], teacher)
                                      for g in range(3))
    assert torch.allclose(total, expected, atol=1e-5)
    assert not torch.allclose(total, ElasticStep("joint")(model, batch, None, y, loss), atol=1e-4)
    # the teacher is detached: with only the smallest granularity's (distilled) loss, FFN neurons beyond its
    # width get no gradient although the full width ran
    model.zero_grad()
    ElasticStep("joint", probs=(1.0, 0.0, 0.0, 0.0), distill=1.0)(model, batch, None, y, loss).backward()
    fc1 = model.layers[0].fc1.weight  # [ffn, hidden]: rows are neurons, the smallest width uses the first m0
    m0 = max(1, round(fc1.size(0) * 0.125))
    assert fc1.grad[:m0].abs().sum() > 0 and fc1.grad[m0:].abs().sum() == 0
    with pytest.raises(ElasticError, match="joint"):
        ElasticStep("sampled", distill=0.5)
    with pytest.raises(ElasticError, match="distill"):
        ElasticStep("joint", distill=1.5)


@pytest.mark.parametrize("mode", ["sampled", "joint"])
def test_training_improves_every_granularity(reg_task, mode):
    spec = tiny_spec()
    torch.manual_seed(0)
    before = _per_granularity(build_model(spec, reg_task), reg_task, spec)
    model, result = train_elastic(spec, reg_task, BUDGET, mode=mode, seed=0)
    assert result.status == "ok", result.reason
    assert result.extra["elastic"]["mode"] == mode
    counts = result.extra["elastic"]["counts"]
    assert all(c > 0 for c in counts)
    if mode == "joint":
        assert len(set(counts)) == 1
    after = _per_granularity(model, reg_task, spec)
    for g, (b, a) in enumerate(zip(before, after, strict=True)):
        assert a < 0.8 * b, f"granularity {g}: rmse {b:.3f} -> {a:.3f}"


def test_elastic_training_beats_full_only_training_at_the_smallest_width(reg_task):
    spec = tiny_spec()
    elastic, _ = train_elastic(spec, reg_task, BUDGET, mode="joint", seed=0)
    full_only, _ = train_elastic(spec, reg_task, BUDGET, mode="sampled", probs=(0, 0, 0, 1), seed=0)
    small_elastic = _per_granularity(elastic, reg_task, spec)[0]
    small_full_only = _per_granularity(full_only, reg_task, spec)[0]
    assert small_elastic < small_full_only, (small_elastic, small_full_only)


def test_train_with_step_loss_hook_and_dense_default(reg_task):
    spec = tiny_spec(elastic=())
    seen = []

    def step_loss(model, batch, index, y, loss):
        seen.append(batch.num_graphs)
        return loss(model(batch), y)

    _, hooked = train(spec, reg_task, Budget(epochs=2, patience=0, latency_repeats=0), step_loss=step_loss)
    _, plain = train(spec, reg_task, Budget(epochs=2, patience=0, latency_repeats=0))
    assert seen and hooked.status == plain.status == "ok"
    assert hooked.val == pytest.approx(plain.val, rel=1e-6)  # same loss, same run


@pytest.mark.parametrize("mode", ["joint", "sampled"])
def test_only_the_full_model_moves_batch_norm_running_statistics(reg_task, mode):
    """Sub-model passes normalise with batch statistics but leave the running statistics alone, so the full
    model validated during training keeps statistics of its own activations."""
    import copy

    from autogt.data.loader import graph_loader
    from autogt.elastic._nested import use_granularity

    spec = tiny_spec()
    torch.manual_seed(0)
    model = build_model(spec, reg_task).train()
    batch = next(iter(graph_loader(reg_task.graphs, reg_task.split["train"], 16, shuffle=False, seed=0)))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]

    def stats(net=model):
        bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm1d)]
        return [m.running_mean.clone() for m in bns] + [m.running_var.clone() for m in bns]

    def after(fn):
        torch.manual_seed(0)
        clone = copy.deepcopy(model)
        fn(clone)
        return stats(clone)

    def full_only(m):
        with use_granularity(m, 3):
            m(batch)

    step = ElasticStep(mode, probs=(1.0, 1.0, 1.0, 1.0) if mode == "joint" else (0.0, 1.0, 0.0, 0.0))
    y = batch.y
    got = after(lambda m: step(m, batch, None, y, loss_fn("regression")))
    if mode == "joint":  # four passes, but the statistics are those of the full model's pass alone
        want = after(full_only)
    else:  # one sub-model pass: nothing moves
        want = stats()
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(after(full_only), stats(), strict=True))  # they do move
    assert all(m.momentum == 0.1 for m in norms)  # restored
