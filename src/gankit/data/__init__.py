"""Data sets for gankit: one entry point, `load_dataset(name)`, returning a whole data set as tensors.

Images come back as float32 [N, C, H, W] in [-1, 1] (matching a tanh generator), or with `compact=True` as their
uint8 pixels; toy distributions as float32 [N, D] in their own coordinates. Image sets are held in memory up to a
budget (`$GANKIT_MEMORY_BUDGET`, default a quarter of RAM); compact uint8 images beyond it (`npy:` files and
`folder:` images) are read from disk through a memory map instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch

from ..errors import ConfigError
from .arrays import load_array_file
from .base import Dataset, subset_indices
from .coloured import load_coloured_mnist
from .budget import BUDGET_ENV, memory_budget
from .folder import load_folder
from .mnist import CLASS_NAMES, load_idx_dataset, load_mnist5k
from .series import SERIES_NAMES, is_series, make_series
from .stacked import load_stacked_mnist
from .toy import TOY_MODES, TOY_NAMES, TOY_OPTIONS, gaussian1d_params, is_toy, make_toy
from .transforms import as_nchw_uint8, check_image_args, prepare_images

__all__ = ["BUDGET_ENV", "DATASET_NAMES", "Dataset", "SERIES_NAMES", "TOY_MODES", "TOY_OPTIONS", "gaussian1d_params",
           "is_series", "is_toy", "load_dataset", "memory_budget"]

IMAGE_NAMES: tuple[str, ...] = ("mnist5k", "mnist", "fashion-mnist", "stacked-mnist", "coloured-mnist",
                                 "coloured-fashion")
SPOKEN_DIGITS = "spoken-digits"  # gankit.data.speech.NAME (imported when used: `python -m gankit.data.speech`)
AUDIO_NAMES: tuple[str, ...] = (SPOKEN_DIGITS,)  # sound, held as spectrogram images (gankit.audio)
DATASET_NAMES: tuple[str, ...] = IMAGE_NAMES + AUDIO_NAMES + TOY_NAMES + SERIES_NAMES
FOLDER_PREFIX = "folder:"
NPY_PREFIX = "npy:"
SPLITS = ("train", "test")
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "mnist_5k": "mnist5k",
            "mnist-5k": "mnist5k", "stacked_mnist": "stacked-mnist", "stackedmnist": "stacked-mnist",
            "coloured_mnist": "coloured-mnist", "colored-mnist": "coloured-mnist", "colored_mnist": "coloured-mnist",
            "spoken_digits": SPOKEN_DIGITS,
            "coloured_fashion": "coloured-fashion", "colored-fashion": "coloured-fashion",
            "colored_fashion": "coloured-fashion"}


def _canonical(name: str) -> str:
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def load_dataset(name: str, *, split: str = "train", data_dir: str | os.PathLike | None = None,
                 image_size: int | None = None, channels: int | None = None, n: int | None = None,
                 seed: int = 0, download: bool | None = None,
                 toy_options: Mapping[str, float] | None = None, compact: bool = False) -> Dataset:
    """Load data set `name`: one of `DATASET_NAMES`, "folder:PATH" (every image file under a folder; sub-folders
    are classes) or "npy:PATH" (a .npy array of images, or a .npz with `images` or `x` and optional integer
    `labels` or `y`; uint8 pixels [N, H, W], [N, H, W, C] or [N, C, H, W] with C 1 or 3, or floats in [-1, 1] or
    [0, 1]; see `data.arrays`).

    split: "train" or "test" (toys draw the test split from a separate seed stream; mnist5k has no test split).
    data_dir: where MNIST/Fashion-MNIST IDX files live (else $GANKIT_DATA, else the cache, downloading if allowed).
    image_size / channels: resize to S x S and/or give 1 or 3 channels (images only; None keeps the native ones:
        64 x 64 RGB for folders, the array's own for npy:; stacked-mnist is 3-channel only). n: keep at most n
        samples -- a seeded random subset for stored sets, the generated count for toys and stacked-mnist (default
        128,000 train / 25,600 test stacks). seed: drives toy and stacked-mnist generation and subsetting.
        download: None means yes unless GANKIT_OFFLINE=1. toy_options: parameters of a toy, e.g. {"mu": 4.0,
        "sigma": 0.5} for gaussian1d.
    compact: keep images as uint8 pixels (see `Dataset`; training reads batches through `as_float`): MNIST /
        Fashion-MNIST / mnist5k at their native size and channels, folder: images always, npy: uint8 arrays always
        (resized or recoloured ones rounded back to pixels). Past the memory budget (`memory_budget()`,
        $GANKIT_MEMORY_BUDGET) folder: and npy: pixels are read from disk through a memory map: a uint8 .npy of
        [N, C, H, W] or [N, H, W] needing no change is mapped where it lies, anything else is converted once into
        a cache file under $GANKIT_CACHE/images/. Other data (float arrays included) stays float32 in memory.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"data set name must be a non-empty string, got {name!r}")
    if split not in SPLITS:
        raise ConfigError(f"split must be 'train' or 'test', got {split!r}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ConfigError(f"n must be a positive integer, got {n!r}")
    toy_options = toy_options or None

    for prefix, loader, example in ((FOLDER_PREFIX, load_folder, "folder:./my_images"),
                                    (NPY_PREFIX, load_array_file, "npy:./images.npy or npy:./data.npz")):
        if name.startswith(prefix):  # a path to the user's own images
            path = name[len(prefix):]
            if not path:
                raise ConfigError(f"{prefix!r} needs a path, e.g. {example}")
            _no_toy_options(name, toy_options)
            check_image_args(image_size, channels)
            return loader(path, image_size=image_size, channels=channels, n=n, seed=seed, name=name,
                          compact=compact)

    key = _canonical(name)
    if is_toy(key):
        if image_size is not None or channels is not None:
            raise ConfigError(f"image_size/channels apply to image data sets only, not the toy {key!r}")
        return make_toy(key, n=n, split=split, seed=seed, toy_options=toy_options)
    if is_series(key):  # 1-D time series [N, T] (gankit.data.series); toy_options may set their length
        if image_size is not None or channels is not None:
            raise ConfigError(f"image_size/channels apply to image data sets only, not the series {key!r}")
        return make_series(key, n=n, split=split, seed=seed, options=toy_options)

    if key == SPOKEN_DIGITS:  # rendered offline with espeak-ng, read as log-mel spectrogram images [N, 1, 64, 64]
        from .speech import load_spoken_digits

        _no_toy_options(key, toy_options)
        return load_spoken_digits(split=split, data_dir=data_dir, image_size=image_size, channels=channels, n=n,
                                  seed=seed)
    if key not in IMAGE_NAMES:
        raise ConfigError(f"unknown data set {name!r}; choose one of {', '.join(DATASET_NAMES)}, folder:PATH "
                          "or npy:PATH")
    _no_toy_options(key, toy_options)
    check_image_args(image_size, channels)
    if key == "stacked-mnist":  # generated from MNIST: n is the number of stacks made, not a subset
        return load_stacked_mnist(split=split, data_dir=data_dir, image_size=image_size, channels=channels, n=n,
                                  seed=seed, download=download)
    if key in ("coloured-mnist", "coloured-fashion"):  # seeded colours per image; 28, 32 (padded) or 64
        return load_coloured_mnist(split=split, data_dir=data_dir, channels=channels, n=n, seed=seed,
                                   download=download, compact=compact, name=key, image_size=image_size)
    if key == "mnist5k":
        if split != "train":
            raise ConfigError("mnist5k has only a train split; use 'mnist' (or 'fashion-mnist') for a test split")
        images, labels = load_mnist5k()
    else:
        images, labels = load_idx_dataset(key, split, data_dir=data_dir, download=download)
    idx = subset_indices(len(images), n, seed)
    if idx is not None:  # subset before converting/resizing so only the kept images cost anything
        images, labels = images[idx], labels[idx]
    native = image_size in (None, images.shape[1]) and channels in (None, 1)
    # [N, C, S, S] in [-1, 1], or the native [N, 1, 28, 28] uint8 pixels when compact
    x = as_nchw_uint8(images) if compact and native else prepare_images(images, image_size, channels)
    y = torch.from_numpy(labels.astype(np.int64))
    class_names = list(CLASS_NAMES["fashion-mnist" if key == "fashion-mnist" else "mnist"])
    return Dataset(key, x, y, 10, class_names)


def _no_toy_options(name: str, toy_options: Mapping[str, float] | None) -> None:
    if toy_options:
        raise ConfigError(f"toy_options apply to toy data sets ({', '.join(TOY_NAMES)}) only, not {name!r}")
