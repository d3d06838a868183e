"""Scoring spoken digits: a small shipped classifier of log-mel spectrograms, and the scores of an audio GAN's
samples heard through it.

The classifier (`SpeechClassifier`, about 190k weights, `assets/classifiers/spoken-digits.safetensors`, made by
`bench/train_speech_classifier.py`) was trained on the spoken-digits `test` split: renderings in voices the GANs
never train on. Its accuracy on the `train` split, whose voices it never heard, is stored in the file.

A generated sample is judged as sound: its spectrogram image is turned into audio (mel inversion and Griffin-Lim,
gankit.audio) and that audio's spectrogram is classified, so the scores hear what a listener of `gankit sample`'s
WAV files hears. FID is computed in the classifier's 128 penultimate features against one half of the real
`train` split; beside it stand two floors on the same reference and sample size: the other half of the real clips
as they are (`fid_real_vs_real`) and after the same Griffin-Lim round trip (`fid_real_griffin_lim`), whose label
accuracy (`accuracy_real_griffin_lim`) is the best a perfect spectrogram generator could score here.

`python -m gankit.evaluation.speech FILE.wav ...` prints the digit the shipped classifier hears in each file.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import audio, checkpoint as ckpt
from ..errors import CheckpointError, ConfigError, GankitError
from . import metrics
from .classifier import ConvFeatureNet, embed_in_chunks, file_sha256

FEATURE_DIM = 128
ASSET = "assets/classifiers/spoken-digits.safetensors"
DEFAULT_SAMPLES = 1500  # generated clips scored; the real reference is half the train split (1,500 clips)
IMAGE_SHAPE = (1, audio.N_MELS, audio.FRAMES)


class SpeechClassifier(ConvFeatureNet):
    """Four conv 3x3 blocks (16, 32, 64, 64 channels, each batch norm, ReLU, 2x2 max-pool) -> FC 128 (the
    features) -> FC num_classes, on spectrogram images [N, 1, 64, 64] in [-1, 1]."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.num_classes = num_classes
        blocks: list[nn.Module] = []
        for a, b in ((1, 16), (16, 32), (32, 64), (64, 64)):
            blocks += [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True), nn.MaxPool2d(2)]
        self.conv = nn.Sequential(*blocks)  # [N, 64, 4, 4]
        self.fc = nn.Sequential(nn.Linear(64 * 4 * 4, FEATURE_DIM), nn.ReLU(True))
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, num_classes)


