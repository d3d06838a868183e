"""Helpers shared by the theory experiments: 1-D densities and integrals on a grid, a tiny 1-D GAN, figures.

Math helpers are pure functions on float64 tensors over an evenly spaced grid `x` [M]:

- `normal_pdf`, `kde_1d`: densities on the grid (exact Gaussian; Gaussian KDE of samples).
- `integrate`: the trapezoid rule. `jsd`, `gan_value`, `optimal_d`: the quantities of Goodfellow et al. 2014,
  Section 4, computed by numerical integration rather than sampling, so they carry no Monte Carlo noise.

`Toy1D` is the smallest honest GAN: MLP G (z ~ N(0, 1)^z_dim -> x) and MLP D (x -> logit) with their own
optimizers, trained by `d_step` / `g_step` with the objectives of `gankit.losses`. Every random draw comes from
its own `torch.Generator`, and the networks are initialised under a forked global RNG, so a run is a function
of its seed and never disturbs the caller's RNG state.

Figures go through matplotlib's object API (Figure + Agg canvas) as in `gankit.viz.plots`: no pyplot state.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor, nn

from ..errors import ConfigError
from ..losses import bce_d_loss, get_loss

__all__ = ["DATA_COLOUR", "DSTAR_COLOUR", "D_COLOUR", "GEN_COLOUR", "LOG4", "Standardize", "Toy1D", "Toy1DConfig", "figure_to_array", "gan_value", "grid", "integrate",
           "jsd", "kde_1d", "mixture_support", "mlp", "new_figure", "normal_logpdf", "normal_pdf", "optimal_d",
           "optimal_d_logit", "params_grad_norm", "rounded", "save_figure", "seeded", "single_thread",
           "train_d_fixed_g"]

LOG4 = math.log(4.0)
DATA_COLOUR, GEN_COLOUR, D_COLOUR, DSTAR_COLOUR = "#1f77b4", "#2ca02c", "#d62728", "#444444"


# --------------------------------------------------------------------------------- densities and integrals
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


# --------------------------------------------------------------------------------- networks and RNG
@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run a block with one intra-op thread: these nets are tiny, and on a busy machine a second thread only waits.
    Restores the caller's setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block (network initialisation) under torch.manual_seed(seed) without touching the caller's RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def mlp(in_dim: int, out_dim: int, width: int, depth: int = 2, act: type[nn.Module] = nn.LeakyReLU) -> nn.Sequential:
    """in_dim -> [width] * depth (act after each) -> out_dim. LeakyReLU's default slope is 0.2 here, as in DCGAN's D."""
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, width), act(0.2) if act is nn.LeakyReLU else act()]
        d = width
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class Standardize(nn.Module):
    """x -> (x - mean) / std with fixed constants: the usual input normalisation by the data's statistics. It puts
    the kinks of D's first LeakyReLU layer (spread over a few units around 0 at initialisation) where the data are,
    so D can bend there; without it D is nearly linear around data at x = 4 and misses a too-narrow generator."""

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.mean, self.std = float(mean), float(std)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


@dataclass(frozen=True)
class Toy1DConfig:
    """A 1-D GAN: data N(mu, sigma^2); G maps z ~ N(0, I_z_dim) through an MLP whose output bias starts at
    `g_init_mean` (where p_g sits before training); D is an MLP giving a logit."""

    mu: float = 4.0
    sigma: float = 0.5
    z_dim: int = 1
    g_width: int = 32
    d_width: int = 64
    g_init_mean: float = 0.0
    g_init_scale: float = 1.0  # multiplies G's last-layer weights: the initial spread of p_g
    g_loss: str = "nonsaturating"  # "nonsaturating" or "minimax" (gankit.losses)
    batch_size: int = 256
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    g_optimizer: str = "adam"  # "adam" or "sgd" (the step then is proportional to the gradient)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.g_loss not in ("nonsaturating", "minimax"):
            raise ConfigError(f"Toy1DConfig.g_loss must be 'nonsaturating' or 'minimax', got {self.g_loss!r}")
        if self.g_optimizer not in ("adam", "sgd"):
            raise ConfigError(f"Toy1DConfig.g_optimizer must be 'adam' or 'sgd', got {self.g_optimizer!r}")
        if not self.sigma > 0 or self.batch_size < 1:
            raise ConfigError("Toy1DConfig needs sigma > 0 and batch_size >= 1")


class Toy1D:
    """G and D for 1-D data with their optimizers; every random draw comes from `self.rng`."""

    def __init__(self, cfg: Toy1DConfig):
        self.cfg = cfg
        with seeded(cfg.seed):
            self.G = mlp(cfg.z_dim, 1, cfg.g_width)
            self.D = nn.Sequential(Standardize(cfg.mu, cfg.sigma), mlp(1, 1, cfg.d_width))
        with torch.no_grad():
            self.G[-1].bias.fill_(cfg.g_init_mean)
            self.G[-1].weight.mul_(cfg.g_init_scale)
        self.rng = torch.Generator().manual_seed(cfg.seed + 1)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        self.opt_g = self.make_g_optimizer()
        self.g_loss = get_loss(cfg.g_loss).g_loss

    def make_g_optimizer(self) -> torch.optim.Optimizer:
        if self.cfg.g_optimizer == "sgd":
            return torch.optim.SGD(self.G.parameters(), lr=self.cfg.lr_g)
        return torch.optim.Adam(self.G.parameters(), lr=self.cfg.lr_g, betas=self.cfg.betas)

    def scale_lr(self, factor: float) -> None:
        """Set both learning rates to `factor` times the configured ones (for a decay schedule)."""
        for opt, lr in ((self.opt_d, self.cfg.lr_d), (self.opt_g, self.cfg.lr_g)):
            for group in opt.param_groups:
                group["lr"] = lr * factor

    def real(self, n: int) -> Tensor:  # [n, 1]
        return self.cfg.mu + self.cfg.sigma * torch.randn(n, 1, generator=self.rng)

    def fake(self, n: int) -> Tensor:  # [n, 1], differentiable w.r.t. G
        return self.G(torch.randn(n, self.cfg.z_dim, generator=self.rng))

    def d_step(self) -> float:
        """One discriminator update on fresh real and fake batches; returns D's loss."""
        n = self.cfg.batch_size
        real, fake = self.real(n), self.fake(n).detach()
        loss = bce_d_loss(self.D(real).squeeze(1), self.D(fake).squeeze(1))
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return float(loss.detach())

    def g_step(self) -> tuple[float, float]:
        """One generator update on a fresh noise batch; returns (G's loss, norm of G's parameter gradient)."""
        loss = self.g_loss(self.D(self.fake(self.cfg.batch_size)).squeeze(1))
        self.opt_g.zero_grad(set_to_none=True)
        self.D.zero_grad(set_to_none=True)
        loss.backward()
        norm = params_grad_norm(self.G)
        self.opt_g.step()
        return float(loss.detach()), norm

    @torch.no_grad()
    def d_logit(self, x: Tensor) -> Tensor:
        """D's logit at points x [M] -> [M] float64."""
        return self.D(x.float().reshape(-1, 1)).reshape(-1).double()

    def d_prob(self, x: Tensor) -> Tensor:
        """D(x) as a probability at points x [M] -> [M] float64."""
        return torch.sigmoid(self.d_logit(x))

    @torch.no_grad()
    def sample(self, n: int, seed: int) -> Tensor:
        """n generator samples [n] from a separate, seeded noise stream (evaluation never moves training's RNG)."""
        z = torch.randn(n, self.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
        return self.G(z).reshape(-1)


def train_d_fixed_g(D: nn.Module, real: Callable[[int], Tensor], fake: Callable[[int], Tensor], *, steps: int,
                    batch_size: int = 512, lr: float = 2e-3, betas: tuple[float, float] = (0.5, 0.999)) -> list[float]:
    """Train D alone against a fixed generator with sigmoid cross-entropy, fresh batches `real(n)` / `fake(n)`
    [n, 1] every step, Adam with a cosine decay of the learning rate to 0 so the last steps average out the
    minibatch noise (D converges toward D* rather than jittering around it). Returns the loss per step."""
    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * s / steps)))
    losses = []
    for _ in range(steps):
        loss = bce_d_loss(D(real(batch_size)).squeeze(1), D(fake(batch_size).detach()).squeeze(1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return losses


def params_grad_norm(module: nn.Module) -> float:
    """Euclidean norm of all .grad of a module's parameters (0 where a grad is None)."""
    sq = [(p.grad.double() ** 2).sum() for p in module.parameters() if p.grad is not None]
    return math.sqrt(float(sum(sq))) if sq else 0.0


# --------------------------------------------------------------------------------- figures
def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return path


def figure_to_array(fig: Figure, dpi: int = 80) -> np.ndarray:
    """Render a figure to an RGB uint8 array [H, W, 3] (a GIF frame)."""
    fig.set_dpi(dpi)
    fig.tight_layout()
    canvas = fig.canvas
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def rounded(value: float, digits: int = 6) -> float:
    """A float for JSON: rounded to `digits` significant digits (keeps tiny gradients readable)."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(f"{value:.{digits}g}")
