"""Low-dimensional toy distributions whose ground truth is known exactly, so mode collapse and density fit can be measured.

- `gaussian1d`: N(mu, sigma), mu=4, sigma=0.5 by default -- the classic 1-D example in which G learns to match a
  single Gaussian (Figure 1 of Goodfellow et al. 2014 draws this setting; mu=4, sigma=0.5 are the values common to
  1-D GAN tutorials). Its density is known, so the fit can be read off directly.
- `ring8`: a mixture of 8 Gaussians evenly spaced on a circle of radius 2, std 0.02 (Metz et al. 2017, "Unrolled
  Generative Adversarial Networks"; also used by VEEGAN, Srivastava et al. 2017, and PacGAN, Lin et al. 2018).
- `grid25`: a mixture of 25 Gaussians centred on {-4, -2, 0, 2, 4}^2, std 0.05 (the 2-D grid of VEEGAN and PacGAN).
- `swissroll`: the 2-D swiss roll (sklearn's `make_swiss_roll` projected to (x, z)), scaled to about [-2, 2]^2.

All are generated in memory from a `torch.Generator`, so a (name, seed, n, options) tuple always gives the same data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from ..errors import ConfigError
from .base import Dataset

TOY_NAMES: tuple[str, ...] = ("gaussian1d", "ring8", "grid25", "swissroll")

#: Options each toy accepts through `toy_options`, with their defaults. Ring and grid take none on purpose: their
#: geometry is fixed by the papers above and by `TOY_MODES`, which evaluation uses to count recovered modes.
TOY_OPTIONS: dict[str, dict[str, float]] = {
    "gaussian1d": {"mu": 4.0, "sigma": 0.5},
    "ring8": {},
    "grid25": {},
    "swissroll": {"noise": 0.25},  # std of the noise added before scaling, as sklearn's `noise` argument
}

DEFAULT_N = {"train": 50_000, "test": 10_000}
TEST_SEED_OFFSET = 1_000_003  # the test split draws from a seed stream disjoint from any small training seed

RING8_RADIUS, RING8_STD = 2.0, 0.02
GRID25_STD = 0.05
SWISSROLL_SCALE = 7.5  # sklearn's roll spans about [-9.5, 14.1]; dividing by 7.5 lands it in roughly [-1.3, 1.9]


def _ring8_centres() -> torch.Tensor:  # [8, 2]
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return (RING8_RADIUS * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)).to(torch.float32)


def _grid25_centres() -> torch.Tensor:  # [25, 2]; mode index k = 5 * i + j at (grid[i], grid[j])
    grid = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return torch.cartesian_prod(grid, grid).to(torch.float32)


#: name -> (centres [K, D], per-coordinate std) for the mixture toys; evaluation assigns samples to the nearest centre.
TOY_MODES: dict[str, tuple[torch.Tensor, float]] = {
    "ring8": (_ring8_centres(), RING8_STD),
    "grid25": (_grid25_centres(), GRID25_STD),
}


def is_toy(name: str) -> bool:
    """True for the in-memory toy distributions (points in R^D rather than images)."""
    return name in TOY_NAMES


def toy_params(name: str, toy_options: Mapping[str, float] | None = None) -> dict[str, float]:
    """Defaults of `name` overridden by `toy_options`; unknown keys and non-finite values are ConfigErrors."""
    if name not in TOY_OPTIONS:
        raise ConfigError(f"unknown toy data set {name!r}; choose one of {', '.join(TOY_NAMES)}")
    params = dict(TOY_OPTIONS[name])
    for key, value in (toy_options or {}).items():
        if key not in params:
            allowed = ", ".join(params) if params else "none"
            raise ConfigError(f"unknown toy option {key!r} for {name}; allowed: {allowed}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"toy option {key!r} for {name} must be a finite number, got {value!r}")
        params[key] = float(value)
    return params


def gaussian1d_params(toy_options: Mapping[str, float] | None = None) -> tuple[float, float]:
    """(mu, sigma) of the `gaussian1d` target, so evaluation can compare G's samples with the true density."""
    p = toy_params("gaussian1d", toy_options)
    if p["sigma"] <= 0:
        raise ConfigError(f"toy option 'sigma' for gaussian1d must be > 0, got {p['sigma']}")
    return p["mu"], p["sigma"]


def _mixture(centres: torch.Tensor, std: float, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample an equal-weight Gaussian mixture; returns points [n, D] and their mode indices [n]."""
    modes = torch.randint(0, centres.shape[0], (n,), generator=gen)
    noise = torch.randn(n, centres.shape[1], generator=gen)
    return centres[modes] + std * noise, modes


def make_toy(name: str, *, n: int | None = None, split: str = "train", seed: int = 0,
             toy_options: Mapping[str, float] | None = None) -> Dataset:
    """Generate toy data set `name`; `n` defaults to 50,000 (train) / 10,000 (test)."""
    params = toy_params(name, toy_options)
    if n is None:
        n = DEFAULT_N[split]
    gen = torch.Generator().manual_seed(int(seed) + (TEST_SEED_OFFSET if split == "test" else 0))
    if name == "gaussian1d":
        mu, sigma = gaussian1d_params(toy_options)
        x = mu + sigma * torch.randn(n, 1, generator=gen)  # [N, 1]
        return Dataset(name, x, None, 0)
    if name in TOY_MODES:
        centres, std = TOY_MODES[name]
        x, y = _mixture(centres, std, n, gen)  # [N, 2], [N]
        return Dataset(name, x, y, centres.shape[0])
    # swissroll, as sklearn.datasets.make_swiss_roll: t ~ U[1.5 pi, 4.5 pi], (x, z) = (t cos t, t sin t) + noise
    if params["noise"] < 0:
        raise ConfigError(f"toy option 'noise' for swissroll must be >= 0, got {params['noise']}")
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=gen, dtype=torch.float64))
    pts = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
    pts = pts + params["noise"] * torch.randn(n, 2, generator=gen, dtype=torch.float64)
    return Dataset(name, (pts / SWISSROLL_SCALE).to(torch.float32), None, 0)  # [N, 2]
