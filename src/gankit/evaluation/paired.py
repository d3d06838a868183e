"""Scores of an image-to-image run (pix2pix): its translator on held-out inputs, against their real targets.

The test split's images are the targets; the task makes each one's input (evaluation variant: inpainting holes are
the centre 14x14 square), the run's translator answers, and the answers are scored:

- `accuracy`: how often the shipped classifier (MNIST / Fashion-MNIST) reads the target's label in the output;
- `fid`: Fréchet distance between the classifier's features of the outputs and of the real targets (colour images:
  each channel through the classifier as a grey image, the three feature vectors concatenated);
- `l1` (mean |output - target| on the [0, 1] pixel scale), `psnr` (dB, peak 1) and `ssim` (Wang et al. 2004:
  11x11 Gaussian window, sigma 1.5, on [0, 1]), for every task;
- `masked_l1`: inpaint, the mean |output - target| over the hole's pixels only ([0, 1] scale);
- `colour_error`: colorize, the mean Euclidean RGB distance per pixel between output and target ([0, 1] scale);
- `bicubic`: superres, the same scores of the input upsampled bicubically (the baseline any network must beat).

Pure metric functions first; `evaluate_translation` puts them together for `gankit evaluate RUN`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from . import metrics

CLASSIFIED = ("mnist", "mnist5k", "fashion-mnist")


def _unit(x: Tensor) -> Tensor:
    return (x.double() + 1) / 2  # [-1, 1] -> [0, 1]


def l1_error(out: Tensor, target: Tensor) -> float:
    """Mean absolute error on the [0, 1] scale.  # [N, C, H, W] x 2 -> scalar"""
    return float((_unit(out) - _unit(target)).abs().mean())


def psnr(out: Tensor, target: Tensor) -> float:
    """Mean over images of 10 log10(1 / MSE) on the [0, 1] scale (identical images count as 100 dB)."""
    mse = (_unit(out) - _unit(target)).pow(2).flatten(1).mean(1).clamp_min(1e-10)  # [N]
    return float((10 * torch.log10(1 / mse)).mean())


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-r.pow(2) / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]  # [1, 1, size, size]


def ssim(out: Tensor, target: Tensor) -> float:
    """Mean SSIM (Wang et al. 2004) on the [0, 1] scale: 11x11 Gaussian window (sigma 1.5), valid positions only,
    K1 0.01, K2 0.03, channels averaged."""
    a, b = _unit(out), _unit(target)
    n, c = a.shape[:2]
    a, b = a.reshape(n * c, 1, *a.shape[2:]), b.reshape(n * c, 1, *b.shape[2:])
    w = _gaussian_window()
    mu_a, mu_b = F.conv2d(a, w), F.conv2d(b, w)
    var_a = F.conv2d(a * a, w) - mu_a ** 2
    var_b = F.conv2d(b * b, w) - mu_b ** 2
    cov = F.conv2d(a * b, w) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


def masked_l1(out: Tensor, target: Tensor, mask: Tensor) -> float:
    """Mean |out - target| over the pixels where mask is 1, on the [0, 1] scale.  # mask [N, 1, H, W]"""
    m = mask.double().expand_as(out)
    return float(((_unit(out) - _unit(target)).abs() * m).sum() / m.sum().clamp_min(1))


def colour_error(out: Tensor, target: Tensor) -> float:
    """Mean Euclidean distance between output and target RGB per pixel, on the [0, 1] scale.  # [N, 3, H, W]"""
    return float((_unit(out) - _unit(target)).pow(2).sum(1).sqrt().mean())


def image_scores(out: Tensor, target: Tensor, labels: Tensor | None, net: Any) -> dict[str, float]:
    """l1, psnr, ssim, and with the classifier `net` (None: none for this data) fid and accuracy."""
    s = {"l1": l1_error(out, target), "psnr": psnr(out, target), "ssim": ssim(out, target)}
    if net is not None:
        fo, po = _embed(net, out)
        ft, _ = _embed(net, target)
        s["fid"] = metrics.fid(fo, ft)
        if labels is not None and out.shape[1] == 1:
            s["accuracy"] = float((po.argmax(1) == labels).double().mean())
    return s


def _embed(net: Any, x: Tensor) -> tuple[Tensor, Tensor]:
    """Classifier features (colour: each channel's, concatenated) and class probabilities (grey only)."""
    if x.shape[1] == 1:
        return net.embed(x.float().clamp(-1, 1))
    feats = [net.embed(x[:, c:c + 1].float().clamp(-1, 1))[0] for c in range(x.shape[1])]
    return torch.cat(feats, 1), torch.empty(0)


@torch.no_grad()
def evaluate_translation(G: Any, *, n: int | None = None, seed: int = 0, data_dir: str | None = None,
                         batch_size: int = 500) -> dict[str, Any]:
    """The scores above for the translator of a loaded run `G` (gankit.load) on the first n test images."""
    from ..data import load_dataset
    from ..data.tasks import SuperRes, get_task
    from ..data.transforms import as_float
    from .classifier import load_classifier
    from .evaluate import _base_protocol

    cfg = G.config
    task = get_task(cfg.task)
    net_t = G.extra_net("translate")
    name = "mnist" if cfg.dataset == "mnist5k" else cfg.dataset  # mnist5k is MNIST training images
    try:
        test = load_dataset(name, split="test", data_dir=data_dir or cfg.data_dir, channels=cfg.channels,
                            compact=True)
    except ConfigError:
        raise ConfigError(f"evaluating a {task.name} run needs the real test split of {cfg.dataset!r} (--data-dir "
                          "or $GANKIT_DATA with the IDX files)") from None
    k = min(n or len(test), len(test))
    target = as_float(test.x[:k]).to(G.device)  # [k, C, 28, 28]
    labels = test.y[:k] if test.y is not None else None
    inp, target = task.make(target, None)
    out = torch.cat([net_t(inp[i:i + batch_size]) for i in range(0, k, batch_size)]).cpu()
    target, inp = target.cpu(), inp.cpu()
    if not bool(torch.isfinite(out).all()):
        raise ConfigError(f"{G.source}: the translator's outputs hold NaN or inf; use an earlier checkpoint")
    feature_set = cfg.dataset if cfg.dataset in CLASSIFIED else ("mnist" if name == "coloured-mnist" else None)
    net = load_classifier(feature_set) if feature_set is not None else None
    scores: dict[str, Any] = image_scores(out, target, labels, net)
    if task.name == "inpaint":
        scores["masked_l1"] = masked_l1(out, target, inp[:, -1:])
    if task.name == "colorize":
        scores["colour_error"] = colour_error(out, target)
    if isinstance(task, SuperRes):
        scores["bicubic"] = image_scores(task.condition(inp), target, labels, net)
    scores["protocol"] = {
        **_base_protocol(seed), "dataset": cfg.dataset, "task": task.name, "run": str(G.source), "step": G.step,
        "n": k, "reference": f"{name} test split, first {k} images (the targets)",
        "adv_weight": cfg.adv_weight, "recon_weight": cfg.recon_weight,
        "inputs": "evaluation inputs: " + ("the centre 14x14 hole" if task.name == "inpaint" else task.summary),
        "scale": "l1, masked_l1, colour_error, psnr and ssim on [0, 1] pixels",
        "feature_net": (f"gankit DomainClassifier ({feature_set})" + (", per channel" if target.shape[1] == 3 else "")
                        if net is not None else None),
    }
    return scores
