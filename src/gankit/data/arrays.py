"""`npy:PATH` -- images from a NumPy file: a `.npy` array, or a `.npz` holding `images` (or `x`) and optionally
`labels` (or `y`, integer class indices, which make conditional training possible).

Accepted images: uint8 pixels as [N, H, W], [N, H, W, C] or [N, C, H, W] (C = 1 or 3), or floats (float16/32/64)
in the same layouts, in [-1, 1] or [0, 1]. The float range is read off the values: any value below -0.5 means
[-1, 1]; none below 0 means [0, 1]; values down to just below 0 fit neither for sure and are refused, as are NaNs,
infinities and anything outside [-1, 1]. Pickled (object) arrays are never loaded.

With `compact=True` uint8 images stay uint8 (resized or recoloured in float, then rounded back to pixels), and
when they exceed the memory budget (`budget.memory_budget`) they are read from disk: a C-ordered uint8 .npy of
[N, C, H, W] or [N, H, W] that needs no change is memory-mapped where it lies; anything else is converted once
into a cache file (`store.py`) that is mapped. Float images, and every load without `compact`, are float32 in
[-1, 1] in memory, as for the other image sets.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .base import MAX_CLASSES, Dataset, subset_indices
from .budget import FALLBACK_BUDGET, physical_memory
from .npyio import READ_ERRORS, NpyInfo, map_tensor, npy_info, read_rows
from .store import ImageStore, build_images, cache_file, over_budget
from .transforms import as_float, resize, set_channels, to_pixels

NPY_SUFFIXES: tuple[str, ...] = (".npy", ".npz")
IMAGE_KEYS = ("images", "x")
LABEL_KEYS = ("labels", "y")
WINDOW_BYTES = 32 * 1024**2  # source bytes read and converted at a time: bounds the memory a load needs on top
DARK_HALF = -0.5  # a [-1, 1] image set reaches below this (its darker half); a [0, 1] set has no negative values
RANGE_TOLERANCE = 1e-3  # float16 rounding and tanh outputs may overshoot the range by this much


@dataclass
class ArraySource:
    """An image array read a window of rows at a time, from memory (.npz members, Fortran-ordered .npy) or from
    a C-ordered .npy file (never mapped: see npyio)."""

    path: Path
    shape: tuple[int, ...]
    dtype: np.dtype
    array: np.ndarray | None = None
    info: NpyInfo | None = None

    def rows(self, start: int, stop: int) -> np.ndarray:
        if self.array is not None:
            return self.array[start:stop]
        assert self.info is not None
        return read_rows(self.info, start, stop)

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def describe(self) -> str:
        return f"{self.path}: {self.dtype} array of shape {list(self.shape)}"


def load_array_file(path: str | os.PathLike, *, image_size: int | None = None, channels: int | None = None,
                    n: int | None = None, seed: int = 0, name: str | None = None,
                    compact: bool = False) -> Dataset:
    """Images (and labels, from a .npz) of the NumPy file `path` as a `Dataset` (see the module doc): native size
    and channels unless `image_size` (S x S: centre square, then antialiased resize) or `channels` (1 or 3) say
    otherwise; `n` keeps a seeded random subset, in file order."""
    file = Path(path).expanduser()
    source, labels = _open(file)
    layout = image_layout(source)
    kind = "uint8" if source.dtype == np.uint8 else float_range(source)
    idx = subset_indices(source.shape[0], n, seed)
    y = None
    if labels is not None:
        y = torch.from_numpy(labels.astype(np.int64))
        y = y[torch.from_numpy(idx)] if idx is not None else y
    c, h, w = _chw(source.shape, layout)
    size = (h, w) if image_size is None else (image_size, image_size)
    c_out = c if channels is None else channels
    shape = (source.shape[0] if idx is None else len(idx), c_out, *size)

    if compact and kind == "uint8":
        on_disk = over_budget(shape)
        if on_disk and _maps_in_place(source, layout, idx, shape):
            x = map_tensor(file)
            x = x.unsqueeze(1) if layout == "NHW" else x  # [N, C, H, W], a view of the map
        else:
            target = cache_file(file, _fingerprint(file, image_size, channels, n, seed)) if on_disk else None
            x = build_images(shape, target, lambda store: _fill_uint8(store, source, layout, idx, size, c_out))
    else:
        x = _float_images(source, layout, kind, idx, shape)
    num_classes = int(labels.max()) + 1 if labels is not None else 0
    return Dataset(name or f"npy:{path}", x, y, num_classes)


# ------------------------------------------------------------------------------------------------- reading
def _open(file: Path) -> tuple[ArraySource, np.ndarray | None]:
    """The image source and the labels (validated) of a .npy / .npz file."""
    if not file.exists():
        raise DataError(f"{file}: no such file")
    if file.is_dir():
        raise DataError(f"{file}: is a directory; npy: takes a .npy or .npz file (folder:PATH takes image folders)")
    suffix = file.suffix.lower()
    if suffix == ".npy":
        info = npy_info(file)
        if info.fortran_order:  # rare; rows are not contiguous on disk, so read it whole
            return ArraySource(file, info.shape, info.dtype, array=_np_load(file)), None
        return ArraySource(file, info.shape, info.dtype, info=info), None
    if suffix == ".npz":
        return _open_npz(file)
    raise DataError(f"{file}: not a .npy or .npz file")


def _np_load(file: Path) -> np.ndarray:
    try:
        return np.ascontiguousarray(np.load(file, allow_pickle=False))
    except READ_ERRORS as e:
        raise DataError(f"{file}: cannot read ({' '.join(str(e).split())})") from None


def _pick_key(file: Path, keys: list[str], wanted: tuple[str, ...], what: str) -> str | None:
    found = [k for k in wanted if k in keys]
    if len(found) > 1:
        raise DataError(f"{file}: holds both {found[0]!r} and {found[1]!r}; keep one {what} array")
    return found[0] if found else None


def _open_npz(file: Path) -> tuple[ArraySource, np.ndarray | None]:
    """A .npz's images and labels, both read into memory (members of a zip cannot be mapped)."""
    try:
        _check_member_sizes(file)
        with np.load(file, allow_pickle=False) as z:
            keys = list(z.files)
            image_key = _pick_key(file, keys, IMAGE_KEYS, "image")
            label_key = _pick_key(file, keys, LABEL_KEYS, "label")
            if image_key is None:
                held = ", ".join(map(repr, keys)) or "nothing"
                raise DataError(f"{file}: no 'images' (or 'x') array; it holds {held}")
            images = _member(z, file, image_key)
            labels = _member(z, file, label_key) if label_key else None
    except DataError:
        raise
    except READ_ERRORS as e:  # not a zip, truncated, ...
        raise DataError(f"{file}: not a readable .npz file ({' '.join(str(e).split())})") from None
    source = ArraySource(file, tuple(images.shape), images.dtype, array=np.ascontiguousarray(images))
    if labels is not None:
        labels = check_labels(file, labels, source.shape[0] if images.ndim else 0)
    return source, labels


