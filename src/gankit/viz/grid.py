"""Image grids without torchvision: one reshape/permute, no per-image Python loop."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..atomic import atomic_output


def to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] floats -> uint8 in [0, 255], rounded and clamped.  # same shape"""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def make_grid(images: Tensor, nrow: int | None = None, padding: int = 2, pad_value: int = 255,
              scale: int = 1) -> np.ndarray:
    """Tile images [N, C, H, W] in [-1, 1] into one uint8 array [H', W', C], `nrow` images per row
    (default: a square), `padding` pixels of `pad_value` between and around tiles, then upsample by `scale`
    (nearest) so 28x28 digits stay crisp when viewed."""
    if images.dim() != 4:
        raise ValueError(f"make_grid expects [N, C, H, W] images, got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    ncol = math.ceil(n / nrow)
    x = to_uint8(images).cpu()
    if ncol * nrow > n:  # fill the last row with padding-coloured tiles
        x = torch.cat([x, torch.full((ncol * nrow - n, c, h, w), pad_value, dtype=torch.uint8)])
    p = padding
    tiles = torch.full((ncol * nrow, c, h + p, w + p), pad_value, dtype=torch.uint8)
    tiles[:, :, p:, p:] = x
    grid = tiles.view(ncol, nrow, c, h + p, w + p).permute(0, 3, 1, 4, 2)  # [rows, H+p, cols, W+p, C]
    grid = grid.reshape(ncol * (h + p), nrow * (w + p), c)
    out = torch.full((grid.shape[0] + p, grid.shape[1] + p, c), pad_value, dtype=torch.uint8)
    out[: grid.shape[0], : grid.shape[1]] = grid  # close the right and bottom borders
    arr = out.numpy()
    if scale > 1:
        arr = arr.repeat(scale, axis=0).repeat(scale, axis=1)
    return arr


def array_to_image(arr: np.ndarray) -> Image.Image:
    """[H, W, 1] -> greyscale "L", [H, W, 3] -> "RGB"."""
    return Image.fromarray(arr[..., 0], "L") if arr.shape[-1] == 1 else Image.fromarray(arr, "RGB")


def save_grid(images: Tensor, path: str | Path, nrow: int | None = None, padding: int = 2,
              scale: int = 1) -> Path:
    """Write a grid of [N, C, H, W] images in [-1, 1] as a PNG (greyscale for C=1, RGB for C=3), atomically."""
    path = Path(path)
    image = array_to_image(make_grid(images, nrow=nrow, padding=padding, scale=scale))
    with atomic_output(path) as tmp:
        image.save(tmp)
    return path
