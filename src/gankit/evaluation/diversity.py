"""Diversity within each class of a conditional generator's samples, beside the same for real images.

A generator can draw the right class every time and still draw nearly one image per class (AC-GAN's known
weakness, Odena et al. 2017 section 4.2 measure it with MS-SSIM). Here: the mean pixel distance between distinct
samples of one class, divided by the same for real images of that class (1: as varied as the data).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..errors import ConfigError


def mean_pairwise_l2(x: Tensor) -> float:
    """Mean Euclidean distance between distinct rows of x [N, ...] (flattened); 0 for fewer than two."""
    flat = x.reshape(len(x), -1).double()
    n = len(flat)
    return float(torch.cdist(flat, flat).sum() / (n * (n - 1))) if n >= 2 else 0.0


def per_class_diversity(fake: Tensor, fake_y: Tensor, real: Tensor, real_y: Tensor, num_classes: int,
                        per_class: int = 200) -> dict[str, Any]:
    """For each class: the mean pairwise distance of up to `per_class` generated samples over that of as many
    real ones (the first of each, so the caller's seeded order decides). Returns the ratios, their mean and
    the raw distances."""
    if len(fake) != len(fake_y) or len(real) != len(real_y):
        raise ConfigError("images and labels must be of one length")
    ratios, fake_d, real_d = [], [], []
    for k in range(num_classes):
        f, r = fake[fake_y == k][:per_class], real[real_y == k][:per_class]
        if len(f) < 2 or len(r) < 2:
            raise ConfigError(f"class {k}: need at least two generated and two real images, got {len(f)} and {len(r)}")
        fd, rd = mean_pairwise_l2(f), mean_pairwise_l2(r)
        fake_d.append(fd)
        real_d.append(rd)
        ratios.append(fd / rd)
    return {"ratio_mean": sum(ratios) / len(ratios), "ratio_min": min(ratios), "ratios": ratios,
            "fake_distance": fake_d, "real_distance": real_d, "per_class": per_class}
