"""`folder:PATH` -- train on your own pictures: every PNG/JPEG/BMP/WebP under PATH, made square and equal-sized.

Each image is resized so its shorter side is `image_size` and centre-cropped (the DCGAN/LSUN recipe), which keeps
aspect ratio rather than squashing. Sub-folders of PATH that hold images become classes (sorted by name), the
torchvision ImageFolder convention, so conditional GANs work on a labelled folder with no extra metadata.

With `compact=True` the decoded pixels stay uint8; if they exceed the memory budget (`budget.memory_budget`)
they are decoded once into a uint8 .npy cache file (`store.py`), keyed by the folder, every image's name, size and
modification time and the loading arguments, and read from disk through a memory map from then on.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ..errors import DataError
from .base import MAX_CLASSES, Dataset
from .store import ImageStore, build_images, cache_file, over_budget
from .transforms import as_float

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
DEFAULT_IMAGE_SIZE = 64
DEFAULT_CHANNELS = 3
PARALLEL_THRESHOLD = 64  # below this a thread pool costs more than it saves
DECODE_WINDOW = 1024  # images decoded at a time: only these exist as separate arrays before being stored


def list_images(root: Path) -> list[Path]:
    """Image files under `root`, recursively and sorted (so the order, hence any seeded subset, is stable);
    hidden files and folders (.DS_Store, .ipynb_checkpoints) are skipped."""
    if not root.exists():
        raise DataError(f"{root}: no such directory")
    if not root.is_dir():
        raise DataError(f"{root}: not a directory")
    files = [p for p in _walk(root) if p.suffix.lower() in IMAGE_EXTENSIONS]
    if not files:
        raise DataError(f"{root}: no images ({'/'.join(IMAGE_EXTENSIONS)}) found")
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _walk(root: Path) -> Iterator[Path]:
    """Every file under `root` outside hidden folders, links to files included, links to folders not followed.
    A folder that cannot be listed is an error naming it: skipping it, as Path.rglob does, would silently drop a
    whole class of a labelled folder."""
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as e:
            raise DataError(f"{folder}: cannot list folder ({e.strerror or e})") from None
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file():
                    yield Path(entry.path)
            except OSError as e:
                raise DataError(f"{entry.path}: cannot read ({e.strerror or e})") from None


def _to_mode(im: Image.Image, mode: str) -> Image.Image:
    """Convert to "L" or "RGB": 16-bit grey is scaled (PIL would clip it), transparency is flattened onto white."""
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        arr = np.asarray(im, dtype=np.float64)
        if arr.max(initial=0) > 255:
            arr = arr / 257.0  # 16-bit range -> 8-bit
        im = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return im if im.mode == mode else im.convert(mode)


def load_image(path: Path, image_size: int, channels: int) -> np.ndarray:
    """Decode one file to uint8 [S, S] (channels=1) or [S, S, 3]; any decoder failure -> DataError naming the file."""
    mode = "L" if channels == 1 else "RGB"
    try:
        with Image.open(path) as im:
            w, h = im.size
            scale = image_size / min(w, h)
            if scale < 1:  # lets the JPEG decoder downscale by 2^k for free on big photos
                im.draft(None, (math.ceil(w * scale), math.ceil(h * scale)))
            im = ImageOps.exif_transpose(im)  # phone photos store rotation in EXIF
            im = _to_mode(im, mode)
            w, h = im.size
            scale = image_size / min(w, h)
            new = (max(image_size, round(w * scale)), max(image_size, round(h * scale)))
            resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
            im = im.resize(new, resample, reducing_gap=3.0 if scale < 1 else None)
            left, top = (new[0] - image_size) // 2, (new[1] - image_size) // 2
            im = im.crop((left, top, left + image_size, top + image_size))
            return np.asarray(im, dtype=np.uint8)
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, struct.error, ... for broken files
        reason = " ".join((str(e) or type(e).__name__).split())
        raise DataError(f"{path}: cannot read image ({type(e).__name__}: {reason})") from None


def load_folder(path: str | os.PathLike, *, image_size: int | None = None, channels: int | None = None,
                n: int | None = None, seed: int = 0, name: str | None = None, compact: bool = False) -> Dataset:
    """All images under `path` as float32 [N, C, S, S] in [-1, 1], or with `compact` their uint8 pixels (read from
    disk past the memory budget: see the module doc); labelled by first-level sub-folder if there are any.

    `n` keeps a seeded random subset of the files (decoded only those), in file order.
    """
    root = Path(path).expanduser()
    image_size = DEFAULT_IMAGE_SIZE if image_size is None else image_size
    channels = DEFAULT_CHANNELS if channels is None else channels
    files = list_images(root)
    rel = [f.relative_to(root).parts for f in files]
    top_level = [f for f, parts in zip(files, rel) if len(parts) == 1]
    labelled = len(top_level) < len(files)
    if labelled and top_level:
        raise DataError(f"{root}: has images both directly inside it (e.g. {top_level[0].name}) and in sub-folders; "
                        f"put every image in a class sub-folder, or none")
    class_names = sorted({parts[0] for parts in rel}) if labelled else None
    if class_names and len(class_names) > MAX_CLASSES:
        raise DataError(f"{root}: {len(class_names)} class sub-folders; gankit trains on at most {MAX_CLASSES} "
                        "classes")
    labels = [class_names.index(parts[0]) for parts in rel] if class_names else None

    if n is not None and n < len(files):
        keep = torch.randperm(len(files), generator=torch.Generator().manual_seed(seed))[:n].sort().values.tolist()
        files = [files[i] for i in keep]
        labels = [labels[i] for i in keep] if labels is not None else None

    shape = (len(files), channels, image_size, image_size)
    if compact:
        target = cache_file(root, _fingerprint(root, files, image_size, channels)) if over_budget(shape) else None
        x = build_images(shape, target, lambda store: _decode_into(store, files, image_size, channels))
    else:
        x = torch.empty(shape, dtype=torch.float32)  # [N, C, S, S] in [-1, 1], filled window by window
        i = 0
        for part in _decode(files, image_size, channels):
            x[i:i + len(part)] = as_float(part)
            i += len(part)
    y = torch.tensor(labels, dtype=torch.int64) if labels is not None else None
    return Dataset(name or f"folder:{path}", x, y, len(class_names) if class_names else 0, class_names)


def _decode(files: list[Path], image_size: int, channels: int) -> Iterator[torch.Tensor]:
    """uint8 [n, C, S, S] windows of the decoded `files`, in order."""
    workers = min(8, os.cpu_count() or 1) if len(files) >= PARALLEL_THRESHOLD else 0
    pool = ThreadPoolExecutor(max_workers=workers) if workers else None  # PIL decodes without the GIL
    try:
        for a in range(0, len(files), DECODE_WINDOW):
            window = files[a:a + DECODE_WINDOW]
            arrays = (list(pool.map(lambda f: load_image(f, image_size, channels), window)) if pool
                      else [load_image(f, image_size, channels) for f in window])
            t = torch.from_numpy(np.stack(arrays))  # [n, S, S] or [n, S, S, 3]
            yield t.unsqueeze(1) if t.dim() == 3 else t.permute(0, 3, 1, 2)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _decode_into(store: ImageStore, files: list[Path], image_size: int, channels: int) -> None:
    for part in _decode(files, image_size, channels):
        store.add(part)


def _fingerprint(root: Path, files: list[Path], image_size: int, channels: int) -> dict[str, object]:
    """What the decoded pixels depend on: which files (the subset included), their sizes and modification times,
    and the size and channels asked for."""
    h = hashlib.sha256()
    for f in files:
        try:
            st = f.stat()
        except OSError as e:
            raise DataError(f"{f}: cannot read image ({e.strerror or e})") from None
        h.update(f"{f.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return {"files": h.hexdigest(), "count": len(files), "image_size": image_size, "channels": channels}
