"""The classic MNIST nets of the Keras-era GAN tutorials that gankit grew from.

G: z(100) -> FC 1024 -> FC 128*(H/4)*(W/4) -> reshape -> upsample x2 -> conv 5x5 64 -> upsample x2 -> conv 5x5 C
-> tanh. D: conv 5x5 64 -> max-pool -> conv 5x5 128 -> max-pool -> flatten -> FC 1024 -> FC 1. The seed design
ends D in a sigmoid; gankit's D returns the logit and the loss applies the sigmoid, which is the same function
computed without overflow.
"""

from __future__ import annotations

from torch import Tensor, nn

from .base import DiscriminatorBase, GeneratorBase, check_labels, dcgan_init

HIDDEN = 1024


class ClassicGenerator(GeneratorBase):
    def __init__(self, data_shape: tuple[int, int, int], z_dim: int, num_classes: int = 0,
                 width: int | None = None):
        super().__init__("classic", data_shape, z_dim, num_classes)
        c, h, w = data_shape
        c1 = width or 64
        self.base = (2 * c1, h // 4, w // 4)  # 128 x 7 x 7 for MNIST
        n_base = self.base[0] * self.base[1] * self.base[2]
        self.fc = nn.Sequential(nn.Linear(self.input_dim, HIDDEN), nn.BatchNorm1d(HIDDEN), nn.ReLU(True),
                                nn.Linear(HIDDEN, n_base), nn.BatchNorm1d(n_base), nn.ReLU(True))
        self.conv = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2 * c1, c1, 5, 1, 2), nn.BatchNorm2d(c1),
            nn.ReLU(True),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c1, c, 5, 1, 2), nn.Tanh())
        dcgan_init(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.fc(self.latent(z, y)).view(-1, *self.base)  # [N, 128, H/4, W/4]
        return self.conv(h)  # [N, C, H, W]


class ClassicDiscriminator(DiscriminatorBase):
    def __init__(self, data_shape: tuple[int, int, int], num_classes: int = 0, cond_d: str = "concat",
                 width: int | None = None):
        super().__init__("classic", data_shape, num_classes, cond_d)
        c, h, w = data_shape
        c1 = width or 64
        c_in = c + self.label_channels  # concat conditioning: one-hot label maps beside the image
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, c1, 5, 1, 2), nn.LeakyReLU(0.2, True), nn.MaxPool2d(2),
            nn.Conv2d(c1, 2 * c1, 5, 1, 2), nn.LeakyReLU(0.2, True), nn.MaxPool2d(2))
        self.fc = nn.Sequential(nn.Linear(2 * c1 * (h // 4) * (w // 4), HIDDEN), nn.LeakyReLU(0.2, True))
        self.head = nn.Linear(HIDDEN, 1)  # the logit; sigmoid(logit) = D(x) is applied in the loss
        self.make_projection(HIDDEN)
        dcgan_init(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(self, y, x.shape[0])
        feats = self.fc(self.conv(self.with_label_maps(x, y)).flatten(1))  # [N, 1024]
        return self.project(self.head(feats).squeeze(1), feats, y)  # [N]
