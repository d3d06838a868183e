"""SAGAN (Zhang et al. 2019) on the DCGAN layout: the DCGAN generator and discriminator of gankit.models.dcgan with a
self-attention block (gankit.models.attention) on the largest hidden feature map of each (G: the last one before
the output layer, e.g. 14x14 for 28x28 images; D: the first one, after its input layer), spectral norm on every
convolution of both networks (the paper's "spectral normalization for both generator and discriminator"), and no
BatchNorm in D (it keeps G's). The attention projections f, g, h are spectrally normalised too.

The paper trains it with the hinge loss and TTUR (Adam lr 1e-4 for G, 4e-4 for D, betas 0 / 0.9): the model's
recipe sets the learning rates and beta2; `--loss hinge --beta1 0` complete it. The paper's networks are residual
and 128x128; this keeps DCGAN's plain convolutions so that it compares with `--model dcgan` on MNIST-sized data.
"""

from __future__ import annotations

from torch import Tensor, nn

from .attention import SelfAttention
from .base import DiscriminatorBase, GeneratorBase, check_labels, dcgan_init
from .dcgan import DEFAULT_WIDTH, plan
from .spectral import spectral_normalised


class SAGANGenerator(GeneratorBase):
    def __init__(self, data_shape: tuple[int, int, int], z_dim: int, num_classes: int = 0,
                 width: int | None = None):
        super().__init__("sagan", data_shape, z_dim, num_classes)
        c, size, _ = data_shape
        w = width or DEFAULT_WIDTH
        start, ups = plan(size)
        ch = [w * 2 ** (ups - 1 - i) for i in range(ups)]  # e.g. 28: [2w, w]; 64: [8w, 4w, 2w, w]
        layers: list[nn.Module] = [nn.ConvTranspose2d(self.input_dim, ch[0], start, 1, 0, bias=False),
                                   nn.BatchNorm2d(ch[0]), nn.ReLU(True)]
        for a, b in zip(ch[:-1], ch[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        self.attention = SelfAttention(ch[-1])  # on the [N, w, size/2, size/2] map
        self.body = nn.Sequential(*layers)
        self.out = nn.Sequential(nn.ConvTranspose2d(ch[-1], c, 4, 2, 1, bias=False), nn.Tanh())
        dcgan_init(self)
        spectral_normalised(self, embeddings=False)  # G's label embedding is an input, like z

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.latent(z, y)  # [N, input_dim]
        h = self.body(h[:, :, None, None])  # [N, w, size/2, size/2]
        return self.out(self.attention(h))  # [N, C, H, W]


class SAGANDiscriminator(DiscriminatorBase):
    def __init__(self, data_shape: tuple[int, int, int], num_classes: int = 0, cond_d: str = "concat",
                 width: int | None = None):
        super().__init__("sagan", data_shape, num_classes, cond_d)
        c, size, _ = data_shape
        w = width or DEFAULT_WIDTH
        start, downs = plan(size)
        ch = [w * 2 ** i for i in range(downs)]  # e.g. 28: [w, 2w]
        self.stem = nn.Sequential(nn.Conv2d(c + self.label_channels, ch[0], 4, 2, 1), nn.LeakyReLU(0.2))
        self.attention = SelfAttention(ch[0])  # on the [N, w, size/2, size/2] map
        layers: list[nn.Module] = []
        for a, b in zip(ch[:-1], ch[1:]):
            layers += [nn.Conv2d(a, b, 4, 2, 1), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)  # [N, ch[-1], start, start]
        self.head = nn.Conv2d(ch[-1], 1, start, 1, 0)
        self.make_projection(ch[-1])
        dcgan_init(self)
        spectral_normalised(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(self, y, x.shape[0])
        h = self.attention(self.stem(self.with_label_maps(x, y)))  # [N, w, size/2, size/2]
        h = self.features(h)  # [N, F, s, s]
        logits = self.head(h).view(-1)  # [N]
        if self.cond_d == "projection":
            logits = self.project(logits, h.sum(dim=(2, 3)), y)
        return logits
