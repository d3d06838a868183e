"""The `gankit translate` verb: a run's translator (pix2pix, or any method with a "translate" network) applied to
the user's images from a file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, DataError, shown

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("translate", help="turn images into images with a run's translator (pix2pix)",
                       description="Apply the translator of a run trained with --task (edges, superres4, superres2, "
                       "inpaint, colorize) to images and save the outputs: a float32 .npy [N, C, 28, 28] in [-1, 1], "
                       "or a .png of input | output pairs. The images are the task's input: edge maps, 7x7 or 14x14 "
                       "images, grey images, or images with missing pixels (inpaint: --mask, or NaN in a float "
                       "array; a given mask wins, NaN is then allowed only inside it).")
    p.add_argument("run", help="run directory or checkpoint file")
    p.add_argument("--images", required=True, metavar="PATH",
                   help=".npy / .npz (key images or x) of images [N, H, W], [N, C, H, W] or [N, H, W, C]: uint8 "
                   "pixels or floats in [-1, 1]; or one image file (.png, .jpg, ...)")
    p.add_argument("--mask", metavar="PATH", help="inpaint: .npy / .npz (key mask) of the missing pixels, 1 (or "
                   "255, or True) missing, 0 kept: [H, W] for every image, [N, H, W] or [N, 1, H, W]; or an image file "
                   "(white missing)")
    p.add_argument("--out", required=True, help="output file: .npy (the outputs) or .png (input | output pairs)")
    p.set_defaults(func=cmd_translate)


def read_array(path: str, flag: str, keys: tuple[str, ...], channels: int, *, pixels: bool = True) -> torch.Tensor:
    """An array file or image file as a float tensor [N, C, H, W]: with `pixels`, uint8 values map to [-1, 1];
    without (masks), values are kept, except that uint8 255 (an image's white) counts as 1."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{flag} {shown(path)}: no such file")
    suffix = p.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        from PIL import Image

        try:
            with Image.open(p) as im:
                a = np.asarray(im.convert("L" if channels == 1 else "RGB"))
        except OSError as e:
            raise DataError(f"{flag} {shown(path)}: not a readable image ({e})") from None
        a = a[None] if a.ndim == 2 else a[None]  # one image: [1, H, W] or [1, H, W, C]
    elif suffix in (".npy", ".npz"):
        try:
            loaded = np.load(p, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise DataError(f"{flag} {shown(path)}: not a readable .npy/.npz ({str(e).splitlines()[0]})") from None
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                names = list(loaded.files)
                key = next((k for k in keys if k in names), names[0] if len(names) == 1 else None)
                if key is None:
                    raise DataError(f"{flag} {shown(path)}: a .npz needs an array named {' or '.join(keys)}; it "
                                    f"holds {', '.join(names) or 'nothing'}")
                a = loaded[key]
        else:
            a = loaded
    else:
        raise ConfigError(f"{flag} {shown(path)}: give a .npy, .npz or image file")
    if a.dtype == np.bool_:
        a = a.astype(np.float32)
    if a.dtype == np.uint8:
        t = torch.from_numpy(a.astype(np.float32) / 127.5 - 1.0 if pixels else (a > 0).astype(np.float32)
                             if a.max(initial=0) == 255 else a.astype(np.float32))
    elif np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer):
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    else:
        raise DataError(f"{flag} {shown(path)}: arrays of dtype {a.dtype} are not images")
    if t.dim() == 2:
        t = t[None, None]
    elif t.dim() == 3:
        t = t[:, None]
    elif t.dim() == 4 and t.shape[1] not in (1, 2, 3, 4) and t.shape[-1] in (1, 3):
        t = t.permute(0, 3, 1, 2)
    if t.dim() != 4:
        raise DataError(f"{flag} {shown(path)}: an array of shape {list(a.shape)} is not images")
    return t.contiguous()


def cmd_translate(args: argparse.Namespace) -> int:
    from ..api import load
    from ..atomic import atomic_output
    from ..data.tasks import find_task
    from .jsonout import check_file_target

    out = Path(args.out)
    if not args.out.strip() or out.suffix.lower() not in (".npy", ".png"):
        raise ConfigError(f"--out {shown(args.out)}: name a .npy or .png file")
    check_file_target("--out", args.out)
    G = load(args.run)
    net = G.extra_net("translate")  # a run without a translator is refused before the images are read
    channels = int(getattr(net, "in_shape", G.data_shape)[0])
    x = read_array(args.images, "--images", ("images", "x"), channels)
    mask = None
    if args.mask is not None:
        if (G.config.task or "") != "inpaint":
            raise ConfigError(f"--mask applies to inpainting runs only; this run's task is {G.config.task!r}")
        mask = read_array(args.mask, "--mask", ("mask", "masks"), 1, pixels=False)
        if args.mask.lower().endswith(IMAGE_SUFFIXES):
            mask = (mask > 0).float()  # an image: white (any non-black) pixels are missing
        if mask.shape[0] == 1:
            mask = mask[0, 0]  # one mask for every image
    try:
        y = G.translate(x, mask=mask)
    except ConfigError as e:
        raise ConfigError(f"--images {shown(args.images)}: {e}") from None
    try:
        if out.suffix.lower() == ".npy":
            with atomic_output(out) as tmp, open(tmp, "wb") as f:
                np.save(f, y.cpu().numpy().astype(np.float32))
        else:
            from ..viz import save_grid

            task = find_task(G.config.task)
            # each input drawn as the task shows it (a small image upsampled, a hole as mid grey) beside its output
            seen = task.display(task.user_input(x, mask, G.data_shape), y.shape[1]) if task is not None else x
            pairs = torch.stack([seen.to(y.dtype).cpu(), y.cpu()], 1).flatten(0, 1)  # [2N, C, 28, 28]
            save_grid(pairs, out, nrow=2 * min(4, len(y)), scale=2)
    except OSError as e:
        raise ConfigError(f"--out {shown(args.out)}: cannot write ({e.strerror or e})") from None
    print(f"gankit: {len(y)} images translated by {G.source} ({G.config.task}) -> {out}")
    return 0

