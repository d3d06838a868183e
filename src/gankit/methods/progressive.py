"""Progressive growing of GANs (Karras et al. 2018): G and D grow together from 4x4 to the final resolution,
each new level fading in while the previous one is still there.

The schedule is a pure function of the step (gankit.models.progressive.stage_at): `phase_steps` at 4x4, then a
fade-in and a stabilising stretch of `phase_steps` for each next level, so a resumed run is at the same stage as
an uninterrupted one. Each step sets the stage on G and D (and, through the buffers, on G's EMA copy); D sees real
images brought to the stage's resolution, blended during a fade-in exactly as G's output is (the paper's
transition of the real images). The objective, penalties and tricks are those of the GAN method (this class is
one); the networks have the paper's equalised learning rate, pixel norm in G and minibatch std in D.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from ..config import TrainConfig
from ..distributed import BatchShard
from ..errors import ConfigError
from ..models.layers import downsample, upsample
from ..models.progressive import ProgressiveDiscriminator, ProgressiveGenerator, levels_for, stage_at
from .base import Batch, Phase, StepContext
from .gan import GAN


def fade_real(x: Tensor, level: int, alpha: float, levels: int) -> Tensor:
    """Real images as the stage shows them: pooled to level's resolution, blended during a fade-in with the
    previous level's version, then upsampled (nearest) back to the full size.  # [N, C, S, S] -> same"""
    f = 2 ** (levels - 1 - level)
    low = downsample(x, f)
    if level > 0 and alpha < 1.0:
        low = upsample(downsample(low)) * (1.0 - alpha) + low * alpha
    return upsample(low, f)


class Progressive(GAN):
    name = "progressive"
    uses_model = False  # its own networks, whatever --model says
    # Karras et al. trained with Adam (lr 1e-3, beta1 0, beta2 0.99) and an EMA of G (0.999); beta1 0 is
    # `--beta1 0` (not a recipe knob). Widths: 16 at the final level, doubling toward 4x4 (capped at 8x); on a
    # 2-core CPU at 32x32, width 32 took 2.6x the time of width 16 (G and D forward and backward, batch 32)
    recipe: ClassVar[dict[str, Any]] = {"lr_g": 1e-3, "lr_d": 1e-3, "beta2": 0.99, "width": 16, "d_width": 16,
                                        "batch_size": 32, "ema": 0.999}

    def __init__(self, cfg: TrainConfig, data: Any, parts: Any = None) -> None:
        if cfg.conditional:
            raise ConfigError(f"--method {self.name} grows unconditional networks; drop --conditional")
        if parts is not None and (parts.generator is not None or parts.discriminator is not None):
            raise ConfigError(f"--method {self.name} builds its own growing networks; give no generator or "
                              "discriminator")
        super().__init__(cfg, data, parts)
        shape = tuple(data.sample_shape)
        if len(shape) != 3:
            raise ConfigError(f"--method {self.name} grows image networks; {cfg.dataset!r} is not images")
        if shape[1] != shape[2] or shape[1] < 8 or shape[1] & (shape[1] - 1):
            raise ConfigError(f"--method {self.name} grows from 4x4 by doubling: the images must be square with a "
                              f"power-of-two size, got {shape[1]}x{shape[2]} (use --resolution 32)")
        self.levels = levels_for(shape[1])
        self.phase_steps = cfg.phase_steps or max(1, (cfg.steps or 1) // (2 * self.levels - 1))
        self.knobs.update({"resolution": 4, "alpha": 1.0})

    # ------------------------------------------------------------------ declarations
    @classmethod
    def sampler_network(cls, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        cfg = cfg.resolved()
        return ProgressiveGenerator(data_shape, cfg.z_dim, 0, cfg.width)  # type: ignore[arg-type]

    @classmethod
    def inference_net(cls, name: str, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        return growing_d(name, cfg, data_shape)

    def build(self) -> dict[str, nn.Module]:
        shape = tuple(self.data.sample_shape)
        return {"G": self.sampler_network(self.cfg, shape, 0), "D": self.inference_net("D", self.cfg, shape, 0)}

    def check(self, shard: BatchShard) -> None:
        super().check(shard)
        if self.cfg.phase_steps is None and self.cfg.steps < 2 * self.levels - 1:
            raise ConfigError(f"--method {self.name} needs at least {2 * self.levels - 1} steps to reach "
                              f"{4 * 2 ** (self.levels - 1)}x{4 * 2 ** (self.levels - 1)}, got {self.cfg.steps}")

    # ------------------------------------------------------------------ per step
    def stage(self, step: int) -> tuple[int, float]:
        return stage_at(step, self.phase_steps, self.levels)

    def begin_step(self, step: int) -> None:
        super().begin_step(step)
        level, alpha = self.stage(step)
        self.knobs["resolution"], self.knobs["alpha"] = 4 * 2 ** level, alpha

    def loss(self, phase: Phase, batch: Batch | None, ctx: StepContext) -> Tensor:
        level, alpha = self.stage(ctx.step)
        for name in ("G", "D"):
            ctx.nets[name].set_stage(level, alpha)  # type: ignore[operator]
        if batch is not None:
            batch = Batch(fade_real(batch.x, level, alpha, self.levels), batch.y)
        return super().loss(phase, batch, ctx)


def growing_d(name: str, cfg: TrainConfig, data_shape: tuple[int, ...]) -> nn.Module:
    """D of the growing and the style-based methods (the only network they rebuild besides G)."""
    if name != "D":
        raise KeyError(name)
    return ProgressiveDiscriminator(data_shape, 0, cfg.resolved().d_width)  # type: ignore[arg-type]

