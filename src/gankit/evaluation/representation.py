"""Scores of a learned representation: 1-nearest-neighbour accuracy on features (BiGAN's E(x), Donahue et al.
2017, section 4.1) and how well reconstructions G(E(x)) keep the class, read by the shipped domain classifier."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def nearest_neighbour_accuracy(train: Tensor, train_y: Tensor, test: Tensor, test_y: Tensor, *,
                               metric: str = "cosine", chunk: int = 1000) -> float:
    """The fraction of `test` rows whose nearest `train` row (cosine similarity, or Euclidean distance with
    metric="euclidean") carries the same label; ties go to the lower train index.
    train: [N, F], train_y: [N]; test: [M, F], test_y: [M]."""
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    a, b = train.double(), test.double()
    if metric == "cosine":
        a, b = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)
    right = 0
    for i in range(0, len(b), chunk):
        q = b[i:i + chunk]
        # cosine: the largest dot product of unit rows; Euclidean: the smallest ||a||^2 - 2 a.q (||q||^2 is common)
        score = q @ a.T if metric == "cosine" else 2 * q @ a.T - (a * a).sum(1)[None]  # [m, N]
        right += int((train_y[score.argmax(1)] == test_y[i:i + chunk]).sum())
    return right / len(b)


@torch.no_grad()
def reconstruction_scores(G: Any, x: Tensor, y: Tensor, classifier: Any, batch_size: int = 500) -> dict[str, Any]:
    """Reconstructions G(E(x)) of images x [N, 1, 28, 28] in [-1, 1] with labels y [N], scored by `classifier`
    (a gankit FeatureNet): its accuracy on the reconstructions and on the originals, and the mean pixel L2 between
    them (per image, images in [-1, 1])."""
    rec = torch.cat([G(G.encode(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]).cpu()
    _, p_rec = classifier.embed(rec)
    _, p_orig = classifier.embed(x)
    return {"reconstruction_accuracy": float((p_rec.argmax(1) == y).float().mean()),
            "original_accuracy": float((p_orig.argmax(1) == y).float().mean()),
            "reconstruction_l2": float((rec - x).flatten(1).norm(dim=1).mean()), "n": len(x)}
