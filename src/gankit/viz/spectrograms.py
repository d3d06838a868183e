"""A figure of log-mel spectrogram images (gankit.audio) with their axes in seconds and kHz."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch

from .. import audio
from .figures import new_figure, save_figure


def plot_spectrograms(images: torch.Tensor, path: str | Path, *, titles: Sequence[str] | None = None,
                      ncol: int = 5, suptitle: str | None = None, dpi: int = 100) -> Path:
    """Spectrogram images [N, 1, M, T] in [-1, 1] (low bands in the last rows, as gankit.audio makes them) as
    panels of dB over time (s) and frequency (kHz ticks at the mel bands centred there); the colour map spans
    gankit.audio's fixed range, DB_MIN (black) to DB_MAX (white-yellow)."""
    n = len(images)
    ncol = max(1, min(ncol, n))
    nrow = math.ceil(n / ncol)
    fig = new_figure(2.2 * ncol, 2.0 * nrow + (0.4 if suptitle else 0))
    s = audio.SPEC
    seconds = s.frames * s.hop / s.rate
    centres = audio.mel_filterbank(s.n_fft // 2 + 1, s.n_mels, s.rate).argmax(1).float() * (s.rate / s.n_fft)
    khz = [0.5, 1, 2, 3]
    ticks = [float(torch.searchsorted(centres, k * 1000.0)) for k in khz]
    for i in range(n):
        ax = fig.add_subplot(nrow, ncol, i + 1)
        db = (images[i, 0].detach().float().cpu().flip(0) + 1) / 2 * (audio.DB_MAX - audio.DB_MIN) + audio.DB_MIN
        ax.imshow(db.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=audio.DB_MIN,
                       vmax=audio.DB_MAX, extent=(0, seconds, 0, s.n_mels))
        ax.set_yticks(ticks)
        ax.set_yticklabels([f"{k:g}" for k in khz] if i % ncol == 0 else [])
        ax.set_xticks([0, 0.5, 1.0] if seconds >= 1 else [0, round(seconds, 2)])
        if i % ncol == 0:
            ax.set_ylabel("kHz", fontsize=8)
        if i >= n - ncol:
            ax.set_xlabel("s", fontsize=8)
        ax.tick_params(labelsize=7)
        if titles is not None and i < len(titles):
            ax.set_title(titles[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return save_figure(fig, path, dpi=dpi, rect=(0, 0, 1, 0.93) if suptitle else None)
