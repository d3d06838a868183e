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
