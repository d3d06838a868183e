"""Perceptual path length (Karras et al. 2019, section 4.1): how much the image changes, in a feature space, for
a small step along a latent interpolation; smooth generators score low.

For pairs of latents (z0, z1) and t ~ U(0, 1): d = ||f(g(lerp(w0, w1, t))) - f(g(lerp(w0, w1, t + eps)))||^2 / eps^2
with w = mapping(z) for a style-based generator (the paper's PPL in W, "full" paths) and f the L2-normalised
feature vector of gankit's domain classifier for the data set (the paper uses LPIPS, a VGG feature distance on
unit-normalised channels, which needs ImageNet weights gankit cannot ship; the shipped classifier's penultimate
layer is the same feature space as gankit's FID). The score is the mean of d over the pairs whose d lies between
the 1st and 99th percentiles, as the paper's code filters outliers. Scores are comparable only within one
feature network and eps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

EPS = 1e-4  # the paper's step
PPL_SAMPLES = 2000  # pairs; the paper used 100,000 on FFHQ
PERCENTILES = (1.0, 99.0)


def trimmed_mean(d: Tensor, lo: float = PERCENTILES[0], hi: float = PERCENTILES[1]) -> float:
    """The mean of the values between the lo-th and hi-th percentiles (inclusive).  # [N] -> scalar"""
    d = d.double()
    a, b = torch.quantile(d, lo / 100), torch.quantile(d, hi / 100)
    return float(d[(d >= a) & (d <= b)].mean())


def path_distances(synthesise: Callable[[Tensor], Tensor], features: Callable[[Tensor], Tensor], w0: Tensor,
                   w1: Tensor, t: Tensor, eps: float = EPS) -> Tensor:
    """d for each pair: `synthesise` maps latents [B, ...] to images, `features` images to feature vectors.
    # w0, w1 [B, D], t [B] -> [B]"""
    tt = t.view(-1, *([1] * (w0.dim() - 1)))
    a = torch.lerp(w0, w1, tt)
    b = torch.lerp(w0, w1, tt + eps)
    f = F.normalize(features(synthesise(torch.cat([a, b]))).flatten(1).double(), dim=1)  # [2B, F]
    fa, fb = f.chunk(2)
    return (fa - fb).pow(2).sum(dim=1) / eps**2


@torch.no_grad()
def perceptual_path_length(net: Any, features: Callable[[Tensor], Tensor], *, n: int = PPL_SAMPLES,
                           seed: int = 0, eps: float = EPS, batch_size: int = 250) -> dict[str, Any]:
    """PPL in W of a style-based generator `net` (map, synthesis; in eval mode, so its noise is fixed) over n
    pairs of latents drawn from `seed`."""
    gen = torch.Generator().manual_seed(seed)
    device = next(net.parameters()).device
    layers = int(net.num_ws)
    out = []
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        z = torch.randn(2 * b, net.z_dim, generator=gen).to(device)
        t = torch.rand(b, generator=gen).to(device)
        w = net.map(z)
        def synthesise(ws: Tensor) -> Tensor:
            return net.synthesis(ws[:, None].expand(-1, layers, -1))
        out.append(path_distances(synthesise, features, w[:b], w[b:], t, eps).cpu())
    d = torch.cat(out)
    return {"ppl": trimmed_mean(d), "ppl_protocol": {
        "space": "W, full paths (t ~ U(0, 1))", "eps": eps, "n_pairs": n, "seed": seed,
        "distance": "squared L2 of the L2-normalised domain-classifier features, divided by eps^2",
        "filter": f"mean over the pairs between percentiles {PERCENTILES[0]:g} and {PERCENTILES[1]:g}",
        "noise": "the generator's fixed noise maps"}}
