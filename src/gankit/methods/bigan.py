"""Bidirectional GAN (Donahue et al. 2017, "Adversarial feature learning"; Dumoulin et al. 2017's ALI).

An encoder E maps images to latents while G maps latents to images, and D tells the pairs apart: (x, E(x)) for
real images against (G(z), z) for generated ones. At the optimum E inverts G, so E(x) is a feature of x learned
without labels: `gankit.load(run).encode(x)`, `gankit encode RUN --images PATH --out z.npy`.

D minimises the configured objective with (x, E(x)) as the real pair and (G(z), z) as the fake one; G and E, one
optimizer group, minimise the same objective with the pairs' roles swapped (for the cross-entropy losses: the
inverted labels of Donahue et al.'s code, which give G and E strong gradients early on). G follows --model; E
and D are MLPs of base width d_width (E: 4w, 2w, w hidden units with batch norm; D: x through 4w and 2w units,
z through 2w, joined through 2w units to one logit), after the paper's permutation-invariant MNIST networks.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..config import TrainConfig
from ..distributed import BatchShard
from ..errors import ConfigError
from ..models import build_networks
from ..models.custom import as_generator
from ..models.prior import sample_prior
from .base import Batch, Method, OptimizerGroup, Phase, StepContext, log_d_scores, loss_without_penalty


def _width(width: int | None) -> int:
    return width or 256


class BiGANEncoder(nn.Module):
    """x [N, *data_shape] in [-1, 1] -> z [N, z_dim]."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: int | None = None) -> None:
        super().__init__()
        self.data_shape, self.z_dim = tuple(data_shape), z_dim
        w, d = _width(width), math.prod(data_shape)
        layers: list[nn.Module] = []
        for h in (4 * w, 2 * w, w):
            layers += [nn.Linear(d, h), nn.BatchNorm1d(h), nn.LeakyReLU(0.2)]
            d = h
        layers.append(nn.Linear(d, z_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.reshape(x.shape[0], -1))  # [N, z_dim]


class JointDiscriminator(nn.Module):
    """(x [N, *data_shape], z [N, z_dim]) -> one raw logit per pair [N]."""

    def __init__(self, data_shape: tuple[int, ...], z_dim: int, width: int | None = None) -> None:
        super().__init__()
        self.data_shape, self.z_dim, self.num_classes = tuple(data_shape), z_dim, 0
        w = _width(width)
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        self.x_path = nn.Sequential(nn.Linear(math.prod(data_shape), 4 * w), act(), nn.Linear(4 * w, 2 * w), act())
        self.z_path = nn.Sequential(nn.Linear(z_dim, 2 * w), act())
        self.joint = nn.Sequential(nn.Linear(4 * w, 2 * w), act(), nn.Linear(2 * w, 1))

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        hx = self.x_path(x.reshape(x.shape[0], -1))  # [N, 2w]
        hz = self.z_path(z)  # [N, 2w]
        return self.joint(torch.cat([hx, hz], dim=1)).squeeze(1)  # [N]


class BiGAN(Method):
    name = "bigan"
    inference: ClassVar[dict[str, str]] = {"encode": "E"}
    # the paper's MNIST setup: a 50-dimensional latent, Adam 2e-4 / beta1 0.5, batches of 128
    recipe: ClassVar[dict[str, Any]] = {"z_dim": 50, "batch_size": 128, "lr_g": 2e-4, "lr_d": 2e-4, "beta2": 0.999,
                                        "d_width": 256, "steps": 6000}

    def __init__(self, cfg: TrainConfig, data: Any, parts: Any = None) -> None:
        super().__init__(cfg, data, parts)
        if cfg.conditional:
            raise ConfigError("--method bigan learns unconditional G and E; drop --conditional")
        if self.parts.discriminator is not None or self.parts.loss is not None:
            raise ConfigError("--method bigan builds its own joint D (it takes pairs (x, z)) and objective; give no "
                              "discriminator or loss")
        loss = loss_without_penalty(cfg, "bigan")
        self.knobs = {"loss": loss}

    # ------------------------------------------------------------------ declarations
    @classmethod
    def inference_net(cls, name: str, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        cfg = cfg.resolved()
        if name == "E":
            return BiGANEncoder(data_shape, cfg.z_dim, cfg.d_width)
        if name == "D":
            return JointDiscriminator(data_shape, cfg.z_dim, cfg.d_width)
        raise KeyError(name)

    def build(self) -> dict[str, nn.Module]:
        cfg, shape = self.cfg, tuple(self.data.sample_shape)
        G = self.parts.generator or build_networks(cfg, shape, 0)[0]
        G = as_generator(G, data_shape=shape, z_dim=cfg.z_dim, num_classes=0)
        return {"G": G, "E": self.inference_net("E", cfg, shape, 0), "D": self.inference_net("D", cfg, shape, 0)}

    def optimizers(self) -> dict[str, OptimizerGroup]:
        return {"G": OptimizerGroup(("G", "E"), self.cfg.lr_g), "D": OptimizerGroup(("D",), self.cfg.lr_d)}

    def phases(self) -> list[Phase]:
        # G and E update together through a frozen D; E's half needs real images, so that phase takes a batch
        return [Phase("D", "D", repeats=self.cfg.d_steps), Phase("G", "G", frozen=("D",))]

    def check(self, shard: BatchShard) -> None:
        if not self.data.is_image:
            raise ConfigError(f"--method bigan encodes images; {self.cfg.dataset!r} is toy data")
        if shard.local_batch < 2:
            raise ConfigError("--method bigan's encoder uses batch norm: the per-rank batch must be at least 2")

    # ------------------------------------------------------------------ per step
    def loss(self, phase: Phase, batch: Batch | None, ctx: StepContext) -> Tensor:
        assert batch is not None
        if phase.name == "D":
            return self._d_loss(batch, ctx, last=ctx.repeat == phase.repeats - 1)
        return self._ge_loss(batch, ctx)

    def _d_loss(self, batch: Batch, ctx: StepContext, last: bool) -> Tensor:
        loss = self.knobs["loss"]
        z = ctx.draws.z(self.cfg.z_dim)
        with torch.no_grad():
            ez = ctx.frozen["E"](batch.x)  # [b, z_dim]
            fake = ctx.frozen["G"](z, None)  # [b, *data_shape]
        D = ctx.train["D"]
        real_logits, fake_logits = D(batch.x, ez), D(fake, z)  # [b], [b]
        loss_d = loss.d_loss(real_logits, fake_logits)
        if last:
            log_d_scores(ctx.stats, loss, loss_d, real_logits, fake_logits)
        return loss_d

    def _ge_loss(self, batch: Batch, ctx: StepContext) -> Tensor:
        """G and E: the same objective with the pairs' roles swapped, through the frozen D."""
        loss = self.knobs["loss"]
        z = ctx.draws.z(self.cfg.z_dim)
        fake, ez = ctx.train["G"](z, None), ctx.train["E"](batch.x)
        D = ctx.frozen["D"]
        loss_ge = loss.d_loss(D(fake, z), D(batch.x, ez))
        ctx.stats.add("Loss/G", loss_ge)
        return loss_ge

    # ------------------------------------------------------------------ sampling
    def fixed_inputs(self, nets: dict[str, nn.Module], device: torch.device) -> tuple[tuple[Tensor | None, ...], int]:
        g = torch.Generator(device=device).manual_seed(self.cfg.seed + 7919)
        return (sample_prior(self.cfg.prior, self.cfg.n_samples, self.cfg.z_dim, g, device), None), 0
