"""Global attention: bucketed vs padded reference, graph isolation, performer determinism."""

from __future__ import annotations

import pytest
import torch

from autogt.models.attention import (
    MultiHeadAttention,
    PerformerAttention,
    bucket_length,
    bucketed_attention,
    padded_attention,
)
from autogt.testing.layers import check_attention_matches_reference


def _layout(sizes):
    sizes_t = torch.tensor(sizes)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), sizes_t.cumsum(0)])
    batch = torch.repeat_interleave(torch.arange(len(sizes)), sizes_t)
    return batch, ptr


def test_bucket_length():
    assert [bucket_length(n) for n in range(1, 14)] == [1, 2, 3, 4, 6, 6, 8, 8, 12, 12, 12, 12, 16]
    for n in range(1, 500):
        b = bucket_length(n)
        assert n <= b <= 1.5 * n and (b - n) <= b / 3  # at most a third of a bucket is padding


@pytest.mark.parametrize("seed", range(4))
def test_bucketed_matches_padded_random_sizes(seed):
    gen = torch.Generator().manual_seed(seed)
    sizes = torch.randint(1, 61, (int(torch.randint(1, 12, (1,), generator=gen)),), generator=gen).tolist()
    sizes += [1, 1]  # always include single-node graphs
    heads, head_dim = [(1, 8), (2, 4), (3, 5), (4, 2)][seed]
    torch.manual_seed(seed)
    att = MultiHeadAttention(8, 6, heads=heads, head_dim=head_dim)
    check_attention_matches_reference(att, sizes, seed=seed)


def test_equal_sizes_and_empty_graph():
    torch.manual_seed(0)
    att = MultiHeadAttention(4, 4, heads=2, head_dim=2)
    check_attention_matches_reference(att, [6, 6, 6])  # one full bucket, no mask
    q = k = v = torch.randn(5, 2, 3)
    batch, ptr = _layout([2, 0, 3])
    out = bucketed_attention(q, k, v, ptr)
    ref = padded_attention(q, k, v, torch.tensor([0, 0, 2, 2, 2]))
    assert torch.allclose(out, ref, atol=1e-6)


@pytest.mark.parametrize("cls", [MultiHeadAttention, PerformerAttention])
def test_attention_stays_within_graphs(cls):
    torch.manual_seed(0)
    att = cls(6, 6, heads=2, head_dim=3).eval()
    batch, ptr = _layout([4, 5, 3])
    x = torch.randn(12, 6)
    out = att(x, batch, ptr)
    x2 = x.clone()
    x2[4:9] += torch.randn(5, 6)  # change graph 1 only
    out2 = att(x2, batch, ptr)
    assert torch.allclose(out[:4], out2[:4], atol=1e-6) and torch.allclose(out[9:], out2[9:], atol=1e-6)
    assert not torch.allclose(out[4:9], out2[4:9])


def test_dropout_only_in_training():
    torch.manual_seed(0)
    att = MultiHeadAttention(6, 6, heads=2, head_dim=3, dropout=0.5)
    batch, ptr = _layout([5, 7])
    x = torch.randn(12, 6)
    att.eval()
    assert torch.equal(att(x, batch, ptr), att(x, batch, ptr))
    att.train()
    assert not torch.allclose(att(x, batch, ptr), att(x, batch, ptr))


def test_performer_deterministic_and_buffered():
    torch.manual_seed(0)
    att = PerformerAttention(6, 6, heads=2, head_dim=3).eval()
    batch, ptr = _layout([5, 1, 7])
    x = torch.randn(13, 6)
    assert torch.equal(att(x, batch, ptr), att(x, batch, ptr))
    assert "features" in att.state_dict() and "features" not in dict(att.named_parameters())
    twin = PerformerAttention(6, 6, heads=2, head_dim=3)
    twin.load_state_dict(att.state_dict())
    assert torch.allclose(twin.eval()(x, batch, ptr), att(x, batch, ptr))


def test_performer_approximates_softmax_attention():
    torch.manual_seed(0)
    full = MultiHeadAttention(8, 8, heads=1, head_dim=8).eval()
    perf = PerformerAttention(8, 8, heads=1, head_dim=8, num_features=4096).eval()
    perf.load_state_dict({**full.state_dict(), "features": perf.features})
    batch, ptr = _layout([6, 9])
    x = 0.3 * torch.randn(15, 8)
    err = (full(x, batch, ptr) - perf(x, batch, ptr)).abs().max().item()
    assert err < 0.05
