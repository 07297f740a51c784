"""End to end: prune() on a trained checkpoint writes a standard smaller model, a report and a bank record."""

from __future__ import annotations

import json

import pytest
import torch
from torch_geometric.data import Batch

from autogt.compress import HardConcreteMasker, PruneConfig, Target, load_pruned, parse_targets, prune
from autogt.hardware.flops import count_params


def test_l0_prune_to_flops_target(tiny_task, tiny_checkpoint, tmp_path):
    out = tmp_path / "pruned"
    r = prune(tiny_checkpoint, tiny_task, "flops=0.5", epochs=3, out=out, finetune_epochs=1, edges=True,
              latency_repeats=2)
    assert r.method == "l0" and r.target == "flops=0.5"
    assert r.achieved_ratio <= 0.5 + 1e-9 and r.achieved_ratio >= 0.5 - PruneConfig().tolerance - 0.05
    assert r.after["flops"] <= 0.5 * r.before["flops"] * 1.001
    assert r.after["params"] == sum(p.numel() for p in r.model.parameters()) == count_params(r.spec, tiny_task)
    assert set(r.before) >= {"metric", "val", "test", "params", "flops", "latency_ms"}
    assert r.history and r.history[-1]["target"] == pytest.approx(0.5)
    assert r.edges is not None and 0.0 < r.edges["kept_fraction"] <= 1.0
    # the checkpoint is a standard autogt checkpoint plus the edge filter
    model, ckpt = load_pruned(r.checkpoint)
    assert ckpt.spec == r.spec and "edge_filter" in ckpt.extra
    batch = Batch.from_data_list(tiny_task.graphs[:10])
    with torch.no_grad():
        assert torch.allclose(model(batch), r.model.eval()(batch), atol=1e-6)
    report = json.loads((out / "report.json").read_text())
    assert report["before"]["flops"] == pytest.approx(r.before["flops"]) and len(report["layers"]) == 3
    assert (out / "report.md").read_text().startswith("# Prune report: l0, flops=0.5")


def test_params_target_and_bank_record(tiny_task, tiny_checkpoint, tmp_path):
    r = prune(tiny_checkpoint, tiny_task, Target("params", 0.6), epochs=2, finetune_epochs=0, latency_repeats=1,
              granularities=("heads", "neurons", "layers"))
    assert r.achieved_ratio <= 0.6
    assert r.spec.hidden == 16  # hidden gates were not requested
    bank = pytest.importorskip("autogt.bank")
    records = bank.Bank().results("tiny")
    assert any(rec.result.source == "prune:l0" for rec in records)


def test_latency_target_uses_the_device_profile(tiny_task, tiny_checkpoint):
    from autogt.hardware import predict_latency

    dense_ms = predict_latency(load_pruned(tiny_checkpoint)[1].spec, "cpu", stats=tiny_task, task=tiny_task)
    r = prune(tiny_checkpoint, tiny_task, f"latency_ms={0.7 * dense_ms}", epochs=1, finetune_epochs=0,
              latency_repeats=1, device="cpu", bank=False)
    assert r.after["latency_pred_ms"] <= 0.7 * dense_ms * 1.0001
    assert r.before["latency_pred_ms"] == pytest.approx(dense_ms)


def test_a_latency_bound_next_to_a_flops_target(tiny_task, tiny_checkpoint):
    common = dict(epochs=2, finetune_epochs=0, latency_repeats=1, bank=False, device="cpu",
                  granularities=("heads", "neurons", "attn", "ffn"))
    free = prune(tiny_checkpoint, tiny_task, "flops=0.6", **common)
    free_lat = free.after["latency_pred_ms"] / free.before["latency_pred_ms"]
    bound = round(free_lat - 0.1, 3)
    r = prune(tiny_checkpoint, tiny_task, f"flops=0.6,latency={bound}", **common)
    assert r.target == f"flops=0.6,latency={bound:g}"
    assert [c["target"] for c in r.constraints] == ["flops=0.6", f"latency={bound:g}"]
    flops_c, lat_c = r.constraints
    assert flops_c["achieved_ratio"] == pytest.approx(r.achieved_ratio) and r.achieved_ratio <= 0.6 + 1e-9
    assert lat_c["achieved_ratio"] <= bound + 1e-9  # the bound holds on the removed model
    assert r.after["latency_pred_ms"] / r.before["latency_pred_ms"] == pytest.approx(lat_c["achieved_ratio"])
    assert "expected.1" in r.history[0] and r.history[-1]["target"] == pytest.approx(0.6)
    assert r.summary()["constraints"] == r.constraints
    with pytest.raises(ValueError, match="only l0"):
        prune(tiny_checkpoint, tiny_task, "flops=0.6,latency=0.5", method="magnitude", finetune_epochs=0,
              bank=False)


