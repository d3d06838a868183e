"""Coloured MNIST: every MNIST digit drawn in a colour of its own on a background of its own, 3 channels.

Image i of a split is background * (1 - a) + stroke * a, a = the MNIST pixel / 255, with RGB colours drawn per
image from a fixed seed per split (so the data set is the same for every run, like MNIST itself): the stroke
uniform in [0.5, 1]^3, the background uniform in [0, 0.35]^3. The stroke is then always lighter than the
background (luminance at least 0.5 against at most 0.35), so the digit stays legible in grey: the input of the
colorize task (gankit.data.tasks), whose answer, the two colours, the grey image does not determine. Labels are
MNIST's. Made from the MNIST IDX files on the fly (a few seconds for the 60,000 training images); pixels are
uint8, so the whole set is 141 MB.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ..errors import ConfigError
from .base import Dataset, subset_indices
from .mnist import CLASS_NAMES, load_idx_dataset

NAME = "coloured-mnist"
CHANNELS = 3
COLOUR_SEED = {"train": 20_170_125, "test": 20_170_126}  # fixed: the colours belong to the data set, not a run
STROKE_MIN, BACKGROUND_MAX = 0.5, 0.35
CHUNK = 5000


def colours(n: int, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(stroke, background) RGB in [0, 1] of the n images of `split`.  # [n, 3] each"""
    g = torch.Generator().manual_seed(COLOUR_SEED[split])
    u = torch.rand((n, 2, CHANNELS), generator=g)
    return STROKE_MIN + (1 - STROKE_MIN) * u[:, 0], BACKGROUND_MAX * u[:, 1]


def colourise(images: np.ndarray, stroke: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Grey digits uint8 [N, 28, 28] in the given colours -> uint8 [N, 3, 28, 28]."""
    out = torch.empty((len(images), CHANNELS, *images.shape[1:]), dtype=torch.uint8)
    for i in range(0, len(images), CHUNK):  # float intermediates for a chunk at a time
        a = torch.from_numpy(np.array(images[i:i + CHUNK])).float()[:, None] / 255  # [c, 1, H, W]
        s, b = stroke[i:i + CHUNK, :, None, None], background[i:i + CHUNK, :, None, None]  # [c, 3, 1, 1]
        out[i:i + CHUNK] = ((b * (1 - a) + s * a) * 255).round().clamp(0, 255).to(torch.uint8)
    return out


def load_coloured_mnist(*, split: str = "train", data_dir: str | os.PathLike | None = None,
                        channels: int | None = None, n: int | None = None, seed: int = 0,
                        download: bool | None = None, compact: bool = False) -> Dataset:
    """Coloured MNIST of `split`, from the MNIST IDX files (found like `mnist`); `n` keeps a seeded subset."""
    if channels not in (None, CHANNELS):
        raise ConfigError(f"coloured-mnist has 3 channels (its colours are the point); channels={channels} would "
                          "drop them: use mnist for grey digits")
    images, labels = load_idx_dataset("mnist", split, data_dir=data_dir, download=download)
    stroke, background = colours(len(images), split)  # colours follow the image's index in the split
    idx = subset_indices(len(images), n, seed)
    if idx is not None:
        images, labels, stroke, background = images[idx], labels[idx], stroke[idx], background[idx]
    x = colourise(images, stroke, background)  # [N, 3, 28, 28] uint8
    if not compact:
        x = x.float() / 127.5 - 1.0
    return Dataset(NAME, x, torch.from_numpy(labels.astype(np.int64)), 10, list(CLASS_NAMES["mnist"]))
