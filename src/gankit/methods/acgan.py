"""AC-GAN (Odena et al. 2017): the discriminator also names the class of what it sees.

G is the class-conditional generator G(z, c) (the conditional DCGAN's, so `gankit.load` rebuilds it as one); D
does not see the label: from its one body it gives the real/fake logit and, from a second head, class logits.
With L_S the real/fake objective and L_C the log-likelihood of the correct class, the paper's D maximises
L_S + L_C on real and fake batches and G maximises L_C - L_S on its own samples (section 3). Here the class terms
are cross-entropies weighted by `aux_weight`, and two choices differ from the paper by default, each measured:

- D's class term is on real images only (`aux_on_fake` restores the paper's real + fake). When D also learns the
  class of G's samples, D and G can agree on images that D alone files under a label: on full MNIST, 1,000
  steps, seed 0, mode seeking 0.3, D's head read 99.5 % of the fakes as their label while the shipped classifier
  read 47.0 %; with real-only class training it read 81.5 % (bench/results/zoo-acgan-ablation.json).
- G's update carries the conditional images' mode-seeking term (Mao et al. 2019; weight 0.3 from the recipe):
  without it G drew one image per class (the same run without it: label accuracy 53.5 %, recall 0.0).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..models import build_models, build_networks
from ..models.heads import HeadedDiscriminator
from ..regularizers import mode_seeking_loss
from .base import Batch, StepContext, log_d_scores
from .gan import GAN


def aux_class_loss(class_logits: Tensor, labels: Tensor) -> Tensor:
    """-mean log softmax(class_logits)[labels]: the negated L_C of one batch.  [N, K], [N] -> scalar"""
    return F.cross_entropy(class_logits, labels)


class ACGAN(GAN):
    name = "acgan"

    def __init__(self, cfg: Any, data: Any, parts: Any = None) -> None:
        if data.num_classes == 0:
            raise ConfigError(f"--method acgan needs a labelled data set; {cfg.dataset!r} has no labels")
        if not cfg.conditional:
            raise ConfigError("--method acgan trains a class-conditional generator: add --conditional")
        super().__init__(cfg, data, parts)
        if self.parts.generator is not None or self.parts.discriminator is not None:
            raise ConfigError("--method acgan builds its own G and D (with a class head) from --model; it takes no "
                              "generator or discriminator from Python")
        if cfg.reuse_fake:
            raise ConfigError("--reuse-fake is not supported by --method acgan")

    def build(self) -> dict[str, nn.Module]:
        cfg, shape, k = self.cfg.resolved(), tuple(self.data.sample_shape), self.num_classes
        G = build_networks(cfg, shape, k)[0]  # the conditional generator, exactly as gankit.load rebuilds it
        body = build_models(cfg.model, data_shape=shape, z_dim=cfg.z_dim, num_classes=0, width=cfg.width,
                            d_width=cfg.d_width, depth=cfg.depth)[1]  # D sees no label
        return {"G": G, "D": HeadedDiscriminator(body, k)}

    def _d_loss(self, batch: Batch, ctx: StepContext, last: bool) -> Tensor:
        """L_S on a real and a fake batch (the fake drawn with the real batch's labels), plus both class terms."""
        cfg, loss, y = self.cfg, self.knobs["loss"], batch.y
        assert y is not None
        z = ctx.draws.z(ctx.nets["G"].z_dim)
        with torch.no_grad():
            fake = ctx.frozen["G"](z, y)
        real_in, fake_in = self._noisy(batch.x, ctx), self._noisy(fake, ctx)
        D = ctx.train["D"]
        real_logits, real_cls = D(real_in, heads=True)  # [b], [b, K]
        fake_logits, fake_cls = D(fake_in, heads=True)
        ce_real, ce_fake = aux_class_loss(real_cls, y), aux_class_loss(fake_cls, y)
        loss_s = loss.d_loss(real_logits, fake_logits)
        ce = ce_real + ce_fake if cfg.aux_on_fake else ce_real
        loss_d = self._penalised(loss_s + cfg.aux_weight * ce, real_in, fake_in, None, ctx)
        if last:
            log_d_scores(ctx.stats, loss, loss_s, real_logits, fake_logits)
            ctx.stats.add("Loss/AC_real", ce_real)
            ctx.stats.add("Loss/AC_fake", ce_fake)
            ctx.stats.add("AC/acc_real", (real_cls.argmax(1) == y).float().mean())
        return loss_d

    def _g_loss(self, ctx: StepContext, batch: Batch | None = None) -> Tensor:
        """G's real/fake objective through the frozen D, plus the class term on its samples' drawn labels."""
        draws, ms_weight = ctx.draws, self.cfg.mode_seeking
        k = self.num_classes
        # with mode seeking, rows (2i, 2i+1) share a label, so the term compares two z of one class
        y = draws.randint(k, draws.batch // 2).repeat_interleave(2) if ms_weight else draws.randint(k, draws.batch)
        y = draws.rows(y)
        z = draws.z(ctx.nets["G"].z_dim)
        fake = ctx.train["G"](z, y)
        logits, cls = ctx.frozen["D"](self._noisy(fake, ctx), heads=True)
        loss_s = self.knobs["loss"].g_loss(logits)
        ce = aux_class_loss(cls, y)
        ctx.stats.add("Loss/G", loss_s)
        ctx.stats.add("Loss/AC_G", ce)
        ctx.stats.add("AC/acc_fake", (cls.argmax(1) == y).float().mean())
        loss_g = loss_s + self.cfg.aux_weight * ce
        if ms_weight:
            ms = mode_seeking_loss(fake, z, weight=ms_weight)
            ctx.stats.add("Loss/MS", ms)
            loss_g = loss_g + ms
        return loss_g
