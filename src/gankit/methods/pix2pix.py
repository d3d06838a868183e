"""Paired image-to-image translation: pix2pix (Isola et al. 2017, "Image-to-image translation with conditional
adversarial networks") on the tasks of gankit.data.tasks (edges, superres4, superres2, inpaint, colorize).

G is a U-Net from the task's input to the target image; D a conditional PatchGAN that scores (input, image) pairs
patch by patch. Each step: D learns to tell (input, target) from (input, G(input)) on a fresh batch; then G, on the
same batch, minimises adv_weight * (the configured GAN objective through the frozen D) + recon_weight * L1(G(input),
target). The L1 term alone regresses to the mean of the plausible answers, a blur; the adversarial term's job is
to make the output look like one answer, sharply.

`--adv-weight 0` trains the same G on the L1 term alone (the baseline the GAN is measured against): D is then not
built and no D phase runs, so G sees exactly the batches and the random inpainting holes the GAN's G sees, at half
the cost per step. The task's input is made from the batch on the fly (holes drawn from training's seeded stream),
so runs resume bit for bit. No z: G is deterministic given its input (pix2pix's dropout noise is left out; the
paper found G learns to ignore it).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import TrainConfig
from ..data.tasks import Task, get_task
from ..data.transforms import as_float
from ..distributed import BatchShard
from ..errors import ConfigError, GankitError
from ..models.patchgan import PatchDiscriminator
from ..models.unet import UNet
from .base import Batch, Method, OptimizerGroup, Phase, StepContext, log_d_scores, loss_without_penalty

SNAPSHOT_IMAGES = 24  # held-out images in samples/step_*.png: 6 rows of 4 input | output | target triptychs
TRIPTYCHS_PER_ROW = 4
HAS_TEST_SPLIT = ("mnist", "fashion-mnist", "coloured-mnist")


def translator(cfg: TrainConfig, data_shape: tuple[int, ...]) -> UNet:
    """An untrained U-Net of a run's task and width, for targets of `data_shape`."""
    task = get_task(cfg.task)
    cin, size, _ = task.input_shape(data_shape)
    return UNet(cin, data_shape[0], in_size=size, width=cfg.width or 32, composite=task.name == "inpaint")


