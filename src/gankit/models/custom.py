"""Your own networks in gankit: a user's `nn.Module` given the few attributes and the call convention that the
loop, the snapshots, the evaluators and `gankit.load` rely on, after a dry run that checks its shapes.

Built-in networks pass through unchanged. A user's generator is called `net(z)` (or `net(z, y)` when
class-conditional) and must return [N, *data_shape]; a user's discriminator `net(x)` (or `net(x, y)`) must return
one score per sample, [N] or [N, 1], as raw logits.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..torch_utils import eval_mode
from .base import DiscriminatorBase, GeneratorBase


class UserGenerator(nn.Module):
    """z [N, z_dim] (+ labels [N]) -> samples [N, *data_shape], by the user's `net`."""

    def __init__(self, net: nn.Module, data_shape: tuple[int, ...], z_dim: int, num_classes: int) -> None:
        super().__init__()
        self.net = net
        self.model_name = "custom"
        self.data_shape, self.z_dim, self.num_classes = tuple(data_shape), int(z_dim), int(num_classes)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(z, y) if self.num_classes else self.net(z)


class UserDiscriminator(nn.Module):
    """samples [N, *data_shape] (+ labels [N]) -> raw logits [N], by the user's `net`."""

    def __init__(self, net: nn.Module, data_shape: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        self.net = net
        self.model_name = "custom"
        self.data_shape, self.z_dim, self.num_classes = tuple(data_shape), 0, int(num_classes)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        out = self.net(x, y) if self.num_classes else self.net(x)
        return out.reshape(x.shape[0])  # [N, 1] -> [N]; checked once by the dry run


def as_generator(net: nn.Module, *, data_shape: tuple[int, ...], z_dim: int | None, num_classes: int) -> nn.Module:
    """`net` itself when it is a gankit generator, else wrapped and checked on a dry run."""
    if isinstance(net, (GeneratorBase, UserGenerator)):
        return net
    _check_module(net, "generator")
    z_dim = int(getattr(net, "z_dim", None) or z_dim or 0)
    if z_dim <= 0:
        raise ConfigError(f"generator {type(net).__name__}: give it a `z_dim` attribute or set z_dim in the config")
    G = UserGenerator(net, data_shape, z_dim, num_classes)
    y = torch.zeros(2, dtype=torch.long) if num_classes else None
    out = _dry_run(G, torch.zeros(2, z_dim), y, f"generator {type(net).__name__}")
    if tuple(out.shape) != (2, *data_shape) or not out.is_floating_point():
        raise ConfigError(f"generator {type(net).__name__}: for z of shape [2, {z_dim}] it returned "
                          f"{out.dtype} {list(out.shape)}; the data needs floating-point {[2, *data_shape]}")
    return G


def as_discriminator(net: nn.Module, *, data_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """`net` itself when it is a gankit discriminator, else wrapped and checked on a dry run."""
    if isinstance(net, (DiscriminatorBase, UserDiscriminator)):
        return net
    _check_module(net, "discriminator")
    D = UserDiscriminator(net, data_shape, num_classes)
    y = torch.zeros(2, dtype=torch.long) if num_classes else None
    out = _dry_run(D.net, torch.zeros(2, *data_shape), y, f"discriminator {type(net).__name__}",
                   labelled=bool(num_classes))
    if out.numel() != 2 or out.shape[0] != 2 or not out.is_floating_point():
        raise ConfigError(f"discriminator {type(net).__name__}: for x of shape {[2, *data_shape]} it returned "
                          f"{out.dtype} {list(out.shape)}; it must return one raw score per sample, [2] or [2, 1]")
    return D


def _check_module(net: object, role: str) -> None:
    if not isinstance(net, nn.Module):
        raise ConfigError(f"{role} must be a torch.nn.Module, got {type(net).__name__}")
    if not any(True for _ in net.parameters()):
        raise ConfigError(f"{role} {type(net).__name__} has no parameters to train")


@torch.no_grad()
def _dry_run(module: nn.Module, x: Tensor, y: Tensor | None, role: str, labelled: bool | None = None) -> Tensor:
    """One forward on two dummy inputs in eval mode (no BatchNorm statistics change, no random draw kept)."""
    device = next(module.parameters()).device
    x = x.to(device)
    labelled = y is not None if labelled is None else labelled
    try:
        with torch.random.fork_rng(devices=[]), eval_mode(module):
            if isinstance(module, (UserGenerator, UserDiscriminator)):
                return module(x, None if y is None else y.to(device))
            return module(x, y.to(device)) if labelled and y is not None else module(x)
    except Exception as e:
        raise ConfigError(f"{role} failed on an input of shape {list(x.shape)}: "
                          f"{type(e).__name__}: {e}") from None
