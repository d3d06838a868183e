"""InfoGAN (Chen et al. 2016): a GAN whose latent holds codes that a Q network must recover from the sample.

G takes noise and codes c (a categorical code, continuous codes U(-1, 1)); Q shares D's body and predicts c from
a sample. Maximising a variational lower bound of the mutual information I(c; G(z, c)),
L_I = E[log Q(c | G(z, c))] + H(c), makes the codes control something Q can see: unsupervised, the 10-way code on
MNIST takes the digit's class and the continuous codes its width and slant. Both players add -lambda * L_I:
D's update trains Q's head and the shared body on fakes, G's update moves G through a frozen Q
(min_{G,Q} max_D V(D, G) - lambda L_I(G, Q), eq. 6 of the paper).

On 1x28x28 images the networks are the paper's MNIST networks (gankit.models.dense, `--model dcgan-dense`, the
default there: a dense layer of 1024 units in G and D, Q on D's dense features), and `--model dcgan` means them
too, as it did before dcgan-dense had a name; with the plain DCGAN model, whose G maps z linearly to its first
feature maps, the categorical code took the digit's class for about a third of the test digits after 1,500 steps
against about two thirds with the paper's networks after 1,000 (docs/zoo.md). Other sizes keep the DCGAN model.

Categorical term: the cross-entropy of Q's logits against the drawn category (lambda = `info_weight`, 1 in the
paper). Continuous term: the negative log-likelihood of the drawn codes under a unit-variance Gaussian centred on
Q's outputs, the factored Gaussian of the paper's released MNIST setup (lambda = `info_cont_weight`, smaller).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import TrainConfig
from ..errors import ConfigError
from ..models import build_models
from ..models.heads import CodedGenerator, HeadedDiscriminator
from ..models.dense import SHAPE as PAPER_SHAPE
from ..models.prior import sample_prior
from .base import Batch, StepContext, log_d_scores
from .gan import GAN

#: width of Q's hidden layer on D's body (Chen et al. 2016, appendix C.1: FC 128-BN-lReLU-FC)
Q_HIDDEN = 128
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def info_terms(cat_logits: Tensor | None, cat: Tensor | None, cont_mean: Tensor | None,
               cont: Tensor | None) -> tuple[Tensor, Tensor]:
    """(categorical cross-entropy, continuous Gaussian NLL), each a batch mean; a missing code gives 0.

    cat_logits [N, K] vs cat [N] int64: -mean log softmax(cat_logits)[cat].
    cont_mean [N, C] vs cont [N, C]: mean over N of sum over C of 0.5 (cont - mean)^2 + 0.5 log 2 pi, the NLL
    under N(mean, 1). H(c) - cross-entropy is the lower bound of I(c_cat; x) that the categorical term tightens."""
    ref = cat_logits if cat_logits is not None else cont_mean
    zero = torch.zeros((), device=ref.device if ref is not None else None)
    ce = F.cross_entropy(cat_logits, cat) if cat_logits is not None and cat is not None else zero
    nll = zero
    if cont_mean is not None and cont is not None:
        nll = (0.5 * (cont - cont_mean).pow(2) + _HALF_LOG_2PI).sum(dim=1).mean()
    return ce, nll


def info_loss(cat_logits: Tensor | None, cat: Tensor | None, cont_mean: Tensor | None, cont: Tensor | None,
              cat_weight: float, cont_weight: float) -> Tensor:
    """-lambda L_I up to the constant H(c): cat_weight * cross-entropy + cont_weight * Gaussian NLL."""
    ce, nll = info_terms(cat_logits, cat, cont_mean, cont)
    return cat_weight * ce + cont_weight * nll


def build_info_networks(cfg: TrainConfig, data_shape: tuple[int, ...]) -> tuple[CodedGenerator, HeadedDiscriminator]:
    """G (noise + codes) and D with Q's head, on the config's model (the paper's networks for dcgan and dcgan-dense on
    1x28x28 images); `gankit.load` rebuilds G the same way."""
    cfg = cfg.resolved()
    codes = cfg.info_cat + cfg.info_cont
    if codes == 0:
        raise ConfigError("--method infogan needs at least one code: --info-cat >= 2 or --info-cont >= 1")
    # MNIST-like images: `--model dcgan` means the paper's networks (dcgan-dense), as it did before they had a name
    model = "dcgan-dense" if cfg.model == "dcgan" and tuple(data_shape) == PAPER_SHAPE else cfg.model
    base_g, base_d = build_models(model, data_shape=tuple(data_shape), z_dim=cfg.z_dim + codes, num_classes=0,
                                  width=cfg.width, d_width=cfg.d_width, depth=cfg.depth)
    G = CodedGenerator(base_g, cfg.z_dim, cfg.info_cat, cfg.info_cont, cfg.prior)
    return G, HeadedDiscriminator(base_d, codes, hidden=Q_HIDDEN)


class InfoGAN(GAN):
    name = "infogan"
    # As Chen et al. trained it on MNIST: 62 noise dimensions beside the codes, Adam 2e-4 for D and 1e-3 for G, and
    # a D (with Q on its body) as wide as G (the paper's D has 64 and 128 channels: DCGAN's at width 64); batch 64
    # here, 128 in the paper's released code. Images only: toys keep their own recipe.
    recipe: ClassVar[dict[str, Any]] = {"z_dim": 62, "lr_g": 1e-3, "lr_d": 2e-4, "batch_size": 64}

    @classmethod
    def recipe_values(cls, *, toy: bool, model: str) -> dict[str, Any]:
        if toy:
            return {}
        return {**cls.recipe, **({"width": 64, "d_width": 64} if model in ("dcgan", "dcgan-dense") else {})}

    def __init__(self, cfg: Any, data: Any, parts: Any = None) -> None:
        super().__init__(cfg, data, parts)
        if self.parts.generator is not None or self.parts.discriminator is not None:
            raise ConfigError("--method infogan builds its own G (noise + codes) and D (with Q's head) from --model; "
                              "it takes no generator or discriminator from Python")
        if cfg.conditional:
            raise ConfigError("--method infogan learns its codes unsupervised; drop --conditional")
        for flag, on in (("--reuse-fake", cfg.reuse_fake), ("--mode-seeking", bool(cfg.mode_seeking))):
            if on:
                raise ConfigError(f"{flag} is not supported by --method infogan")

    def build(self) -> dict[str, nn.Module]:
        G, D = build_info_networks(self.cfg, tuple(self.data.sample_shape))
        return {"G": G, "D": D}

    @classmethod
    def sampler_network(cls, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        return build_info_networks(cfg, data_shape)[0]

    # ------------------------------------------------------------------ the two phases
    def _info(self, q: Tensor, z: Tensor, G: CodedGenerator, ctx: StepContext, tag: str) -> Tensor:
        """The weighted information term of Q's outputs q [N, cat + cont] against the codes z holds."""
        cat, cont = G.codes(z)
        k = self.cfg.info_cat
        ce, nll = info_terms(q[:, :k] if k else None, cat, q[:, k:] if cont is not None else None, cont)
        if k:
            ctx.stats.add(f"Info/{tag}_cat_ce", ce)
        if cont is not None:
            ctx.stats.add(f"Info/{tag}_cont_nll", nll)
        return self.cfg.info_weight * ce + self.cfg.info_cont_weight * nll

    def _d_loss(self, batch: Batch, ctx: StepContext, last: bool) -> Tensor:
        """D's objective on a real and a fake batch, plus Q's information term on the fake one."""
        loss, G = self.knobs["loss"], ctx.nets["G"]
        z = ctx.draws.z(G.z_dim)  # [b, noise + cat + cont]: the codes are read off z
        with torch.no_grad():
            fake = ctx.frozen["G"](z)
        real_in, fake_in = self._noisy(batch.x, ctx), self._noisy(fake, ctx)
        D = ctx.train["D"]
        real_logits = D(real_in)
        fake_logits, q = D(fake_in, heads=True)  # one pass through the shared body: [b], [b, cat + cont]
        loss_d = self._penalised(loss.d_loss(real_logits, fake_logits), real_in, fake_in, None, ctx)
        info = self._info(q, z, G, ctx, "D")
        if last:
            log_d_scores(ctx.stats, loss, loss_d, real_logits, fake_logits)
            ctx.stats.add("Loss/Info_D", info)
        return loss_d + info

    def _g_loss(self, ctx: StepContext, batch: Batch | None = None) -> Tensor:
        """G's objective through the frozen D, plus the information term through the frozen Q."""
        loss, G = self.knobs["loss"], ctx.nets["G"]
        z = ctx.draws.z(G.z_dim)
        fake = ctx.train["G"](z)
        logits, q = ctx.frozen["D"](self._noisy(fake, ctx), heads=True)
        loss_g = loss.g_loss(logits)
        info = self._info(q, z, G, ctx, "G")
        ctx.stats.add("Loss/G", loss_g)
        ctx.stats.add("Loss/Info_G", info)
        return loss_g + info

    # ------------------------------------------------------------------ sampling
    def fixed_inputs(self, nets: dict[str, nn.Module], device: torch.device) -> tuple[tuple[Tensor | None, ...], int]:
        """Image grids: one row per value of the categorical code, the same noise and continuous codes down each
        column, so a column shows what the code alone changes."""
        cfg, G = self.cfg, nets["G"]
        k = cfg.info_cat
        if not self.data.is_image or not k:
            return super().fixed_inputs(nets, device)
        g = torch.Generator(device=device).manual_seed(cfg.seed + 7919)
        per_row = max(1, cfg.n_samples // k)
        z = sample_prior(cfg.prior, per_row, G.z_dim, g, device).repeat(k, 1)  # [k * per_row, z_dim]
        codes = torch.arange(k, device=device).repeat_interleave(per_row)
        return (G.with_codes(z, cat=codes), None), per_row
