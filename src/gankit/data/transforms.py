"""Image conversions shared by the image data sets: uint8 -> [-1, 1], resizing, channel count.

The generator ends in tanh, so real images are mapped to the same [-1, 1] range with x / 127.5 - 1.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError

MIN_IMAGE_SIZE = 8  # below this the DCGAN-style up/down-sampling stacks have nothing to work with
CHUNK = 2048  # images resized per interpolate call, to bound peak memory on 60k-image sets


def check_image_args(image_size: int | None, channels: int | None) -> None:
    """Reject sizes and channel counts the image pipeline cannot honour, before any file is read."""
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int)
                                   or image_size < MIN_IMAGE_SIZE):
        raise ConfigError(f"image_size must be an integer >= {MIN_IMAGE_SIZE}, got {image_size!r}")
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise ConfigError(f"channels must be 1 or 3, got {channels!r}")


def as_nchw_uint8(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W] or [N, H, W, C] -> uint8 [N, C, H, W]."""
    # copy if needed: cached IDX arrays are read-only views, which torch.from_numpy warns about
    t = torch.from_numpy(np.require(images, dtype=np.uint8, requirements=["C", "W"]))
    return t.unsqueeze(1) if t.dim() == 3 else t.permute(0, 3, 1, 2)  # [N, C, H, W]


def as_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 x / 127.5 - 1, the one conversion every image set and batch goes through (so a
    compact `Dataset.x` batch gets exactly the values a float data set holds); float tensors pass through."""
    return x.to(torch.float32) / 127.5 - 1.0 if x.dtype == torch.uint8 else x


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> the nearest uint8 pixels, the inverse of `as_float` (exact on its outputs)."""
    return ((x + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


def uint8_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W] or [N, H, W, C] -> float32 [N, C, H, W] in [-1, 1]."""
    return as_float(as_nchw_uint8(images)).contiguous()


def prepare_images(images: np.ndarray, image_size: int | None = None, channels: int | None = None) -> torch.Tensor:
    """uint8 [N, H, W(, C)] -> float32 [N, C', S, S] in [-1, 1], converted chunk by chunk straight into the output,
    so 60k MNIST digits at 64x64 RGB (2.9 GB) need no second full-size intermediate."""
    src = as_nchw_uint8(images)  # [N, C, H, W] uint8
    n, c, h, w = src.shape
    size = (h, w) if image_size is None else (image_size, image_size)
    c_out = c if channels is None else channels
    out = torch.empty(n, c_out, *size, dtype=torch.float32)  # [N, C', S, S]
    for i in range(0, n, CHUNK):
        part = as_float(src[i:i + CHUNK])
        if size != (h, w):
            part = resize(part, size[0])
        out[i:i + CHUNK] = set_channels(part, c_out)
    return out


def resize(x: torch.Tensor, image_size: int) -> torch.Tensor:
    """[N, C, H, W] in [-1, 1] -> [N, C, S, S]; antialiased bilinear so downscaling does not alias, clamped back to
    [-1, 1] because antialiasing filters can overshoot slightly."""
    n, c, h, w = x.shape
    if (h, w) == (image_size, image_size):
        return x
    out = torch.empty(n, c, image_size, image_size, dtype=torch.float32)  # [N, C, S, S]
    for i in range(0, n, CHUNK):  # chunked so the float intermediate never exists twice at full size
        part = F.interpolate(x[i:i + CHUNK], size=(image_size, image_size), mode="bilinear", antialias=True,
                             align_corners=False)
        out[i:i + CHUNK] = part.clamp_(-1.0, 1.0)
    return out


def set_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """[N, C, H, W] -> [N, channels, H, W]: 1 -> 3 repeats the grey channel; 3 -> 1 takes ITU-R 601 luma."""
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1 and channels == 3:
        return x.repeat(1, 3, 1, 1).contiguous()
    if c == 3 and channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype).view(1, 3, 1, 1)
        return (x * weights).sum(dim=1, keepdim=True).contiguous()
    raise ConfigError(f"cannot convert {c}-channel images to {channels} channels")
