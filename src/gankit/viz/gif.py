"""Animated GIFs from frames (arrays, PIL images or PNG paths) with PIL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import atomic_output
from .grid import array_to_image

Frame = np.ndarray | Image.Image | str | Path


def _as_image(frame: Frame) -> Image.Image:
    if isinstance(frame, Image.Image):
        return frame
    if isinstance(frame, np.ndarray):
        return array_to_image(frame if frame.ndim == 3 else frame[..., None])
    with Image.open(frame) as im:
        return im.copy()


def save_gif(frames: Sequence[Frame], path: str | Path, duration_ms: int = 200, loop: int = 0) -> Path:
    """Write frames as a looping GIF (atomically); frames of mixed modes are converted to RGB, and to the first
    frame's size."""
    if not frames:
        raise ValueError("save_gif needs at least one frame")
    images = [_as_image(f) for f in frames]
    mode = images[0].mode if all(im.mode == images[0].mode for im in images) and images[0].mode in ("L", "P") \
        else "RGB"
    size = images[0].size
    images = [im.convert(mode) if im.mode != mode else im for im in images]
    images = [im if im.size == size else im.resize(size, Image.NEAREST) for im in images]
    path = Path(path)
    with atomic_output(path) as tmp:
        images[0].save(tmp, save_all=True, append_images=images[1:], duration=duration_ms, loop=loop,
                       optimize=False, disposal=1)
    return path
