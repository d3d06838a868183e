"""DCGAN (Radford et al. 2016): strided transposed convolutions in G and strided convolutions in D, BatchNorm
(not on G's output nor D's input), ReLU in G, LeakyReLU(0.2) in D, tanh output, no pooling and no hidden
dense layers. z enters as a 1x1 map projected by a transposed convolution; D ends in a convolution to 1x1.

Channel widths follow pytorch/examples' dcgan (ngf = ndf = width, default 64), doubling toward low resolution:
64x64 uses 8w-4w-2w-w, 32x32 4w-2w-w, 28x28 (a 7x7 start) 2w-w.
"""

from __future__ import annotations

from torch import Tensor, nn

from .base import DiscriminatorBase, GeneratorBase, check_labels, dcgan_init
from .gemmconv import GemmConv2d, GemmConvTranspose2d
from .minibatch import MinibatchDiscrimination

DEFAULT_WIDTH = 64


def plan(size: int) -> tuple[int, int]:
    """(start resolution, number of stride-2 stages) for a supported image size."""
    return (7, 2) if size == 28 else (4, {32: 3, 64: 4}[size])


class DCGANGenerator(GeneratorBase):
    def __init__(self, data_shape: tuple[int, int, int], z_dim: int, num_classes: int = 0,
                 width: int | None = None):
        super().__init__("dcgan", data_shape, z_dim, num_classes)
        c, size, _ = data_shape
        w = width or DEFAULT_WIDTH
        start, ups = plan(size)
        ch = [w * 2 ** (ups - 1 - i) for i in range(ups)]  # e.g. 28: [2w, w]; 64: [8w, 4w, 2w, w]
        # the projection of the 1x1 z map is a matrix multiply: on channels-last it runs as one (gemmconv)
        layers: list[nn.Module] = [GemmConvTranspose2d(self.input_dim, ch[0], start, 1, 0, bias=False),
                                   nn.BatchNorm2d(ch[0]), nn.ReLU(True)]
        for a, b in zip(ch[:-1], ch[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        # the thin output layer (c channels) is slow in oneDNN: on channels-last it runs as a GEMM (gemmconv)
        layers += [GemmConvTranspose2d(ch[-1], c, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.latent(z, y)  # [N, input_dim]
        return self.net(h[:, :, None, None])  # [N, C, H, W]


class DCGANDiscriminator(DiscriminatorBase):
    def __init__(self, data_shape: tuple[int, int, int], num_classes: int = 0, cond_d: str = "concat",
                 width: int | None = None, minibatch_disc: int = 0):
        super().__init__("dcgan", data_shape, num_classes, cond_d)
        c, size, _ = data_shape
        w = width or DEFAULT_WIDTH
        start, downs = plan(size)
        ch = [w * 2 ** i for i in range(downs)]  # e.g. 28: [w, 2w]; 64: [w, 2w, 4w, 8w]
        c_in = c + self.label_channels  # concat conditioning: one-hot label maps beside the image
        # A thin input layer is slow in oneDNN: on channels-last it runs as a GEMM (gemmconv). Measured per layer
        # (bench/thin_layers.py has the end-to-end figures): 2-4x faster at 1 channel, on par at 3, slower at 11
        # (an image with the conditional D's 10 label maps), which keeps oneDNN.
        # The activation is not in place: the GEMM's NHWC output is a view, and an in-place op on a view makes
        # autograd hand the activation's backward an NCHW gradient, which runs 7x slower beside NHWC values
        first = GemmConv2d if c_in <= 3 else nn.Conv2d
        layers: list[nn.Module] = [first(c_in, ch[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        for a, b in zip(ch[:-1], ch[1:]):
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)  # [N, ch[-1], start, start]
        # the output layer: a convolution to 1x1, not a dense layer (on channels-last, one GEMM: gemmconv)
        self.head = GemmConv2d(ch[-1], 1, start, 1, 0)
        self.make_projection(ch[-1])
        dcgan_init(self)
        # minibatch features of the flattened last feature map, beside the 1x1 head; built after the DCGAN init
        # (which draws N(0, 0.02) for every layer) so the default D's weights stay what they were
        self.mbd = MinibatchDiscrimination(ch[-1] * start * start, minibatch_disc) if minibatch_disc else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(self, y, x.shape[0])
        h = self.features(self.with_label_maps(x, y))  # [N, F, s, s]
        logits = self.head(h).view(-1)  # [N]
        if self.mbd is not None:
            logits = logits + self.mbd(h)  # h flattened: [N, F * s * s]
        if self.cond_d == "projection":
            logits = self.project(logits, h.sum(dim=(2, 3)), y)  # sum-pooled features, as in Miyato & Koyama
        return logits