@dataclass(frozen=True)
class SpeechNet:
    """A loaded spoken-digit classifier and what a score's protocol records about it."""

    model: SpeechClassifier
    path: Path
    sha256: str
    accuracy: float | None  # on the train split's unheard voices

    @torch.no_grad()
    def embed(self, images: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
        """(features [N, FEATURE_DIM], class probabilities [N, 10]) of spectrogram images [N, 1, 64, 64]."""
        check_images(images)
        return embed_in_chunks(self.model, images, batch_size)

    def protocol(self) -> dict[str, Any]:
        return {"feature_net": "gankit SpeechClassifier (spoken-digits)", "feature_net_file": self.path.name,
                "feature_net_sha256": self.sha256, "feature_dim": FEATURE_DIM,
                "feature_net_accuracy_unheard_voices": self.accuracy}


def check_images(images: Tensor) -> None:
    if images.dim() != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE:
        raise ConfigError(f"the spoken-digit classifier takes spectrogram images [N, {', '.join(map(str, IMAGE_SHAPE))}]"
                          f"; got shape {tuple(images.shape)}")


def load_speech_classifier(path: str | Path | None = None) -> SpeechNet:
    """The shipped spoken-digit classifier, or the one stored at `path`."""
    file = Path(path) if path is not None else Path(str(resources.files("gankit").joinpath(ASSET)))
    if not file.is_file():
        raise CheckpointError(f"{file}: no spoken-digit classifier there (bench/train_speech_classifier.py makes one)")
    tensors, meta = ckpt.load(file)
    info = meta.get("classifier")
    if not isinstance(info, dict) or info.get("dataset") != "spoken-digits":
        raise CheckpointError(f"{file}: not a gankit spoken-digit classifier (its metadata names no spoken-digits "
                              "classifier)")
    acc = info.get("accuracy_unheard_voices")
    if acc is not None and (isinstance(acc, bool) or not isinstance(acc, (int, float)) or not 0 <= acc <= 1):
        raise CheckpointError(f"{file}: metadata 'accuracy_unheard_voices' must be a number in [0, 1] or absent")
    model = SpeechClassifier(10)
    ckpt.unpack_module("model", model, tensors, file)
    return SpeechNet(model.eval(), file, file_sha256(file),
                     None if acc is None else float(acc))


# ---------------------------------------------------------------------------------------------------- training
def augment(x: Tensor, gen: torch.Generator, max_shift: int = 8, gain_db: float = 6.0) -> Tensor:
    """Random time shifts (up to `max_shift` frames, silence filled in) and gains (+-`gain_db`) of spectrogram
    images, so the classifier hears words, not where a clip starts or how loud it is.  # [N, 1, M, T]"""
    n, t = x.shape[0], x.shape[-1]
    shift = torch.randint(-max_shift, max_shift + 1, (n,), generator=gen)
    cols = (torch.arange(t)[None, :] - shift[:, None])  # [N, T]: the source frame of each output frame
    valid = (cols >= 0) & (cols < t)
    out = torch.gather(x, 3, cols.clamp(0, t - 1)[:, None, None, :].expand_as(x))
    out = torch.where(valid[:, None, None, :], out, torch.full_like(out, -1.0))
    gain = (torch.rand(n, generator=gen) * 2 - 1) * gain_db * 2 / (audio.DB_MAX - audio.DB_MIN)  # dB -> [-1, 1]
    return (out + gain[:, None, None, None]).clamp(-1, 1)


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 500) -> float:
    model.eval()
    hits = sum(int((model(xb).argmax(1) == yb).sum()) for xb, yb in zip(x.split(batch_size), y.split(batch_size)))
    return hits / max(1, len(y))


