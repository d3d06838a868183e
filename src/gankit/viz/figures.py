"""Figures through matplotlib's object API (Figure + Agg canvas): no pyplot state, so the caller's backend is never
touched and nothing accumulates across thousands of calls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..atomic import atomic_output

__all__ = ["figure_to_array", "new_figure", "save_figure"]


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of `width` x `height` inches, drawn by the Agg canvas."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 100,
                rect: tuple[float, float, float, float] | None = None) -> Path:
    """Lay `fig` out tightly (within `rect`, in figure coordinates, when given: room for a suptitle) and write it
    as a PNG at `path` (atomically, gankit.atomic), parent folders created, headless; returns the path."""
    fig.tight_layout(rect=rect)
    path = Path(path)
    FigureCanvasAgg(fig)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    return path


def figure_to_array(fig: Figure, dpi: int = 80) -> np.ndarray:
    """Render a figure to an RGB uint8 array [H, W, 3] (a GIF frame)."""
    fig.set_dpi(dpi)
    fig.tight_layout()
    canvas = fig.canvas
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
