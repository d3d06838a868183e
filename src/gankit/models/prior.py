"""The latent prior p(z) that every generator samples from."""

from __future__ import annotations

import torch

from ..config import PRIORS


def sample_prior(prior: str, n: int, z_dim: int, gen: torch.Generator, device: torch.device | str) -> torch.Tensor:
    """z ~ N(0, I) or U[-1, 1]^z_dim.  # [n, z_dim]"""
    if prior == "gaussian":
        return torch.randn(n, z_dim, generator=gen, device=device)
    if prior == "uniform":
        return torch.rand(n, z_dim, generator=gen, device=device).mul_(2).sub_(1)
    raise ValueError(f"unknown prior {prior!r}; choose one of {', '.join(PRIORS)}")
