"""Minibatch discrimination (Salimans et al. 2016, Section 3.2): D sees, per sample, how close it lies to the
other samples of its batch, so a batch from a collapsed G (all alike) is easy to reject.

f(x_i) in R^A (D's penultimate features) is multiplied by a tensor T in R^{A x B x C}, giving M_i in R^{B x C};
c_b(x_i, x_j) = exp(-||M_i,b - M_j,b||_L1) and o(x_i)_b = the mean over j != i of c_b(x_i, x_j) (the paper sums;
the mean keeps o in [0, 1] whatever the batch size, where a sum over 255 others drove D's logits to +-20 and R1 to
26 within 30 steps on ring8 at batch 256). The B features
o(x_i) join f(x_i) in D's last (linear) layer. gankit calls D on all-real and all-fake batches separately, so
the closeness is always measured within one kind, as in Salimans et al.'s code.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

#: C, the dimension of each kernel's projection (Salimans et al.'s code: dim_per_kernel = 5)
KERNEL_DIM = 5


def minibatch_features(h: Tensor, T: Tensor) -> Tensor:
    """o(x_i)_b for features h [..., N, A] and T [..., A, B, C]: a pure function.  # -> [..., N, B]

    Leading dimensions are independent batches (the theory lab stacks one per seed). The L1 distances are
    differences broadcast to [..., B, N, N, C] rather than torch.cdist, whose backward has no derivative of its
    own: R1, WGAN-GP and unrolling differentiate D's gradient. A sample's distance to itself is left out (it would
    add exp(0) = 1 to every entry)."""
    n, (A, B, C) = h.shape[-2], T.shape[-3:]
    M = (h @ T.reshape(*T.shape[:-3], A, B * C)).reshape(*h.shape[:-1], B, C).transpose(-3, -2)  # [..., B, N, C]
    dist = (M.unsqueeze(-2) - M.unsqueeze(-3)).abs().sum(-1)  # [..., B, N, N]
    o = (torch.exp(-dist).sum(-1) - 1.0) / max(n - 1, 1)  # minus exp(-0) on the diagonal: the sample itself
    return o.transpose(-2, -1)  # [..., N, B]


class MinibatchDiscrimination(nn.Module):
    """The B minibatch features of A input features and their weights in D's last linear layer.

    D's logit becomes head(f) + w . o(f): the same as a linear head over the concatenation [f, o]. T starts at
    N(0, 1/A), so M's entries have about the scale of one feature and the initial L1 distances are O(1) (a fixed
    std, as the paper's 0.05, puts every exp(-L1) near 0 for D's thousands of conv features, and with it the
    gradient). The weights of o in the head start at zero: D starts as the D without the layer and learns how much
    to trust closeness."""

    def __init__(self, in_features: int, kernels: int, kernel_dim: int = KERNEL_DIM) -> None:
        super().__init__()
        self.T = nn.Parameter(torch.randn(in_features, kernels, kernel_dim) / math.sqrt(in_features))  # [A, B, C]
        self.out = nn.Linear(kernels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, h: Tensor) -> Tensor:
        """The head's extra term for features h [N, A] (any shape flattening to it).  # -> [N]"""
        return self.out(minibatch_features(h.reshape(h.shape[0], -1), self.T)).squeeze(1)
