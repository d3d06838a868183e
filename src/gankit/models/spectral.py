"""Spectral normalisation (Miyato et al. 2018): every weight W used as W / sigma(W), sigma its largest singular
value, estimated by one power iteration per training forward (torch.nn.utils.parametrizations.spectral_norm).

A conv weight [out, in, k, k] is normalised as the matrix [out, in * k * k] (a transposed conv's [in, out, k, k]
as [out, in * k * k]), as in the paper; that bounds each layer's Lipschitz constant and so D's.

D's normalisation layers are removed (BatchNorm -> Identity) when its weights are spectrally normalised: SNGAN's
D has none, and BatchNorm divides each activation by the batch's standard deviation, a rescaling with no bound
that would undo the one spectral norm keeps. G keeps its BatchNorm (SAGAN normalises G both ways).
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["bake_spectral_norm", "has_spectral_norm", "spectral_normalised", "strip_normalisation",
           "WEIGHT_LAYERS"]

#: the layers whose weight is normalised; an embedding is the projection discriminator's class vectors
#: (Miyato & Koyama normalise them too)
WEIGHT_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)
_NORM_LAYERS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm)


def spectral_normalised(module: nn.Module, *, embeddings: bool = True) -> nn.Module:
    """`module` with spectral norm on the weight of each conv / linear layer (and embedding, unless
    `embeddings=False`: a generator's label embedding is an input, like z, not a layer to bound). In place;
    returns `module`. The power iteration's start vectors draw from torch's global generator."""
    kinds = WEIGHT_LAYERS if embeddings else WEIGHT_LAYERS[:-1]
    for m in list(module.modules()):
        if isinstance(m, kinds) and not parametrize.is_parametrized(m, "weight"):
            spectral_norm(m)
    return module


def strip_normalisation(module: nn.Module) -> nn.Module:
    """`module` with every BatchNorm layer replaced by an identity. In place; returns `module`."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, _NORM_LAYERS):
                setattr(parent, name, nn.Identity())
    return module


def has_spectral_norm(module: nn.Module) -> bool:
    return any(_spectral(m) for m in module.modules())


def bake_spectral_norm(module: nn.Module) -> nn.Module:
    """`module` with each spectral norm parametrisation replaced by the plain weight it yields now (W / sigma with
    sigma from the stored power-iteration vectors when `module` is in eval mode). In place; returns `module`.

    A loaded generator is an inference network: baked, it samples exactly as the parametrised one does in eval
    mode, its state_dict holds the effective weights under the plain names (what an exported file should hold),
    and a forward no longer recomputes sigma."""
    for m in list(module.modules()):
        if _spectral(m):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
    return module


def _spectral(m: nn.Module) -> bool:
    """Whether `m.weight` is spectrally normalised (and by nothing else: other parametrisations are left alone)."""
    if not parametrize.is_parametrized(m, "weight"):
        return False
    chain = m.parametrizations["weight"]
    return len(chain) == 1 and type(chain[0]).__name__ == "_SpectralNorm"