def train_speech_classifier(x: Tensor, y: Tensor, *, epochs: int = 30, batch_size: int = 64, lr: float = 2e-3,
                            seed: int = 0, log: Any = print, x_val: Tensor | None = None,
                            y_val: Tensor | None = None) -> SpeechClassifier:
    """A SpeechClassifier trained on images `x` [N, 1, 64, 64] with digits `y` [N] (Adam, one-cycle schedule,
    random shifts and gains); deterministic given `seed` on CPU. `x_val`/`y_val` are only reported per epoch."""
    check_images(x)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = SpeechClassifier(10)
    per_epoch = math.ceil(len(x) / batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * per_epoch)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        for i in range(per_epoch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            loss = F.cross_entropy(model(augment(x[idx], gen)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if log is not None and x_val is not None and y_val is not None:
            log(f"epoch {epoch + 1}/{epochs}: loss {float(loss.detach()):.3f}, held-out accuracy {accuracy(model, x_val, y_val):.4f}")
    return model.eval()


def save_speech_classifier(model: SpeechClassifier, path: str | Path, *, accuracy_unheard: float,
                           **extra: Any) -> Path:
    meta = {"classifier": {"dataset": "spoken-digits", "num_classes": model.num_classes, "feature_dim": FEATURE_DIM,
                           "accuracy_unheard_voices": round(accuracy_unheard, 6), **extra}}
    return ckpt.save(path, ckpt.pack_module("model", model), meta)


# ---------------------------------------------------------------------------------------------------- scores
def heard(images: Tensor, *, seed: int = 0, iters: int = 32) -> Tensor:
    """Spectrogram images as a listener hears them: through Griffin-Lim to audio and back to a spectrogram.
    # [N, 1, 64, 64] -> [N, 1, 64, 64]"""
    return audio.waves_to_images(audio.images_to_waves(images, iters=iters, seed=seed))


def score_audio(fake: Tensor, real: Tensor, real_other: Tensor, net: SpeechNet, *,
                labels: Tensor | None = None, real_labels: Tensor | None = None, seed: int = 0) -> dict[str, Any]:
    """Scores of generated spectrograms `fake` [N, 1, 64, 64] (already heard) against the reference `real`, with
    the floors from `real_other` (other real clips, raw): label accuracy for `labels`, class spread, FID."""
    f_fake, p_fake = net.embed(fake)
    f_real, _ = net.embed(real)
    f_other, p_other = net.embed(real_other)
    f_other_gl, p_other_gl = net.embed(heard(real_other, seed=seed + 1))
    scores: dict[str, Any] = {
        "fid": metrics.fid(f_fake, f_real),
        "fid_real_vs_real": metrics.fid(f_other, f_real),
        "fid_real_griffin_lim": metrics.fid(f_other_gl, f_real),
        "confidence": float(p_fake.max(1).values.mean()),
        **metrics.classifier_scores(p_fake),
    }
    if labels is not None:
        scores["label_accuracy"] = float((p_fake.argmax(1) == labels.to(p_fake.device)).double().mean())
    if real_labels is not None:
        scores["accuracy_real"] = float((p_other.argmax(1) == real_labels).double().mean())
        scores["accuracy_real_griffin_lim"] = float((p_other_gl.argmax(1) == real_labels).double().mean())
    return scores


def evaluate_speech(G: Any, *, n: int | None = None, seed: int = 0, data_dir: str | None = None,
                    classifier: str | Path | None = None) -> dict[str, Any]:
    """The scores of a loaded spoken-digit run `G` (gankit.load), heard through Griffin-Lim, with their protocol."""
    from ..data.speech import load_spoken_digit_waves
    from .evaluate import _base_protocol

    n = DEFAULT_SAMPLES if n is None else n
    if n < 2:
        raise ConfigError(f"--n must be >= 2 to fit FID's Gaussian, got {n}")
    if tuple(G.data_shape) != IMAGE_SHAPE:
        raise ConfigError(f"{G.source}: generates {tuple(G.data_shape)}, not spoken-digit spectrograms {IMAGE_SHAPE}")
    net = load_speech_classifier(classifier)
    waves, y = load_spoken_digit_waves("train", data_dir=data_dir or G.config.data_dir)
    half = len(waves) // 2
    perm = torch.randperm(len(waves), generator=torch.Generator().manual_seed(seed))
    ref, other = perm[:half], perm[half:]
    real = audio.waves_to_images(waves[ref])
    labels = G.labels(n) if G.num_classes else None
    fake = heard(G.sample(n, labels=labels, seed=seed).cpu(), seed=seed)
    scores = score_audio(fake, real, audio.waves_to_images(waves[other]), net,
                         labels=None if labels is None else labels.cpu(), real_labels=y[other], seed=seed)
    scores["protocol"] = {**_base_protocol(seed), **net.protocol(), "dataset": "spoken-digits",
                          "n_generated": n, "n_reference": int(half), "n_real_other": int(len(other)),
                          "reference": "half the train split (seeded), raw clips",
                          "heard": "mel inversion + fast Griffin-Lim, 32 iterations (gankit.audio)",
                          "run": str(G.source), "step": G.step, "ema": G.uses_ema,
                          "conditional": bool(G.num_classes)}
    return scores


# ---------------------------------------------------------------------------------------------------- command
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gankit.evaluation.speech",
                                description="Print the digit the shipped spoken-digit classifier hears in each WAV "
                                "file (8 kHz, 16-bit PCM, mono; clips longer than 1 s are centred and cut).")
    p.add_argument("wav", nargs="+", help="WAV files")
    p.add_argument("--classifier", help="a spoken-digit classifier file instead of the shipped one")
    args = p.parse_args(argv)
    try:
        net = load_speech_classifier(args.classifier)
        for path in args.wav:
            x, _ = audio.read_wav(path)
            _, probs = net.embed(audio.waves_to_images(audio.fit_clip(x)[None]))
            k = int(probs[0].argmax())
            print(f"{path}\t{k}\t{float(probs[0, k]):.3f}")
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
