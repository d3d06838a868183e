"""The self-attention block of SAGAN (Zhang et al. 2019): every position of a feature map attends to every other.

With f, g, h 1x1 convolutions (f and g to C/8 channels, h to C), for query position j and key position i

    s_ij = f(x_i)^T g(x_j),   beta_ji = exp(s_ij) / sum_i exp(s_ij),   o_j = sum_i beta_ji h(x_i),   y_j = gamma o_j + x_j

gamma is a learned scalar that starts at 0: the block starts as the identity, the network first learns from local
features and then weighs in non-local evidence (Section 4 of the paper).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

REDUCTION = 8  # f and g project to C / 8 channels, as in the paper


class SelfAttention(nn.Module):
    """x [N, C, H, W] -> x + gamma * attention(x) [N, C, H, W].

    With `keep_map = True` each forward keeps its attention map as `last_map` [N, H*W (query j), H*W (key i)]
    (rows sum to 1; positions in row-major order), detached, for figures."""

    def __init__(self, channels: int, reduction: int = REDUCTION) -> None:
        super().__init__()
        inner = max(1, channels // reduction)
        self.f = nn.Conv2d(channels, inner, 1, bias=False)  # keys' projection (x_i)
        self.g = nn.Conv2d(channels, inner, 1, bias=False)  # queries' projection (x_j)
        self.h = nn.Conv2d(channels, channels, 1, bias=False)  # values
        self.gamma = nn.Parameter(torch.zeros(()))
        self.keep_map = False
        self.last_map: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        n, c, hh, ww = x.shape
        keys = self.f(x).flatten(2)  # [N, C', HW] f(x_i)
        queries = self.g(x).flatten(2)  # [N, C', HW] g(x_j)
        values = self.h(x).flatten(2)  # [N, C, HW] h(x_i)
        scores = torch.bmm(keys.transpose(1, 2), queries)  # [N, HW (i), HW (j)]: s_ij
        beta = torch.softmax(scores, dim=1)  # normalised over the keys i, for each query j
        out = torch.bmm(values, beta)  # [N, C, HW (j)]: o_j = sum_i h(x_i) beta_ji
        if self.keep_map:
            self.last_map = beta.transpose(1, 2).detach()  # [N, j, i]
        return x + self.gamma * out.view(n, c, hh, ww)
