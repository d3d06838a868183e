"""What every generator and discriminator shares: the attributes the loop and `gankit.load` read, label checks,
DCGAN initialisation, and the two ways a discriminator can see a label."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError

G_LABEL_DIM = 50  # size of G's learned label embedding, concatenated to z (conditional GAN, Mirza & Osindero 2014)


def check_labels(module: nn.Module, y: Tensor | None, n: int) -> None:
    if module.num_classes and y is None:
        raise ConfigError(f"{type(module).__name__} is class-conditional: pass labels y of shape [{n}]")
    if not module.num_classes and y is not None:
        raise ConfigError(f"{type(module).__name__} is unconditional: it takes no labels (y must be None)")


class GeneratorBase(nn.Module):
    """z [N, z_dim] (+ labels [N]) -> samples [N, *data_shape]."""

    def __init__(self, model_name: str, data_shape: tuple[int, ...], z_dim: int, num_classes: int) -> None:
        super().__init__()
        self.model_name = model_name
        self.data_shape = tuple(data_shape)
        self.z_dim = z_dim
        self.num_classes = num_classes
        self.label_embed = nn.Embedding(num_classes, G_LABEL_DIM) if num_classes else None

    @property
    def input_dim(self) -> int:
        return self.z_dim + (G_LABEL_DIM if self.num_classes else 0)

    def latent(self, z: Tensor, y: Tensor | None) -> Tensor:
        """z, with the label embedding concatenated for conditional models.  # [N, input_dim]"""
        check_labels(self, y, z.shape[0])
        if self.label_embed is None:
            return z
        return torch.cat([z, self.label_embed(y)], dim=1)


class DiscriminatorBase(nn.Module):
    """samples [N, *data_shape] (+ labels [N]) -> raw logits [N]."""

    def __init__(self, model_name: str, data_shape: tuple[int, ...], num_classes: int, cond_d: str) -> None:
        super().__init__()
        if cond_d not in ("projection", "concat"):
            raise ConfigError(f"cond_d must be 'projection' or 'concat', got {cond_d!r}")
        self.model_name = model_name
        self.data_shape = tuple(data_shape)
        self.z_dim = 0
        self.num_classes = num_classes
        self.cond_d = cond_d if num_classes else None

    @property
    def label_channels(self) -> int:
        """Extra input channels of a conv D with concat conditioning: one per class."""
        return self.num_classes if self.cond_d == "concat" else 0

    def with_label_maps(self, x: Tensor, y: Tensor | None) -> Tensor:
        """Concat conditioning of a conv D: the label appended to the image as one-hot constant maps.

        Fixed one-hot, not a learned embedding. Measured with the conditional DCGAN recipe (3,000 steps, seed 0,
        docs/results.md): an nn.Embedding at its N(0, 1) init, about 3x the image's scale on every pixel, left D at
        chance on Fashion-MNIST from step ~450 (loss 2 log 2, label accuracy 0.60); one-hot maps keep D
        discriminating on both MNIST and Fashion-MNIST."""  # [N, C, H, W] -> [N, C + K, H, W]
        if not self.label_channels:
            return x
        maps = nn.functional.one_hot(y, self.num_classes).to(x.dtype)[:, :, None, None]  # [N, K, 1, 1]
        return torch.cat([x, maps.expand(-1, -1, x.shape[2], x.shape[3])], dim=1)

    def make_projection(self, feature_dim: int) -> None:
        """Projection discriminator (Miyato & Koyama 2018): logit += <embed(y), phi(x)>.

        The embedding starts at N(0, 0.02), the scale of the DCGAN init of the unconditional head: with the
        N(0, 1) default (Miyato & Koyama tame it with spectral norm) the projection of sum-pooled features
        starts at logits of ~30, D saturates, and the generator collapses to one image per class."""
        self.proj_embed = nn.Embedding(self.num_classes, feature_dim) if self.cond_d == "projection" else None
        if self.proj_embed is not None:
            nn.init.normal_(self.proj_embed.weight, 0.0, 0.02)

    def project(self, logits: Tensor, features: Tensor, y: Tensor | None) -> Tensor:
        if getattr(self, "proj_embed", None) is None:
            return logits
        return logits + (self.proj_embed(y) * features).sum(dim=1)


def dcgan_init(module: nn.Module) -> None:
    """Radford et al. 2016: weights from N(0, 0.02); BatchNorm scale from N(1, 0.02); biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
