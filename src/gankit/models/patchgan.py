"""The conditional PatchGAN discriminator of pix2pix (Isola et al. 2017), sized for 28x28 images.

It scores (condition, image) pairs, the condition being the translator's input at the image's size, with a 7x7
map of logits, one per overlapping patch (receptive field 26x26 pixels, 4 pixels apart), rather than one per image:
it judges local texture and sharpness, and leaves the large-scale layout to the L1 term.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class PatchDiscriminator(nn.Module):
    """(cond [N, cond_channels, 28, 28], x [N, channels, 28, 28]) -> logits [N, 49] (a 7x7 map, flattened)."""

    def __init__(self, cond_channels: int, channels: int, width: int = 32) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(cond_channels + channels, w, 4, 2, 1), nn.LeakyReLU(0.2),  # [w, 14, 14]
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),  # [2w, 7, 7]
            nn.Conv2d(2 * w, 4 * w, 3, 1, 1, bias=False), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2),  # [4w, 7, 7]
            nn.Conv2d(4 * w, 1, 3, 1, 1),  # [1, 7, 7]
        )

    def forward(self, cond: Tensor, x: Tensor) -> Tensor:
        return self.net(torch.cat([cond, x], 1)).flatten(1)  # [N, 49]
