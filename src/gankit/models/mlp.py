"""Fully connected G and D: the original GAN of Goodfellow et al. 2014 on flattened MNIST, and the toy nets
(close to Metz et al. 2017's ring/grid experiments: two hidden layers of 128 units)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .base import DiscriminatorBase, GeneratorBase
from .minibatch import MinibatchDiscrimination


def _hidden(data_shape: tuple[int, ...], width: int | None, depth: int | None = None) -> list[int]:
    """Widths of the hidden layers (G's order; D uses them reversed): constant on toy points, doubling on images."""
    if len(data_shape) == 1:  # toy points
        w = width or 128
        return [w] * (depth or 2)
    w = width or 256
    return [w * 2 ** i for i in range(depth or 3)]


def hidden_layers(state: dict[str, object], prefix: str = "net.") -> int:
    """Hidden layers of an MLP generator's state dict (its Linear layers minus the output layer)."""
    return sum(1 for k in state if k.startswith(prefix) and k.endswith(".weight")) - 1


def checkpoint_depth(tensors: dict[str, object]) -> int:
    """Hidden layers of the MLP G in a gankit checkpoint's tensors (keys "G/net..." or, for a bare exported
    generator, "G_ema/net..."): how runs saved before the `depth` setting existed get theirs back."""
    prefix = "G/net." if any(k.startswith("G/net.") for k in tensors) else "G_ema/net."
    return hidden_layers(tensors, prefix)


class MLPGenerator(GeneratorBase):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, num_classes: int = 0, width: int | None = None,
                 depth: int | None = None):
        super().__init__("mlp", data_shape, z_dim, num_classes)
        is_image = len(data_shape) == 3
        act = (lambda: nn.LeakyReLU(0.2)) if is_image else nn.ReLU
        layers: list[nn.Module] = []
        d = self.input_dim
        for h in _hidden(data_shape, width, depth):
            layers += [nn.Linear(d, h), act()]
            d = h
        layers.append(nn.Linear(d, math.prod(data_shape)))
        if is_image:
            layers.append(nn.Tanh())  # images live in [-1, 1]; toy coordinates are unbounded
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(self.latent(z, y)).view(-1, *self.data_shape)  # [N, *data_shape]


class MLPDiscriminator(DiscriminatorBase):
    def __init__(self, data_shape: tuple[int, ...], num_classes: int = 0, cond_d: str = "concat",
                 width: int | None = None, depth: int | None = None, minibatch_disc: int = 0):
        super().__init__("mlp", data_shape, num_classes, cond_d)
        d = math.prod(data_shape)
        self.label_embed = nn.Embedding(num_classes, num_classes) if self.cond_d == "concat" else None
        if self.label_embed is not None:
            d += num_classes
        layers: list[nn.Module] = []
        for h in reversed(_hidden(data_shape, width, depth)):
            layers += [nn.Linear(d, h), nn.LeakyReLU(0.2)]
            d = h
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(d, 1)
        self.make_projection(d)
        # built last and only when asked for, so the default D's initial weights stay what they were
        self.mbd = MinibatchDiscrimination(d, minibatch_disc) if minibatch_disc else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        from .base import check_labels

        check_labels(self, y, x.shape[0])
        h = x.reshape(x.shape[0], -1)  # [N, prod(data_shape)]
        if self.label_embed is not None:
            h = torch.cat([h, self.label_embed(y)], dim=1)
        h = self.features(h)  # [N, F]
        logits = self.head(h).squeeze(1)  # [N]
        if self.mbd is not None:
            logits = logits + self.mbd(h)
        return self.project(logits, h, y)  # [N]
