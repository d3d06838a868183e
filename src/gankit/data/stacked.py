"""Stacked MNIST: the 1,000-mode benchmark of Unrolled GAN (Metz et al. 2017), VEEGAN (Srivastava et al. 2017) and
PacGAN (Lin et al. 2018).

Each sample puts three MNIST digits, drawn independently and uniformly at random from the images of one MNIST
split, into the three channels of one [3, 28, 28] image; its label is 100 * d1 + 10 * d2 + d3, so there are
10^3 = 1,000 modes. A generator's coverage of them is counted by classifying each channel with an MNIST classifier
(`gankit.evaluation.metrics.stacked_modes`).

Size of the training set: 128,000 by default. That is `num_training_sample = 128000` in the configuration of the
stacked-MNIST experiment in VEEGAN's setting in the PacGAN authors' code (github.com/fjxmlzn/PacGAN,
stacked_MNIST_experiments/VEEGAN_experiment/config.py); that configuration scores 26,000 generated samples, the
count VEEGAN's text gives ("We used a total of 26000 samples"). The Unrolled GAN setting instead draws fresh stacks
on the fly (as the same code's unrolled-GAN configuration notes) and scores 25,600 samples. The 128,000 was found in
the authors' code, not in the papers' text, which the search available here did not reach. Their code draws the
digits from MNIST's train and test images together; here they come from one split, so train and test stay apart.
The test split (stacks of MNIST test digits, from a seed stream disjoint from the training one) defaults to 25,600.

Digits are drawn uniformly over *images*, as in the authors' code, so mode frequencies follow MNIST's slightly
unequal class frequencies (digit 1 is 11.2% of the training split, digit 5 is 9.0%): the real data itself is at a
KL of 0.004 nats (train split; 0.005 test) from uniform over the 1,000 modes, before any sampling noise.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ..errors import ConfigError
from .base import Dataset
from .mnist import load_idx_dataset
from .transforms import resize, uint8_to_tensor

NAME = "stacked-mnist"
NUM_MODES = 1000
CHANNELS = 3
DEFAULT_N: dict[str, int] = {"train": 128_000, "test": 25_600}
TEST_SEED_OFFSET = 1_000_003  # the test split draws from a stream disjoint from any small training seed
CLASS_NAMES: list[str] = [f"{k:03d}" for k in range(NUM_MODES)]  # "042": red 0, green 4, blue 2
_PLACE = torch.tensor([100, 10, 1], dtype=torch.int64)  # label = digits @ _PLACE


def stacked_labels(digits: torch.Tensor) -> torch.Tensor:
    """[N, 3] digits (channel order) -> [N] mode labels 100 * d1 + 10 * d2 + d3."""
    return (digits.to(torch.int64) * _PLACE).sum(1)


def make_stacked(images: np.ndarray, labels: np.ndarray, *, n: int, seed: int = 0,
                 image_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack MNIST `images` (uint8 [M, 28, 28]) with `labels` [M] into n three-channel images.

    Returns (x float32 [n, 3, S, S] in [-1, 1], y int64 [n] mode labels, index int64 [n, 3]: the source image of
    each channel). The n x 3 source indices come from one `torch.randint` on a generator seeded with `seed`, so the
    result is a function of (images, n, seed, image_size). Each source digit in use is converted (and resized) once,
    then one `index_select` gathers all 3n channels straight into the output.
    """
    digit = torch.from_numpy(np.asarray(labels).astype(np.int64))  # [M]
    gen = torch.Generator().manual_seed(int(seed))
    index = torch.randint(0, len(digit), (n, CHANNELS), generator=gen)  # [n, 3]
    used, where = torch.unique(index.view(-1), return_inverse=True)  # at most min(M, 3n) distinct digits
    src = uint8_to_tensor(np.asarray(images)[used.numpy()])  # [U, 1, 28, 28] in [-1, 1]
    if image_size is not None:
        src = resize(src, image_size)  # resizing is per channel, so it commutes with stacking: U digits, not 3n
    size = src.shape[-1]
    x = torch.empty(n * CHANNELS, size, size, dtype=torch.float32)  # row 3 i + c: channel c of stack i
    torch.index_select(src[:, 0], 0, where, out=x)
    return x.view(n, CHANNELS, size, size), stacked_labels(digit[index]), index


def load_stacked_mnist(*, split: str = "train", data_dir: str | os.PathLike | None = None,
                       image_size: int | None = None, channels: int | None = None, n: int | None = None,
                       seed: int = 0, download: bool | None = None) -> Dataset:
    """The Stacked MNIST data set: `n` stacks (default 128,000 for train, 25,600 for test) of digits from MNIST's
    `split`, found like `mnist` is (data_dir, else $GANKIT_DATA, else the cache, downloading if allowed)."""
    if channels is not None and channels != CHANNELS:
        raise ConfigError(f"stacked-mnist has 3 channels by construction (one MNIST digit per channel); "
                          f"channels={channels} would merge the three digits; leave channels unset or use 3")
    n = DEFAULT_N[split] if n is None else n
    images, labels = load_idx_dataset("mnist", split, data_dir=data_dir, download=download)
    stream = int(seed) + (TEST_SEED_OFFSET if split == "test" else 0)
    x, y, _ = make_stacked(images, labels, n=n, seed=stream, image_size=image_size)
    return Dataset(NAME, x, y, NUM_MODES, list(CLASS_NAMES))
