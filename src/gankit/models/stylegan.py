"""A small style-based generator (Karras et al. 2019, with StyleGAN2's modulated convolutions, Karras et al. 2020).

z -> mapping network (pixel norm, `mapping_layers` dense layers at 1/100 of the learning rate) -> w. The synthesis
network starts from a learned constant 4x4 map; every 3x3 convolution is modulated by a style (an affine map of
its own w) and demodulated, takes per-pixel noise scaled by a learned strength, and every level adds its image
(a modulated 1x1 convolution, not demodulated) to the upsampled image of the level below (StyleGAN2's skip
generator). Layer k reads ws[:, k]: one w for all (plain sampling), or two latents' ws switching at a crossover
layer (style mixing). The tracked mean of w (`w_avg`, a buffer the method updates as training goes) is the
centre of the truncation trick, w' = w_avg + psi (w - w_avg).

Noise: training passes fresh noise maps (drawn by the method from the run's seeded stream); otherwise each layer
uses a fixed noise map stored with the weights, so sampling is a function of z alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from .layers import EqualLinear, lrelu, pixel_norm, upsample
from .progressive import channels, levels_for

DEFAULT_WIDTH = 32
W_AVG_BETA = 0.995  # StyleGAN's decay of the tracked mean of w
MAPPING_LR_MUL = 0.01


class ModulatedConv2d(nn.Module):
    """A convolution whose input channels are scaled per sample by a style and whose output is demodulated to
    unit expected variance. Computed as scale -> shared convolution -> per-sample output scale, which equals the
    per-sample weight of the paper and runs as one ordinary convolution.
    # x [N, in, H, W], w [N, w_dim] -> [N, out, H, W]"""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, w_dim: int, *, demodulate: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.affine = EqualLinear(w_dim, in_channels, gain=1.0, bias_init=1.0)  # styles start at 1
        self.scale = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.demodulate, self.padding = demodulate, kernel // 2

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        styles = self.affine(w)  # [N, in]
        weight = self.weight * self.scale  # [out, in, k, k]
        x = F.conv2d(x * styles[:, :, None, None], weight, padding=self.padding)
        if self.demodulate:  # 1 / ||w'|| per sample and output channel, w' the style-scaled weight
            d = torch.rsqrt(styles.pow(2) @ weight.pow(2).sum(dim=(2, 3)).t() + 1e-8)  # [N, out]
            x = x * d[:, :, None, None]
        return x + self.bias[None, :, None, None]


class StyleLayer(nn.Module):
    """Modulated 3x3 convolution, noise, bias and leaky ReLU (the activation gain keeps the variance)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, size: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(1, 1, size, size))

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None) -> Tensor:
        x = self.conv(x, w)
        x = x + self.noise_strength * (self.noise_const if noise is None else noise)
        return lrelu(x) * math.sqrt(2.0)


class StyleGenerator(nn.Module):
    """z [N, z_dim] -> images [N, C, S, S]; `forward` takes the style controls as keywords."""

    has_styles = True

    def __init__(self, data_shape: tuple[int, int, int], z_dim: int, num_classes: int = 0,
                 width: int | None = None, mapping_layers: int = 4) -> None:
        super().__init__()
        if num_classes:
            raise ConfigError("the style-based generator is unconditional; drop --conditional")
        c, size, _ = data_shape
        self.model_name, self.data_shape, self.z_dim, self.num_classes = "stylegan", tuple(data_shape), z_dim, 0
        self.levels, self.w_dim = levels_for(size), z_dim
        w = width or DEFAULT_WIDTH
        ch = [channels(i, self.levels, w) for i in range(self.levels)]
        self.mapping = nn.Sequential(*[EqualLinear(z_dim, z_dim, lr_mul=MAPPING_LR_MUL) for _ in range(mapping_layers)])
        self.const = nn.Parameter(torch.randn(1, ch[0], 4, 4))
        # level 0: one layer at 4x4; level i: two layers at 4 * 2**i (the first after upsampling)
        layers = [StyleLayer(ch[0], ch[0], z_dim, 4)]
        for i in range(1, self.levels):
            layers += [StyleLayer(ch[i - 1], ch[i], z_dim, 4 * 2 ** i), StyleLayer(ch[i], ch[i], z_dim, 4 * 2 ** i)]
        self.layers = nn.ModuleList(layers)
        self.to_rgb = nn.ModuleList(ModulatedConv2d(ch[i], c, 1, z_dim, demodulate=False) for i in range(self.levels))
        self.register_buffer("w_avg", torch.zeros(z_dim))

    @property
    def num_ws(self) -> int:
        """Style inputs: one per 3x3 layer (each level's image reads its last layer's w)."""
        return len(self.layers)

    def noise_shapes(self) -> list[tuple[int, int, int]]:
        """The per-sample shape of each layer's noise map."""
        return [tuple(layer.noise_const.shape[1:]) for layer in self.layers]  # type: ignore[misc]

    def map(self, z: Tensor) -> Tensor:
        """z -> w.  # [N, z_dim] -> [N, w_dim]"""
        w = pixel_norm(z)
        for layer in self.mapping:
            w = lrelu(layer(w)) * math.sqrt(2.0)
        return w

    @torch.no_grad()
    def track_w(self, w: Tensor, beta: float = W_AVG_BETA) -> None:
        """Move the tracked mean of w toward this batch's mean.  # w: [N, w_dim]"""
        self.w_avg.lerp_(w.detach().mean(dim=0), 1.0 - beta)

    def styles(self, z: Tensor, *, mix_z: Tensor | None = None, mix_cut: Tensor | int | None = None,
               psi: float | None = None) -> Tensor:
        """The w of every layer: z's, and from layer `mix_cut` on (an int, or one per sample [N]) mix_z's;
        truncated toward w_avg by psi.  # -> [N, num_ws, w_dim]"""
        w = self.map(z)[:, None].expand(-1, self.num_ws, -1)
        if mix_z is not None:
            cut = torch.as_tensor(mix_cut if mix_cut is not None else self.num_ws // 2, device=z.device)
            later = torch.arange(self.num_ws, device=z.device)[None, :] >= cut.reshape(-1, 1)  # [N or 1, L]
            w = torch.where(later[:, :, None], self.map(mix_z)[:, None], w)
        if psi is not None:
            w = torch.lerp(self.w_avg[None, None], w, psi)
        return w

    def synthesis(self, ws: Tensor, noise: list[Tensor] | None = None) -> Tensor:
        """Images from per-layer styles.  # ws [N, num_ws, w_dim] -> [N, C, S, S]"""
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        x = self.layers[0](x, ws[:, 0], None if noise is None else noise[0])
        img = self.to_rgb[0](x, ws[:, 0])  # [N, C, 4, 4]
        for i in range(1, self.levels):
            k = 2 * i - 1
            x = self.layers[k](upsample(x), ws[:, k], None if noise is None else noise[k])
            x = self.layers[k + 1](x, ws[:, k + 1], None if noise is None else noise[k + 1])
            img = upsample(img) + self.to_rgb[i](x, ws[:, k + 1])
        return img if self.training else img.clamp(-1.0, 1.0)

    def forward(self, z: Tensor, y: Tensor | None = None, *, mix_z: Tensor | None = None,
                mix_cut: Tensor | int | None = None, psi: float | None = None,
                noise: list[Tensor] | None = None) -> Tensor:
        if y is not None:
            raise ConfigError("StyleGenerator is unconditional: it takes no labels (y must be None)")
        return self.synthesis(self.styles(z, mix_z=mix_z, mix_cut=mix_cut, psi=psi), noise)
