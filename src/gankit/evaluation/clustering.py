"""Scoring an unsupervised clustering against class labels: the best one-to-one map of clusters to classes.

An unsupervised model (InfoGAN's categorical code) names its clusters in an order of its own; its accuracy is that
of the cluster-to-class assignment that maximises the matches (the Hungarian method). scipy's
`linear_sum_assignment` solves it when scipy is installed; otherwise an exact dynamic programme over the subsets of
classes does, for up to MAX_EXACT classes (10 classes: 10 x 2^10 states).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..errors import ConfigError

MAX_EXACT = 20


def confusion(pred: Tensor, true: Tensor, n_clusters: int, n_classes: int) -> Tensor:
    """counts[i, j]: samples in cluster i with class j.  [N], [N] -> [n_clusters, n_classes] int64"""
    if pred.shape != true.shape or pred.dim() != 1:
        raise ConfigError(f"predictions and labels must be two vectors of one length, got {list(pred.shape)} and "
                          f"{list(true.shape)}")
    if len(pred) and (int(pred.min()) < 0 or int(pred.max()) >= n_clusters or int(true.min()) < 0
                      or int(true.max()) >= n_classes):
        raise ConfigError(f"cluster ids must be in 0..{n_clusters - 1} and classes in 0..{n_classes - 1}")
    flat = pred.long() * n_classes + true.long()
    return torch.bincount(flat, minlength=n_clusters * n_classes).view(n_clusters, n_classes)


def best_assignment(counts: Tensor) -> dict[int, int]:
    """The one-to-one map cluster -> class that maximises the summed counts (clusters beyond the number of
    classes, or classes beyond the clusters, stay unmatched)."""
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:
        return exact_assignment(counts)
    r, c = linear_sum_assignment(counts.double().numpy(), maximize=True)
    return {int(i): int(j) for i, j in zip(r, c)}


def exact_assignment(counts: Tensor) -> dict[int, int]:
    """best_assignment by dynamic programming: tables[i][mask] is the largest sum of rows 0..i matched one-to-one
    to the columns in `mask`, with the column row i took (rows <= columns; a tall table is solved transposed)."""
    rows, cols = counts.shape
    if rows > cols:
        return {i: j for j, i in exact_assignment(counts.T).items()}
    if cols > MAX_EXACT:
        raise ConfigError(f"assigning {cols} classes needs scipy (pip install scipy); the built-in exact "
                          f"assignment takes up to {MAX_EXACT}")
    w = counts.tolist()
    tables: list[dict[int, tuple[float, int]]] = []
    prev: dict[int, tuple[float, int]] = {0: (0.0, -1)}
    for i in range(rows):
        table: dict[int, tuple[float, int]] = {}
        for mask, (total, _) in prev.items():
            for j in range(cols):
                if not mask >> j & 1:
                    m, t = mask | 1 << j, total + w[i][j]
                    if m not in table or t > table[m][0]:
                        table[m] = (t, j)
        tables.append(table)
        prev = table
    out: dict[int, int] = {}
    if not rows:
        return out
    mask = max(prev, key=lambda m: prev[m][0])
    for i in range(rows - 1, -1, -1):  # walk back: row i took column j; the rows before it matched mask - {j}
        j = tables[i][mask][1]
        out[i] = j
        mask &= ~(1 << j)
    return out


def cluster_accuracy(pred: Tensor, true: Tensor, n_clusters: int, n_classes: int) -> dict[str, Any]:
    """Accuracy of clusters `pred` against classes `true` under the best one-to-one assignment, the assignment,
    and the confusion table."""
    counts = confusion(pred, true, n_clusters, n_classes)
    mapping = best_assignment(counts)
    hits = sum(int(counts[i, j]) for i, j in mapping.items())
    return {"accuracy": hits / max(1, len(pred)), "assignment": mapping, "confusion": counts.tolist()}
