"""A small StyleGAN (Karras et al. 2019; modulated convolutions of Karras et al. 2020): a mapping network,
styles per layer, noise inputs and a constant 4x4 input (gankit.models.stylegan), against the progressive
discriminator at its full resolution (equalised learning rate, minibatch std).

Each fake batch draws its noise maps from the run's seeded stream (so a resumed run continues bit for bit) and,
for a `style_mixing` share of its samples, a second latent whose w takes over from a random layer on (style-mixing
regularisation: neighbouring styles cannot rely on being alike). G's update also moves the tracked mean of w,
the centre of the truncation trick at sampling (`gankit sample RUN --truncation 0.7`). The objective and its
penalties are those of the GAN method (this class is one): the non-saturating loss by default, as in the paper.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..config import TrainConfig
from ..errors import ConfigError
from ..models.progressive import levels_for
from ..models.stylegan import StyleGenerator
from .base import Batch, Phase, StepContext, log_d_scores
from .gan import GAN
from .progressive import growing_d


class StyleGAN(GAN):
    name = "stylegan"
    uses_model = False  # its own networks, whatever --model says
    # StyleGAN's optimiser: Adam lr 2e-3 (here 1e-3 at a CPU's small batches), beta2 0.99, an EMA of G;
    # a 128-dimensional z and w; beta1 0 is `--beta1 0` (not a recipe knob)
    recipe: ClassVar[dict[str, Any]] = {"lr_g": 1e-3, "lr_d": 1e-3, "beta2": 0.99, "width": 16, "d_width": 16,
                                        "batch_size": 32, "ema": 0.999, "z_dim": 128}

    def __init__(self, cfg: TrainConfig, data: Any, parts: Any = None) -> None:
        if cfg.conditional:
            raise ConfigError("--method stylegan learns an unconditional generator; drop --conditional")
        if parts is not None and (parts.generator is not None or parts.discriminator is not None):
            raise ConfigError("--method stylegan builds its own networks; give no generator or discriminator")
        super().__init__(cfg, data, parts)
        shape = tuple(data.sample_shape)
        if len(shape) != 3 or shape[1] != shape[2] or shape[1] < 8 or shape[1] & (shape[1] - 1):
            raise ConfigError(f"--method stylegan doubles a 4x4 constant up to the image size: the images must be "
                              f"square with a power-of-two size, got {shape} (use --resolution 32)")
        if cfg.reuse_fake:
            raise ConfigError("--method stylegan draws each fake batch with its own noise and mixing; drop "
                              "--reuse-fake")

    # ------------------------------------------------------------------ declarations
    @classmethod
    def sampler_network(cls, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        cfg = cfg.resolved()
        return StyleGenerator(data_shape, cfg.z_dim, 0, cfg.width, cfg.mapping_layers)  # type: ignore[arg-type]

    @classmethod
    def inference_net(cls, name: str, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        return growing_d(name, cfg, data_shape)

    def build(self) -> dict[str, nn.Module]:
        shape = tuple(self.data.sample_shape)
        levels_for(shape[1])
        return {"G": self.sampler_network(self.cfg, shape, 0), "D": self.inference_net("D", self.cfg, shape, 0)}

    # ------------------------------------------------------------------ per step
    def loss(self, phase: Phase, batch: Batch | None, ctx: StepContext) -> Tensor:
        if phase.name == "D":
            assert batch is not None
            return self._style_d_loss(batch, ctx, last=ctx.repeat == phase.repeats - 1)
        return self._style_g_loss(ctx)

    def _fake(self, ctx: StepContext, forward: Any) -> tuple[Tensor, Tensor]:
        """A fake batch with fresh noise and style mixing, all drawn from the training stream; returns (images, z).
        # -> [b, C, S, S], [b, z_dim]"""
        G, draws = ctx.nets["G"], ctx.draws
        z, z2 = draws.z(G.z_dim), draws.z(G.z_dim)
        mixed = draws.rand_like_rows(z, ()) < self.cfg.style_mixing  # [b]
        cut = draws.rows(draws.randint(G.num_ws - 1, draws.batch)) + 1  # crossover layer in [1, num_ws)
        cut = torch.where(mixed, cut, torch.full_like(cut, G.num_ws))  # num_ws: no switch
        noise = [draws.randn_like_rows(z.new_empty((draws.batch, *s))) for s in G.noise_shapes()]
        return forward(z, None, mix_z=z2, mix_cut=cut, noise=noise), z

    def _style_d_loss(self, batch: Batch, ctx: StepContext, last: bool) -> Tensor:
        loss = self.knobs["loss"]
        with torch.no_grad():
            fake, _ = self._fake(ctx, ctx.frozen["G"])
        real_in, fake_in = self._noisy(batch.x, ctx), self._noisy(fake, ctx)
        D = ctx.train["D"]
        real_logits, fake_logits = D(real_in, None), D(fake_in, None)  # [b], [b]
        loss_d = self._penalised(loss.d_loss(real_logits, fake_logits), real_in, fake_in, None, ctx)
        if last:
            log_d_scores(ctx.stats, loss, loss_d, real_logits, fake_logits)
        return loss_d

    def _style_g_loss(self, ctx: StepContext) -> Tensor:
        fake, z = self._fake(ctx, ctx.train["G"])
        ctx.nets["G"].track_w(ctx.nets["G"].map(z).detach())  # type: ignore[operator]
        loss_g = self.knobs["loss"].g_loss(ctx.frozen["D"](self._noisy(fake, ctx), None))
        ctx.stats.add("Loss/G", loss_g)
        return loss_g