class Pix2Pix(Method):
    name = "pix2pix"
    uses_model = False  # its own networks, whatever --model says
    ema_of: ClassVar[str | None] = None  # G is a regression network: its own weights translate
    inference: ClassVar[dict[str, str]] = {"translate": "G"}
    own_scores: ClassVar[bool] = True  # accuracy, FID, L1, PSNR, SSIM and the task's own on held-out inputs
    # Isola et al.'s optimiser (Adam 2e-4, betas 0.5/0.999) and lambda = 100; batches of 32 instead of 1 (their
    # batch-1 runs on 256x256 images; 28x28 images are cheap) with batch norm in both networks
    recipe: ClassVar[dict[str, Any]] = {"batch_size": 32, "lr_g": 2e-4, "lr_d": 2e-4, "beta2": 0.999, "ema": 0.0,
                                        "width": 32, "d_width": 32, "steps": 3000, "d_steps": 1}

    @classmethod
    def scores(cls, G: Any, *, n: int | None, seed: int, data_dir: str | None,
               classifier: Any = None) -> dict[str, Any]:
        from ..evaluation.paired import evaluate_translation

        return evaluate_translation(G, n=n, seed=seed, data_dir=data_dir)

    def __init__(self, cfg: TrainConfig, data: Any, parts: Any = None) -> None:
        super().__init__(cfg, data, parts)
        if cfg.task is None:
            raise ConfigError("--method pix2pix translates images: name the task with --task (edges, superres4, "
                              "superres2, inpaint, colorize)")
        self.task: Task = get_task(cfg.task)
        self.task.check_data(cfg.dataset, tuple(data.sample_shape))  # before anything is built or written
        if cfg.conditional:
            raise ConfigError("--method pix2pix is conditioned on its input image; drop --conditional")
        if self.parts.generator is not None or self.parts.discriminator is not None or self.parts.loss is not None:
            raise ConfigError("--method pix2pix builds its own U-Net G and PatchGAN D and its objective; give no "
                              "generator, discriminator or loss")
        loss = loss_without_penalty(cfg, "pix2pix")
        self.knobs = {"loss": loss}
        self.adversarial = cfg.adv_weight > 0
        self._pair: tuple[Tensor, Tensor] | None = None  # the D phase's (input, target), for G's phase
        self._shown: tuple[Tensor, Tensor] = (torch.empty(0), torch.empty(0))  # snapshot inputs drawn, targets

    # ------------------------------------------------------------------ declarations
    @classmethod
    def inference_net(cls, name: str, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        if name != "G":
            raise KeyError(name)
        return translator(cfg.resolved(), data_shape)

    @classmethod
    def sampler_network(cls, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module | None:
        return translator(cfg.resolved(), data_shape)

    def build(self) -> dict[str, nn.Module]:
        shape = tuple(self.data.sample_shape)
        nets: dict[str, nn.Module] = {"G": translator(self.cfg, shape)}
        if self.adversarial:
            cond = self.task.input_shape(shape)[0]
            nets["D"] = PatchDiscriminator(cond, shape[0], width=self.cfg.d_width or 32)
        return nets

    def optimizers(self) -> dict[str, OptimizerGroup]:
        groups = {"G": OptimizerGroup(("G",), self.cfg.lr_g)}
        if self.adversarial:
            groups["D"] = OptimizerGroup(("D",), self.cfg.lr_d)
        return groups

    def phases(self) -> list[Phase]:
        if not self.adversarial:
            return [Phase("G", "G")]
        # G trains on the pair of D's last update (pix2pix updates both on the same batch)
        return [Phase("D", "D", repeats=self.cfg.d_steps), Phase("G", "G", takes_batch=False, frozen=("D",))]

    def check(self, shard: BatchShard) -> None:
        if shard.local_batch < 2:
            raise ConfigError("--method pix2pix's networks use batch norm: the per-rank batch must be at least 2")

    # ------------------------------------------------------------------ per step
    def _make_pair(self, batch: Batch, ctx: StepContext) -> tuple[Tensor, Tensor]:
        u = ctx.draws.rand_like_rows(batch.x, (self.task.uniforms,)) if self.task.uniforms else None
        return self.task.make(batch.x, u)  # [b, *input_shape], [b, *data_shape]

    def loss(self, phase: Phase, batch: Batch | None, ctx: StepContext) -> Tensor:
        if phase.name == "D":
            assert batch is not None
            self._pair = self._make_pair(batch, ctx)
            return self._d_loss(*self._pair, ctx, last=ctx.repeat == phase.repeats - 1)
        if batch is not None:  # the L1 network alone: G's phase takes its own batch
            pair = self._make_pair(batch, ctx)
        else:
            assert self._pair is not None
            pair, self._pair = self._pair, None
        return self._g_loss(*pair, ctx)

    def _d_loss(self, inp: Tensor, target: Tensor, ctx: StepContext, last: bool) -> Tensor:
        loss = self.knobs["loss"]
        with torch.no_grad():
            fake = ctx.frozen["G"](inp)  # [b, *data_shape]
        cond = self.task.condition(inp)  # [b, Cin, 28, 28]
        D = ctx.train["D"]
        real_logits, fake_logits = D(cond, target), D(cond, fake)  # [b, 49] each
        loss_d = loss.d_loss(real_logits, fake_logits)
        if last:
            log_d_scores(ctx.stats, loss, loss_d, real_logits, fake_logits)
        return loss_d

    def _g_loss(self, inp: Tensor, target: Tensor, ctx: StepContext) -> Tensor:
        fake = ctx.train["G"](inp)  # [b, *data_shape]
        l1 = F.l1_loss(fake, target)
        ctx.stats.add("Loss/L1", l1)
        total = self.cfg.recon_weight * l1
        if self.adversarial:
            adv = self.knobs["loss"].g_loss(ctx.frozen["D"](self.task.condition(inp), fake))
            ctx.stats.add("Loss/G_adv", adv)
            total = total + self.cfg.adv_weight * adv
        ctx.stats.add("Loss/G", total)
        return total

    # ------------------------------------------------------------------ sampling
    def fixed_inputs(self, nets: dict[str, nn.Module], device: torch.device) -> tuple[tuple[Tensor | None, ...], int]:
        """Held-out images (the test split where the data set has one) made into inputs, holes from a fixed
        seed; `snapshot` draws them as input | output | target."""
        target = held_out_images(self.cfg, self.data, SNAPSHOT_IMAGES).to(device)
        g = torch.Generator().manual_seed(self.cfg.seed + 7919)
        u = torch.rand((len(target), self.task.uniforms), generator=g).to(device) if self.task.uniforms else None
        inp, target = self.task.make(target, u)
        self._shown = (self.task.display(inp, target.shape[1]), target)
        return (inp, None), 3 * TRIPTYCHS_PER_ROW

    def snapshot(self, sampler: nn.Module, nets: dict[str, nn.Module], fixed: tuple[Any, ...]) -> Tensor:
        shown, target = self._shown
        out = sampler(*fixed)
        return triptychs(shown.to(out.device), out, target.to(out.device))


def triptychs(inp: Tensor, out: Tensor, target: Tensor) -> Tensor:
    """Interleave rows (input_i, output_i, target_i), so a grid of 3k columns shows k triptychs per row.
    # 3 x [N, C, H, W] -> [3N, C, H, W]"""
    return torch.stack([inp, out.to(inp.dtype), target.to(inp.dtype)], 1).flatten(0, 1)


def held_out_images(cfg: TrainConfig, data: Any, n: int) -> Tensor:
    """n target images for the snapshots: the first n of the data set's test split, which the run does not train
    on; for data without one (mnist5k, npy:, folder:) or when it cannot be read, the last n training images.
    # [n, C, 28, 28] in [-1, 1]"""
    from ..data import load_dataset

    x = data.x[-n:]
    if cfg.dataset in HAS_TEST_SPLIT:
        try:
            test = load_dataset(cfg.dataset, split="test", data_dir=cfg.data_dir, channels=cfg.channels,
                                compact=True)
            if tuple(test.x.shape[1:]) == tuple(data.x.shape[1:]):
                x = test.x[:n]
        except GankitError:  # the IDX files of the test split are not at hand: training images, as above
            pass
    return as_float(x).contiguous()
