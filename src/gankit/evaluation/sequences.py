"""How close generated 1-D time series are to real ones, as pure functions of two sets of series [N, T].

- `dominant_frequency`: per series, the FFT bin of largest magnitude (DC excluded) after removing its mean, in
  cycles per sequence.
- `acf`: per series, the autocorrelation function at lags 1..L (mean removed, normalised by the lag-0 sum).
- `sequence_distance`: `freq_w1`, the Wasserstein-1 distance between the two sets' distributions of dominant
  frequency (in cycles per sequence), and `acf_l2`, the root mean square over lags 1..L of the difference between
  the two sets' mean ACF curves, plus `acf_w1`, the mean over lags of the Wasserstein-1 distance between the two
  sets' ACF values at that lag (it also sees a mixture of periods that averages out in the mean curve). Each is 0
  for identical sets.

What "small" means is measured, not assumed: `validate_distance` scores two disjoint seeded draws of the real data
against each other (the floor) and real series against the same series with their steps shuffled in time (which
keeps every value and destroys all temporal structure): a distance that cannot tell these two cases apart would say
nothing about a generator.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

ACF_LAGS = 16


def _series(x: Tensor, name: str) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] < 1 or x.shape[1] < 4:
        shape = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be series [N, T] with N >= 1 and T >= 4, got {shape}")
    x = x.detach().to(torch.float64).cpu()
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} holds NaN or inf")
    return x


def dominant_frequency(x: Tensor) -> Tensor:
    """FFT argmax of each series, DC excluded, in cycles per sequence.  # [N, T] -> [N] int64 in 1..T//2"""
    x = _series(x, "x")
    spectrum = torch.fft.rfft(x - x.mean(dim=1, keepdim=True), dim=1).abs()  # [N, T // 2 + 1]
    return spectrum[:, 1:].argmax(dim=1) + 1


def acf(x: Tensor, max_lag: int = ACF_LAGS) -> Tensor:
    """Autocorrelation of each series at lags 1..max_lag.  # [N, T] -> [N, max_lag]; a constant series gives 0"""
    x = _series(x, "x")
    if not 1 <= max_lag < x.shape[1]:
        raise ValueError(f"max_lag must be in [1, {x.shape[1] - 1}], got {max_lag}")
    c = x - x.mean(dim=1, keepdim=True)
    var = (c * c).sum(dim=1)  # [N]
    lags = torch.stack([(c[:, k:] * c[:, :-k]).sum(dim=1) for k in range(1, max_lag + 1)], dim=1)
    return torch.where(var[:, None] > 0, lags / var.clamp_min(1e-300)[:, None], torch.zeros_like(lags))


def wasserstein_1d(a: Tensor, b: Tensor) -> float:
    """W1 between the empirical distributions of two samples of reals: the integral of |F_a - F_b|."""
    a = a.detach().reshape(-1).to(torch.float64).cpu().sort().values
    b = b.detach().reshape(-1).to(torch.float64).cpu().sort().values
    if len(a) == 0 or len(b) == 0:
        raise ValueError("wasserstein_1d needs two non-empty samples")
    grid = torch.cat([a, b]).sort().values  # [n_a + n_b]
    cdf_a = torch.searchsorted(a, grid[:-1], right=True).double() / len(a)
    cdf_b = torch.searchsorted(b, grid[:-1], right=True).double() / len(b)
    return float(((cdf_a - cdf_b).abs() * grid.diff()).sum())


def sequence_distance(real: Tensor, fake: Tensor, max_lag: int = ACF_LAGS) -> dict[str, float]:
    """freq_w1, acf_l2 and acf_w1 between two sets of series of the same length (see the module's docstring)."""
    real, fake = _series(real, "real"), _series(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"series of {real.shape[1]} and {fake.shape[1]} steps cannot be compared")
    acf_r, acf_f = acf(real, max_lag), acf(fake, max_lag)  # [N, L], [M, L]
    return {
        "freq_w1": wasserstein_1d(dominant_frequency(real).double(), dominant_frequency(fake).double()),
        "acf_l2": float((acf_r.mean(0) - acf_f.mean(0)).pow(2).mean().sqrt()),
        "acf_w1": sum(wasserstein_1d(acf_r[:, k], acf_f[:, k]) for k in range(max_lag)) / max_lag,
    }


def shuffle_time(x: Tensor, seed: int = 0) -> Tensor:
    """Each series with its steps permuted (one seeded permutation per series).  # [N, T] -> [N, T]"""
    g = torch.Generator().manual_seed(seed)
    order = torch.rand(x.shape, generator=g).argsort(dim=1)
    return torch.gather(x, 1, order.to(x.device))


def validate_distance(real_a: Tensor, real_b: Tensor, seed: int = 0, max_lag: int = ACF_LAGS) -> dict[str, dict]:
    """The distance's two reference points: two disjoint real draws (`real_vs_real`, should be small) and real
    against time-shuffled real (`real_vs_shuffled`, should be large)."""
    return {"real_vs_real": sequence_distance(real_a, real_b, max_lag),
            "real_vs_shuffled": sequence_distance(real_a, shuffle_time(real_b, seed), max_lag)}


# ----------------------------------------------------------------------------------------------- labelled sines


