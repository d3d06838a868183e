"""The U-Net translator of pix2pix (Isola et al. 2017, after Ronneberger et al. 2015), sized for 28x28 images.

Encoder 28 -> 14 -> 7 -> 3, decoder back up, each decoder stage concatenated with the encoder stage of its size
(the skip connections carry the input's fine detail straight to the output, so the bottleneck only has to carry
what changes). Inputs smaller than 28x28 (super-resolution) are upsampled bicubically first, inside the forward,
so the network's input is the small image itself. With `composite=True` (inpainting) the input's last channel is
the hole mask and the output keeps the known pixels: out = m * G(x) + (1 - m) * x.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SIZE = 28


def _down(cin: int, cout: int, norm: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers, nn.LeakyReLU(0.2))


def _up(cin: int, cout: int, kernel: int = 4, padding: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, kernel, 2, padding, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU())


class UNet(nn.Module):
    """x [N, in_channels, in_size, in_size] in [-1, 1] -> [N, out_channels, 28, 28] in [-1, 1]."""

    def __init__(self, in_channels: int, out_channels: int, *, in_size: int = SIZE, width: int = 32,
                 composite: bool = False) -> None:
        super().__init__()
        if SIZE % in_size:
            raise ValueError(f"U-Net input size must divide {SIZE}, got {in_size}")
        self.in_shape = (in_channels, in_size, in_size)
        self.data_shape = (out_channels, SIZE, SIZE)  # what it outputs, as every gankit generator says
        self.z_dim, self.num_classes = 0, 0  # no latent: pix2pix's G is deterministic given its input
        self.composite = composite
        w = width
        self.e1 = nn.Sequential(nn.Conv2d(in_channels, w, 3, 1, 1), nn.LeakyReLU(0.2))  # [w, 28, 28]
        self.e2 = _down(w, 2 * w)  # [2w, 14, 14]
        self.e3 = _down(2 * w, 4 * w)  # [4w, 7, 7]
        self.e4 = nn.Sequential(nn.Conv2d(4 * w, 4 * w, 3, 2, 0), nn.ReLU())  # [4w, 3, 3]: whole-image context
        self.d4 = _up(4 * w, 4 * w, kernel=3, padding=0)  # [4w, 7, 7]
        self.d3 = _up(8 * w, 2 * w)  # [2w, 14, 14]
        self.d2 = _up(4 * w, w)  # [w, 28, 28]
        self.out = nn.Conv2d(2 * w, out_channels, 3, 1, 1)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        # labels: unused; the (input, labels) call is what gankit's snapshot and health probes make
        if x.shape[-1] != SIZE:
            x = F.interpolate(x, size=(SIZE, SIZE), mode="bicubic", align_corners=False).clamp(-1, 1)
        h1 = self.e1(x)
        h2 = self.e2(h1)
        h3 = self.e3(h2)
        h = self.d4(self.e4(h3))
        h = self.d3(torch.cat([h, h3], 1))
        h = self.d2(torch.cat([h, h2], 1))
        y = torch.tanh(self.out(torch.cat([h, h1], 1)))  # [N, out_channels, 28, 28]
        if self.composite:
            m = x[:, -1:]  # the hole channel: 1 missing, 0 kept
            y = m * y + (1 - m) * x[:, :y.shape[1]]
        return y
