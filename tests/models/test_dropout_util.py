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
