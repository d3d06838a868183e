"""InfoGAN's MNIST networks (Chen et al. 2016, appendix C.1, table 1), which `--method infogan` trains on 28x28
grey images: DCGAN-like convolutions with a dense layer of 1024 units on each side.

G: z -> FC 1024-BN-ReLU -> FC 7x7x128-BN-ReLU -> 4x4 upconv 64 stride 2-BN-ReLU -> 4x4 upconv 1 stride 2 -> tanh.
D: x -> 4x4 conv 64 stride 2-lReLU -> 4x4 conv 128 stride 2-BN-lReLU -> FC 1024-BN-lReLU (`features`) -> FC 1
(`head`); Q's head goes on the 1024 shared features (gankit.models.heads.HeadedDiscriminator).

The dense layer in G is what lets a one-hot code beside 62 noise inputs steer the whole image; the DCGAN model's
G projects z linearly to its first feature maps and, measured on MNIST (docs/zoo.md), its categorical code
takes the digit's class far less often. Widths are the paper's, scaled by width/64 when --width is given.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..errors import ConfigError
from .base import DiscriminatorBase, GeneratorBase, check_labels, dcgan_init

DEFAULT_WIDTH = 64
DENSE = 1024  # units of the dense layer in G and D at the default width
SHAPE = (1, 28, 28)


def _check_shape(data_shape: tuple[int, ...]) -> None:
    if tuple(data_shape) != SHAPE:
        raise ConfigError(f"InfoGAN's MNIST networks take 1x28x28 images; data shape is {tuple(data_shape)} "
                          "(use --model dcgan for other images)")


class InfoGANGenerator(GeneratorBase):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, num_classes: int = 0,
                 width: int | None = None) -> None:
        _check_shape(data_shape)
        if num_classes:
            raise ConfigError("InfoGAN's generator is unconditional: its categorical code takes the place of labels")
        super().__init__("infogan", data_shape, z_dim, 0)
        w = width or DEFAULT_WIDTH
        dense = DENSE * w // DEFAULT_WIDTH
        self.ch = 2 * w
        self.dense = nn.Sequential(nn.Linear(z_dim, dense, bias=False), nn.BatchNorm1d(dense), nn.ReLU(True),
                                   nn.Linear(dense, self.ch * 7 * 7, bias=False), nn.BatchNorm1d(self.ch * 7 * 7),
                                   nn.ReLU(True))
        self.net = nn.Sequential(nn.ConvTranspose2d(self.ch, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w),
                                 nn.ReLU(True), nn.ConvTranspose2d(w, 1, 4, 2, 1), nn.Tanh())
        dcgan_init(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.dense(self.latent(z, y))  # [N, 2w * 7 * 7]
        return self.net(h.view(-1, self.ch, 7, 7))  # [N, 1, 28, 28]


class InfoGANDiscriminator(DiscriminatorBase):
    def __init__(self, data_shape: tuple[int, ...], num_classes: int = 0, cond_d: str = "concat",
                 width: int | None = None) -> None:
        _check_shape(data_shape)
        if num_classes:
            raise ConfigError("InfoGAN's discriminator is unconditional")
        super().__init__("infogan", data_shape, 0, cond_d)
        w = width or DEFAULT_WIDTH
        dense = DENSE * w // DEFAULT_WIDTH
        self.features = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.1), nn.Flatten(),
            nn.Linear(2 * w * 7 * 7, dense, bias=False), nn.BatchNorm1d(dense), nn.LeakyReLU(0.1))  # [N, dense]
        self.head = nn.Linear(dense, 1)
        dcgan_init(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(self, y, x.shape[0])
        return self.head(self.features(x)).view(-1)  # [N]
