"""The progressively grown generator and discriminator of Karras et al. 2018 ("Progressive growing of GANs"),
scaled down for a CPU: both networks hold every layer up to the final resolution from the start, and a stage
(level, alpha) says how much of them is in use.

Level l works at 4 * 2**l pixels. While level l fades in (0 <= alpha < 1), G's output is the blend of the new
block's image and the previous level's image upsampled, and D's input path the blend of the new block on the
full-resolution input and the previous level's path on the input pooled 2x. The stage lives in buffers, so a
checkpoint, the EMA copy (buffers are copied) and `gankit.load` see the stage the weights were trained at.

Both networks speak at the final size: G's images are upsampled (nearest) to it and D pools its input down to
the stage's resolution, so snapshots, the growth GIF and every consumer of samples see [N, C, S, S] throughout.
G's output is linear, as in the paper; outside training it is clamped to the data range [-1, 1].
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .layers import EqualConv2d, EqualLinear, MinibatchStd, downsample, lrelu, pixel_norm, upsample

DEFAULT_WIDTH = 32
MAX_CHANNELS_FACTOR = 8  # channels at the coarsest levels are capped at 8 * width


def levels_for(size: int) -> int:
    """Levels from 4x4 to `size` (a power of two >= 8): 32 -> 4 (4, 8, 16, 32)."""
    if size < 8 or size & (size - 1):
        raise ConfigError(f"the growing networks double 4x4 up to a power of two >= 8; got image size {size} "
                          "(use --resolution 8, 16, 32, 64, ...)")
    return int(math.log2(size)) - 1


def channels(level: int, levels: int, width: int) -> int:
    """Feature maps at a level: width at the final level, doubling toward 4x4 up to 8 * width."""
    return min(width * MAX_CHANNELS_FACTOR, width * 2 ** (levels - 1 - level))


def stage_at(step: int, phase_steps: int, levels: int) -> tuple[int, float]:
    """(level, alpha) at training step `step`: `phase_steps` at 4x4, then for each next level a fade-in of
    `phase_steps` (alpha 0 -> 1) and `phase_steps` stabilising at alpha 1; the last level keeps going."""
    if step < phase_steps:
        return 0, 1.0
    k, into = divmod(step - phase_steps, phase_steps)  # stretch k after the first: fade (even) or stable (odd)
    level = 1 + k // 2
    if level >= levels:
        return levels - 1, 1.0
    return (level, into / phase_steps) if k % 2 == 0 else (level, 1.0)


class Staged(nn.Module):
    """The stage buffers shared by the growing networks."""

    def __init__(self, levels: int) -> None:
        super().__init__()
        self.levels = levels
        self.register_buffer("level", torch.tensor(levels - 1, dtype=torch.int64))
        self.register_buffer("alpha", torch.tensor(1.0))
        # the stage as Python numbers, for graph capture (ONNX export), which cannot read a buffer's value: kept
        # by set_stage and by loading weights
        self._loaded_stage = (levels - 1, 1.0)
        self.register_load_state_dict_post_hook(lambda module, _keys: module._remember_stage())

    def _remember_stage(self) -> None:
        self._loaded_stage = (int(self.level), float(self.alpha))

    def set_stage(self, level: int, alpha: float) -> None:
        if not 0 <= level < self.levels or not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"stage (level {level}, alpha {alpha}) outside 0..{self.levels - 1} x [0, 1]")
        self.level.fill_(level)
        self.alpha.fill_(alpha)
        self._loaded_stage = (level, alpha)

    @property
    def stage(self) -> tuple[int, float]:
        if torch.compiler.is_exporting() or torch.onnx.is_in_onnx_export():
            return self._loaded_stage
        return int(self.level), float(self.alpha)


class ProgressiveGenerator(Staged):
    """z [N, z_dim] -> images [N, C, S, S] at the stage's resolution, upsampled to S."""

    def __init__(self, data_shape: tuple[int, int, int], z_dim: int, num_classes: int = 0,
                 width: int | None = None) -> None:
        c, size, _ = data_shape
        super().__init__(levels_for(size))
        if num_classes:
            raise ConfigError("the progressive generator is unconditional; drop --conditional")
        self.model_name, self.data_shape, self.z_dim, self.num_classes = "progressive", tuple(data_shape), z_dim, 0
        w = width or DEFAULT_WIDTH
        ch = [channels(i, self.levels, w) for i in range(self.levels)]
        # 4x4: the latent through a dense layer (the paper's 4x4 transposed convolution), then a 3x3 convolution
        self.dense = EqualLinear(z_dim, ch[0] * 16, gain=math.sqrt(2) / 4)
        self.conv0 = EqualConv2d(ch[0], ch[0], 3)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualConv2d(ch[i - 1], ch[i], 3), EqualConv2d(ch[i], ch[i], 3)])
            for i in range(1, self.levels))
        self.to_rgb = nn.ModuleList(EqualConv2d(ch[i], c, 1, gain=1.0) for i in range(self.levels))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if y is not None:
            raise ConfigError("ProgressiveGenerator is unconditional: it takes no labels (y must be None)")
        level, alpha = self.stage
        h = pixel_norm(lrelu(self.dense(pixel_norm(z)).view(z.shape[0], -1, 4, 4)))  # [N, ch0, 4, 4]
        h = pixel_norm(lrelu(self.conv0(h)))
        prev = h
        for i in range(1, level + 1):
            prev = h
            a, b = self.blocks[i - 1]
            h = pixel_norm(lrelu(a(upsample(h))))
            h = pixel_norm(lrelu(b(h)))  # [N, ch_i, 4 * 2**i, 4 * 2**i]
        img = self.to_rgb[level](h)
        if level > 0 and alpha < 1.0:  # fade-in: the previous level's image, upsampled, blended in
            img = torch.lerp(upsample(self.to_rgb[level - 1](prev)), img, self.alpha)
        img = upsample(img, 2 ** (self.levels - 1 - level))  # [N, C, S, S]
        return img if self.training else img.clamp(-1.0, 1.0)


