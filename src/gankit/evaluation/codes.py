"""What an InfoGAN run's Q network reads off real images: its categorical code as an unsupervised classifier.

Chen et al. (2016, section 7.1) classify the MNIST test set by Q's most likely category, matched to the digit
classes one-to-one, and report about 5 % error. `code_accuracy` measures that for a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .. import checkpoint as ckpt
from ..config import TrainConfig
from ..errors import CheckpointError, ConfigError
from .clustering import cluster_accuracy


def load_q(run: str | Path) -> tuple[Any, TrainConfig, Path]:
    """The run's discriminator with Q's head (eval mode), its config and the checkpoint it came from."""
    from ..methods.infogan import build_info_networks

    file = ckpt.resolve(run)
    tensors, meta = ckpt.load(file)
    try:
        cfg = TrainConfig.from_dict(meta["config"], source=f"{file} (config)")
        shape = tuple(meta["data_shape"])
    except KeyError as e:
        raise CheckpointError(f"{file}: checkpoint metadata lacks {e}") from None
    if cfg.method != "infogan" or not cfg.info_cat:
        raise ConfigError(f"{file}: not an InfoGAN run with a categorical code (method {cfg.method!r})")
    D = build_info_networks(cfg, shape)[1]
    ckpt.unpack_module("D", D, tensors, file)
    return D.eval(), cfg, file


@torch.no_grad()
def predict_codes(D: Any, x: Tensor, n_cat: int, batch_size: int = 1000) -> Tensor:
    """Q's most likely category of each image.  x: [N, C, H, W] in [-1, 1] -> [N] int64"""
    out = [D(x[i:i + batch_size].float(), heads=True)[1][:, :n_cat].argmax(1) for i in range(0, len(x), batch_size)]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def code_accuracy(run: str | Path, x: Tensor, y: Tensor) -> dict[str, Any]:
    """Accuracy of the run's categorical code as a classifier of (x, y) under the best one-to-one map of code
    values to classes; `error` = 1 - accuracy, with the map and the confusion table (rows: code values)."""
    D, cfg, file = load_q(run)
    if len(x) != len(y) or not len(x):
        raise ConfigError(f"need as many labels as images, and some: got {len(x)} images, {len(y)} labels")
    n_classes = int(y.max()) + 1
    pred = predict_codes(D, x, cfg.info_cat)
    scores = cluster_accuracy(pred, y.long(), cfg.info_cat, n_classes)
    scores["error"] = 1.0 - scores["accuracy"]
    scores["protocol"] = {"run": str(file), "n": len(x), "codes": cfg.info_cat, "classes": n_classes,
                          "method": "argmax of Q's categorical logits; Hungarian one-to-one code -> class map"}
    return scores


def ink_moments(images: Tensor) -> tuple[Tensor, Tensor]:
    """(width, slant) of each image's ink, from its second moments: pixels weighted by brightness above black.

    width: the standard deviation of the ink's column position, in pixels. slant: cov(column, row) / var(row),
    the shear of the best line x = slant * y + b through the ink, with rows counted upward (a stroke leaning right
    at the top has slant > 0).  images: [N, 1, H, W] in [-1, 1] -> ([N], [N])"""
    w = (images.float()[:, 0] + 1).clamp(min=0)  # [N, H, W], 0 on black
    h, wd = w.shape[1:]
    rows = -torch.arange(h, dtype=torch.float32).view(1, h, 1)  # upward
    cols = torch.arange(wd, dtype=torch.float32).view(1, 1, wd)
    mass = w.sum(dim=(1, 2)).clamp(min=1e-8)
    mx, my = (w * cols).sum(dim=(1, 2)) / mass, (w * rows).sum(dim=(1, 2)) / mass
    dx, dy = cols - mx.view(-1, 1, 1), rows - my.view(-1, 1, 1)
    var_x = (w * dx * dx).sum(dim=(1, 2)) / mass
    var_y = (w * dy * dy).sum(dim=(1, 2)) / mass
    cov = (w * dx * dy).sum(dim=(1, 2)) / mass
    return var_x.sqrt(), cov / var_y.clamp(min=1e-8)


def pearson(a: Tensor, b: Tensor) -> float:
    """Pearson correlation of two vectors (0 when either is constant)."""
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    den = float(a.norm() * b.norm())
    return float((a * b).sum()) / den if den > 0 else 0.0
