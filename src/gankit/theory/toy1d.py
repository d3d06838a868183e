"""`Toy1D`, the smallest honest GAN: MLP G (z ~ N(0, 1)^z_dim -> x) and MLP D (x -> logit) with their own
optimizers, trained by `d_step` / `g_step` with the objectives of `gankit.losses`. Every random draw comes from
its own `torch.Generator`, and the networks are initialised under a forked global RNG, so a run is a function
of its seed and never disturbs the caller's RNG state. `train_d_fixed_g` trains a D alone against a fixed G.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .. import progress
from ..errors import ConfigError
from ..losses import bce_d_loss, get_loss
from ..torch_utils import grad_norm, seeded
from .toy_nets import Standardize, mlp

__all__ = ["Toy1D", "Toy1DConfig", "train_d_fixed_g"]


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
        norm = grad_norm(self.G, dtype=torch.float64)  # float64: the saturated minimax gradient is tiny
        self.opt_g.step()
        return float(loss.detach()), 0.0 if norm is None else float(norm)

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
                    batch_size: int = 512, lr: float = 2e-3, betas: tuple[float, float] = (0.5, 0.999),
                    bar: Any = None) -> list[float]:
    """Train D alone against a fixed generator with sigmoid cross-entropy, fresh batches `real(n)` / `fake(n)`
    [n, 1] every step, Adam with a cosine decay of the learning rate to 0 so the last steps average out the
    minibatch noise (D converges toward D* rather than jittering around it). Returns the loss per step; `bar`
    (a gankit.progress bar) advances by one per step."""
    bar = bar or progress.silent()
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
        bar.update(1)
    return losses
