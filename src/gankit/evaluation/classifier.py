"""The domain classifiers: small CNNs for MNIST and Fashion-MNIST whose penultimate layer is gankit's feature
space for FID, KID, precision/recall and density/coverage, and whose softmax gives the Inception-Score analogue
and the class histogram.

Inception-v3 features need weights that cannot be downloaded offline and say little about 28x28 grey digits, so
gankit ships its own feature networks, trained by `gankit train-classifier` on the full training sets. A score is
only comparable with another computed by the same network, so every score's protocol names the network file's
SHA-256.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import checkpoint as ckpt, progress
from ..errors import CheckpointError, ConfigError

CLASSIFIER_DATASETS = ("mnist", "fashion-mnist", "coloured-mnist", "coloured-fashion")
#: what each shipped network reads: grey 28x28 for the MNIST family, colour 32x32 for the coloured sets
INPUT_SHAPES: dict[str, tuple[int, int, int]] = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28),
                                                 "coloured-mnist": (3, 32, 32), "coloured-fashion": (3, 32, 32)}
GREY, COLOUR = (1, 28, 28), (3, 32, 32)
FEATURE_DIM = 128
_ASSET_DIR = "assets/classifiers"


class ConvFeatureNet(nn.Module):
    """The shape of gankit's feature networks: `conv` -> flatten -> `fc` (the features) -> `drop` -> `head`.
    Subclasses build the four parts; the attribute names are the checkpoints' tensor names."""

    conv: nn.Module
    fc: nn.Module
    drop: nn.Module
    head: nn.Module

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations.  # [N, FEATURE_DIM]"""
        return self.fc(self.conv(x).flatten(1))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.drop(self.features(x)))  # logits [N, num_classes]


@torch.no_grad()
def embed_in_chunks(model: ConvFeatureNet, images: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """(features [N, F], class probabilities [N, K]) of `images`, in eval mode, `batch_size` at a time (uint8
    pixels are converted a chunk at a time)."""
    from ..data.transforms import as_float

    model.eval()
    feats, probs = [], []
    for chunk in images.split(batch_size):
        f = model.features(as_float(chunk).float())
        feats.append(f)
        probs.append(F.softmax(model.head(f), dim=1))
    return torch.cat(feats), torch.cat(probs)


class DomainClassifier(ConvFeatureNet):
    """Grey 28x28: conv 3x3 32 -> pool -> conv 3x3 64 -> pool -> FC 128 (the features) -> FC num_classes, about
    420k weights (1.7 MB in float32). Colour 32x32: a third conv 3x3 64 -> pool before the FC, so the FC reads
    4x4 maps: about 190k weights (0.8 MB).

    Input: images [N, C, S, S] in [-1, 1], gankit's data range, of `input_shape` (GREY or COLOUR)."""

    def __init__(self, num_classes: int = 10, input_shape: tuple[int, int, int] = GREY) -> None:
        super().__init__()
        if tuple(input_shape) not in (GREY, COLOUR):
            raise ConfigError(f"a domain classifier reads {GREY} or {COLOUR} images, not {tuple(input_shape)}")
        self.num_classes, self.input_shape = num_classes, tuple(input_shape)
        c = input_shape[0]
        layers: list[nn.Module] = [
            nn.Conv2d(c, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True), nn.MaxPool2d(2),
        ]
        if self.input_shape == COLOUR:
            layers += [nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
                       nn.MaxPool2d(2)]
        self.conv = nn.Sequential(*layers)
        side = 7 if self.input_shape == GREY else 4
        self.fc = nn.Sequential(nn.Linear(64 * side * side, FEATURE_DIM), nn.ReLU(True))
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, num_classes)


