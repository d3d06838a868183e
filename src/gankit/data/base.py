"""The one in-memory container every data source returns, so training and evaluation never care where data came from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: ImageNet's class count. A conditional G and D hold per-class weights and each sample grid a row per class, so a
#: stray label (2**40 in a labels array) or a folder of thousands of sub-folders is refused rather than asking for
#: terabytes or an image too tall to save
MAX_CLASSES = 1000


def subset_indices(total: int, n: int | None, seed: int) -> np.ndarray | None:
    """Indices of a seeded random subset of size n, in original order (None: keep all). Random rather than the
    first n because stored sets may be sorted by class (mnist5k is), and a prefix would then hold one class only."""
    if n is None or n >= total:
        return None
    perm = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
    return perm[:n].sort().values.numpy()


@dataclass
class Dataset:
    """A whole data set held as tensors.

    Images: `x` is float32 [N, C, H, W] in [-1, 1] (the range of a tanh generator), or, loaded with `compact=True`,
    the uint8 pixels [N, C, H, W] that stand for x / 127.5 - 1 (a quarter of the memory; `as_float` converts a
    batch, to the same float values; it lives in `data.transforms`). A compact `x` may be a view of a memory-mapped
    file (data sets past the memory budget): index it, as training does, and only the rows indexed are read.
    Toys: `x` is float32 [N, D] in the distribution's own coordinates, not rescaled, so mode centres and densities
    keep their published values.
    `y` is int64 [N] class labels, or None for unlabelled data (then `num_classes` is 0).
    """

    name: str
    x: torch.Tensor  # [N, C, H, W] images in [-1, 1] (or their uint8 pixels), or [N, D] toy points
    y: torch.Tensor | None  # [N] int64, or None
    num_classes: int
    class_names: list[str] | None = None

    def __post_init__(self) -> None:
        # Normalise dtype/layout once here so consumers can rely on them (these are programming errors, not user ones).
        if self.x.dim() not in (2, 4):
            raise ValueError(f"Dataset {self.name!r}: x must be [N, D] or [N, C, H, W], got shape {tuple(self.x.shape)}")
        compact = self.x.dtype == torch.uint8 and self.x.dim() == 4
        # .contiguous() and .to() return x itself when nothing changes: a uint8 tensor over a memory-mapped file
        # stays a view of the file here, never a copy in memory
        self.x = self.x.contiguous() if compact else self.x.to(torch.float32).contiguous()
        if self.y is not None:
            if self.y.shape != (self.x.shape[0],):
                raise ValueError(f"Dataset {self.name!r}: y has shape {tuple(self.y.shape)}, expected ({self.x.shape[0]},)")
            self.y = self.y.to(torch.int64).contiguous()
            if self.num_classes < 1:
                raise ValueError(f"Dataset {self.name!r}: labelled data needs num_classes >= 1")
        elif self.num_classes != 0:
            raise ValueError(f"Dataset {self.name!r}: unlabelled data must have num_classes == 0")
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ValueError(f"Dataset {self.name!r}: {len(self.class_names)} class names for {self.num_classes} classes")

    @property
    def is_image(self) -> bool:
        return self.x.dim() == 4

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) for images, (D,) for toys."""
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __repr__(self) -> str:  # the default would print the whole tensor
        labels = f"{self.num_classes} classes" if self.y is not None else "unlabelled"
        return f"Dataset({self.name!r}, n={len(self)}, sample_shape={self.sample_shape}, {labels})"
