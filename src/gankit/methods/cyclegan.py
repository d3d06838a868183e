"""CycleGAN (Zhu et al. 2017, "Unpaired image-to-image translation using cycle-consistent adversarial networks").

Two translators, G_ab: A -> B and G_ba: B -> A, and two discriminators, D_a on domain A and D_b on domain B. Domain
A is the data set's own images, domain B the `domain_b` transform (gankit.data.domains) of a *disjoint* half of
them, so no image is ever seen in both domains and no (a, b) pair exists to learn from. G's objective is

    adv_weight * (L_adv(D_b(G_ab(a))) + L_adv(D_a(G_ba(b))))
        + cycle_weight * (|G_ba(G_ab(a)) - a|_1 + |G_ab(G_ba(b)) - b|_1)

(the paper's lambda = 10), and each D learns real images of its own domain against the other translator's
outputs. `adv_weight 0` leaves the cycle term alone (the paper's "cycle alone" ablation): nothing then asks G_ab's
outputs to look like B, and no D is built. The adversarial term is the configured objective (--loss); the paper
uses least squares (`--loss lsgan`), for its steadier gradients, and the benchmark does too. Not carried over:
the paper's history pool of 50 past fakes for D (its state would have to join the checkpoint) and the identity
term (it keeps photo colours; for digits the cycle term is enough).

Every batch is drawn from the one seeded training stream (indices into the A and B halves, with replacement), so
a resumed run continues bit for bit. The loop's own batches are not used: it would draw from both halves at once.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..config import TrainConfig
from ..data.domains import Domain, get_domain, unpaired_split
from ..data.transforms import as_float
from ..distributed import BatchShard
from ..errors import ConfigError
from ..models.cyclenets import PatchDiscriminator, ResnetTranslator
from ..torch_utils import eval_mode
from .base import Batch, Method, OptimizerGroup, Phase, StepContext, loss_without_penalty

#: images of each domain held out of training for the snapshot rows
SHOW = 10
#: residual blocks of each translator at 7x7 (28x28 images)
BLOCKS = 2


def cycle_loss(x: Tensor, x_rec: Tensor) -> Tensor:
    """Cycle-consistency: mean absolute difference between images and their round trips.  [N, ...] x 2 -> []"""
    return (x_rec - x).abs().mean()


class CycleGAN(Method):
    name = "cyclegan"
    uses_model = False  # its own networks, whatever --model says
    ema_of: ClassVar[str | None] = "G_ab"
    sampler: ClassVar[str] = "G_ab"
    inference: ClassVar[dict[str, str]] = {"translate": "G_ab", "translate_back": "G_ba"}
    # Adam 2e-4, beta1 0.5 as in the paper; batches of 16 rather than its 1 (a CPU step costs about the same for a
    # few images as for one); no EMA copy (the paper keeps none). Measured on a shared 2-core CPU, one thread: 0.17
    # s per step when idle, 0.4-0.6 s under a load average of 5-10, so 4,000 steps take 12-30 minutes; on MNIST <->
    # thick, 800 steps already translated 96.0 % of held-out digits legibly (docs/cyclegan.md)
    recipe: ClassVar[dict[str, Any]] = {"batch_size": 16, "lr_g": 2e-4, "lr_d": 2e-4, "beta2": 0.999, "width": 16,
                                        "d_width": 16, "ema": 0.0, "steps": 4000}

    own_scores: ClassVar[bool] = True  # cycle error, classified translations, FID to the target domain

    @classmethod
    def scores(cls, G: Any, *, n: int | None, seed: int, data_dir: str | None,
               classifier: Any = None) -> dict[str, Any]:
        from ..evaluation.unpaired import evaluate_translation

        return evaluate_translation(G, n=n, seed=seed, data_dir=data_dir, classifier=classifier)

    def __init__(self, cfg: TrainConfig, data: Any, parts: Any = None) -> None:
        super().__init__(cfg, data, parts)
        _refuse(cfg, data, self.parts)
        self.domain: Domain = get_domain(cfg.domain_b)
        loss = loss_without_penalty(cfg, "cyclegan")
        self.knobs = {"loss": loss}
        self.held_out, self.idx_a, self.idx_b = unpaired_split(len(data), cfg.seed, held_out=2 * SHOW)
        self._images: Tensor | None = None  # data.x on the networks' device, moved once
        self._fakes: tuple[Tensor, ...] | None = None  # the G phase's (a, b, fake_a, fake_b) for the D phase
        self._show_b: Tensor | None = None  # held-out B images for the snapshots' last rows (fixed_inputs)

    @property
    def adversarial(self) -> bool:
        return self.cfg.adv_weight > 0

    # ------------------------------------------------------------------ declarations
    @classmethod
    def sampler_network(cls, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        return cls.inference_net("G_ab", cfg, data_shape, num_classes)

    @classmethod
    def inference_net(cls, name: str, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        cfg = cfg.resolved()
        if name in ("G_ab", "G_ba"):
            return ResnetTranslator(data_shape, cfg.width or 16, BLOCKS)
        if name in ("D_a", "D_b"):
            return PatchDiscriminator(data_shape, cfg.d_width or 16)
        raise KeyError(name)

    def build(self) -> dict[str, nn.Module]:
        shape = tuple(self.data.sample_shape)
        names = ("G_ab", "G_ba", "D_a", "D_b") if self.adversarial else ("G_ab", "G_ba")
        return {n: self.inference_net(n, self.cfg, shape, 0) for n in names}

    def optimizers(self) -> dict[str, OptimizerGroup]:
        groups = {"G": OptimizerGroup(("G_ab", "G_ba"), self.cfg.lr_g)}
        if self.adversarial:  # the two Ds share one Adam: their parameters are disjoint, so it is two updates
            groups["D"] = OptimizerGroup(("D_a", "D_b"), self.cfg.lr_d)
        return groups

    def phases(self) -> list[Phase]:
        # the paper's order: the translators first, then each D on the fakes they just made
        g = Phase("G", "G", takes_batch=False, frozen=("D_a", "D_b") if self.adversarial else ())
        return [g, Phase("D", "D", takes_batch=False)] if self.adversarial else [g]

    def check(self, shard: BatchShard) -> None:
        if self.cfg.d_steps not in (None, 1):
            raise ConfigError("--method cyclegan updates each D once per step on the translators' fresh outputs; "
                              "drop --d-steps")

    # ------------------------------------------------------------------ per step
    def unpaired_batch(self, ctx: StepContext) -> tuple[Tensor, Tensor]:
        """This rank's rows of one batch from each domain: A images from the A half, B = domain_b of images from
        the B half, indices drawn from the training stream.  # -> [b, C, H, W], [b, C, H, W]"""
        if self._images is None:
            self._images = self.data.x.to(next(ctx.nets["G_ab"].parameters()).device)
        draws = ctx.draws
        ia = self.idx_a[draws.randint(len(self.idx_a), draws.batch).cpu()]
        ib = self.idx_b[draws.randint(len(self.idx_b), draws.batch).cpu()]
        a = as_float(self._images[draws.rows(ia).to(self._images.device)])
        b = self.domain.make(as_float(self._images[draws.rows(ib).to(self._images.device)]))
        return a, b

    def loss(self, phase: Phase, batch: Batch | None, ctx: StepContext) -> Tensor:
        if phase.name == "G":
            return self._g_loss(ctx)
        return self._d_loss(ctx)

    def _g_loss(self, ctx: StepContext) -> Tensor:
        cfg = self.cfg
        a, b = self.unpaired_batch(ctx)
        G_ab, G_ba = ctx.train["G_ab"], ctx.train["G_ba"]
        fake_b, fake_a = G_ab(a), G_ba(b)  # [b, C, H, W] each
        cyc = cycle_loss(a, G_ba(fake_b)) + cycle_loss(b, G_ab(fake_a))
        total = cfg.cycle_weight * cyc
        ctx.stats.add("Loss/cycle", cyc)
        if self.adversarial:
            loss = self.knobs["loss"]
            adv = loss.g_loss(ctx.frozen["D_b"](fake_b)) + loss.g_loss(ctx.frozen["D_a"](fake_a))
            ctx.stats.add("Loss/G_adv", adv)
            total = total + cfg.adv_weight * adv
            self._fakes = (a, b, fake_a.detach(), fake_b.detach())
        ctx.stats.add("Loss/G", total)
        return total

    def _d_loss(self, ctx: StepContext) -> Tensor:
        """D_a: real A against G_ba's outputs; D_b: real B against G_ab's; the G phase's batch and fakes."""
        assert self._fakes is not None, "the D phase follows the G phase of the same step"
        (a, b, fake_a, fake_b), self._fakes = self._fakes, None
        loss = self.knobs["loss"]
        real_a, fake_a_s = ctx.train["D_a"](a), ctx.train["D_a"](fake_a)  # [b, 1, h, w] each
        real_b, fake_b_s = ctx.train["D_b"](b), ctx.train["D_b"](fake_b)
        loss_a, loss_b = loss.d_loss(real_a, fake_a_s), loss.d_loss(real_b, fake_b_s)
        stats = ctx.stats
        stats.add("Loss/D_a", loss_a)
        stats.add("Loss/D_b", loss_b)
        stats.add("Loss/D", loss_a + loss_b)
        # the health monitor reads one D's scores: the two domains' means
        real, fake = 0.5 * (real_a.mean() + real_b.mean()), 0.5 * (fake_a_s.mean() + fake_b_s.mean())
        stats.add("Score/real", real)
        stats.add("Score/fake", fake)
        if loss.probabilistic:
            stats.add("D/real", 0.5 * (torch.sigmoid(real_a).mean() + torch.sigmoid(real_b).mean()))
            stats.add("D/fake", 0.5 * (torch.sigmoid(fake_a_s).mean() + torch.sigmoid(fake_b_s).mean()))
        return loss_a + loss_b

    # ------------------------------------------------------------------ snapshots
    def fixed_inputs(self, nets: dict[str, nn.Module], device: torch.device) -> tuple[tuple[Tensor | None, ...], int]:
        """Held-out images of each domain (never trained on): A images for G_ab (the snapshot's first rows and the
        health probe), B images kept for the snapshot's last rows; SHOW per row."""
        show = as_float(self.data.x[self.held_out]).to(device)
        self._show_b = self.domain.make(show[SHOW:])
        return (show[:SHOW], None), SHOW

    def snapshot(self, sampler: nn.Module, nets: dict[str, nn.Module], fixed: tuple[Any, ...]) -> Tensor:
        """Rows: real A | G_ab(A) | G_ba(G_ab(A)) and real B | G_ba(B) | G_ab(G_ba(B)).  # [6 * SHOW, C, H, W]"""
        a, b = fixed[0], self._show_b
        assert b is not None, "fixed_inputs runs before the first snapshot"
        with eval_mode(nets["G_ba"]) as G_ba:
            ab, ba = sampler(a), G_ba(b)
            return torch.cat([a, ab, G_ba(ab), b, ba, sampler(ba)])


