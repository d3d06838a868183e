"""Layers of the progressive and style-based networks (Karras et al. 2018, 2019, 2020): the equalised learning
rate, pixelwise feature normalisation and the minibatch standard deviation.

Equalised learning rate: weights are stored as N(0, 1) draws and scaled by He's constant sqrt(2 / fan_in) at every
forward instead of once at initialisation. Adam's updates are scale-free, so every layer then learns at the same
speed whatever its fan-in. `lr_mul` lowers one layer's speed further (StyleGAN's mapping network: 0.01).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)  # He et al.'s gain, used for layers followed by leaky ReLU as in the papers


class EqualLinear(nn.Module):
    """A dense layer with the equalised learning rate.  # [N, in] -> [N, out]"""

    def __init__(self, in_features: int, out_features: int, *, gain: float = LRELU_GAIN, lr_mul: float = 1.0,
                 bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.scale, self.lr_mul = gain / math.sqrt(in_features) * lr_mul, lr_mul

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    """A stride-1 'same' convolution with the equalised learning rate.  # [N, in, H, W] -> [N, out, H, W]"""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, gain: float = LRELU_GAIN,
                 padding: int | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel * kernel)
        self.padding = kernel // 2 if padding is None else padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Each pixel's feature vector scaled to unit mean square (Karras et al. 2018, 4.2).  # [N, C, ...] -> same"""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


class PixelNorm(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return pixel_norm(x)


def lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, LRELU_SLOPE)


def group_size(batch: int, wanted: int) -> int:
    """The largest group size <= wanted that divides the batch (a last, smaller batch still works)."""
    return max(g for g in range(1, min(wanted, batch) + 1) if batch % g == 0)


class MinibatchStd(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018, 3): the std of each feature over a group of samples,
    averaged to one number per group and appended as a constant feature map, so D can see a batch's lack of
    variety.  # [N, C, H, W] -> [N, C + 1, H, W]"""

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = group_size(n, self.group)
        y = x.reshape(g, n // g, c, h, w)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [n / g]
        y = y.repeat(g).reshape(n, 1, 1, 1).expand(n, 1, h, w)  # sample i belongs to group i mod (n / g)
        return torch.cat([x, y], dim=1)


def upsample(x: Tensor, factor: int = 2) -> Tensor:
    """Nearest-neighbour upsampling, as both papers' generators grow.  # [N, C, H, W] -> [N, C, fH, fW]"""
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


def downsample(x: Tensor, factor: int = 2) -> Tensor:
    """Box-filter downsampling (average pooling), as the papers' discriminators shrink and real images are
    brought to the current resolution.  # [N, C, H, W] -> [N, C, H / f, W / f]"""
    return x if factor == 1 else F.avg_pool2d(x, factor)
