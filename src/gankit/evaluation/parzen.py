"""Parzen-window log-likelihood: the number in the 2014 GAN paper's Table 1 (Goodfellow et al. 2014, after
Breuleux et al. 2011).

A Gaussian kernel of width sigma is put on each of N generated samples; the test images' mean log-density under
that mixture, in nats, with pixels in [0, 1], is the score. sigma is picked from a grid by the mean log-density
of held-out validation images. The estimate is known to be poor in high dimensions (Theis et al. 2016): it
rewards blurry samples near the data and can rank a model below a k-means baseline, so it measures closeness
of samples to test images, not sample quality, and means little beside FID/precision/recall. It is here because
it is the literature's reference table.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .. import progress

#: the paper's grid of kernel widths, as in Goodfellow et al.'s parzen_ll.py protocol: logspace(-1, 0, 10)
SIGMAS: tuple[float, ...] = tuple(float(s) for s in torch.logspace(-1, 0, 10, dtype=torch.float64))
N_SAMPLES, N_VALID, N_TEST = 10_000, 1_000, 10_000
#: test rows per distance block: 256 x 10,000 float64 distances is 20 MB
BLOCK = 256


def _flat01(x: Tensor) -> Tensor:
    """[N, ...] images in [-1, 1] -> [N, D] float64 in [0, 1]."""
    return ((x.reshape(len(x), -1).double() + 1) / 2).clamp(0, 1)


def squared_distances(x: Tensor, centres: Tensor) -> Tensor:
    """||x_i - c_j||^2 for rows of x [M, D] and centres [N, D], float64, clamped at 0.  # [M, N]"""
    d = (x * x).sum(1, keepdim=True) + (centres * centres).sum(1) - 2 * x @ centres.T
    return d.clamp_min_(0)


def log_density(sq_dist: Tensor, sigma: float, dim: int) -> Tensor:
    """log (1/N) sum_j N(x_i; c_j, sigma^2 I) from the squared distances [M, N].  # [M]"""
    n = sq_dist.shape[1]
    return (torch.logsumexp(-sq_dist / (2 * sigma * sigma), dim=1) - math.log(n)
            - 0.5 * dim * math.log(2 * math.pi * sigma * sigma))


def parzen_log_likelihoods(samples: Tensor, x: Tensor, sigmas: tuple[float, ...]) -> Tensor:
    """Each row of x's log-density under the Parzen window on `samples`, for each sigma. Both [N, D] float64 in
    [0, 1].  # [len(sigmas), M]"""
    out = torch.empty(len(sigmas), len(x), dtype=torch.float64)
    with progress.bar(-(-len(x) // BLOCK), "Parzen window", unit="block") as bar:
        for start in range(0, len(x), BLOCK):
            d = squared_distances(x[start:start + BLOCK], samples)
            for k, sigma in enumerate(sigmas):
                out[k, start:start + BLOCK] = log_density(d, sigma, x.shape[1])
            bar.update(1)
    return out


def parzen_scores(samples: Tensor, valid: Tensor, test: Tensor,
                  sigmas: tuple[float, ...] = SIGMAS) -> dict[str, Any]:
    """The protocol: sigma maximising the mean log-likelihood of `valid`, then the mean log-likelihood of `test`
    and its standard error (std / sqrt(M)), in nats. Images [N, ...] in [-1, 1]."""
    if min(len(samples), len(valid), len(test)) == 0:
        raise ValueError("parzen_scores needs samples, validation and test images")
    s, v, t = _flat01(samples), _flat01(valid), _flat01(test)
    valid_ll = parzen_log_likelihoods(s, v, sigmas).mean(1)  # [len(sigmas)]
    best = int(valid_ll.argmax())
    test_ll = parzen_log_likelihoods(s, t, (sigmas[best],))[0]
    return {"parzen_ll": float(test_ll.mean()),
            "parzen_ll_se": float(test_ll.std(unbiased=True) / math.sqrt(len(test_ll))) if len(test_ll) > 1 else 0.0,
            "parzen_sigma": sigmas[best],
            "parzen_valid_ll": {f"{sig:.4g}": float(ll) for sig, ll in zip(sigmas, valid_ll)}}


def protocol(n_samples: int, n_valid: int, n_test: int, samples: str) -> str:
    return (f"Gaussian Parzen window on {n_samples} {samples}, pixels in [0, 1]; sigma from logspace(-1, 0, 10) "
            f"by the mean log-likelihood of the last {n_valid} images of the training split; mean log-likelihood "
            f"(nats) of {n_test} test images, with its standard error (Goodfellow et al. 2014)")
