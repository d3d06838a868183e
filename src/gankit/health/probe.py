"""What the health monitor measures on log steps: the gradient norm of a network, and how diverse G's outputs on
the fixed noise batch are. Nothing here draws from training's random streams or changes G's mode."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..data.transforms import as_float
from ..torch_utils import eval_mode, grad_norm

__all__ = ["DiversityProbe", "class_entropy", "grad_norm", "mean_pairwise_distance"]


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean Euclidean distance between distinct rows of x [N, ...] (flattened): 0 for identical samples."""
    flat = x.detach().reshape(len(x), -1).float()
    n = len(flat)
    if n < 2:
        return 0.0
    d = torch.cdist(flat, flat)  # [N, N]
    return float(d.sum() / (n * (n - 1)))


def class_entropy(probs: torch.Tensor) -> float:
    """Entropy of the predicted-class histogram (argmax counts), normalised to [0, 1] by log K."""
    k = probs.shape[1]
    counts = torch.bincount(probs.argmax(1), minlength=k).double()
    p = counts / counts.sum()
    h = -(p[p > 0] * p[p > 0].log()).sum()
    return max(0.0, float(h / math.log(k)))


class DiversityProbe:
    """Diversity of G on a fixed noise batch, relative to a fixed real batch of the same size.

    `Health/diversity` = mean pairwise distance of G's outputs / that of real samples: about 1 for a generator as
    spread out as the data, 0 for one that maps every z to the same output. For grey 28x28 MNIST-family data,
    `Health/classes` is the normalised entropy of the shipped classifier's class histogram on the same outputs
    (real digits: about 0.95 on 64 images; a generator drawing one digit: 0). No training RNG is used, and G is
    evaluated in eval mode (no BatchNorm statistics are updated), so training is unchanged.
    """

    MAX_N = 512  # pairwise distances of 512 points: a few milliseconds

    def __init__(self, z: torch.Tensor, y: torch.Tensor | None, real: torch.Tensor, *, seed: int = 0,
                 classifier: Any = None) -> None:
        n = min(len(z), self.MAX_N, len(real))
        self.z = z[:n]
        self.y = y[:n] if y is not None else None
        gen = torch.Generator().manual_seed(seed + 104729)
        idx = torch.randperm(len(real), generator=gen)[:n]
        ref = as_float(real[idx]).to(z.device)  # [n, *sample_shape]
        self.real_distance = max(mean_pairwise_distance(ref), 1e-12)
        self.classifier = classifier

    @torch.no_grad()
    def __call__(self, G: nn.Module) -> dict[str, float]:
        with eval_mode(G):
            fake = G(self.z, self.y)
        out = {"Health/diversity": mean_pairwise_distance(fake) / self.real_distance}
        if self.classifier is not None:
            _, probs = self.classifier.embed(fake.float().cpu().clamp(-1, 1))
            out["Health/classes"] = class_entropy(probs)
        return out
