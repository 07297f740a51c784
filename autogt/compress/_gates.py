"""Hard-concrete (L0) gates of Louizos et al. (2018), as used by CoFi (Xia et al. 2022).

A gate ``z`` in ``[0, 1]`` has a learnable location ``log_alpha``. Training samples

    u ~ U(0, 1),  s = sigmoid((log u - log(1 - u) + log_alpha) / beta),
    z = clamp(s * (r - l) + l, 0, 1)

with temperature ``beta = 2/3`` and stretch interval ``(l, r) = (-0.1, 1.1)``, so ``z`` is exactly 0
or 1 with positive probability and differentiable in ``log_alpha`` in between. The expected L0 norm
(the probability that a gate is open) has a closed form,

    P(z != 0) = sigmoid(log_alpha - beta * log(-l / r)),

which the Lagrangian sparsity controller uses. At inference a gate is deterministic:
``z = clamp(sigmoid(log_alpha) * (r - l) + l, 0, 1)``.

Example:
    >>> import torch
    >>> gate = HardConcrete(4, init=3.0)
    >>> bool((gate.deterministic() == 1).all())
    True
    >>> z = gate.sample()
    >>> bool(((z >= 0) & (z <= 1)).all())
    True
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["HardConcrete", "BETA", "LIMIT_L", "LIMIT_R", "open_prob", "sample_gate", "deterministic_gate",
           "mean_gate", "expected_topk"]

BETA = 2.0 / 3.0
LIMIT_L = -0.1
LIMIT_R = 1.1
_EPS = 1e-6


def open_prob(log_alpha: Tensor, beta: float = BETA, l: float = LIMIT_L, r: float = LIMIT_R) -> Tensor:  # noqa: E741
    """``P(z != 0)`` of hard-concrete gates with locations ``log_alpha`` (the expected L0 norm).

    Shapes:
        ``[*] -> [*]``.
    """
    return torch.sigmoid(log_alpha - beta * math.log(-l / r))


def sample_gate(log_alpha: Tensor, beta: float = BETA, l: float = LIMIT_L, r: float = LIMIT_R,  # noqa: E741
                generator: torch.Generator | None = None) -> Tensor:
    """One reparameterised sample per gate (differentiable in ``log_alpha``).

    Shapes:
        ``[*] -> [*]``.
    """
    u = torch.rand(log_alpha.shape, generator=generator, device=log_alpha.device, dtype=log_alpha.dtype)
    u = u.clamp(_EPS, 1.0 - _EPS)
    s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + log_alpha) / beta)
    return (s * (r - l) + l).clamp(0.0, 1.0)


def deterministic_gate(log_alpha: Tensor, l: float = LIMIT_L, r: float = LIMIT_R) -> Tensor:  # noqa: E741
    """The inference value ``clamp(sigmoid(log_alpha) * (r - l) + l, 0, 1)``.

    Shapes:
        ``[*] -> [*]``.
    """
    return (torch.sigmoid(log_alpha) * (r - l) + l).clamp(0.0, 1.0)


def mean_gate(log_alpha: Tensor, beta: float = BETA, l: float = LIMIT_L, r: float = LIMIT_R,  # noqa: E741
              points: int = 64) -> Tensor:
    """``E[z]`` by midpoint quadrature over ``u`` (deterministic): the gate's average training value.

    Shapes:
        ``[*] -> [*]``.
    """
    u = (torch.arange(points, dtype=log_alpha.dtype, device=log_alpha.device) + 0.5) / points  # [P]
    logit_u = torch.log(u) - torch.log1p(-u)
    s = torch.sigmoid((logit_u + log_alpha.unsqueeze(-1)) / beta)  # [*, P]
    return (s * (r - l) + l).clamp(0.0, 1.0).mean(-1)


def expected_topk(log_alpha: Tensor, beta: float = BETA, l: float = LIMIT_L, r: float = LIMIT_R) -> Tensor:  # noqa: E741
    """Final mask of a gate vector, CoFi style: keep the ``round(sum P(z != 0))`` gates with the largest
    ``log_alpha``; a kept gate carries its deterministic value, or its mean value ``E[z]`` where the
    deterministic value is 0. So the number kept matches the expected L0 norm the Lagrangian controlled.

    Shapes:
        ``[n] -> [n]``.
    """
    k = int(torch.round(open_prob(log_alpha, beta, l, r).sum()).item())
    out = torch.zeros_like(log_alpha)
    if k <= 0:
        return out
    idx = torch.topk(log_alpha, min(k, log_alpha.numel())).indices
    det = deterministic_gate(log_alpha[idx], l, r)
    out[idx] = torch.where(det > 0, det, mean_gate(log_alpha[idx], beta, l, r))
    return out


class HardConcrete(nn.Module):
    """A vector of ``n`` hard-concrete gates with learnable ``log_alpha``.

    Args:
        n: number of gates.
        init: initial ``log_alpha`` (mean); ``3.0`` starts every gate deterministically open.
        init_std: standard deviation of the initial ``log_alpha``.
        beta, l, r: temperature and stretch interval.

    Shapes:
        ``sample() -> [n]``, ``deterministic() -> [n]``, ``open_prob() -> [n]``.
    """

    def __init__(self, n: int, *, init: float = 3.0, init_std: float = 0.01, beta: float = BETA,
                 l: float = LIMIT_L, r: float = LIMIT_R) -> None:  # noqa: E741
        super().__init__()
        if n < 1:
            raise ValueError(f"n: a gate vector needs at least one gate, got {n}")
        if not l < 0.0 < 1.0 < r:
            raise ValueError(f"stretch interval: need l < 0 < 1 < r, got ({l}, {r})")
        self.n, self.beta, self.l, self.r = n, beta, l, r
        self.log_alpha = nn.Parameter(torch.full((n,), float(init)) + init_std * torch.randn(n))

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        """A training sample."""
        return sample_gate(self.log_alpha, self.beta, self.l, self.r, generator)

    def deterministic(self) -> Tensor:
        """The inference values (no randomness)."""
        return deterministic_gate(self.log_alpha, self.l, self.r)

    def open_prob(self) -> Tensor:
        """``P(z != 0)`` per gate (differentiable)."""
        return open_prob(self.log_alpha, self.beta, self.l, self.r)

    def forward(self) -> Tensor:
        """``sample()`` in training mode, ``deterministic()`` in eval mode."""
        return self.sample() if self.training else self.deterministic()

    def extra_repr(self) -> str:
        return f"n={self.n}, beta={self.beta:.3g}, l={self.l}, r={self.r}"