class ProgressiveDiscriminator(Staged):
    """images [N, C, S, S] -> raw logits [N], judged at the stage's resolution (the input pooled down to it)."""

    def __init__(self, data_shape: tuple[int, int, int], num_classes: int = 0, width: int | None = None,
                 mbstd_group: int = 4) -> None:
        c, size, _ = data_shape
        super().__init__(levels_for(size))
        if num_classes:
            raise ConfigError("the progressive discriminator is unconditional; drop --conditional")
        self.model_name, self.data_shape, self.z_dim, self.num_classes = "progressive", tuple(data_shape), 0, 0
        self.cond_d = None
        w = width or DEFAULT_WIDTH
        ch = [channels(i, self.levels, w) for i in range(self.levels)]
        self.from_rgb = nn.ModuleList(EqualConv2d(c, ch[i], 1) for i in range(self.levels))
        # block i (i >= 1) takes level i's maps down to level i - 1's
        self.blocks = nn.ModuleList([nn.Identity()] + [
            nn.ModuleList([EqualConv2d(ch[i], ch[i], 3), EqualConv2d(ch[i], ch[i - 1], 3)])
            for i in range(1, self.levels)])
        self.mbstd = MinibatchStd(mbstd_group)
        self.conv0 = EqualConv2d(ch[0] + 1, ch[0], 3)
        self.dense0 = EqualLinear(ch[0] * 16, ch[0])
        self.out = EqualLinear(ch[0], 1, gain=1.0)

    def _block(self, i: int, h: Tensor) -> Tensor:
        a, b = self.blocks[i]
        return downsample(lrelu(b(lrelu(a(h)))))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if y is not None:
            raise ConfigError("ProgressiveDiscriminator is unconditional: it takes no labels (y must be None)")
        level, alpha = self.stage
        x = downsample(x, 2 ** (self.levels - 1 - level))  # [N, C, r, r] at the stage's resolution
        h = lrelu(self.from_rgb[level](x))
        if level > 0:
            h = self._block(level, h)
            if alpha < 1.0:  # fade-in: the previous level's path on the input pooled 2x, blended in
                h = torch.lerp(lrelu(self.from_rgb[level - 1](downsample(x))), h, self.alpha)
            for i in range(level - 1, 0, -1):
                h = self._block(i, h)
        h = lrelu(self.conv0(self.mbstd(h)))  # [N, ch0, 4, 4]
        return self.out(lrelu(self.dense0(h.flatten(1)))).view(-1)  # [N]
