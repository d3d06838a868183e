"""Small DCGAN-like nets for 28x28 MNIST with the practitioners' tricks as switches, for the tricks experiment.

G: [z, one-hot y] -> FC 2w x 7 x 7 -> BN, ReLU -> ConvT 4/2 to w x 14 x 14 -> BN, ReLU -> ConvT 4/2 to 1 x 28 x 28
   -> tanh (data in [-1, 1]) or sigmoid (data in [0, 1]).
D: [x, one-hot y as 10 constant channels] -> two downsamplings to 2w x 7 x 7 -> FC -> logit, each downsampling
   either a strided 4x4 convolution (DCGAN) or a 3x3 convolution followed by 2x2 max-pooling, with LeakyReLU(0.2)
   or ReLU after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError


@dataclass(frozen=True)
class NetConfig:
    z_dim: int = 64
    width: int = 32
    output: str = "tanh"  # "tanh" | "sigmoid"
    d_act: str = "leaky"  # "leaky" | "relu"
    d_down: str = "stride"  # "stride" | "pool"
    num_classes: int = 0  # > 0: conditional G and D

    def __post_init__(self) -> None:
        for key, allowed in (("output", ("tanh", "sigmoid")), ("d_act", ("leaky", "relu")),
                             ("d_down", ("stride", "pool"))):
            if getattr(self, key) not in allowed:
                raise ConfigError(f"NetConfig.{key} must be one of {allowed}, got {getattr(self, key)!r}")


class SmallG(nn.Module):
    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.fc = nn.Sequential(nn.Linear(cfg.z_dim + cfg.num_classes, 2 * w * 49, bias=False),
                                nn.BatchNorm1d(2 * w * 49), nn.ReLU(True))
        self.up = nn.Sequential(nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True),
                                nn.ConvTranspose2d(w, 1, 4, 2, 1))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.cfg.num_classes:
            z = torch.cat([z, F.one_hot(y, self.cfg.num_classes).to(z.dtype)], dim=1)
        h = self.fc(z).view(z.shape[0], 2 * self.cfg.width, 7, 7)
        x = self.up(h)  # [N, 1, 28, 28]
        return torch.tanh(x) if self.cfg.output == "tanh" else torch.sigmoid(x)


class SmallD(nn.Module):
    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        act = (lambda: nn.LeakyReLU(0.2, True)) if cfg.d_act == "leaky" else (lambda: nn.ReLU(True))
        layers: list[nn.Module] = []
        c_in = 1 + cfg.num_classes
        for c_out in (w, 2 * w):
            if cfg.d_down == "stride":
                layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), act()]
            else:
                layers += [nn.Conv2d(c_in, c_out, 3, 1, 1), act(), nn.MaxPool2d(2)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * w * 49, 1)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if self.cfg.num_classes:
            onehot = F.one_hot(y, self.cfg.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, onehot.expand(-1, -1, *x.shape[2:])], dim=1)
        return self.head(self.body(x).flatten(1)).squeeze(1)  # logits [N]