def _refuse(cfg: TrainConfig, data: Any, parts: Any) -> None:
    """Settings that have no meaning for unpaired translation: one line each."""
    if not data.is_image:
        raise ConfigError(f"--method cyclegan translates images; {cfg.dataset!r} is toy data")
    h, w = data.sample_shape[1:]
    if h % 4 or w % 4:
        raise ConfigError(f"--method cyclegan's translators halve the image twice: height and width must be "
                          f"multiples of 4, got {h}x{w} (set --image-size)")
    if cfg.conditional or cfg.labels_per_class:
        raise ConfigError("--method cyclegan translates without labels; drop --conditional / --labels-per-class")
    if parts.generator is not None or parts.discriminator is not None or parts.loss is not None:
        raise ConfigError("--method cyclegan builds its own two translators, two discriminators and objective; give "
                          "no generator, discriminator or loss")
    if cfg.eval_every:
        raise ConfigError("--eval-every scores samples drawn from noise; score a cyclegan run's translations with "
                          "`gankit evaluate RUN`")
    for flag, on in (("--reuse-fake", cfg.reuse_fake), ("--mode-seeking", cfg.mode_seeking), ("--r1", cfg.r1),
                     ("--instance-noise", cfg.instance_noise)):
        if on:
            raise ConfigError(f"{flag} applies to GANs that sample from noise; --method cyclegan does not take it")