def _check_member_sizes(file: Path) -> None:
    """A .npz's members are decompressed into memory, at most the size each declares in the zip directory (the
    zip reader stops there): one declaring more than half the machine's memory is refused before it is inflated."""
    limit = (physical_memory() or 2 * FALLBACK_BUDGET) // 2
    with zipfile.ZipFile(file) as zf:
        for info in zf.infolist():
            if info.file_size > limit:
                raise DataError(f"{file}: member {info.filename!r} unpacks to {info.file_size} bytes, more than "
                                f"half of this machine's memory; store the images as a .npy (read from disk)")


def _member(z: np.lib.npyio.NpzFile, file: Path, key: str) -> np.ndarray:
    try:
        return z[key]
    except ValueError as e:
        if "pickle" in str(e).lower() or "object" in str(e).lower():
            raise DataError(f"{file}: array {key!r} holds Python objects (pickled); store a numeric array") from None
        raise


def check_labels(file: Path, labels: np.ndarray, n_images: int) -> np.ndarray:
    """Labels must be integer class indices [N], one per image, none negative."""
    if labels.ndim != 1:
        raise DataError(f"{file}: labels must be one class index per image, shape [N]; got shape {list(labels.shape)}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{file}: labels must be integers (class indices); got {labels.dtype}")
    if len(labels) != n_images:
        raise DataError(f"{file}: {len(labels)} labels for {n_images} images")
    if len(labels) and labels.min() < 0:
        raise DataError(f"{file}: labels must be >= 0; found {int(labels.min())}")
    if len(labels) and labels.max() >= MAX_CLASSES:  # the class count is the largest label + 1
        raise DataError(f"{file}: labels must be class indices below {MAX_CLASSES}; found {int(labels.max())}")
    return labels


# ---------------------------------------------------------------------------------------------- validating
def image_layout(source: ArraySource) -> str:
    """"NHW", "NHWC" or "NCHW", read off the shape; refuses anything else with the file, shape and dtype."""
    shape = source.shape
    if len(shape) not in (3, 4):
        raise DataError(f"{source.describe()}: images must be [N, H, W], [N, H, W, C] or [N, C, H, W] "
                        f"(got {len(shape)} dimensions)")
    if shape[0] == 0 or 0 in shape[1:]:
        raise DataError(f"{source.describe()}: holds no images")
    if not (source.dtype == np.uint8 or np.issubdtype(source.dtype, np.floating)):
        raise DataError(f"{source.describe()}: images must be uint8 pixels (0-255) or floats in [-1, 1] or [0, 1] "
                        f"(e.g. convert with .astype(np.uint8))")
    if len(shape) == 3:
        return "NHW"
    first, last = shape[1] in (1, 3), shape[3] in (1, 3)
    if first and last:
        raise DataError(f"{source.describe()}: ambiguous layout: both dimension 1 and dimension 3 could be the "
                        f"channels; images must be larger than 3 pixels")
    if last:
        return "NHWC"
    if first:
        return "NCHW"
    raise DataError(f"{source.describe()}: channels must be 1 or 3, in dimension 1 ([N, C, H, W]) or 3 "
                    f"([N, H, W, C])")


