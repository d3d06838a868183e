"""Networks that the InfoGAN and AC-GAN methods build around a model's own G and D.

`HeadedDiscriminator`: a discriminator with a second head on the body it shares with the real/fake head (InfoGAN's
Q network, AC-GAN's class output). `CodedGenerator`: a generator whose latent holds InfoGAN's codes beside the
noise, laid out so that every tool that feeds a generator i.i.d. draws from the run's prior gets the codes'
own distributions.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .base import dcgan_init


class HeadedDiscriminator(nn.Module):
    """D's body (`features`) with two heads: the model's real/fake logit and `extra` outputs.

    `forward(x)` is the plain discriminator (raw logits [N]), so penalties and probes use it unchanged;
    `forward(x, heads=True)` returns (logits [N], extra [N, extra]) from one pass through the body. With
    `hidden` > 0 the extra head is FC(hidden)-BN-LeakyReLU(0.1)-FC, InfoGAN's Q on MNIST (Chen et al. 2016,
    appendix C.1); with 0 it is one linear layer, AC-GAN's class output (Odena et al. 2017)."""

    def __init__(self, base: nn.Module, extra: int, hidden: int = 0) -> None:
        super().__init__()
        if not (isinstance(getattr(base, "features", None), nn.Module) and isinstance(getattr(base, "head", None),
                                                                                    nn.Module)):
            raise ConfigError(f"model {getattr(base, 'model_name', type(base).__name__)!r} has no separate body "
                              "and head to share with a second head; use --model dcgan or mlp")
        if getattr(base, "num_classes", 0):
            raise ConfigError("the shared discriminator body must be unconditional")
        self.base = base
        self.model_name = base.model_name
        self.data_shape = tuple(base.data_shape)
        self.z_dim = 0
        self.num_classes = 0
        with torch.no_grad():  # the body's output size, from one dummy sample in eval mode
            was = base.training
            base.eval()
            flat = base.features(torch.zeros(1, *self._body_input_shape())).numel()
            base.train(was)
        if hidden:
            self.extra = nn.Sequential(nn.Linear(flat, hidden, bias=False), nn.BatchNorm1d(hidden),
                                       nn.LeakyReLU(0.1), nn.Linear(hidden, extra))
        else:
            self.extra = nn.Linear(flat, extra)
        dcgan_init(self.extra)
        self.extra_dim = extra

    def _body_input_shape(self) -> tuple[int, ...]:
        # conv bodies take images as they are; the MLP's body takes them flattened
        return self.data_shape if self.base.model_name != "mlp" else (math.prod(self.data_shape),)

    def forward(self, x: Tensor, y: Tensor | None = None, *, heads: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        # y is accepted and unused: the real/fake head does not see a label (AC-GAN's D predicts it instead)
        h = self.base.features(x if self.base.model_name != "mlp" else x.reshape(x.shape[0], -1))
        logits = self.base.head(h).reshape(-1)  # [N]
        if not heads:
            return logits
        return logits, self.extra(h.flatten(1))  # [N], [N, extra]


class CodedGenerator(nn.Module):
    """InfoGAN's generator: G(noise, categorical code, continuous codes).

    Its input z [N, z_dim] is `noise | cat | cont` with z_dim = noise + cat + cont, every entry drawn i.i.d. from
    the run's prior, and read as
      - noise: as drawn;
      - categorical code: the argmax of the `cat` entries, one-hot. The argmax of i.i.d. continuous draws is
        uniform over the categories, which is the code's prior;
      - continuous codes: U(-1, 1). A uniform prior's draws are that already; a Gaussian draw u becomes erf(u/√2),
        which is U(-1, 1) exactly.
    So sampling, scoring, probing and export, which draw z from the prior, need not know that codes exist.
    `with_codes` writes chosen codes into z."""

    def __init__(self, base: nn.Module, noise: int, cat: int, cont: int, prior: str) -> None:
        super().__init__()
        if base.z_dim != noise + cat + cont or getattr(base, "num_classes", 0):
            raise ConfigError("the coded generator's base must be unconditional with z_dim = noise + codes")
        self.base = base
        self.model_name = base.model_name
        self.data_shape = tuple(base.data_shape)
        self.z_dim = noise + cat + cont
        self.num_classes = 0
        self.info_noise, self.info_cat, self.info_cont, self.prior = noise, cat, cont, prior

    def codes(self, z: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """(categorical code [N] int64 or None, continuous codes [N, cont] in (-1, 1) or None) that z holds."""
        n, c = self.info_noise, self.info_cat
        cat = z[:, n:n + c].argmax(dim=1) if c else None
        cont = self._cont(z[:, n + c:]) if self.info_cont else None
        return cat, cont

    def _cont(self, u: Tensor) -> Tensor:
        return u if self.prior == "uniform" else torch.erf(u * (1.0 / math.sqrt(2.0)))

    def with_codes(self, z: Tensor, cat: Tensor | int | None = None, cont: Tensor | None = None) -> Tensor:
        """A copy of z [N, z_dim] that holds categorical code `cat` (an int or [N]) and/or continuous codes
        `cont` [N, cont] (values in (-1, 1); a Gaussian prior's entries are set to their inverse image)."""
        z = z.clone()
        n, c = self.info_noise, self.info_cat
        if cat is not None:
            k = torch.as_tensor(cat, device=z.device).expand(z.shape[0])
            z[:, n:n + c] = -1.0  # any vector whose argmax is k: +1 at k, -1 elsewhere
            z[torch.arange(z.shape[0], device=z.device), n + k] = 1.0
        if cont is not None:
            cont = cont.to(z).clamp(-1 + 1e-6, 1 - 1e-6)
            z[:, n + c:] = cont if self.prior == "uniform" else torch.special.erfinv(cont) * math.sqrt(2.0)
        return z

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if y is not None:
            raise ConfigError("an InfoGAN generator takes no class labels; choose its categorical code instead")
        n, c = self.info_noise, self.info_cat
        parts = [z[:, :n]]
        if c:  # one-hot of the argmax, as a comparison (exports to ONNX without a one-hot operator)
            block = z[:, n:n + c]
            parts.append((block == block.amax(dim=1, keepdim=True)).to(z.dtype))
        if self.info_cont:
            parts.append(self._cont(z[:, n + c:]))
        return self.base(torch.cat(parts, dim=1))  # [N, *data_shape]
