"""CycleGAN's networks for small images (Zhu et al. 2017, after Johnson et al. 2016's residual translator),
scaled to 28x28: a residual encoder-decoder generator and a patch discriminator.

ResnetTranslator: 7x7 conv (w) -> two stride-2 convs (2w, 4w; 28 -> 7) -> `blocks` residual blocks at 4w -> two
stride-2 transposed convs (2w, w) -> 7x7 conv -> tanh, with instance norm and reflection padding as in the paper.
Instance norm keeps no running statistics, so a translator computes the same function in train and eval mode.
PatchDiscriminator: two stride-2 4x4 convs and two 3x3 convs to one raw score per patch ([N, 1, H/4, W/4]; each
score sees a 26x26 window of a 28x28 image), leaky ReLU, instance norm after the first layer.
"""

from __future__ import annotations

from torch import Tensor, nn


def _norm(ch: int) -> nn.Module:
    return nn.InstanceNorm2d(ch, affine=False, track_running_stats=False)


class _Residual(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(ch), nn.ReLU(True),
                                  nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(ch))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetTranslator(nn.Module):
    """x [N, C, H, W] in [-1, 1] -> y [N, C, H, W] in [-1, 1]; H and W divisible by 4."""

    def __init__(self, data_shape: tuple[int, ...], width: int = 16, blocks: int = 3) -> None:
        super().__init__()
        self.data_shape, self.num_classes = tuple(data_shape), 0
        c, w = data_shape[0], width
        self.net = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(c, w, 7), _norm(w), nn.ReLU(True),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), _norm(2 * w), nn.ReLU(True),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), _norm(4 * w), nn.ReLU(True),
            *[_Residual(4 * w) for _ in range(blocks)],
            nn.ConvTranspose2d(4 * w, 2 * w, 3, stride=2, padding=1, output_padding=1), _norm(2 * w), nn.ReLU(True),
            nn.ConvTranspose2d(2 * w, w, 3, stride=2, padding=1, output_padding=1), _norm(w), nn.ReLU(True),
            nn.ReflectionPad2d(3), nn.Conv2d(w, c, 7), nn.Tanh())

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        # `y` is accepted and ignored so the translator runs where a generator's (input, labels) call is made
        # (the health probe); translation takes no labels
        return self.net(x)  # [N, C, H, W]


class PatchDiscriminator(nn.Module):
    """x [N, C, H, W] in [-1, 1] -> raw scores [N, 1, H/4, W/4], one per overlapping patch."""

    def __init__(self, data_shape: tuple[int, ...], width: int = 32) -> None:
        super().__init__()
        self.data_shape, self.num_classes = tuple(data_shape), 0
        c, w = data_shape[0], width
        self.net = nn.Sequential(
            nn.Conv2d(c, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), _norm(2 * w), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), _norm(4 * w), nn.LeakyReLU(0.2, True),
            nn.Conv2d(4 * w, 1, 3, padding=1))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(x)  # [N, 1, H/4, W/4]
