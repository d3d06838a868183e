"""One picture for any generator output: a grid for images, a density for 1-D points, a scatter for 2-D, curves
for series [N, T]."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import ConfigError


def save_samples(x: torch.Tensor, path: str | Path, *, real: torch.Tensor | None = None, nrow: int | None = None,
                 title: str | None = None) -> Path:
    """Draw samples x to `path`: images [N, C, H, W] as a grid (small images at twice their size), points [N, 1]
    as a density, [N, 2] as a scatter and series [N, T > 2] as curves, each beside `real` data (its first N rows)
    where given."""
    from . import plot_density_1d, plot_points_2d, save_grid

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if x.dim() == 4:
        save_grid(x, path, nrow=nrow or None, scale=2 if x.shape[-1] <= 32 else 1)
        return path
    if x.dim() == 2 and x.shape[1] > 2:  # series [N, T]: one curve per sample (gankit.viz.sequences)
        from .sequences import plot_sequences

        return plot_sequences(x, real if real is None or real.dim() == 2 else None, path, title=title)
    if x.dim() != 2 or x.shape[1] not in (1, 2):
        raise ConfigError(f"cannot draw samples of shape {list(x.shape[1:])} as a picture; save them as .npy")
    ref = None if real is None else real[:min(len(real), len(x))].cpu()
    title = title if title is not None else f"{len(x)} samples"
    plot = plot_density_1d if x.shape[1] == 1 else plot_points_2d
    plot(x.cpu(), ref, path, title=title)
    return path
