"""``autogt.models._util.dropout``: the distribution of ``F.dropout`` (inverted scaling, keep rate 1 - p)."""

from __future__ import annotations

import pytest
import torch

from autogt.models._util import dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_rate_scale_and_gradient(p):
    x = torch.ones(200_000, requires_grad=True)
    y = dropout(x, p)
    kept = y != 0
    assert abs(float(kept.float().mean()) - (1 - p)) < 0.01
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept)  # gradient flows through kept entries only, scaled alike
    assert abs(float(y.mean()) - 1.0) < 0.02  # unbiased


def test_identity_in_eval_and_edges():
    x = torch.randn(50)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))


@pytest.mark.parametrize("shape", [(1,), (3, 5), (7, 4, 3), (0, 8)])
def test_any_shape_and_reproducible_under_manual_seed(shape):
    x = torch.ones(shape)
    torch.manual_seed(3)
    a = dropout(x, 0.3)
    torch.manual_seed(3)
    b = dropout(x, 0.3)
    assert a.shape == x.shape and torch.equal(a, b)


def test_masks_are_independent_across_positions_and_calls():
    # every position of the 64-bit draw (4 lanes) keeps at rate 1 - p; two calls differ
    x = torch.ones(400_000)
    y = dropout(x, 0.2) != 0
    lanes = y.view(-1, 4).float().mean(0)
    assert torch.all((lanes - 0.8).abs() < 0.01), lanes
    assert not torch.equal(y, dropout(x, 0.2) != 0)
    # neighbouring entries are uncorrelated (a shared draw would correlate them)
    a, b = y[:-1].float(), y[1:].float()
    corr = float(((a - a.mean()) * (b - b.mean())).mean() / (a.std() * b.std()))
    assert abs(corr) < 0.01, corr
