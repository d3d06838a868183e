"""1-D densities and integrals on a grid: pure functions on float64 tensors over an evenly spaced grid `x` [M].

- `normal_pdf`, `kde_1d`: densities on the grid (exact Gaussian; Gaussian KDE of samples).
- `integrate`: the trapezoid rule. `jsd`, `gan_value`, `optimal_d`: the quantities of Goodfellow et al. 2014,
  Section 4, computed by numerical integration rather than sampling, so they carry no Monte Carlo noise.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["LOG4", "gan_value", "grid", "integrate", "jsd", "kde_1d", "mixture_support", "normal_logpdf",
           "normal_pdf", "optimal_d", "optimal_d_logit"]

LOG4 = math.log(4.0)  # the game's value at its optimum (p_g = p_data, D* = 1/2) is -log 4


def grid(lo: float, hi: float, n: int = 4001) -> Tensor:
    """An evenly spaced float64 grid [n] over [lo, hi]."""
    if not hi > lo or n < 2:
        raise ValueError(f"grid needs lo < hi and n >= 2, got lo={lo}, hi={hi}, n={n}")
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def normal_pdf(x: Tensor, mu: float, sigma: float) -> Tensor:
    """The N(mu, sigma^2) density at x (float64, same shape as x)."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    x = x.double()
    return torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2.0 * math.pi))


def normal_logpdf(x: Tensor, mu: float, sigma: float) -> Tensor:
    """log N(x; mu, sigma^2) (float64): finite where the density itself underflows to 0."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    return -0.5 * ((x.double() - mu) / sigma) ** 2 - math.log(sigma * math.sqrt(2.0 * math.pi))


def kde_1d(samples: Tensor, x: Tensor, bandwidth: float | None = None) -> Tensor:
    """Gaussian kernel density estimate of 1-D `samples` [N] (or [N, 1]) on the evenly spaced grid `x` [M] -> [M].

    Binned: the samples are counted into the grid's cells, then the counts are convolved with the Gaussian kernel,
    O(N + M K) instead of O(N M); with a grid step well below the bandwidth the difference from the exact sum is
    invisible. Samples beyond the grid are left out, so the estimate is the density's restriction to the grid.
    The default bandwidth is Silverman's rule, 0.9 min(std, IQR / 1.34) N^(-1/5), floored at two grid steps so a
    collapsed generator (all samples on one point) still gives a finite, narrow bump."""
    s = samples.detach().reshape(-1).double().cpu()
    if s.numel() == 0:
        raise ValueError("kde_1d needs at least one sample")
    x = x.double()
    dx = float(x[1] - x[0])
    if bandwidth is None:
        q75, q25 = torch.quantile(s, 0.75).item(), torch.quantile(s, 0.25).item()
        std = s.std().item() if s.numel() > 1 else 0.0
        spread = min(std, (q75 - q25) / 1.34) or std
        bandwidth = 0.9 * spread * s.numel() ** -0.2 if math.isfinite(spread) else 0.0
    bandwidth = max(bandwidth, 2.0 * dx)
    idx = torch.round((s - float(x[0])) / dx).long()
    idx = idx[(idx >= 0) & (idx < x.numel())]
    counts = torch.bincount(idx, minlength=x.numel()).double()
    half = min(int(math.ceil(5.0 * bandwidth / dx)), 4 * x.numel())
    offsets = torch.arange(-half, half + 1, dtype=torch.float64) * dx
    kernel = torch.exp(-0.5 * (offsets / bandwidth) ** 2) / (bandwidth * math.sqrt(2.0 * math.pi))
    dens = torch.nn.functional.conv1d(counts.view(1, 1, -1), kernel.view(1, 1, -1), padding=half).view(-1)
    return dens / s.numel()


def integrate(y: Tensor, x: Tensor) -> float:
    """Trapezoid-rule integral of y(x) over the grid."""
    return float(torch.trapezoid(y.double(), x.double()))


def jsd(p: Tensor, q: Tensor, x: Tensor) -> float:
    """Jensen-Shannon divergence (nats, in [0, log 2]) between densities p and q on the grid x:
    1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q) / 2, each KL integrated numerically (0 log 0 = 0)."""
    m = 0.5 * (p + q)
    kl_pm = torch.xlogy(p, p) - torch.xlogy(p, m)
    kl_qm = torch.xlogy(q, q) - torch.xlogy(q, m)
    return 0.5 * integrate(kl_pm, x) + 0.5 * integrate(kl_qm, x)


def optimal_d(p_data: Tensor, p_g: Tensor) -> Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al. 2014, Proposition 1); 1/2 where both are 0."""
    total = p_data + p_g
    return torch.where(total > 0, p_data / total.clamp(min=1e-300), torch.full_like(total, 0.5))


def gan_value(d_logit: Tensor, p_data: Tensor, p_g: Tensor, x: Tensor) -> float:
    """V(D, G) = ∫ p_data log D + p_g log(1 - D) dx, with D given by its logit on the grid.

    From the logit, log D = -softplus(-l) and log(1 - D) = -softplus(l) stay finite where D rounds to 0 or 1
    (as in gankit.losses); a term counts as 0 where its density is 0."""
    l = d_logit.double()
    f = torch.nn.functional.softplus
    real = torch.where(p_data > 0, -p_data * f(-l), torch.zeros_like(l))
    fake = torch.where(p_g > 0, -p_g * f(l), torch.zeros_like(l))
    return integrate(real + fake, x)


def optimal_d_logit(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    """The logit of D*: log p_data - log p_g, from log densities, so it stays finite far in the tails."""
    return log_p_data.double() - log_p_g.double()


def mixture_support(p_data: Tensor, p_g: Tensor, threshold: float) -> Tensor:
    """Boolean mask of the grid where the mixture density (p_data + p_g) / 2 is at least `threshold`:
    the region where both training samples and the comparison with D* mean something."""
    return 0.5 * (p_data + p_g) >= threshold
