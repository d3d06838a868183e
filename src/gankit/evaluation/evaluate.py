"""Score a run's generator, or real data, with the offline metrics; every score travels with its protocol.

Images (MNIST-family, 28x28 grey): features and class probabilities from the shipped domain classifier; the
reference is the real training split (all of it for the Fréchet statistics, a seeded subset of the same size as
the generated set for the k-NN metrics). `evaluate_real` puts the real test split in the generator's place: the
floor every generator is compared with. Toys: the mode protocol of VEEGAN / PacGAN (2,500 samples) for ring8 and
grid25, the numerical JS divergence for gaussian1d.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..errors import ConfigError
from . import metrics

TOY_SAMPLES = 2500  # samples per toy evaluation in Unrolled GAN / VEEGAN / PacGAN
KNN_K_PR = 3  # Kynkäänniemi et al. 2019
KNN_K_DC = 5  # Naeem et al. 2020
IMAGE_DATASETS = ("mnist", "mnist5k", "fashion-mnist")


def _base_protocol(seed: int) -> dict[str, Any]:
    return {"gankit_version": __version__, "torch": torch.__version__, "seed": seed,
            "python": platform.python_version()}


def _subset(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    if len(x) <= n:
        return x
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    return x[idx]


def score_images(fake: torch.Tensor, real: torch.Tensor, *, dataset: str, seed: int = 0,
                 classifier: str | Path | None = None, labels: torch.Tensor | None = None) -> dict[str, Any]:
    """All image metrics of `fake` [N, 1, 28, 28] against the reference `real` [M, 1, 28, 28], both in [-1, 1].
    With `labels` [N] (the classes a conditional generator was asked for), also `label_accuracy`: how often the
    domain classifier agrees that the sample shows the class asked for."""
    from .classifier import load_classifier

    net = load_classifier(dataset, classifier)
    f_fake, p_fake = net.embed(fake)
    f_real, _ = net.embed(real)
    knn_real = _subset(f_real, len(f_fake), seed)
    kid_mean, kid_std = metrics.kid(f_fake, f_real, seed=seed)
    precision, recall = metrics.precision_recall(knn_real, f_fake, k=KNN_K_PR)
    density, coverage = metrics.density_coverage(knn_real, f_fake, k=KNN_K_DC)
    scores: dict[str, Any] = {
        "fid": metrics.fid(f_fake, f_real), "kid": kid_mean, "kid_std": kid_std,
        "precision": precision, "recall": recall, "density": density, "coverage": coverage,
        **metrics.classifier_scores(p_fake),
    }
    if labels is not None:
        scores["label_accuracy"] = float((p_fake.argmax(1) == labels).double().mean())
    scores["protocol"] = {
        **_base_protocol(seed), **net.protocol(), "n_generated": len(fake), "n_real_stats": len(real),
        "n_real_knn": len(knn_real), "fid": "Fréchet distance of Gaussian fits to the feature sets",
        "kid": "unbiased MMD^2, kernel (x.y/d + 1)^3, 100 subsets of min(1000, n)",
        "precision_recall": f"Kynkäänniemi et al. 2019, k={KNN_K_PR}",
        "density_coverage": f"Naeem et al. 2020, k={KNN_K_DC}",
        "inception_score": "exp E KL(p(y|x) || p(y)) with the domain classifier, one split",
    }
    return scores


def _reference(dataset: str, data_dir: str | None, split: str = "train") -> torch.Tensor:
    from ..data import load_dataset

    return load_dataset(dataset, split=split, data_dir=data_dir).x


def evaluate_run(run: str | Path, *, n: int | None = None, seed: int = 0, ema: bool = True,
                 data_dir: str | None = None, classifier: str | Path | None = None) -> dict[str, Any]:
    """Scores of the generator in `run` (a run directory or checkpoint) against its own data set."""
    from ..api import load
    from ..data import TOY_MODES, gaussian1d_params

    G = load(run, ema=ema)
    cfg = G.config
    name = cfg.dataset
    if name in TOY_MODES or name == "gaussian1d":
        n = n or TOY_SAMPLES
        x = G.sample(n, seed=seed).cpu()
        if name == "gaussian1d":
            mu, sigma = gaussian1d_params(cfg.toy_options or None)
            scores: dict[str, Any] = {"jsd": metrics.jsd_1d(x.view(-1), mu, sigma)}
            method = f"JS divergence (nats) between N({mu}, {sigma}) and the samples, numerically"
        else:
            centres, std = TOY_MODES[name]
            scores = metrics.mode_stats(x, centres, std)
            method = "nearest centre; high quality within 3 std; a mode counts with >= 20 HQ samples"
        scores["protocol"] = {**_base_protocol(seed), "dataset": name, "n_generated": n, "method": method,
                              "run": str(G.source), "step": G.step, "ema": G.uses_ema}
        return scores
    if name not in IMAGE_DATASETS:
        raise ConfigError(f"no offline metric for data set {name!r}: the feature networks cover "
                          f"{', '.join(IMAGE_DATASETS)} (toys: ring8, grid25, gaussian1d)")
    if tuple(G.data_shape) != (1, 28, 28):
        raise ConfigError(f"the feature networks take 28x28 grey images; this run generates {G.data_shape}")
    n = n or 10000
    labels = None
    if G.num_classes:  # conditional: classes in equal shares, as the data has them
        labels = torch.arange(n) % G.num_classes
    fake = G.sample(n, labels=labels, seed=seed).cpu()
    real = _reference(name, data_dir or cfg.data_dir)
    scores = score_images(fake, real, dataset=name, seed=seed, classifier=classifier, labels=labels)
    scores["protocol"].update({"dataset": name, "reference": f"{name} train split", "run": str(G.source),
                               "step": G.step, "ema": G.uses_ema, "conditional": bool(G.num_classes)})
    return scores


def evaluate_real(dataset: str, *, data_dir: str | None = None, seed: int = 0,
                  classifier: str | Path | None = None) -> dict[str, Any]:
    """The real test split scored against the real training split (for mnist5k, which has no test split of its
    own: 5,000 MNIST test digits against the subset)."""
    if dataset not in IMAGE_DATASETS:
        raise ConfigError(f"--real scores image data sets: {', '.join(IMAGE_DATASETS)}; got {dataset!r}")
    if dataset == "mnist5k":
        real, test_name = _reference("mnist5k", data_dir), "mnist test split (5,000 of it)"
        fake = _subset(_reference("mnist", data_dir, split="test"), len(real), seed)
    else:
        real, test_name = _reference(dataset, data_dir), f"{dataset} test split"
        fake = _reference(dataset, data_dir, split="test")
    scores = score_images(fake, real, dataset=dataset, seed=seed, classifier=classifier)
    scores["protocol"].update({"dataset": dataset, "reference": f"{dataset} train split",
                               "generated": test_name})
    return scores


def format_scores(scores: dict[str, Any]) -> str:
    """A short human summary (the JSON holds everything)."""
    order = ("fid", "kid", "precision", "recall", "density", "coverage", "inception_score", "class_kl",
             "classes_present", "label_accuracy", "modes", "hq", "jsd")
    parts = []
    for key in order:
        if key in scores:
            v = scores[key]
            parts.append(f"{key}={v:.4g}" if isinstance(v, float) else f"{key}={v}")
    proto = scores.get("protocol", {})
    where = proto.get("run") or proto.get("generated", "")
    return f"gankit: {where} vs {proto.get('reference', proto.get('dataset', ''))}: " + " ".join(parts)
