"""Where a data set's uint8 pixels go: a tensor in memory, or, when they exceed the memory budget, a `.npy` file
in the cache that training then reads through a memory map.

Cache files live in `$GANKIT_CACHE/images/` (default `~/.cache/gankit/images/`), one per source and set of
loading arguments; the name holds a hash of the source's path, size and modification time, so an edited source
gets a new file (the old one stays until deleted by hand).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .budget import memory_budget
from .mnist import cache_dir
from .npyio import NpyWriter, map_tensor

CACHE_VERSION = 1  # bump when the way pixels are made changes, so no stale cache is reused


def over_budget(shape: tuple[int, ...]) -> bool:
    """Whether uint8 images of `shape` are too big to hold in memory under `memory_budget()`."""
    return int(np.prod(shape, dtype=np.int64)) > memory_budget()


def cache_file(source: Path, key: dict[str, Any]) -> Path:
    """The cache file for images made from `source` with the loading arguments and source fingerprint in `key`."""
    text = json.dumps({"version": CACHE_VERSION, "source": str(source.resolve()), **key}, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:20]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", source.name)[:40] or "images"
    return cache_dir() / "images" / f"{stem}-{digest}.npy"


class ImageStore:
    """Takes uint8 [n, C, H, W] windows in order until `shape[0]` images are in, in memory or in `file`."""

    def __init__(self, shape: tuple[int, ...], file: Path | None) -> None:
        self.shape, self.file, self.filled = tuple(shape), file, 0
        self._mem = torch.empty(self.shape, dtype=torch.uint8) if file is None else None
        self._writer = NpyWriter(file, self.shape, np.uint8) if file is not None else None

    def add(self, rows: torch.Tensor) -> None:
        """rows: uint8 [n, C, H, W]."""
        if self._mem is not None:
            self._mem[self.filled:self.filled + len(rows)] = rows
        else:
            assert self._writer is not None
            self._writer.write(rows.numpy())
        self.filled += len(rows)

    def finish(self) -> torch.Tensor:
        """uint8 [N, C, H, W]: the tensor in memory, or the written file mapped."""
        if self._mem is not None:
            return self._mem
        assert self._writer is not None and self.file is not None
        return map_tensor(self._writer.close())

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()


def build_images(shape: tuple[int, ...], file: Path | None, fill: Callable[[ImageStore], None]) -> torch.Tensor:
    """uint8 images of `shape`: mapped from `file` if it already holds them, else made by `fill` (which adds
    every image to the store it is given) into memory (`file` None) or into `file`, then mapped."""
    if file is not None and file.is_file():
        try:
            x = map_tensor(file)
        except Exception:  # an unreadable cache file is remade, never trusted
            x = None
        if x is not None and tuple(x.shape) == tuple(shape) and x.dtype == torch.uint8:
            return x
    store = ImageStore(shape, file)
    try:
        fill(store)
    except BaseException:
        store.abort()
        raise
    if store.filled != shape[0]:
        store.abort()
        raise ValueError(f"made {store.filled} images of {shape[0]}")
    return store.finish()
