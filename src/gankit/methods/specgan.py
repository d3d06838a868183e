"""SpecGAN (Donahue et al. 2019): a DCGAN that generates spectrograms of speech, turned into sound by Griffin-Lim.

The data are gankit's spoken digits as log-mel spectrogram images [1, 64, 64] (gankit.audio, gankit.data.speech);
training is the GAN of gankit.methods.gan on them (plain or `--conditional` on the digit, every objective and
option), with the DCGAN of Radford et al. at 64x64 as G and D. What is SpecGAN's here: the representation (log
magnitudes scaled to [-1, 1], inverted by Griffin-Lim after training), the recipe, and the scores: `gankit evaluate`
turns samples into audio and judges the audio with the shipped spoken-digit classifier (label accuracy, class
spread, FID in its features; gankit.evaluation.speech). `gankit sample RUN --out DIR/` writes WAV files.

Differences from the paper, for a 2-core CPU: 64x64 log-mel images of 1 s at 8 kHz instead of 128x128 linear
spectrograms of 16,384 samples at 16 kHz; 4x4 kernels with batch norm (gankit's DCGAN) instead of 5x5 without;
the non-saturating loss with one D step instead of WGAN-GP with five (`--loss wgan-gp` gives the latter);
a fixed dB range instead of per-bin moments clipped at 3 standard deviations.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..config import TrainConfig
from ..data.speech import NAME as SPOKEN_DIGITS, is_audio
from ..errors import ConfigError
from .gan import GAN


class SpecGAN(GAN):
    name = "specgan"
    own_scores: ClassVar[bool] = True  # scored as audio: the spoken-digit classifier on Griffin-Lim inversions
    # The image recipe's optimiser (Adam 2e-4, betas 0.5/0.999, EMA 0.999), G twice as wide as D as gankit's
    # DCGAN recipe has it, narrow enough for a 64x64 step of 0.45 s on one thread of a shared 2-core CPU (measured
    # at a load average of 6; 1 s at 8-10)
    recipe: ClassVar[dict[str, Any]] = {"batch_size": 32, "lr_g": 2e-4, "lr_d": 2e-4, "beta2": 0.999,
                                        "ema": 0.999, "width": 32, "d_width": 16, "steps": 6000, "d_steps": 1}

    def __init__(self, cfg: TrainConfig, data: Any, parts: Any = None) -> None:
        if not is_audio(cfg.dataset):
            raise ConfigError(f"--method specgan generates speech spectrograms: train it on --dataset "
                              f"{SPOKEN_DIGITS}, not {cfg.dataset!r}")
        super().__init__(cfg, data, parts)

    @classmethod
    def scores(cls, G: Any, *, n: int | None, seed: int, data_dir: str | None,
               classifier: Any = None) -> dict[str, Any]:
        from ..evaluation.speech import evaluate_speech

        return evaluate_speech(G, n=n, seed=seed, data_dir=data_dir, classifier=classifier)