def band_of_frequency(freq: Tensor) -> Tensor:
    """The `sines` class band (gankit.data.series.SINE_BANDS: 2 cycles wide from 1) that holds each dominant
    frequency; a bin on a band's edge goes to the upper band.  # [N] cycles -> [N] int64 in 0..K-1"""
    from ..data.series import SINE_BANDS

    lo, width = SINE_BANDS[0][0], SINE_BANDS[0][1] - SINE_BANDS[0][0]
    return ((freq.double() - lo) / width).floor().clamp(0, len(SINE_BANDS) - 1).long()


def band_agreement(x: Tensor, y: Tensor) -> float:
    """How often a series' dominant frequency lies in the band of its label y [N] (labelled `sines`)."""
    return float((band_of_frequency(dominant_frequency(x)) == y.cpu()).double().mean())


# ----------------------------------------------------------------------------------------------- TSTR


def train_sequence_classifier(x: Tensor, y: Tensor, num_classes: int, *, steps: int = 600, batch_size: int = 128,
                              lr: float = 3e-3, seed: int = 0, hidden: int = 32) -> torch.nn.Module:
    """A GRU classifier (gankit.models.recurrent.SequenceClassifier) trained with Adam on (x [N, T], y [N]) for
    `steps` seeded minibatches."""
    from ..models.recurrent import SequenceClassifier

    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SequenceClassifier(1 if x.dim() == 2 else x.shape[-1], num_classes, hidden)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    x, y = x.detach().float().cpu(), y.detach().long().cpu()
    net.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch_size,), generator=g)
        loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def classifier_accuracy(net: torch.nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    right = sum(int((net(x[i:i + batch_size].float()).argmax(1) == y[i:i + batch_size]).sum())
                for i in range(0, len(x), batch_size))
    return right / len(x)


def tstr(synthetic: tuple[Tensor, Tensor], real_train: tuple[Tensor, Tensor], real_test: tuple[Tensor, Tensor],
         num_classes: int, *, steps: int = 600, seed: int = 0) -> dict[str, float]:
    """Train on synthetic, test on real (Esteban et al. 2017) beside train on real, test on real: the same
    classifier, steps and seed on each training set, both tested on the same held-out real series."""
    fake_net = train_sequence_classifier(*synthetic, num_classes, steps=steps, seed=seed)
    real_net = train_sequence_classifier(*real_train, num_classes, steps=steps, seed=seed)
    return {"tstr_accuracy": classifier_accuracy(fake_net, *real_test),
            "trtr_accuracy": classifier_accuracy(real_net, *real_test),
            "chance": 1.0 / num_classes}


# ----------------------------------------------------------------------------------------------- a run's scores

SERIES_SAMPLES = 2000
IMAGE_SAMPLES = 2000


def score_rgan(G: Any, *, n: int | None, seed: int, data_dir: str | None, classifier: Any = None) -> dict[str, Any]:
    """`gankit evaluate` of a recurrent run (gankit.load): series against held-out real series with the distance's
    reference points; image rows with the shipped classifier's confidence and the image scores."""
    from .. import __version__
    from ..data import load_dataset

    cfg = G.config
    if len(G.data_shape) == 1:
        n = n or SERIES_SAMPLES
        opts = cfg.toy_options or None
        test = load_dataset(cfg.dataset, split="test", n=n, seed=cfg.seed, toy_options=opts)
        other = load_dataset(cfg.dataset, split="train", n=n, seed=cfg.seed + 1, toy_options=opts)
        y = G.labels(n)
        fake = G.sample(n, labels=y, seed=seed).cpu()  # [n, T]
        scores: dict[str, Any] = sequence_distance(test.x, fake)
        scores["reference"] = validate_distance(test.x, other.x, seed=seed)
        if y is not None and cfg.dataset == "sines":
            scores["band_agreement"] = band_agreement(fake, y)
            scores["band_agreement_real"] = band_agreement(test.x, test.y)
        scores["protocol"] = {
            "gankit_version": __version__, "torch": torch.__version__, "seed": seed, "dataset": cfg.dataset,
            "n_generated": n, "n_real": len(test), "run": str(G.source), "step": G.step, "ema": G.uses_ema,
            "real": "the test split (seed of the run); reference.real_vs_real against a train draw of seed + 1",
            "freq_w1": "W1 between dominant-frequency (FFT argmax, DC excluded) distributions, cycles per sequence",
            "acf_l2": f"RMS over lags 1..{ACF_LAGS} of the difference of the mean autocorrelation curves",
            "acf_w1": f"mean over lags 1..{ACF_LAGS} of W1 between the autocorrelation values at each lag",
            "band_agreement": "share of conditional samples whose dominant frequency lies in the label's band"}
        return scores
    from .classifier import load_classifier
    from .evaluate import score_images

    n = n or IMAGE_SAMPLES
    split = "train" if cfg.dataset == "mnist5k" else "test"
    real = load_dataset(cfg.dataset, split=split, data_dir=data_dir or cfg.data_dir).x
    y = G.labels(n)
    fake = G.sample(n, labels=y, seed=seed).cpu()  # [n, 1, 28, 28]
    scores = score_images(fake, real, dataset=cfg.dataset, seed=seed, classifier=classifier, labels=y)
    _, probs = load_classifier(cfg.dataset, classifier).embed(fake)
    scores["confidence"] = float(probs.max(1).values.mean())
    scores["protocol"]["confidence"] = "mean over samples of the shipped classifier's largest class probability"
    scores["protocol"].update({"dataset": cfg.dataset, "run": str(G.source), "step": G.step, "ema": G.uses_ema,
                               "read_as": "28 steps of 28 pixels (rows)"})
    return scores
