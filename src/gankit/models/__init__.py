"""Models by name. `MODEL_NAMES` doubles as the CLI's choices; `build_models` returns (G, D).

G(z [N, z_dim], y [N] | None) -> [N, *data_shape]; D(x, y | None) -> raw logits [N].
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ..config import MAX_DEPTH, MAX_WIDTH, TrainConfig
from ..errors import ConfigError
from .classic import ClassicDiscriminator, ClassicGenerator
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .dense import DenseDiscriminator, DenseGenerator
from .mlp import MLPDiscriminator, MLPGenerator
from .packing import PackedDiscriminator, packed_shape
from .prior import sample_prior
from .sagan import SAGANDiscriminator, SAGANGenerator
from .spectral import spectral_normalised, strip_normalisation

__all__ = ["IMAGE_SIZES", "MODEL_NAMES", "build_models", "build_networks", "sample_prior"]

IMAGE_SIZES = (28, 32, 64)

# name -> (generator class, discriminator class, takes toy vectors)
_REGISTRY: dict[str, tuple[Callable[..., nn.Module], Callable[..., nn.Module], bool]] = {
    "mlp": (MLPGenerator, MLPDiscriminator, True),
    "dcgan": (DCGANGenerator, DCGANDiscriminator, False),
    "dcgan-dense": (DenseGenerator, DenseDiscriminator, False),  # 1x28x28 only: InfoGAN's MNIST networks
    "classic": (ClassicGenerator, ClassicDiscriminator, False),
    "sagan": (SAGANGenerator, SAGANDiscriminator, False),  # spectral norm in G and D is part of the model
}
MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def build_models(name: str, *, data_shape: tuple[int, ...], z_dim: int, num_classes: int = 0,
                 cond_d: str = "concat", width: int | None = None,
                 d_width: int | None = None, depth: int | None = None,
                 spectral_norm: bool = False, pack: int = 1,
                 minibatch_disc: int = 0) -> tuple[nn.Module, nn.Module]:
    """(G, D) for `name`; num_classes > 0 makes both class-conditional. `width` sets G's base width and D's
    too unless `d_width` is given; `depth` (MLP only) the hidden layers of both; None means the model's own.
    `spectral_norm` puts spectral norm on D's weights and removes its BatchNorm (gankit.models.spectral).
    `pack` > 1 makes D judge that many samples at once (gankit.models.packing); `minibatch_disc` > 0 gives the mlp
    and dcgan Ds that many minibatch-discrimination kernels (gankit.models.minibatch)."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    make_g, make_d, takes_vectors = _REGISTRY[name]
    data_shape = tuple(int(s) for s in data_shape)
    if len(data_shape) == 3:
        c, h, w = data_shape
        if name != "mlp" and (c not in (1, 3) or h != w or h not in IMAGE_SIZES):
            raise ConfigError(f"model {name!r} takes images of 1 or 3 channels and size 28, 32 or 64; data shape "
                              f"is {data_shape} (use --image-size/--channels)")
    elif not takes_vectors:
        raise ConfigError(f"model {name!r} takes images [C, H, W]; this data has shape {data_shape} "
                          "(toy data: use --model mlp)")
    if z_dim <= 0 or num_classes < 0:
        raise ConfigError(f"z_dim must be > 0 and num_classes >= 0, got {z_dim}, {num_classes}")
    # the config's bounds, for callers that build networks without a TrainConfig
    for label, value, top in (("z_dim", z_dim, MAX_WIDTH), ("width", width, MAX_WIDTH),
                              ("d_width", d_width, MAX_WIDTH), ("depth", depth, MAX_DEPTH)):
        if value is not None and value <= 0:
            raise ConfigError(f"{label} must be > 0, got {value}")
        if value is not None and value > top:
            raise ConfigError(f"{label} must be <= {top}, got {value}")
    if depth is not None and name != "mlp":
        raise ConfigError(f"depth sets the MLP's hidden layers; model {name!r} has a fixed layout (leave depth unset)")
    if minibatch_disc and name not in ("mlp", "dcgan"):
        raise ConfigError(f"minibatch discrimination is an option of the mlp and dcgan discriminators, not {name!r}")
    if pack > 1 and num_classes:
        raise ConfigError("pack: a packed D judges several samples at once and takes no labels; train "
                          "unconditionally or with pack 1")
    extra = {"depth": depth} if name == "mlp" else {}
    d_extra = {**extra, "minibatch_disc": minibatch_disc} if minibatch_disc else extra
    G = make_g(data_shape, z_dim, num_classes, width, **extra)
    D = make_d(packed_shape(data_shape, pack), num_classes, cond_d, d_width if d_width is not None else width,
               **d_extra)
    if spectral_norm:
        D = spectral_normalised(strip_normalisation(D))
    if pack > 1:
        D = PackedDiscriminator(D, data_shape, pack)
    return G, D


def build_networks(cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    """G and D exactly as the config describes; `gankit.load` rebuilds G from a checkpoint the same way."""
    cfg = cfg.resolved()
    return build_models(cfg.model, data_shape=tuple(data_shape), z_dim=cfg.z_dim,
                        num_classes=num_classes if cfg.conditional else 0, cond_d=cfg.cond_d, width=cfg.width,
                        d_width=cfg.d_width, depth=cfg.depth, spectral_norm=cfg.spectral_norm, pack=cfg.pack,
                        minibatch_disc=cfg.minibatch_disc)
