"""The recurrent GAN for sequences (Mogren 2016, "C-RNN-GAN"; Esteban et al. 2017, "Real-valued (medical) time
series generation with recurrent conditional GANs").

G is an LSTM (or GRU, --rnn-cell) that turns noise drawn per time step into one value per step (1-D series:
--dataset sines or ar, gankit.data.series) or one row of pixels per step (grey images read row by row: --dataset
mnist, fashion-mnist or mnist5k, 28 steps of 28 values); D is an LSTM whose per-step verdicts are averaged into the
sample's logit. With --conditional the label sits beside every step's input of both (Esteban et al.'s RCGAN).
The step is the GAN's (gankit.methods.gan): k D updates on fresh real batches, then G through a frozen D, under any
of gankit's objectives.

`gankit evaluate` scores a run with `scores`: for series, the distance between generated and held-out real series
(gankit.evaluation.sequences: dominant frequencies and autocorrelations) beside the same distance between two real
draws and between real and time-shuffled series; for image rows, the shipped classifier's confidence and the image
scores of gankit.evaluation.evaluate.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..config import TrainConfig
from ..data import is_toy
from ..errors import ConfigError
from ..models.prior import sample_prior
from ..models.recurrent import RecurrentDiscriminator, RecurrentGenerator, steps_and_features
from .gan import GAN

SERIES_PLOT = 16  # series drawn in each samples/step_*.png


def generator_for(cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> RecurrentGenerator:
    """An untrained generator of a run's architecture, from its (resolved) config."""
    cfg = cfg.resolved()
    k = num_classes if cfg.conditional else 0
    return RecurrentGenerator(data_shape, cfg.z_dim, k, cell=cfg.rnn_cell, hidden=cfg.width, layers=cfg.depth)


def sequence_length(G: Any) -> int:
    """The number of steps a loaded rgan run (gankit.load) generates."""
    net = getattr(G, "net", G)
    if not isinstance(net, RecurrentGenerator):
        raise ConfigError(f"a sequence length applies to recurrent runs (--method rgan); this run's method is "
                          f"{G.config.method!r}")
    return net.steps


def check_length(G: Any, length: int) -> None:
    """A one-line refusal when `length` is not the number of steps the run generates (fixed by its latent size)."""
    steps = sequence_length(G)
    if length != steps:
        how = (f"train a run on series of that length (--toy-option length={length})" if len(G.data_shape) == 1
               else "its images are read as one step per row")
        raise ConfigError(f"this run generates sequences of {steps} steps (its latent holds {steps} steps of "
                          f"noise); a length of {length} is not offered: {how}")


class RGAN(GAN):
    name = "rgan"
    uses_model = False  # its own networks, whatever --model says
    # About Esteban et al.'s scale (one recurrent layer of 100 units, a latent of 5 per step). On sines, one CPU
    # thread: one layer of 64 units ran ~10 it/s, two of 128 ~3 it/s; on a CPU shared with other jobs the short
    # benchmark ran 800 steps in ~4 minutes, so 8,000 steps take 20-40 minutes
    recipe: ClassVar[dict[str, Any]] = {"z_dim": 8, "width": 64, "d_width": 64, "depth": 1, "batch_size": 64,
                                        "steps": 8000, "d_steps": 1, "lr_g": 1e-3, "lr_d": 1e-3, "beta2": 0.999,
                                        "ema": 0.999, "r1": 0.0, "mode_seeking": 0.0}
    own_scores: ClassVar[bool] = True

    def __init__(self, cfg: TrainConfig, data: Any, parts: Any = None) -> None:
        super().__init__(cfg, data, parts)
        if self.parts.generator is not None or self.parts.discriminator is not None:
            raise ConfigError("--method rgan builds its own recurrent G and D; give no generator or discriminator")
        if is_toy(cfg.dataset):
            raise ConfigError(f"--method rgan generates sequences; {cfg.dataset!r} is a toy of points (use sines, "
                              "ar, or grey images read row by row: mnist, fashion-mnist, mnist5k)")
        steps_and_features(tuple(data.sample_shape))  # series [N, T] or grey images: a one-line refusal otherwise

    # ------------------------------------------------------------------ declarations
    @classmethod
    def sampler_network(cls, cfg: TrainConfig, data_shape: tuple[int, ...], num_classes: int) -> nn.Module | None:
        return generator_for(cfg, data_shape, num_classes)

    def build(self) -> dict[str, nn.Module]:
        cfg, shape = self.cfg, tuple(self.data.sample_shape)
        G = generator_for(cfg, shape, self.data.num_classes)
        D = RecurrentDiscriminator(shape, self.num_classes, cell=cfg.rnn_cell, hidden=cfg.d_width or cfg.width)
        return {"G": G, "D": D}

    # ------------------------------------------------------------------ sampling
    def fixed_inputs(self, nets: dict[str, nn.Module], device: torch.device) -> tuple[tuple[Any, ...], int]:
        if self.data.is_image:  # rows of images: the GAN's grids
            return super().fixed_inputs(nets, device)
        cfg, k = self.cfg, self.num_classes
        g = torch.Generator(device=device).manual_seed(cfg.seed + 7919)
        n = max(1, min(cfg.n_samples, SERIES_PLOT))
        labels = torch.arange(n, device=device) % k if k else None
        return (sample_prior(cfg.prior, n, int(nets["G"].z_dim), g, device), labels), 0

    # ------------------------------------------------------------------ evaluation
    @classmethod
    def scores(cls, G: Any, *, n: int | None, seed: int, data_dir: str | None,
               classifier: Any = None) -> dict[str, Any]:
        from ..evaluation.sequences import score_rgan

        return score_rgan(G, n=n, seed=seed, data_dir=data_dir, classifier=classifier)
