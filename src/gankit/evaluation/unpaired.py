"""Scores of an unpaired translator (--method cyclegan) on held-out images of MNIST-family data.

The source images are the real test split (MNIST's for mnist5k; the training split when no test split can be
loaded, and the protocol says so), cut by a seeded permutation into two disjoint halves: A images to translate and
B images (domain_b of the other half) as the target domain's reference. With the shipped domain classifier, which
reads domain-B images through the domain's `readable` map (thick digits as they are, inverted ones inverted back):

- cycle_l1 / cycle_l1_b: mean |G_ba(G_ab(a)) - a| and |G_ab(G_ba(b)) - b| (pixels in [-1, 1]);
- translated_label_accuracy: the classifier's label of G_ab(a) agrees with a's true label (the digit survives);
  reference_label_accuracy: the same for domain_b(a), the true translation (the ceiling);
  back_label_accuracy: G_ba(b) against b's label;
- translated_fid: Fréchet distance between the features of G_ab(A) and of the real B half; reference_fid: the
  same for domain_b(A), the real-data floor at this size;
- l1_to_truth: mean |G_ab(a) - domain_b(a)|, the distance to the true translation (never shown in training);
  l1_to_input: mean |G_ab(a) - a|, how much the translator changes its input at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..data.domains import get_domain
from ..errors import ConfigError
from . import metrics

BATCH = 500  # images translated per forward pass


@torch.no_grad()
def _apply(net: Any, x: Tensor) -> Tensor:
    return torch.cat([net(x[i:i + BATCH]) for i in range(0, len(x), BATCH)]).float().cpu()  # [N, C, H, W]


def translation_scores(G_ab: Any, G_ba: Any, a: Tensor, y_a: Tensor, b_src: Tensor, y_b: Tensor, *, domain_b: str,
                       net: Any) -> dict[str, Any]:
    """The scores above for translators G_ab and G_ba (modules [N, C, H, W] -> [N, C, H, W]), A images a [N, ...]
    with labels y_a [N], and the other half's original images b_src [M, ...] with labels y_b [M] (made into domain B
    here), all in [-1, 1]; `net` is the domain classifier (gankit.evaluation.classifier.FeatureNet)."""
    domain = get_domain(domain_b)
    b = domain.make(b_src)
    ab, ba = _apply(G_ab, a), _apply(G_ba, b)
    aba, bab = _apply(G_ba, ab), _apply(G_ab, ba)
    truth = domain.make(a)
    f_ab, p_ab = net.embed(domain.readable(ab).clamp(-1, 1))
    f_truth, p_truth = net.embed(domain.readable(truth))
    f_b, _ = net.embed(domain.readable(b))
    _, p_ba = net.embed(ba.clamp(-1, 1))
    return {
        "cycle_l1": float((aba - a).abs().mean()), "cycle_l1_b": float((bab - b).abs().mean()),
        "translated_label_accuracy": float((p_ab.argmax(1) == y_a).double().mean()),
        "reference_label_accuracy": float((p_truth.argmax(1) == y_a).double().mean()),
        "back_label_accuracy": float((p_ba.argmax(1) == y_b).double().mean()),
        "translated_fid": metrics.fid(f_ab, f_b), "reference_fid": metrics.fid(f_truth, f_b),
        "l1_to_truth": float((ab - truth).abs().mean()), "l1_to_input": float((ab - a).abs().mean()),
    }


def evaluate_translation(G: Any, *, n: int | None, seed: int, data_dir: str | None,
                         classifier: str | Path | None) -> dict[str, Any]:
    """Scores of the translators of a loaded cyclegan run `G` (gankit.load), with their protocol."""
    from ..data import load_dataset
    from .classifier import load_classifier
    from .evaluate import IMAGE_DATASETS, _base_protocol, _test_split

    cfg = G.config
    if cfg.dataset not in IMAGE_DATASETS:
        raise ConfigError(f"translation scores use the MNIST-family classifiers ({', '.join(IMAGE_DATASETS)}); "
                          f"this run trained on {cfg.dataset!r}")
    test = _test_split(cfg.dataset, data_dir or cfg.data_dir)
    source = test if test is not None else load_dataset(cfg.dataset, data_dir=data_dir or cfg.data_dir)
    if source.y is None:
        raise ConfigError(f"translation scores need labelled images; {cfg.dataset!r} has none")
    half = len(source) // 2
    n = min(n or half, half)
    if n < 2:
        raise ConfigError(f"--n must be at least 2 (two images per half), got {n}")
    perm = torch.randperm(len(source), generator=torch.Generator().manual_seed(seed))
    ia, ib = perm[:n], perm[half:half + n]
    from ..data.transforms import as_float

    x, y = as_float(source.x), source.y
    net = load_classifier(cfg.dataset, classifier)
    G_ab, G_ba = G.extra_net("translate"), G.extra_net("translate_back")
    scores = translation_scores(G_ab, G_ba, x[ia], y[ia], x[ib], y[ib], domain_b=cfg.domain_b, net=net)
    where = ("the real test split" + (" of mnist" if cfg.dataset == "mnist5k" else "") if test is not None
             else "the training split (no test split could be loaded)")
    scores["protocol"] = {
        **_base_protocol(seed), **net.protocol(), "dataset": cfg.dataset, "domain_b": cfg.domain_b,
        "run": str(G.source), "step": G.step, "ema": G.uses_ema, "n_translated": n,
        "images": f"{where}, seeded permutation: {n} A images and {n} other images made into domain B",
        "classifier_reads_b": f"domain {cfg.domain_b!r} through its readable map ({get_domain(cfg.domain_b).about})",
        "fid": "Fréchet distance of Gaussian fits to the classifier's features",
    }
    return scores
