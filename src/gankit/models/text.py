"""The text side of text-to-image (after Reed et al. 2016, "Generative adversarial text to image synthesis"):
a caption encoder, and the conditional generator and matching-aware discriminator that each hold one.

Captions are word ids [N, L] (gankit.data.captions.tokenize; 0 pads the end). `TextEncoder` embeds the words and
runs a GRU over them; the caption's code is the GRU state at its last word. G and D each own an encoder trained
with them (G's by G's objective, D's by D's), so the loop's optimizer groups stay one network each and
`gankit.load(run)` rebuilds G with everything it needs to draw from a caption.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .base import dcgan_init


class TextEncoder(nn.Module):
    """word ids [N, L] (0: padding at the end) -> caption codes [N, dim]."""

    def __init__(self, vocab: int, dim: int = 64, embed: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, padding_idx=0)
        self.rnn = nn.GRU(embed, dim, batch_first=True)
        self.dim = dim

    def forward(self, tokens: Tensor) -> Tensor:
        if tokens is None or tokens.dim() != 2 or tokens.dtype != torch.long:
            got = None if tokens is None else f"{tokens.dtype} {list(tokens.shape)}"
            raise ConfigError(f"a text-to-image network takes captions as word ids [N, L] (int64), got {got}; "
                              "sample with gankit sample RUN --text \"a thin two\"")
        out, _ = self.rnn(self.embed(tokens))  # [N, L, dim]
        last = (tokens != 0).sum(1).clamp_min(1) - 1  # index of each caption's last word
        return out[torch.arange(len(tokens)), last]  # [N, dim]


class TextConditionalGenerator(nn.Module):
    """z [N, z_dim] and captions [N, L] -> images [N, 1, 28, 28] in [-1, 1]: DCGAN's upsampling stack from z beside
    a compressed caption code."""

    def __init__(self, z_dim: int, vocab: int, width: int = 64, text_dim: int = 64) -> None:
        super().__init__()
        self.model_name, self.data_shape, self.z_dim, self.num_classes = "text-dcgan", (1, 28, 28), z_dim, 0
        self.text = TextEncoder(vocab, text_dim)
        self.squeeze = nn.Sequential(nn.Linear(text_dim, 32), nn.LeakyReLU(0.2))
        w = width
        self.fc = nn.Sequential(nn.Linear(z_dim + 32, 2 * w * 7 * 7), nn.BatchNorm1d(2 * w * 7 * 7), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),  # [N, w, 14, 14]
            nn.ConvTranspose2d(w, 1, 4, 2, 1), nn.Tanh())  # [N, 1, 28, 28]
        self.width = w
        dcgan_init(self.fc), dcgan_init(self.up)

    def forward(self, z: Tensor, tokens: Tensor | None = None) -> Tensor:
        h = torch.cat([z, self.squeeze(self.text(tokens))], dim=1)  # [N, z_dim + 32]
        return self.up(self.fc(h).view(len(z), 2 * self.width, 7, 7))


class MatchingDiscriminator(nn.Module):
    """images [N, 1, 28, 28] and captions [N, L] -> one raw logit per pair [N]: does the image look real *and* match
    the caption? Conv features at 7x7 with the caption code replicated over them (Reed et al.'s spatial
    replication), then a 1x1 conv and a linear head."""

    def __init__(self, vocab: int, width: int = 64, text_dim: int = 64) -> None:
        super().__init__()
        self.model_name, self.data_shape, self.z_dim, self.num_classes = "text-dcgan", (1, 28, 28), 0, 0
        w = width
        self.text = TextEncoder(vocab, text_dim)
        self.features = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.2),  # [N, w, 14, 14]
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2))  # [N, 2w, 7, 7]
        self.joint = nn.Sequential(nn.Conv2d(2 * w + 32, 2 * w, 1), nn.LeakyReLU(0.2))
        self.squeeze = nn.Sequential(nn.Linear(text_dim, 32), nn.LeakyReLU(0.2))
        self.head = nn.Linear(2 * w * 7 * 7, 1)
        dcgan_init(self.features), dcgan_init(self.joint), dcgan_init(self.head)

    def forward(self, x: Tensor, tokens: Tensor | None = None) -> Tensor:
        f = self.features(x)  # [N, 2w, 7, 7]
        t = self.squeeze(self.text(tokens))[:, :, None, None].expand(-1, -1, 7, 7)  # [N, 32, 7, 7]
        return self.head(self.joint(torch.cat([f, t], dim=1)).flatten(1)).squeeze(1)  # [N]
