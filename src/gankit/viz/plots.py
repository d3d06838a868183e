"""Plots written headless through matplotlib's object API (Figure + Agg canvas), so the caller's pyplot
backend and global state are never touched, and nothing accumulates across thousands of calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from .figures import save_figure


def plot_losses(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Loss curves and, when logged, mean D(x) and D(G(z)) over training, from metrics.jsonl rows."""
    steps = np.array([r.get("step", i) for i, r in enumerate(rows)])

    def series(key: str) -> np.ndarray | None:
        if not any(key in r for r in rows):
            return None
        return np.array([r.get(key, np.nan) if r.get(key) is not None else np.nan for r in rows], dtype=float)

    has_d = series("D/real") is not None
    fig = Figure(figsize=(10 if has_d else 6, 3.6))
    axes = fig.subplots(1, 2 if has_d else 1, squeeze=False)[0]
    for key, label in (("Loss/D", "D loss"), ("Loss/G", "G loss"), ("Loss/GP", "gradient penalty")):
        s = series(key)
        if s is not None:
            axes[0].plot(steps, s, label=label)
    axes[0].set_xlabel("step")
    axes[0].set_title("losses")
    axes[0].legend(loc="best")
    if has_d:
        axes[1].plot(steps, series("D/real"), label="D(x)")
        axes[1].plot(steps, series("D/fake"), label="D(G(z))")
        axes[1].axhline(0.5, color="grey", lw=0.8, ls="--")
        axes[1].set_ylim(-0.02, 1.02)
        axes[1].set_xlabel("step")
        axes[1].set_title("discriminator outputs")
        axes[1].legend(loc="best")
    return save_figure(fig, path)


def plot_points_2d(fake: Tensor, real: Tensor | None, path: str | Path, title: str | None = None,
                   lim: float | None = None) -> Path:
    """Scatter of generated points (dark) over real ones (light), equal aspect: mode coverage at a glance."""
    fig = Figure(figsize=(4.2, 4.2))
    ax = fig.subplots()
    f = fake.detach().cpu().numpy()
    if real is not None:
        r = real.detach().cpu().numpy()
        ax.scatter(r[:, 0], r[:, 1], s=3, c="#9ecae1", alpha=0.5, label="data", linewidths=0)
    ax.scatter(f[:, 0], f[:, 1], s=3, c="#d62728", alpha=0.6, label="generated", linewidths=0)
    if lim is None:
        pts = f if real is None else np.concatenate([f, r])
        finite = pts[np.isfinite(pts).all(1)]
        lim = float(np.percentile(np.abs(finite), 99.5)) * 1.15 if len(finite) else 1.0
    square_panel(ax, lim, ticks=True)
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def square_panel(ax: Any, lim: float, *, ticks: bool = False) -> None:
    """A 2-D scatter panel over [-lim, lim]^2 at equal aspect (without ticks for panels in a grid)."""
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if not ticks:
        ax.set_xticks([])
        ax.set_yticks([])


def plot_density_1d(fake: Tensor, real: Tensor | None, path: str | Path, title: str | None = None,
                    d_curve: tuple[Any, Any] | None = None) -> Path:
    """Histogram densities of generated and real 1-D samples, optionally with D(x) on a second axis."""
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    f = fake.detach().cpu().numpy().reshape(-1)
    f = f[np.isfinite(f)]
    both = f if real is None else np.concatenate([f, real.detach().cpu().numpy().reshape(-1)])
    lo, hi = np.percentile(both, [0.2, 99.8]) if len(both) else (0.0, 1.0)
    bins = np.linspace(lo - 0.1 * (hi - lo + 1e-6), hi + 0.1 * (hi - lo + 1e-6), 80)
    if real is not None:
        ax.hist(real.detach().cpu().numpy().reshape(-1), bins=bins, density=True, alpha=0.5, color="#1f77b4",
                label="p_data")
    ax.hist(f, bins=bins, density=True, alpha=0.5, color="#2ca02c", label="p_g")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    if d_curve is not None:
        ax2 = ax.twinx()
        ax2.plot(np.asarray(d_curve[0]), np.asarray(d_curve[1]), color="#d62728", label="D(x)")
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("D(x)")
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)
