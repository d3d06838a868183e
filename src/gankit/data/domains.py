"""Image domains made on the fly from a data set, for unpaired translation (--method cyclegan).

A domain is a pure function of a batch of images in [-1, 1]: `thick` dilates the strokes (a 3x3 max filter: one
pixel wider on every side), `invert` swaps ink and paper (1 - x in [0, 1], i.e. -x in [-1, 1]). Each also says how
the shipped MNIST-family classifier, trained on the original domain, reads an image of it (`readable`): thick
digits as they are, inverted ones inverted back. New domains join the registry with `register_domain`.

`unpaired_split` divides a data set's images into two disjoint index sets, one for each domain, so no image is
ever seen in both: the translator never sees a pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError


@dataclass(frozen=True)
class Domain:
    """`make` turns images of the data set into this domain; `readable` turns images of this domain into ones the
    data set's classifier reads (for scoring translations). Both map [N, C, H, W] in [-1, 1] to the same shape."""

    name: str
    make: Callable[[Tensor], Tensor]
    readable: Callable[[Tensor], Tensor]
    about: str


def thicken(x: Tensor) -> Tensor:
    """Strokes one pixel wider on every side: a 3x3 max filter (grey-scale dilation; max commutes with the
    monotone map [0, 1] -> [-1, 1], so it is the same in either range).  # [N, C, H, W] -> [N, C, H, W]"""
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


def invert(x: Tensor) -> Tensor:
    """Ink and paper swapped: 1 - x in [0, 1] is -x in [-1, 1].  # [N, C, H, W] -> [N, C, H, W]"""
    return -x


def _same(x: Tensor) -> Tensor:
    return x


_DOMAINS: dict[str, Domain] = {}


def register_domain(domain: Domain, *, replace: bool = False) -> Domain:
    if domain.name in _DOMAINS and not replace:
        raise ConfigError(f"a domain named {domain.name!r} is already registered")
    _DOMAINS[domain.name] = domain
    return domain


def domain_names() -> tuple[str, ...]:
    return tuple(_DOMAINS)


def get_domain(name: str) -> Domain:
    try:
        return _DOMAINS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown domain_b {name!r}; choose one of {', '.join(_DOMAINS)}") from None


register_domain(Domain("thick", thicken, _same, "strokes dilated by a 3x3 max filter"))
register_domain(Domain("invert", invert, invert, "ink and paper swapped (1 - x)"))


def unpaired_split(n: int, seed: int, held_out: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """A seeded permutation of n image indices cut into (held_out, A, B): `held_out` indices kept from training
    (the snapshot rows), then two disjoint halves of the rest, A for the data set's own domain and B for the other.
    # -> [held_out], [(n - held_out) // 2], [n - held_out - (n - held_out) // 2] int64"""
    if n - held_out < 2:
        raise ConfigError(f"unpaired translation needs at least {held_out + 2} images (two disjoint domains), got {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + 17))
    rest = perm[held_out:]
    half = len(rest) // 2
    return perm[:held_out], rest[:half], rest[half:]
