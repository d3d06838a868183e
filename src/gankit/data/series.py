"""Built-in 1-D time series, generated from a seed, for the recurrent GAN (--method rgan).

- `sines`: sums of two sinusoids, x_t = a1 sin(2 pi f1 t / T + p1) + a2 sin(2 pi f2 t / T + p2), t = 0..T-1,
  with frequencies in cycles per sequence. The main component (a1 ~ U[0.5, 0.8]) has f1 ~ U over one of four
  bands, [1, 3), [3, 5), [5, 7), [7, 9) cycles, the band being the series' class label; the second component is
  weaker (a2 ~ U[0, 0.2], f2 ~ U[1, 9)), so the dominant frequency (FFT argmax) lies in the labelled band. Phases
  are uniform. Values stay in [-1, 1].
- `ar`: noisy AR(2) processes x_t = phi1 x_{t-1} + phi2 x_{t-2} + e_t, e_t ~ N(0, 1), with complex
  characteristic roots r exp(+-i theta) (phi1 = 2 r cos theta, phi2 = -r^2): r ~ U[0.85, 0.97] keeps each one
  stationary, theta ~ U[2 pi / 32, 2 pi / 8] gives quasi-periods of 8 to 32 steps. Each series runs 128 steps of
  burn-in from zero, and is scaled by 0.9 / max |x_t| so that it fits a tanh generator's range. Unlabelled.

Both come back as float32 [N, T] (T = `length`, 64 by default), from a `torch.Generator` seeded by (seed, split):
the test split draws from a stream disjoint from the training one's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from ..errors import ConfigError
from .base import Dataset

SERIES_NAMES: tuple[str, ...] = ("sines", "ar")
#: options each series accepts through `toy_options` (--toy-option KEY=VALUE), with their defaults
SERIES_OPTIONS: dict[str, dict[str, float]] = {"sines": {"length": 64.0}, "ar": {"length": 64.0}}
MIN_LENGTH, MAX_LENGTH = 16, 4096
DEFAULT_N = {"train": 20_000, "test": 5_000}
TEST_SEED_OFFSET = 1_000_003

#: the class bands of `sines`, in cycles per sequence: the dominant frequency's band is the label
SINE_BANDS: tuple[tuple[float, float], ...] = ((1.0, 3.0), (3.0, 5.0), (5.0, 7.0), (7.0, 9.0))
SINE_CLASS_NAMES = [f"{lo:g}-{hi:g} cycles" for lo, hi in SINE_BANDS]
AR_BURN_IN = 128


def is_series(name: str) -> bool:
    return name in SERIES_NAMES


def series_length(name: str, options: Mapping[str, float] | None = None) -> int:
    """The number of steps T of series `name` under `options`; a one-line ConfigError for a bad option."""
    if name not in SERIES_OPTIONS:
        raise ConfigError(f"unknown series data set {name!r}; choose one of {', '.join(SERIES_NAMES)}")
    for key in options or {}:
        if key not in SERIES_OPTIONS[name]:
            raise ConfigError(f"unknown option {key!r} for {name}; allowed: {', '.join(SERIES_OPTIONS[name])}")
    value = (options or {}).get("length", SERIES_OPTIONS[name]["length"])
    if isinstance(value, bool) or not float(value).is_integer() or not MIN_LENGTH <= value <= MAX_LENGTH:
        raise ConfigError(f"option 'length' for {name} must be a whole number in [{MIN_LENGTH}, {MAX_LENGTH}], "
                          f"got {value!r}")
    return int(value)


def make_series(name: str, *, n: int | None = None, split: str = "train", seed: int = 0,
                options: Mapping[str, float] | None = None) -> Dataset:
    """Generate series data set `name` (see the module's docstring).  # x: [N, T]"""
    length = series_length(name, options)
    n = DEFAULT_N[split] if n is None else n
    gen = torch.Generator().manual_seed(int(seed) + (TEST_SEED_OFFSET if split == "test" else 0))
    if name == "sines":
        x, y = _sines(n, length, gen)
        return Dataset(name, x, y, len(SINE_BANDS), list(SINE_CLASS_NAMES))
    return Dataset(name, _ar2(n, length, gen), None, 0)


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, 1, generator=gen, dtype=torch.float64)


def _sines(n: int, length: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    bands = torch.tensor(SINE_BANDS, dtype=torch.float64)  # [K, 2]
    y = torch.randint(0, len(SINE_BANDS), (n,), generator=gen)
    lo, hi = bands[y, 0:1], bands[y, 1:2]  # [n, 1]
    f1 = lo + (hi - lo) * torch.rand(n, 1, generator=gen, dtype=torch.float64)
    a1, p1 = _uniform(n, 0.5, 0.8, gen), _uniform(n, 0.0, 2 * math.pi, gen)
    f2, a2 = _uniform(n, 1.0, 9.0, gen), _uniform(n, 0.0, 0.2, gen)
    p2 = _uniform(n, 0.0, 2 * math.pi, gen)
    t = torch.arange(length, dtype=torch.float64)[None] / length  # [1, T]
    x = a1 * torch.sin(2 * math.pi * f1 * t + p1) + a2 * torch.sin(2 * math.pi * f2 * t + p2)
    return x.to(torch.float32), y  # [n, T], [n]


def _ar2(n: int, length: int, gen: torch.Generator) -> torch.Tensor:
    r, theta = _uniform(n, 0.85, 0.97, gen)[:, 0], _uniform(n, 2 * math.pi / 32, 2 * math.pi / 8, gen)[:, 0]
    phi1, phi2 = 2 * r * torch.cos(theta), -r * r
    noise = torch.randn(n, AR_BURN_IN + length, generator=gen, dtype=torch.float64)
    prev2 = prev1 = torch.zeros(n, dtype=torch.float64)
    out = []
    for t in range(AR_BURN_IN + length):
        cur = phi1 * prev1 + phi2 * prev2 + noise[:, t]
        prev2, prev1 = prev1, cur
        if t >= AR_BURN_IN:
            out.append(cur)
    x = torch.stack(out, dim=1)  # [n, T]
    x = 0.9 * x / x.abs().amax(dim=1, keepdim=True)
    return x.to(torch.float32)