def _chw(shape: tuple[int, ...], layout: str) -> tuple[int, int, int]:
    if layout == "NHW":
        return 1, shape[1], shape[2]
    if layout == "NHWC":
        return shape[3], shape[1], shape[2]
    return shape[1], shape[2], shape[3]


def _window(source: ArraySource) -> int:
    return max(1, WINDOW_BYTES // max(1, source.row_bytes))


def float_range(source: ArraySource) -> str:
    """"[-1, 1]" or "[0, 1]" for a float image array (see the module doc), read in windows; else a DataError
    naming the file, shape, dtype and the range found."""
    lo, hi, finite = np.inf, -np.inf, True
    step = _window(source)
    for a in range(0, source.shape[0], step):
        part = source.rows(a, min(a + step, source.shape[0]))
        finite = finite and bool(np.isfinite(part).all())
        if not finite:
            break
        lo, hi = min(lo, float(part.min())), max(hi, float(part.max()))
    if not finite:
        raise DataError(f"{source.describe()}: holds NaN or infinite values")
    found = f"values in [{lo:.4g}, {hi:.4g}]"
    if lo < -1 - RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        hint = "; 0-255 pixels should be stored as uint8" if lo >= 0 and hi <= 255 else ""
        raise DataError(f"{source.describe()}: {found}, outside [-1, 1] and [0, 1]{hint}")
    if lo < DARK_HALF:
        return "[-1, 1]"
    if lo >= -RANGE_TOLERANCE:
        return "[0, 1]"
    raise DataError(f"{source.describe()}: {found}: ambiguous, neither clearly [-1, 1] (nothing below "
                    f"{DARK_HALF}) nor [0, 1] (negative values)")


# ---------------------------------------------------------------------------------------------- converting
def _windows(source: ArraySource, idx: np.ndarray | None) -> Iterator[np.ndarray]:
    """The source's rows in order (only those in the sorted `idx`, if given), a window at a time."""
    step, total = _window(source), source.shape[0]
    for a in range(0, total, step):
        b = min(a + step, total)
        if idx is None:
            yield source.rows(a, b)
            continue
        sel = idx[np.searchsorted(idx, a):np.searchsorted(idx, b)]
        if len(sel):  # read from the first kept row to the last, not the whole window
            yield source.rows(int(sel[0]), int(sel[-1]) + 1)[sel - sel[0]]


def _nchw(rows: np.ndarray, layout: str) -> torch.Tensor:
    t = torch.from_numpy(np.require(rows, requirements=["W"]))  # own copy where the source was read-only
    if layout == "NHW":
        return t.unsqueeze(1)
    return t.permute(0, 3, 1, 2) if layout == "NHWC" else t


def _reshape(x: torch.Tensor, size: tuple[int, int], channels: int) -> torch.Tensor:
    """Float [n, C, H, W] in [-1, 1] -> [n, channels, S, S]: a non-square image keeps its centre square (as the
    folder source crops), then the antialiased resize of the other image sets."""
    h, w = x.shape[2:]
    if (h, w) != size:
        if h != w:
            s = min(h, w)
            top, left = (h - s) // 2, (w - s) // 2
            x = x[:, :, top:top + s, left:left + s]
        x = resize(x.contiguous(), size[0])
    return set_channels(x, channels)


def _fill_uint8(store: ImageStore, source: ArraySource, layout: str, idx: np.ndarray | None,
                size: tuple[int, int], channels: int) -> None:
    for rows in _windows(source, idx):
        t = _nchw(rows, layout)  # uint8 [n, C, H, W]
        if tuple(t.shape[2:]) != size or t.shape[1] != channels:
            t = to_pixels(_reshape(as_float(t), size, channels))
        store.add(t)


def _float_images(source: ArraySource, layout: str, kind: str, idx: np.ndarray | None,
                  shape: tuple[int, ...]) -> torch.Tensor:
    """float32 [N, C, S, S] in [-1, 1], filled window by window (no full-size intermediate)."""
    out = torch.empty(shape, dtype=torch.float32)
    i = 0
    for rows in _windows(source, idx):
        t = _nchw(rows, layout)
        if kind == "uint8":
            t = as_float(t)
        else:
            t = t.to(torch.float32)
            t = (t * 2 - 1 if kind == "[0, 1]" else t).clamp_(-1.0, 1.0)
        t = _reshape(t, tuple(shape[2:]), shape[1])
        out[i:i + len(t)] = t
        i += len(t)
    return out


def _maps_in_place(source: ArraySource, layout: str, idx: np.ndarray | None, shape: tuple[int, ...]) -> bool:
    """Whether the file itself is the data set: a C-ordered .npy of uint8 [N, C, H, W] or [N, H, W], all rows, no
    resizing or recolouring."""
    return (source.info is not None and layout in ("NCHW", "NHW") and idx is None
            and shape == (source.shape[0], *_chw(source.shape, layout)))


def _fingerprint(file: Path, image_size: int | None, channels: int | None, n: int | None,
                 seed: int) -> dict[str, object]:
    st = file.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "image_size": image_size, "channels": channels,
            "n": n, "seed": seed if n is not None else None}
