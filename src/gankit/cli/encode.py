"""The `gankit encode` verb: the latent codes a run's encoder (BiGAN) gives images from a file or folder."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigError, shown


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("encode", help="map images to latent codes with a run's encoder (bigan)",
                       description="Encode images with the encoder E of a run trained with --method bigan and save "
                       "the codes E(x) as a float32 .npy array [N, z_dim], in the images' order.")
    p.add_argument("run", help="run directory or checkpoint file")
    p.add_argument("--images", required=True, metavar="PATH",
                   help="a folder of image files (sub-folders included) or a .npy/.npz of images, read as "
                   "`gankit evaluate --images` reads them")
    p.add_argument("--out", required=True, help=".npy file to write the codes to")
    p.set_defaults(func=cmd_encode)


def cmd_encode(args: argparse.Namespace) -> int:
    import io

    import numpy as np

    from ..api import load
    from ..atomic import atomic_write_bytes
    from ..evaluation.evaluate import read_images
    from .jsonout import check_file_target

    if not args.out.strip():
        raise ConfigError("--out must name a .npy file, got an empty path")
    check_file_target("--out", args.out)
    G = load(args.run)
    G.extra_net("encode")  # a run without an encoder is refused before the images are read
    x, _ = read_images(args.images, dataset=G.config.dataset)
    if tuple(x.shape[1:]) != G.data_shape:
        raise ConfigError(f"--images {shown(args.images)}: images of shape {tuple(x.shape[1:])}; this run's encoder "
                          f"takes {G.data_shape}")
    z = G.encode(x).cpu().numpy().astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, z)
    try:
        atomic_write_bytes(args.out, buf.getvalue())
    except OSError as e:
        raise ConfigError(f"--out {shown(args.out)}: cannot write ({e.strerror or e})") from None
    print(f"gankit: {len(z)} codes of size {z.shape[1]} from {G.source} -> {args.out}")
    return 0
