"""GAN methods by name: each is one module holding a `Method` subclass (gankit.methods.base).

`METHOD_NAMES` doubles as the CLI's `--method` choices. A user registers a method of their own with
`register_method` and trains it through `gankit.train(TrainConfig(method=NAME))` or the CLI, touching no file of
the package.
"""

from __future__ import annotations

from ..config import TrainConfig
from ..data import Dataset
from ..errors import ConfigError
from .base import Batch, Draws, Method, OptimizerGroup, Parts, Phase, StepContext
from .acgan import ACGAN
from .bigan import BiGAN
from .cyclegan import CycleGAN
from .gan import GAN
from .infogan import InfoGAN
from .pix2pix import Pix2Pix
from .progressive import Progressive
from .rgan import RGAN
from .sgan import SGAN
from .specgan import SpecGAN
from .stylegan import StyleGAN
from .text2image import Text2Image

__all__ = ["ACGAN", "Batch", "CycleGAN", "Draws", "GAN", "InfoGAN", "Method", "OptimizerGroup", "Parts", "Phase", "Pix2Pix", "Progressive", "RGAN", "SpecGAN", "StepContext", "StyleGAN", "Text2Image", "build_method",
           "get_method", "method_names", "register_method"]

_METHODS: dict[str, type[Method]] = {}


def register_method(cls: type[Method], *, replace: bool = False) -> type[Method]:
    """Add a Method subclass under `cls.name` (usable as a class decorator). Re-registering a name is an error
    unless `replace=True`."""
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise ConfigError(f"register_method takes a subclass of gankit.methods.Method, got {cls!r}")
    name = cls.name
    if not isinstance(name, str) or not name or name != name.strip():
        raise ConfigError(f"method class {cls.__name__} needs a non-empty `name`, got {name!r}")
    if name in _METHODS and _METHODS[name] is not cls and not replace:
        raise ConfigError(f"a method named {name!r} is already registered ({_METHODS[name].__qualname__})")
    _METHODS[name] = cls
    return cls


def method_names() -> tuple[str, ...]:
    return tuple(_METHODS)


def get_method(name: str) -> type[Method]:
    try:
        return _METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; choose one of {', '.join(_METHODS)}") from None


def build_method(cfg: TrainConfig, data: Dataset, parts: Parts | None = None) -> Method:
    return get_method(cfg.method)(cfg, data, parts)


register_method(GAN)
register_method(InfoGAN)
register_method(ACGAN)
register_method(SGAN)
register_method(BiGAN)
register_method(CycleGAN)
register_method(Pix2Pix)
register_method(RGAN)
register_method(Text2Image)
register_method(SpecGAN)
register_method(Progressive)
register_method(StyleGAN)
