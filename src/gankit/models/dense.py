"""`dcgan-dense`: DCGAN's strided convolutions with a dense layer of 1,024 units on each side, for 1x28x28 images.
These are InfoGAN's MNIST networks (Chen et al. 2016, appendix C.1, table 1), the standard MNIST and
Fashion-MNIST architecture of Lucic et al. 2018's large-scale GAN study, and gankit's default on 28x28 grey data.

G: z -> FC 1024-BN-ReLU -> FC 7x7x128-BN-ReLU -> 4x4 upconv 64 stride 2-BN-ReLU -> 4x4 upconv 1 stride 2 -> tanh.
D: x -> 4x4 conv 64 stride 2-lReLU -> 4x4 conv 128 stride 2-BN-lReLU -> FC 1024-BN-lReLU (`features`) -> FC 1
(`head`); InfoGAN's Q head goes on the 1024 shared features (gankit.models.heads.HeadedDiscriminator).

The dense layers are what the plain DCGAN lacks at 28x28, where its G is one projection and two upconvolutions:
measured on mnist5k (docs/results.md), 5,000 steps of these nets at half width (about five minutes on two CPU
cores) reached FID 21 against mnist5k, the DCGAN 130 after 10,000 steps. They also let a one-hot InfoGAN code
beside the noise steer the whole image. Widths are the paper's, scaled by width/64 (the dense layer too).
Conditional models take the label as G's embedding beside z and as one-hot maps beside D's input (or a
projection on D's dense features with cond_d='projection').
"""

from __future__ import annotations

from torch import Tensor, nn

from ..errors import ConfigError
from .base import DiscriminatorBase, GeneratorBase, check_labels, dcgan_init
from .gemmconv import GemmConv2d, GemmConvTranspose2d

NAME = "dcgan-dense"
DEFAULT_WIDTH = 64
DENSE = 1024  # units of the dense layer in G and D at the default width
SHAPE = (1, 28, 28)


def _check_shape(data_shape: tuple[int, ...]) -> None:
    if tuple(data_shape) != SHAPE:
        raise ConfigError(f"model {NAME!r} takes 1x28x28 images; data shape is {tuple(data_shape)} "
                          "(use --model dcgan for other images)")


class DenseGenerator(GeneratorBase):
    def __init__(self, data_shape: tuple[int, ...], z_dim: int, num_classes: int = 0,
                 width: int | None = None) -> None:
        _check_shape(data_shape)
        super().__init__(NAME, data_shape, z_dim, num_classes)
        w = width or DEFAULT_WIDTH
        dense = DENSE * w // DEFAULT_WIDTH
        self.ch = 2 * w
        self.dense = nn.Sequential(nn.Linear(self.input_dim, dense, bias=False), nn.BatchNorm1d(dense),
                                   nn.ReLU(True), nn.Linear(dense, self.ch * 7 * 7, bias=False),
                                   nn.BatchNorm1d(self.ch * 7 * 7), nn.ReLU(True))
        # the thin output layer (one channel) runs as a GEMM on channels-last (gankit.models.gemmconv)
        self.net = nn.Sequential(nn.ConvTranspose2d(self.ch, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w),
                                 nn.ReLU(True), GemmConvTranspose2d(w, 1, 4, 2, 1), nn.Tanh())
        dcgan_init(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.dense(self.latent(z, y))  # [N, 2w * 7 * 7]
        return self.net(h.view(-1, self.ch, 7, 7))  # [N, 1, 28, 28]


class DenseDiscriminator(DiscriminatorBase):
    def __init__(self, data_shape: tuple[int, ...], num_classes: int = 0, cond_d: str = "concat",
                 width: int | None = None) -> None:
        _check_shape(data_shape)
        super().__init__(NAME, data_shape, num_classes, cond_d)
        w = width or DEFAULT_WIDTH
        dense = DENSE * w // DEFAULT_WIDTH
        c_in = 1 + self.label_channels
        # one input channel runs as a GEMM on channels-last; with label maps oneDNN is faster (models/dcgan.py).
        # The activation after it is not in place: the GEMM's output is a view (gemmconv's note)
        first = GemmConv2d if c_in <= 3 else nn.Conv2d
        self.features = nn.Sequential(
            first(c_in, w, 4, 2, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.1), nn.Flatten(),
            nn.Linear(2 * w * 7 * 7, dense, bias=False), nn.BatchNorm1d(dense), nn.LeakyReLU(0.1))  # [N, dense]
        self.head = nn.Linear(dense, 1)
        self.make_projection(dense)
        dcgan_init(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(self, y, x.shape[0])
        h = self.features(self.with_label_maps(x, y))  # [N, dense]
        return self.project(self.head(h).view(-1), h, y)  # [N]
