"""Recurrent networks for sequences: the recurrent GAN's generator and discriminator (Mogren 2016, "C-RNN-GAN";
Esteban et al. 2017, "Real-valued (medical) time series generation with recurrent conditional GANs") and a small
sequence classifier for train-on-synthetic-test-on-real.

A sample is a sequence of T steps of F values each: 1-D series [N, T] have F = 1; grey images [N, 1, H, W] are
read row by row, T = H steps of F = W values (MNIST: 28 rows of 28 pixels). `steps_and_features` makes that
mapping in one place, so the networks take and return the data's own shape.

The generator draws its noise per step: its flat latent z [N, T * k] (k = noise values per step, the config's
z_dim) is viewed as [N, T, k], so `gankit.load(run).sample` and the loop's latent draws work unchanged, and the
number of steps a run generates is fixed by its latent size.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .base import DiscriminatorBase, GeneratorBase, check_labels

CELLS = ("lstm", "gru")


def steps_and_features(data_shape: tuple[int, ...]) -> tuple[int, int]:
    """(T, F) of a data shape: (T,) series -> (T, 1); (1, H, W) grey images -> (H, W), rows as steps."""
    shape = tuple(data_shape)
    if len(shape) == 1:
        return shape[0], 1
    if len(shape) == 3 and shape[0] == 1:
        return shape[1], shape[2]
    raise ConfigError(f"recurrent networks take 1-D series [N, T] or grey images [N, 1, H, W] read row by row; "
                      f"got samples of shape {list(shape)}")


def _rnn(cell: str, inputs: int, hidden: int, layers: int) -> nn.Module:
    if cell not in CELLS:
        raise ConfigError(f"rnn cell must be one of {', '.join(CELLS)}, got {cell!r}")
    kind = nn.LSTM if cell == "lstm" else nn.GRU
    return kind(inputs, hidden, num_layers=layers, batch_first=True)


class RecurrentGenerator(GeneratorBase):
    """z [N, T * k] (+ labels [N]) -> sequences [N, *data_shape] in [-1, 1]: an RNN over the per-step noise (with
    the label embedding beside it at every step) and a linear read-out per step through tanh."""

    def __init__(self, data_shape: tuple[int, ...], noise_per_step: int, num_classes: int = 0, *,
                 cell: str = "lstm", hidden: int = 128, layers: int = 2) -> None:
        self.steps, self.features = steps_and_features(data_shape)
        super().__init__(f"rnn-{cell}", data_shape, self.steps * noise_per_step, num_classes)
        self.noise_per_step, self.cell = noise_per_step, cell
        label_dim = self.label_embed.embedding_dim if self.label_embed is not None else 0
        self.rnn = _rnn(cell, noise_per_step + label_dim, hidden, layers)
        self.out = nn.Linear(hidden, self.features)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ConfigError(f"this recurrent generator draws sequences of {self.steps} steps from latents "
                              f"[N, {self.z_dim}] ({self.noise_per_step} per step); got {list(z.shape)}")
        check_labels(self, y, len(z))
        seq = z.view(len(z), self.steps, self.noise_per_step)  # [N, T, k]
        if self.label_embed is not None:  # the label beside every step's noise
            emb = self.label_embed(y)[:, None].expand(-1, self.steps, -1)  # [N, T, E]
            seq = torch.cat([seq, emb], dim=2)
        out, _ = self.rnn(seq)  # [N, T, hidden]
        x = torch.tanh(self.out(out))  # [N, T, F]
        return x.reshape(len(z), *self.data_shape)


class RecurrentDiscriminator(DiscriminatorBase):
    """sequences [N, *data_shape] (+ labels [N]) -> raw logits [N]: an RNN reads the steps (with the label as a
    one-hot vector beside each), a linear head gives a verdict per step, and the sample's logit is their mean, so
    every step's output is judged (Esteban et al.'s per-step discriminator) under any of gankit's objectives."""

    def __init__(self, data_shape: tuple[int, ...], num_classes: int = 0, *, cell: str = "lstm", hidden: int = 128,
                 layers: int = 1) -> None:
        super().__init__(f"rnn-{cell}", data_shape, num_classes, "concat")
        self.steps, self.features = steps_and_features(data_shape)
        self.rnn = _rnn(cell, self.features + num_classes, hidden, layers)
        self.head = nn.Linear(hidden, 1)

    def per_step(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """One logit per step.  # [N, *data_shape] -> [N, T]"""
        if tuple(x.shape[1:]) != self.data_shape:
            raise ConfigError(f"this recurrent discriminator reads sequences of shape {list(self.data_shape)} "
                              f"({self.steps} steps); got {list(x.shape[1:])}")
        seq = x.reshape(len(x), self.steps, self.features)  # [N, T, F]
        check_labels(self, y, len(x))
        if self.num_classes:
            onehot = nn.functional.one_hot(y, self.num_classes).to(seq.dtype)[:, None]
            seq = torch.cat([seq, onehot.expand(-1, self.steps, -1)], dim=2)
        out, _ = self.rnn(seq)  # [N, T, hidden]
        return self.head(out).squeeze(2)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.per_step(x, y).mean(dim=1)  # [N]


class SequenceClassifier(nn.Module):
    """sequences [N, T] or [N, T, F] -> class logits [N, K]: a GRU and a linear head on its last hidden state."""

    def __init__(self, features: int, num_classes: int, hidden: int = 32) -> None:
        super().__init__()
        self.features = features
        self.rnn = nn.GRU(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        seq = x.reshape(len(x), -1, self.features)  # [N, T, F]
        _, h = self.rnn(seq)  # h: [1, N, hidden]
        return self.head(h[-1])
