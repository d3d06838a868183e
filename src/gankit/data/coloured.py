"""Coloured MNIST: every MNIST digit drawn in a colour of its own on a background of its own, 3 channels.

Image i of a split is background * (1 - a) + stroke * a, a = the MNIST pixel / 255, with RGB colours drawn per
image from a fixed seed per split (so the data set is the same for every run, like MNIST itself): the stroke
uniform in [0.5, 1]^3, the background uniform in [0, 0.35]^3. The stroke is then always lighter than the
background (luminance at least 0.5 against at most 0.35), so the digit stays legible in grey: the input of the
colorize task (gankit.data.tasks), whose answer, the two colours, the grey image does not determine. Labels are
MNIST's. Made from the MNIST IDX files on the fly (a few seconds for the 60,000 training images); pixels are
uint8, so the whole set is 141 MB.

Coloured Fashion-MNIST (`coloured-fashion`) is made the same way from Fashion-MNIST, with colour seeds of its own.
Sizes: 28 (native), 32 (the 28x28 image centred on a 32x32 canvas of its background colour, as LeNet padded
MNIST: the strokes keep their scale) and 64 (the 32x32 image upscaled 2x, antialiased bilinear) -- the sizes the
growing methods and the 32/64 DCGAN take.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ..errors import ConfigError
from .base import Dataset, subset_indices
from .mnist import CLASS_NAMES, load_idx_dataset
from .transforms import as_float, resize, to_pixels

NAME = "coloured-mnist"
#: each coloured set and the grey set it is made from
SOURCES = {"coloured-mnist": "mnist", "coloured-fashion": "fashion-mnist"}
SIZES = (28, 32, 64)
PAD_SIZE = 32
CHANNELS = 3
COLOUR_SEED = {"train": 20_170_125, "test": 20_170_126}  # fixed: the colours belong to the data set, not a run
FASHION_SEED_OFFSET = 1000  # coloured-fashion's colours: other seeds, fixed too
STROKE_MIN, BACKGROUND_MAX = 0.5, 0.35
CHUNK = 5000


def colours(n: int, split: str, name: str = NAME) -> tuple[torch.Tensor, torch.Tensor]:
    """(stroke, background) RGB in [0, 1] of the n images of `split` of coloured set `name`.  # [n, 3] each"""
    offset = FASHION_SEED_OFFSET if name == "coloured-fashion" else 0
    g = torch.Generator().manual_seed(COLOUR_SEED[split] + offset)
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
                        download: bool | None = None, compact: bool = False, name: str = NAME,
                        image_size: int | None = None) -> Dataset:
    """Coloured set `name` (coloured-mnist or coloured-fashion) of `split`, from the IDX files of its grey source
    (found like `mnist`), at `image_size` 28 (None), 32 or 64; `n` keeps a seeded subset."""
    if channels not in (None, CHANNELS):
        raise ConfigError(f"{name} has 3 channels (its colours are the point); channels={channels} would drop "
                          f"them: use {SOURCES[name]} for grey images")
    if image_size not in (None, *SIZES):
        raise ConfigError(f"{name} comes at 28x28 (native), 32x32 (padded) or 64x64 (padded, upscaled); "
                          f"image_size={image_size} is not offered")
    images, labels = load_idx_dataset(SOURCES[name], split, data_dir=data_dir, download=download)
    stroke, background = colours(len(images), split, name)  # colours follow the image's index in the split
    idx = subset_indices(len(images), n, seed)
    if idx is not None:
        images, labels, stroke, background = images[idx], labels[idx], stroke[idx], background[idx]
    if image_size in (PAD_SIZE, 2 * PAD_SIZE):  # the grey image padded with empty canvas: background colour
        pad = (PAD_SIZE - images.shape[1]) // 2
        images = np.pad(np.asarray(images), ((0, 0), (pad, pad), (pad, pad)))
    x = colourise(images, stroke, background)  # [N, 3, S, S] uint8, S = 28 or 32
    if image_size == 2 * PAD_SIZE:
        x = to_pixels(resize(as_float(x), image_size))  # [N, 3, 64, 64], back to pixels
    if not compact:
        x = as_float(x)
    return Dataset(name, x, torch.from_numpy(labels.astype(np.int64)), 10, list(CLASS_NAMES[SOURCES[name]]))
