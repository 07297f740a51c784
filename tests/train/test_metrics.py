from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from autogt.train.metrics import TargetScaler, compute_metric, loss_fn

nan = float("nan")


def test_rocauc_binary_matches_sklearn_and_ignores_nan():
    y = np.array([0, 1, 1, 0, nan, 1])
    p = np.array([0.1, 0.9, 0.4, 0.5, 100.0, 0.3])
    mask = ~np.isnan(y)
    assert compute_metric("rocauc", y, p) == pytest.approx(roc_auc_score(y[mask], p[mask]))


def test_rocauc_multilabel_mean_over_tasks_skipping_single_class():
    y = np.array([[0, 1, 1], [1, 1, nan], [0, 1, 0], [1, 1, 1]], dtype=float)
    p = np.array([[0.2, 0.3, 0.9], [0.8, 0.1, 0.5], [0.9, 0.2, 0.1], [0.7, 0.4, 0.2]])
    t0 = roc_auc_score(y[:, 0], p[:, 0])
    m2 = ~np.isnan(y[:, 2])
    t2 = roc_auc_score(y[m2, 2], p[m2, 2])
    # task 1 is all positive: skipped, as OGB does
    assert compute_metric("rocauc", y, p) == pytest.approx((t0 + t2) / 2)
    assert compute_metric("rocauc", torch.tensor(y), torch.tensor(p)) == pytest.approx((t0 + t2) / 2)


def test_rocauc_undefined_is_nan():
    assert math.isnan(compute_metric("rocauc", np.array([[1.0], [1.0]]), np.array([[0.2], [0.4]])))
    assert math.isnan(compute_metric("rocauc", np.array([[nan], [nan]]), np.array([[0.2], [0.4]])))


def test_accuracy_argmax_and_labels():
    y = torch.tensor([2, 0, 1, 1])
    scores = torch.tensor([[0.0, 0.1, 0.9], [3.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert compute_metric("accuracy", y, scores) == pytest.approx(0.75)
    assert compute_metric("accuracy", y.view(-1, 1), torch.tensor([2, 0, 1, 0])) == pytest.approx(0.75)


def test_rmse_mae_per_task_mean_ignoring_nan():
    y = np.array([[1.0, 0.0], [2.0, nan], [nan, 4.0]])
    p = np.array([[2.0, 1.0], [4.0, 9.0], [9.0, 1.0]])
    rmse0 = math.sqrt((1 + 4) / 2)
    rmse1 = math.sqrt((1 + 9) / 2)
    assert compute_metric("rmse", y, p) == pytest.approx((rmse0 + rmse1) / 2)
    assert compute_metric("mae", y, p) == pytest.approx((1.5 + 2.0) / 2)


def test_metric_errors():
    with pytest.raises(ValueError, match="choose one of"):
        compute_metric("f1", [1], [1])
    with pytest.raises(ValueError, match="rows"):
        compute_metric("rmse", [1.0, 2.0], [1.0])


def test_masked_losses():
    bce = loss_fn("multilabel")
    pred = torch.tensor([[0.0, 5.0], [2.0, -1.0]], requires_grad=True)
    target = torch.tensor([[1.0, nan], [0.0, nan]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0]))
    out = bce(pred, target)
    assert out.item() == pytest.approx(expected.item())
    out.backward()
    assert pred.grad[:, 1].abs().sum() == 0  # masked labels give no gradient

    mse = loss_fn("regression")
    assert mse(torch.tensor([[1.0], [3.0]]), torch.tensor([[2.0], [nan]])).item() == pytest.approx(1.0)
    empty = mse(torch.tensor([[1.0]], requires_grad=True), torch.tensor([[nan]]))
    assert empty.item() == 0.0 and empty.requires_grad

    ce = loss_fn("multiclass")
    logits = torch.tensor([[10.0, 0.0], [0.0, 10.0]])
    assert ce(logits, torch.tensor([[0], [1]])).item() < 1e-3
    with pytest.raises(ValueError, match="choose one of"):
        loss_fn("ranking")


def test_target_scaler_roundtrip_and_nan():
    y = torch.tensor([[1.0, 10.0], [3.0, nan], [5.0, 10.0]])
    s = TargetScaler.fit(y)
    assert s.mean == pytest.approx((3.0, 10.0))
    assert s.std[0] == pytest.approx(math.sqrt(8 / 3))
    assert s.std[1] == 1.0  # constant task
    z = s.transform(y)
    assert torch.isnan(z[1, 1])
    assert torch.allclose(s.inverse(z)[[0, 2]], y[[0, 2]])
    assert TargetScaler.from_dict(s.to_dict()) == s
