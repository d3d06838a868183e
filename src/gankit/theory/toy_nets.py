"""The theory lab's small networks: an MLP and a fixed input standardisation."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["Standardize", "mlp"]


def mlp(in_dim: int, out_dim: int, width: int, depth: int = 2, act: type[nn.Module] = nn.LeakyReLU) -> nn.Sequential:
    """in_dim -> [width] * depth (act after each) -> out_dim. LeakyReLU's default slope is 0.2 here, as in DCGAN's D."""
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, width), act(0.2) if act is nn.LeakyReLU else act()]
        d = width
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class Standardize(nn.Module):
    """x -> (x - mean) / std with fixed constants: the usual input normalisation by the data's statistics. It puts
    the kinks of D's first LeakyReLU layer (spread over a few units around 0 at initialisation) where the data are,
    so D can bend there; without it D is nearly linear around data at x = 4 and misses a too-narrow generator."""

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.mean, self.std = float(mean), float(std)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std