@dataclass(frozen=True)
class FeatureNet:
    """A loaded domain classifier with what a score's protocol must record about it."""

    model: DomainClassifier
    dataset: str
    path: Path
    sha256: str
    test_accuracy: float | None

    @torch.no_grad()
    def embed(self, images: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
        """(features [N, FEATURE_DIM], class probabilities [N, K]) for images [N, *input_shape] in [-1, 1]."""
        check_images(images, self.model.input_shape)
        return embed_in_chunks(self.model, images, batch_size)

    def protocol(self) -> dict[str, Any]:
        return {"feature_net": f"gankit DomainClassifier ({self.dataset})", "feature_net_file": self.path.name,
                "feature_net_sha256": self.sha256, "feature_dim": FEATURE_DIM,
                "feature_net_test_accuracy": self.test_accuracy}


def check_images(images: Tensor, shape: tuple[int, ...] = GREY) -> None:
    if images.dim() != 4 or tuple(images.shape[1:]) != tuple(shape):
        if tuple(shape) == GREY:
            raise ConfigError(f"the domain classifiers take grey 28x28 images [N, 1, 28, 28]; got shape "
                              f"{tuple(images.shape)} (train at --image-size 28 --channels 1 to evaluate in this "
                              "space)")
        raise ConfigError(f"this domain classifier takes images [N, {', '.join(map(str, shape))}]; got shape "
                          f"{tuple(images.shape)}")


def shipped_path(dataset: str) -> Path:
    """The feature network shipped in the package for `dataset`."""
    if dataset not in CLASSIFIER_DATASETS:
        raise ConfigError(f"no shipped domain classifier for {dataset!r}; there are: {', '.join(CLASSIFIER_DATASETS)}")
    return Path(str(resources.files("gankit").joinpath(f"{_ASSET_DIR}/{dataset}.safetensors")))


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_classifier(dataset: str = "mnist", path: str | Path | None = None) -> FeatureNet:
    """The shipped classifier for `dataset` (mnist5k uses MNIST's), or the one stored at `path`."""
    if dataset == "mnist5k":
        dataset = "mnist"
    file = Path(path) if path is not None else shipped_path(dataset)
    if not file.is_file():
        raise CheckpointError(f"{file}: no domain classifier there (train one with `gankit train-classifier "
                              f"--dataset {dataset} --out {file}`)")
    tensors, meta = ckpt.load(file)
    info = meta.get("classifier")
    if not isinstance(info, dict):
        raise CheckpointError(f"{file}: not a gankit domain classifier (no 'classifier' metadata)")
    num_classes, acc = _classifier_info(file, info)
    shape = info.get("input_shape", list(GREY))
    if not isinstance(shape, list) or tuple(shape) not in (GREY, COLOUR):
        raise CheckpointError(f"{file}: metadata 'input_shape' must be {list(GREY)} or {list(COLOUR)}")
    model = DomainClassifier(num_classes, tuple(shape))
    ckpt.unpack_module("model", model, tensors, file)
    return FeatureNet(model.eval(), str(info.get("dataset", dataset)), file, file_sha256(file), acc)


def _classifier_info(file: Path, info: dict[str, Any]) -> tuple[int, float | None]:
    """num_classes and test_accuracy of a classifier file's metadata, checked: the file may be anyone's."""
    num_classes, acc = info.get("num_classes", 10), info.get("test_accuracy")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or not 1 <= num_classes <= 1000:
        raise CheckpointError(f"{file}: metadata 'num_classes' must be an integer in [1, 1000]")
    if acc is not None and (isinstance(acc, bool) or not isinstance(acc, (int, float)) or not 0 <= acc <= 1):
        raise CheckpointError(f"{file}: metadata 'test_accuracy' must be a number in [0, 1] or absent")
    return num_classes, None if acc is None else float(acc)


def _shift(x: Tensor, gen: torch.Generator, max_shift: int = 2) -> Tensor:
    """Random translation by up to `max_shift` pixels (zero padding = background -1): cheap augmentation.
    Colour images are padded with their edge pixels instead (their background is a colour of their own)."""
    if x.shape[1] != 1:
        return _shift_colour(x, gen, max_shift)
    n = x.shape[0]
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    size = x.shape[-1]
    rows = (dy[:, None] + torch.arange(size)[None, :])  # [N, H]
    cols = (dx[:, None] + torch.arange(size)[None, :])  # [N, W]
    idx_n = torch.arange(n)[:, None, None]
    return padded[idx_n, 0, rows[:, :, None], cols[:, None, :]][:, None]  # [N, 1, H, W]


def _shift_colour(x: Tensor, gen: torch.Generator, max_shift: int) -> Tensor:
    """`_shift` for [N, C, S, S] images, edge pixels repeated into the margin."""
    n, _, size, _ = x.shape
    padded = F.pad(x, (max_shift,) * 4, mode="replicate")
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen).tolist()
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen).tolist()
    return torch.stack([padded[i, :, b:b + size, a:a + size] for i, (a, b) in enumerate(zip(dx, dy))])


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    model.eval()
    correct = 0
    for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
        correct += int((model(xb).argmax(1) == yb).sum())
    return correct / len(y)


def train_classifier(x: Tensor, y: Tensor, x_test: Tensor, y_test: Tensor, *, epochs: int = 6,
                     batch_size: int = 128, lr: float = 2e-3, seed: int = 0, augment: bool = True,
                     log: Callable[[str], Any] | None = print) -> tuple[DomainClassifier, float]:
    """Train a DomainClassifier (Adam, one-cycle cosine schedule, random shifts); returns it and its test
    accuracy. Deterministic given `seed` on CPU."""
    if len(x) != len(y) or len(x) == 0:
        raise ConfigError(f"classifier training data: {len(x)} images and {len(y)} labels")
    shape = tuple(x.shape[1:])
    check_images(x, shape if shape in (GREY, COLOUR) else GREY)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    num_classes = int(y.max()) + 1
    model = DomainClassifier(num_classes, shape)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    t0 = time.perf_counter()
    bar = progress.bar(epochs * steps_per_epoch, "classifier training", unit="batch")
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        for i in range(steps_per_epoch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            xb = _shift(x[idx], gen) if augment else x[idx]
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
        acc = accuracy(model, x_test, y_test)
        if log is not None:
            log(f"epoch {epoch + 1}/{epochs}: test accuracy {acc:.4f} ({time.perf_counter() - t0:.0f} s)")
    bar.close()
    return model.eval(), acc


def save_classifier(model: DomainClassifier, path: str | Path, *, dataset: str, test_accuracy: float,
                    **extra: Any) -> Path:
    meta = {"classifier": {"dataset": dataset, "num_classes": model.num_classes, "feature_dim": FEATURE_DIM,
                           "input_shape": list(model.input_shape),
                           "test_accuracy": round(test_accuracy, 6), **extra}}
    return ckpt.save(path, ckpt.pack_module("model", model), meta)
