"""The training data: a data set by name (gankit.data), or the user's own images or vectors from Python."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..config import PYTHON_DATA, TrainConfig
from ..data import Dataset, load_dataset
from ..errors import ConfigError


def load_training_data(cfg: TrainConfig, data: Dataset | None = None) -> Dataset:
    """`data` if given (already converted by `as_dataset`), else the config's data set, pixels kept as uint8."""
    if data is None:
        if cfg.dataset in PYTHON_DATA:
            raise ConfigError(f"this run trained on data given from Python ({cfg.dataset!r}); pass the same data "
                              "again: gankit.train(config, data=...) or gankit.resume(run, data=...)")
        data = load_dataset(cfg.dataset, split="train", data_dir=cfg.data_dir, image_size=cfg.image_size,
                            channels=cfg.channels, seed=cfg.seed, toy_options=cfg.toy_options or None, compact=True)
    if len(data) < cfg.batch_size:
        raise ConfigError(f"data set {cfg.dataset!r} has {len(data)} samples, fewer than batch size {cfg.batch_size}")
    return data


def as_dataset(data: Any) -> Dataset:
    """The user's data as a gankit Dataset. Accepted: a gankit Dataset; a tensor or numpy array of images
    [N, C, H, W] / [N, H, W] (uint8 pixels, or floats in [-1, 1]) or of vectors [N, D]; a pair (x, labels); a
    `torch.utils.data.Dataset` whose items are x or (x, label)."""
    if isinstance(data, Dataset):
        return data
    y: Any = None
    if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, torch.utils.data.TensorDataset):
        data = _collect(data)
    elif isinstance(data, torch.utils.data.TensorDataset):
        data = tuple(data.tensors)
    if isinstance(data, tuple):
        if len(data) == 1:
            data = data[0]
        elif len(data) == 2:
            data, y = data
        else:
            raise ConfigError(f"data as a tuple must be (x,) or (x, labels), got {len(data)} items")
    x = _tensor(data, "data")
    if x.dim() == 3:  # [N, H, W] grey images
        x = x[:, None]
    if x.dim() not in (2, 4) or x.shape[0] == 0:
        raise ConfigError(f"data must be images [N, C, H, W] / [N, H, W] or vectors [N, D] with N > 0, got shape "
                          f"{list(x.shape)}")
    if x.dim() == 4 and x.shape[1] not in (1, 3):
        raise ConfigError(f"images must have 1 or 3 channels in [N, C, H, W] order, got shape {list(x.shape)}")
    if x.dtype == torch.uint8:
        if x.dim() != 4:
            raise ConfigError("uint8 data must be images [N, C, H, W] or [N, H, W]; give vectors as floats")
    elif x.is_floating_point():
        if not torch.isfinite(x).all():
            raise ConfigError("data holds NaN or infinite values")
        lo, hi = float(x.min()), float(x.max())
        if x.dim() == 4 and (lo < -1.0 - 1e-6 or hi > 1.0 + 1e-6):
            raise ConfigError(f"float images must lie in [-1, 1] (the range of a tanh generator), got "
                              f"[{lo:.3g}, {hi:.3g}]; rescale them (x / 127.5 - 1) or pass uint8 pixels")
    else:
        raise ConfigError(f"data must be uint8 images or floating-point values, got dtype {x.dtype}")
    labels, k = None, 0
    if y is not None:
        labels = _tensor(y, "labels")
        if labels.is_floating_point() or labels.dtype == torch.bool or labels.dim() != 1:
            raise ConfigError(f"labels must be integers of shape [N], got {labels.dtype} {list(labels.shape)}")
        if len(labels) != len(x):
            raise ConfigError(f"{len(labels)} labels for {len(x)} samples")
        if int(labels.min()) < 0:
            raise ConfigError(f"labels must be >= 0, got {int(labels.min())}")
        k = int(labels.max()) + 1
    name = PYTHON_DATA[0] if x.dim() == 4 else PYTHON_DATA[1]
    return Dataset(name, x, labels, k)


def _tensor(v: Any, what: str) -> torch.Tensor:
    if isinstance(v, np.ndarray):
        if v.dtype == object:
            raise ConfigError(f"{what}: object arrays are not data; give a numeric array")
        return torch.from_numpy(np.ascontiguousarray(v))
    if torch.is_tensor(v):
        return v.detach().cpu()
    raise ConfigError(f"{what} must be a torch tensor or numpy array, got {type(v).__name__}")


def _collect(ds: Any) -> tuple[torch.Tensor, ...] | torch.Tensor:
    """Read a map-style torch Dataset once into memory: items x or (x, label)."""
    try:
        n = len(ds)
    except TypeError:
        raise ConfigError("a torch Dataset given as data must have a length (map-style)") from None
    if n == 0:
        raise ConfigError("the torch Dataset given as data is empty")
    xs, ys = [], []
    for i in range(n):
        item = ds[i]
        if isinstance(item, (tuple, list)):
            if len(item) < 1 or len(item) > 2:
                raise ConfigError(f"data item {i} has {len(item)} parts; items must be x or (x, label)")
            xs.append(torch.as_tensor(item[0]))
            if len(item) == 2:
                ys.append(int(item[1]))
        else:
            xs.append(torch.as_tensor(item))
    if ys and len(ys) != n:
        raise ConfigError("some data items have labels and some do not")
    x = torch.stack(xs)
    return (x, torch.tensor(ys, dtype=torch.long)) if ys else x
