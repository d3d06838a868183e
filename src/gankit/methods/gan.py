"""The GAN of Goodfellow et al. (2014), unconditional and class-conditional, with every objective and trick.

Algorithm 1: k discriminator updates on fresh real batches, then one generator update through a frozen D. The
objective is any of gankit.losses (or the user's own); WGAN-GP's gradient penalty, R1, one-sided label smoothing
(inside the loss), annealed instance noise and the mode-seeking term are options of this method, and so is
`--reuse-fake` (G's update reuses the last D update's fake batch, as pytorch/examples' dcgan does). Against mode
collapse: `--pack M` (PacGAN; the D is built packed, gankit.models.packing), `--minibatch-disc B` (a D layer,
gankit.models.minibatch) and `--unrolled K` (G's loss through K look-ahead D updates, gankit.methods.unroll).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..distributed import BatchShard
from ..errors import ConfigError
from ..losses import as_loss, get_loss
from ..models import build_networks
from ..models.custom import as_discriminator, as_generator
from ..models.packing import PackedDiscriminator, packed_shape
from ..models.prior import sample_prior
from ..regularizers import gradient_penalty, instance_noise_std, mode_seeking_loss, r1_penalty
from .base import Batch, Method, OptimizerGroup, Phase, StepContext, log_d_scores
from .unroll import unrolled_forward


class GAN(Method):
    name = "gan"

    def __init__(self, cfg: Any, data: Any, parts: Any = None) -> None:
        super().__init__(cfg, data, parts)
        if cfg.conditional and data.num_classes == 0:
            raise ConfigError(f"--conditional needs a labelled data set; {cfg.dataset!r} has no labels")
        self.num_classes = data.num_classes if cfg.conditional else 0
        loss = (as_loss(self.parts.loss) if self.parts.loss is not None else
                get_loss(cfg.loss, label_smoothing=cfg.label_smoothing, lsgan_abc=tuple(cfg.lsgan_abc)))
        # the objective in force and this step's instance-noise std; --auto-remedy may change either
        self.knobs = {"loss": loss, "noise_std": 0.0}
        self._for_g: tuple[Tensor, Tensor | None] | None = None  # --reuse-fake: the last D update's fake and labels

    # ------------------------------------------------------------------ declarations
    def build(self) -> dict[str, nn.Module]:
        cfg, shape = self.cfg, tuple(self.data.sample_shape)
        G, D = self.parts.generator, self.parts.discriminator
        if G is None or D is None:
            built_g, built_d = build_networks(cfg, shape, self.data.num_classes)
            G = built_g if G is None else G
            D = built_d if D is None else D
        G = as_generator(G, data_shape=shape, z_dim=cfg.z_dim, num_classes=self.num_classes)
        if cfg.pack > 1 and not isinstance(D, PackedDiscriminator):  # the caller's own D takes packed inputs
            D = PackedDiscriminator(as_discriminator(D, data_shape=packed_shape(shape, cfg.pack), num_classes=0),
                                    shape, cfg.pack)
        D = as_discriminator(D, data_shape=shape, num_classes=self.num_classes)
        return {"G": G, "D": D}

    def optimizers(self) -> dict[str, OptimizerGroup]:
        return {"G": OptimizerGroup(("G",), self.cfg.lr_g), "D": OptimizerGroup(("D",), self.cfg.lr_d)}

    def phases(self) -> list[Phase]:
        # an unrolled G update runs D's look-ahead on a real batch of its own
        return [Phase("D", "D", repeats=self.cfg.d_steps),
                Phase("G", "G", takes_batch=self.cfg.unrolled > 0, frozen=("D",))]

    def check(self, shard: BatchShard) -> None:
        if self.cfg.mode_seeking and shard.local_batch % 2:
            raise ConfigError(f"--mode-seeking pairs each rank's rows: the per-rank batch {shard.local_batch} must "
                              "be even")
        if shard.local_batch % self.cfg.pack:
            raise ConfigError(f"--pack {self.cfg.pack} groups each rank's rows: the per-rank batch "
                              f"{shard.local_batch} must be divisible by it")

    def begin_step(self, step: int) -> None:
        self.knobs["noise_std"] = instance_noise_std(step, self.cfg.steps, self.cfg.instance_noise)

    def loss(self, phase: Phase, batch: Batch | None, ctx: StepContext) -> Tensor:
        if phase.name == "D":
            assert batch is not None
            return self._d_loss(batch, ctx, last=ctx.repeat == phase.repeats - 1)
        return self._g_loss(ctx, batch)

    # ------------------------------------------------------------------ the two phases
    def _d_loss(self, batch: Batch, ctx: StepContext, last: bool) -> Tensor:
        """D's objective on a real batch and a fresh fake one, plus its penalties (Algorithm 1's inner loop)."""
        cfg, loss = self.cfg, self.knobs["loss"]
        y = batch.y if self.num_classes else None
        z = ctx.draws.z(ctx.nets["G"].z_dim)
        if cfg.reuse_fake and last:  # this fake also feeds G's update: keep its graph
            fake_g = ctx.train["G"](z, y)
            self._for_g = (fake_g, y)
            fake = fake_g.detach()
        else:
            with torch.no_grad():
                fake = ctx.frozen["G"](z, y)
        real_in, fake_in = self._noisy(batch.x, ctx), self._noisy(fake, ctx)
        D = ctx.train["D"]
        real_logits, fake_logits = D(real_in, y), D(fake_in, y)  # [b], [b]
        loss_d = self._penalised(loss.d_loss(real_logits, fake_logits), real_in, fake_in, y, ctx)
        if last:  # the log shows the step's last D update
            log_d_scores(ctx.stats, loss, loss_d, real_logits, fake_logits)
        return loss_d

    def _penalised(self, loss_d: Tensor, real_in: Tensor, fake_in: Tensor, y: Tensor | None,
                   ctx: StepContext) -> Tensor:
        """D's objective plus the penalties the config asks for: WGAN-GP's gradient penalty (one interpolation
        weight per sample, drawn for the global batch) and R1 on the real batch, each logged."""
        cfg, loss = self.cfg, self.knobs["loss"]
        if loss.uses_gradient_penalty:
            alpha = ctx.draws.rand_like_rows(real_in, (1,) * (real_in.dim() - 1))
            gp = gradient_penalty(ctx.nets["D"], real_in, fake_in, y, weight=cfg.gp_weight, alpha=alpha)
            ctx.stats.add("Loss/GP", gp)
            loss_d = loss_d + gp
        if cfg.r1 > 0:
            r1 = r1_penalty(ctx.nets["D"], real_in, y, gamma=cfg.r1)
            ctx.stats.add("Loss/R1", r1)
            loss_d = loss_d + r1
        return loss_d

    def _g_loss(self, ctx: StepContext, batch: Batch | None = None) -> Tensor:
        """G's objective through the frozen D (or, unrolled, D after its look-ahead updates on `batch`), on fresh z
        and labels (or the reused fake batch)."""
        cfg, loss, draws = self.cfg, self.knobs["loss"], ctx.draws
        if cfg.reuse_fake:
            assert self._for_g is not None
            (fake, y), self._for_g = self._for_g, None
        else:  # with mode seeking, rows (2i, 2i+1) share a label
            y = None
            if self.num_classes:
                y = (draws.randint(self.num_classes, draws.batch // 2).repeat_interleave(2) if cfg.mode_seeking
                     else draws.randint(self.num_classes, draws.batch))
                y = draws.rows(y)
            z = draws.z(ctx.nets["G"].z_dim)
            fake = ctx.train["G"](z, y)
        D = ctx.frozen["D"] if not cfg.unrolled else self._unrolled_d(fake, y, batch, ctx)
        loss_g = loss.g_loss(D(self._noisy(fake, ctx), y))
        if cfg.mode_seeking:
            ms = mode_seeking_loss(fake, z, weight=cfg.mode_seeking)
            ctx.stats.add("Loss/MS", ms)
            loss_g = loss_g + ms
        ctx.stats.add("Loss/G", loss_g)
        return loss_g

    def _unrolled_d(self, fake: Tensor, y: Tensor | None, batch: Batch | None, ctx: StepContext) -> Any:
        """D after `unrolled` look-ahead steps of its adversarial objective (no penalties, no instance noise) on
        the real batch and G's fake batch, the latter kept in the graph so G's gradient flows through the steps."""
        assert batch is not None
        loss, real = self.knobs["loss"], batch.x
        y_real = batch.y if self.num_classes else None

        def d_objective(D: Any) -> Tensor:
            return loss.d_loss(D(real, y_real), D(fake, y))

        return unrolled_forward(ctx.nets["D"], d_objective, self.cfg.unrolled, self.cfg.lr_d)

    def _noisy(self, x: Tensor, ctx: StepContext) -> Tensor:
        std = self.knobs["noise_std"]
        return x if std <= 0 else x + std * ctx.draws.randn_like_rows(x)

    # ------------------------------------------------------------------ sampling
    def fixed_inputs(self, nets: dict[str, nn.Module], device: torch.device) -> tuple[tuple[Tensor | None, ...], int]:
        """The noise (and labels) behind every samples/step_*.png: drawn from their own seed, never from the
        training stream, so snapshots do not perturb training. Conditional grids get one row per class (with more
        classes than `n_samples`, one sample of each of the first `n_samples` classes)."""
        cfg, k, z_dim = self.cfg, self.num_classes, int(nets["G"].z_dim)
        g = torch.Generator(device=device).manual_seed(cfg.seed + 7919)
        if not self.data.is_image:
            n = max(cfg.n_samples, 2000)  # a scatter plot needs many points
            labels = torch.arange(n, device=device) % k if k else None
            return (sample_prior(cfg.prior, n, z_dim, g, device), labels), 0
        if k > cfg.n_samples:  # more classes than the grid holds (a folder of hundreds): one each of the first
            labels = torch.arange(cfg.n_samples, device=device)
            return (sample_prior(cfg.prior, len(labels), z_dim, g, device), labels), 0
        if k:
            per_class = cfg.n_samples // k
            labels = torch.arange(k, device=device).repeat_interleave(per_class)
            return (sample_prior(cfg.prior, len(labels), z_dim, g, device), labels), per_class
        return (sample_prior(cfg.prior, cfg.n_samples, z_dim, g, device), None), 0
