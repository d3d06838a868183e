"""1-D sequences drawn as curves: generated series in small panels beside real ones, one panel per series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor

from .figures import new_figure, save_figure

MAX_PANELS = 16  # series per column block; more would shrink each curve past reading


def plot_sequences(fake: Tensor, real: Tensor | None, path: str | Path, title: str | None = None,
                   labels: list[str] | None = None) -> Path:
    """Up to 16 generated series [N, T] (green), and beside them as many real ones (blue), one small panel each,
    on a shared [-1.1, 1.1] value axis; `labels` titles the generated panels (e.g. their classes)."""
    f = fake.detach().cpu().float().numpy()[:MAX_PANELS]
    r = None if real is None else real.detach().cpu().float().numpy()[:len(f)]
    cols = 4 if len(f) > 4 else len(f)
    rows = -(-len(f) // cols)
    blocks = 1 if r is None else 2
    fig = new_figure(2.0 * cols * blocks, 1.2 * rows + 0.5)
    axes = np.asarray(fig.subplots(rows, cols * blocks, squeeze=False))
    t = np.arange(f.shape[1])
    for ax in axes.ravel():
        ax.set_axis_off()
    for b, (data, colour) in enumerate(((f, "#2ca02c"), (r, "#1f77b4"))[:blocks]):
        for i, series in enumerate(data):
            ax = axes[i // cols, b * cols + i % cols]
            ax.set_axis_on()
            ax.plot(t, series, color=colour, linewidth=1.0)
            ax.set_ylim(-1.1, 1.1)
            ax.set_xticks([])
            ax.set_yticks([])
            if b == 0 and labels is not None and i < len(labels):
                ax.set_title(labels[i], fontsize=7)
    heading = title or f"{len(f)} series"
    if r is not None:
        heading += "  (green: generated, blue: real)"
    fig.suptitle(heading, fontsize=9)
    return save_figure(fig, path, rect=(0, 0, 1, 0.95))
