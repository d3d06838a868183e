"""Packing (PacGAN, Lin et al. 2018): D judges M samples at once, concatenated along channels (images) or features
(vectors). A pack is M real samples or M generated ones, never a mix; a G that repeats itself makes packs whose
members look alike, which a real pack rarely does, so D can penalise the lack of variety.

`PackedDiscriminator` wraps a D built for the packed input shape; the loss sees one logit per pack.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..errors import ConfigError
from .base import DiscriminatorBase


def packed_shape(data_shape: tuple[int, ...], pack: int) -> tuple[int, ...]:
    """The shape of one packed D input: M samples stacked on the first axis (channels, or a vector's features)."""
    if pack < 1:
        raise ConfigError(f"pack must be >= 1, got {pack}")
    return (data_shape[0] * pack, *data_shape[1:])


def pack_samples(x: Tensor, pack: int) -> Tensor:
    """Consecutive groups of `pack` rows become one row.  # [N, C, ...] -> [N / M, M * C, ...]

    Row j of the result holds samples j*M .. j*M + M - 1, in order: the caller passes a batch that is all real or
    all fake, so each pack is too."""
    n = x.shape[0]
    if n % pack:
        raise ConfigError(f"packing {pack} samples per D input needs a batch divisible by {pack}, got {n}")
    return x.reshape(n // pack, pack * x.shape[1], *x.shape[2:])


class PackedDiscriminator(DiscriminatorBase):
    """D(x [N, *data_shape]) -> logits [N / pack], through `inner`, a D for inputs of `packed_shape`. Keeps the
    attributes the loop and checkpoints read (model_name, data_shape of one sample, num_classes, z_dim)."""

    def __init__(self, inner: nn.Module, data_shape: tuple[int, ...], pack: int) -> None:
        super().__init__(getattr(inner, "model_name", "custom"), data_shape, 0, "concat")
        if getattr(inner, "num_classes", 0):
            raise ConfigError("pack: a packed D judges several samples at once and takes no labels; "
                              "train unconditionally (drop --conditional) or use pack 1")
        self.inner = inner
        self.pack = pack

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if y is not None:
            raise ConfigError("PackedDiscriminator is unconditional: it takes no labels (y must be None)")
        return self.inner(pack_samples(x, self.pack))  # [N / pack]
