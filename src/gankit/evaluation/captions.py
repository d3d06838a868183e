"""Does a text-to-image run draw what its captions say? Agreement of generated images with their captions.

On the captions of held-out real images (every attribute named), one image is drawn per caption, then:
- `class_agreement`: how often the shipped classifier's class of the image is the caption's class;
- `<attribute>_agreement` (thickness and slant for MNIST, darkness for Fashion-MNIST): how often the level measured
  on the image (gankit.data.captions, the same terciles as the captions) is the level the caption names, over
  the captions that name one (thin/thick, dark/light: the middle level has no word; every slant has one);
- each beside its control, `..._control`: the same agreement with a random other caption of the set (a seeded
  permutation), which is what an image that ignored its caption would score;
- `real_class_agreement`: the classifier on the real images themselves, with their own labels (its ceiling).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..data import captions as C

SAMPLES = 2000


def agreement(pred: Tensor, target: Tensor, named: Tensor) -> float:
    """Share of rows where pred equals target, over the rows `named` selects.  # [N], [N], [N] bool -> float"""
    if int(named.sum()) == 0:
        return float("nan")
    return float((pred[named] == target[named]).double().mean())


def caption_scores(fake: Tensor, labels: Tensor, levels: dict[str, Tensor], probs: Tensor, fam: str,
                   perm: Tensor) -> dict[str, float]:
    """The agreements and their controls for images `fake` [N, 1, 28, 28] drawn from captions of class `labels`
    [N] and attribute `levels` {name: [N]}, `probs` [N, K] the classifier's output on them, `perm` [N] the
    permutation that pairs each image with another caption."""
    pred = probs.argmax(1).cpu()
    everyone = torch.ones(len(labels), dtype=torch.bool)
    out = {"class_agreement": agreement(pred, labels, everyone),
           "class_agreement_control": agreement(pred, labels[perm], everyone)}
    measured = C.attributes(fake.cpu(), fam)
    for name, lv in levels.items():
        words = C.THICKNESS_WORDS if name == "thickness" else C.SLANT_WORDS if name == "slant" else C.DARKNESS_WORDS
        named = torch.tensor([words[int(v)] is not None for v in lv])
        out[f"{name}_agreement"] = agreement(measured[name], lv, named)
        out[f"{name}_agreement_control"] = agreement(measured[name], lv[perm], named[perm])
    return out


def score_text2image(G: Any, *, n: int | None, seed: int, data_dir: str | None,
                     classifier: Any = None) -> dict[str, Any]:
    """`gankit evaluate` of a text2image run (gankit.load), on n held-out real images' captions."""
    from .. import __version__
    from ..data import load_dataset
    from ..methods.text2image import sample_text
    from .classifier import load_classifier

    cfg = G.config
    fam = C.family(cfg.dataset)
    split = "train" if cfg.dataset == "mnist5k" else "test"
    real = load_dataset(cfg.dataset, split=split, data_dir=data_dir or cfg.data_dir, n=n or SAMPLES, seed=seed)
    assert real.y is not None
    levels = C.attributes(real.x, fam)
    texts = C.captions(fam, real.y, levels)
    fake = sample_text(G, texts, 1, seed=seed).cpu()  # [N, 1, 28, 28]
    net = load_classifier(cfg.dataset, classifier)
    _, probs = net.embed(fake)
    _, real_probs = net.embed(real.x)
    perm = torch.randperm(len(texts), generator=torch.Generator().manual_seed(seed + 1))
    scores: dict[str, Any] = caption_scores(fake, real.y, levels, probs, fam, perm)
    scores["real_class_agreement"] = float((real_probs.argmax(1) == real.y).double().mean())
    scores["examples"] = texts[:5]
    scores["protocol"] = {
        "gankit_version": __version__, "torch": torch.__version__, "seed": seed, "dataset": cfg.dataset,
        "split": split, "n": len(texts), "run": str(G.source), "step": G.step, "ema": G.uses_ema,
        **net.protocol(), "captions": "every attribute named; attribute levels at the training terciles "
        f"{C.THRESHOLDS}", "control": "agreement with the caption of another image (seeded permutation)"}
    return scores