def test_magnitude_baseline_through_prune(tiny_task, tiny_checkpoint):
    r = prune(tiny_checkpoint, tiny_task, "flops=0.7", method="magnitude", finetune_epochs=0, latency_repeats=1,
              bank=False)
    assert r.method == "magnitude" and r.after["flops"] <= 0.7 * r.before["flops"]


@pytest.mark.parametrize("bad", ["flops", "flops=1.5", "watts=3", "flops=-1", "latency=2"])
def test_bad_targets(bad):
    with pytest.raises(ValueError):
        Target.parse(bad)


@pytest.mark.parametrize("bad", ["", " , ", "flops=0.5,flops=0.4", "latency=0.5,latency_ms=3", "flops=0.5,x"])
def test_bad_target_lists(bad):
    with pytest.raises(ValueError):
        parse_targets(bad)


def test_plain_checkpoint_needs_an_opt_in(tiny_task, tmp_path):
    from torch import nn

    path = tmp_path / "plain.pt"
    torch.save(nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 1, enable_nested_tensor=False), path)
    with pytest.raises(ValueError, match="--trust-pickle"):
        prune(path, tiny_task, "flops=0.5", bank=False)


def test_recalibrate_norms_uses_training_statistics(tiny_task):
    from autogt.compress._train import recalibrate_norms
    from autogt.models import ArchSpec, LayerSpec, build_model
    from autogt.train.loop import make_feeder

    spec = ArchSpec(hidden=8, layers=(LayerSpec(local="gine", attn="full", heads=2, ffn=16),), batch_size=16)
    model = build_model(spec, tiny_task).eval()
    norm = model.layers[0].ffn_norm
    norm.running_mean.fill_(5.0)
    seen = []
    handle = norm.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
    recalibrate_norms(model, spec, tiny_task)
    handle.remove()
    assert len(seen) == sum(1 for _ in make_feeder(tiny_task, spec, 0, torch.device("cpu")).train(1))
    # cumulative average of the batch means over the training split
    want = torch.stack([x.mean(0) for x in seen]).mean(0)
    assert torch.allclose(norm.running_mean, want, atol=1e-5)
    assert not model.training and norm.momentum == 0.1


def test_hardening_trains_the_removed_mask(tiny_task, tiny_checkpoint, monkeypatch):
    """The last ``harden`` share of mask training runs with the gates frozen at the final 0/1 mask: the gates no
    longer move, the weights do, and what is removed is that frozen mask."""
    import copy

    import autogt.compress._train as tr
    from autogt.compress import CostModel, make_layout
    from autogt.compress._api import resolve_model
    from autogt.compress._remove import remove

    dense, spec, _scaler = resolve_model(tiny_checkpoint, tiny_task, PruneConfig())
    layout = make_layout(spec, tiny_task)
    cost = CostModel(layout, tiny_task)
    cfg = tr.MaskTrainConfig(epochs=4, harden=0.25, seed=0)
    maskers: list = []

    class Recording(HardConcreteMasker):  # the masker train_masks builds, kept for inspection
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            maskers.append(self)

    monkeypatch.setattr(tr, "HardConcreteMasker", Recording)
    gates: list[torch.Tensor] = []

    def on_step(_row):
        gates.append(torch.cat([p.detach().flatten().clone() for p in maskers[0].parameters()]))

    student = copy.deepcopy(dense)
    before = [p.detach().clone() for p in student.parameters()]
    masker = tr.train_masks(student, layout, tiny_task, cost, 0.5, cfg, on_step=on_step)
    frozen = [row["frozen"] for row in cfg.history]
    n_frozen = int(sum(frozen))
    assert frozen == sorted(frozen) and n_frozen == round(0.25 * len(frozen)) > 0  # a tail of frozen steps
    assert all(torch.equal(gates[-n_frozen], g) for g in gates[-n_frozen:])  # gates frozen ...
    assert not torch.equal(gates[0], gates[-n_frozen])  # ... after they had moved
    assert any(not torch.equal(a, p) for a, p in zip(before, student.parameters(), strict=True))
    assert all(row["expected"] <= 0.5 + 1e-9 for row in cfg.history if row["frozen"])
    values, _, _ = tr.final_mask(masker, layout, tiny_task, cost, 0.5, cfg.tolerance)
    new_spec, _model = remove(student, layout, values, tiny_task)
    assert count_params(new_spec, tiny_task) < count_params(spec, tiny_task)
