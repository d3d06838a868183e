"""Memorisation: does the generator copy its training images?

Each generated sample's pixel-space L2 distance to its nearest training image is set against the same distance
for real held-out (test) images, which the generator never saw and which are not copies. A generator that
memorises has many samples nearer to a training image than almost any test image is (Webster et al. 2019 and
the nearest-neighbour checks of the GAN papers)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def nearest_distances(queries: Tensor, reference: Tensor, chunk: int = 500) -> Tensor:
    """L2 distance from each query [N, ...] to its nearest reference row [M, ...] (same shape).  # [N]"""
    if queries.shape[1:] != reference.shape[1:]:
        raise ValueError(f"queries {tuple(queries.shape)} and reference {tuple(reference.shape)} differ in shape")
    q = queries.reshape(len(queries), -1).double()
    r = reference.reshape(len(reference), -1).double()
    r_sq = (r * r).sum(1)  # [M]
    out = []
    for block in q.split(chunk):
        d2 = (block * block).sum(1, keepdim=True) - 2 * block @ r.T + r_sq  # [b, M]
        out.append(d2.min(dim=1).values.clamp_min(0).sqrt())
    return torch.cat(out)


def memorisation_scores(generated: Tensor, test: Tensor, train: Tensor) -> dict[str, Any]:
    """Nearest-training-image distances of generated vs test samples.

    `copy_fraction`: the share of generated samples nearer to a training image than 99 % of test images are
    (about 0.01 when the generator copies no more than chance; near 1 for a generator that replays its data).
    `median_ratio`: median generated distance / median test distance (< 1: closer to the training set than
    new real data is)."""
    d_gen = nearest_distances(generated, train)
    d_test = nearest_distances(test, train)
    p1 = torch.quantile(d_test, 0.01)
    return {"gen_to_train_median": float(d_gen.median()), "test_to_train_median": float(d_test.median()),
            "median_ratio": float(d_gen.median() / d_test.median()),
            "copy_fraction": float((d_gen < p1).double().mean()), "test_p1_distance": float(p1),
            "n_generated": len(generated), "n_test": len(test), "n_train": len(train)}
