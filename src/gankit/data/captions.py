"""Captions for MNIST and Fashion-MNIST images, made from their labels and from attributes measured on the pixels,
over a small fixed vocabulary: "a thick seven slanting left", "an upright two", "a dark ankle boot".

Measured attributes (pure functions of images [N, 1, 28, 28] in [-1, 1], so generated images are measured the
same way as real ones):
- `thickness`: the mean stroke width in pixels, 2 * ink area / ink boundary (ink: intensity > 0.5 on [0, 1]; the
  boundary: ink pixels with a 4-neighbour that is not ink). A stroke of width w and length L has area ~ w L and
  ~ 2 L boundary pixels.
- `slant`: the horizontal shear of the ink from its second moments, -cov(col, row) / var(row) weighted by
  intensity: > 0 when the top leans right.
- `darkness`: the mean intensity of the object (pixels > 0.1 on [0, 1]); Fashion-MNIST garments are light on
  black, so a low value is a dark garment.
Each attribute is cut into three levels at the terciles of the training split (THRESHOLDS, measured once on
the 60,000 training images of each set and fixed here). MNIST captions name the digit, its thickness (thin,
thick; the middle level has no word) and its slant (slanting left, standing upright, slanting right);
Fashion-MNIST captions name the garment and its darkness (dark, light). While training, each attribute is
named with probability KEEP (seeded by the caller's draws), so the words are learned apart from each other.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError

FAMILIES = ("mnist", "fashion-mnist")
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
GARMENTS = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
THICKNESS_WORDS = ("thin", None, "thick")
SLANT_WORDS = ("slanting left", "standing upright", "slanting right")
DARKNESS_WORDS = ("dark", None, "light")
VOCAB: tuple[str, ...] = ("<pad>", "a", "an", "thin", "thick", "slanting", "left", "right", "standing", "upright",
                          "dark", "light", *DIGITS, "t-shirt", "trouser", "pullover", "dress", "coat", "sandal",
                          "shirt", "sneaker", "bag", "ankle", "boot")
WORD_ID = {w: i for i, w in enumerate(VOCAB)}
MAX_WORDS = 6  # "a thick seven slanting right": 5 words
AN_WORDS = ("eight", "ankle boot")  # the first words that take "an" ("a one": by sound, not by letter)
KEEP = 0.7  # chance that a training caption names each attribute
#: (low, high) terciles of each attribute on the training split (see the module's docstring)
#: (MNIST: stroke width 2.0-9.1 px, shear -1.2-1.9; Fashion-MNIST: object intensity 0.14-0.92)
THRESHOLDS: dict[str, tuple[float, float]] = {"thickness": (2.554, 3.146), "slant": (-0.010, 0.224),
                                              "darkness": (0.563, 0.719)}
INK, OBJECT = 0.5, 0.1


def family(dataset: str) -> str:
    """The caption family of a data set: mnist (mnist, mnist5k) or fashion-mnist."""
    if dataset in ("mnist", "mnist5k"):
        return "mnist"
    if dataset == "fashion-mnist":
        return "fashion-mnist"
    raise ConfigError(f"captions are made for mnist, mnist5k and fashion-mnist, not {dataset!r}")


# ----------------------------------------------------------------------------------------------- attributes


def _unit(x: Tensor) -> Tensor:
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ConfigError(f"captions measure grey 28x28 images [N, 1, 28, 28]; got {list(x.shape)}")
    return ((x.detach().float() + 1) / 2).clamp(0, 1)[:, 0]  # [N, 28, 28] in [0, 1]


def thickness(x: Tensor) -> Tensor:
    """Mean stroke width in pixels: 2 * ink area / ink boundary.  # [N, 1, 28, 28] -> [N]"""
    ink = _unit(x) > INK  # [N, H, W]
    pad = torch.nn.functional.pad(ink, (1, 1, 1, 1))
    inner = pad[:, :-2, 1:-1] & pad[:, 2:, 1:-1] & pad[:, 1:-1, :-2] & pad[:, 1:-1, 2:]
    area, edge = ink.sum((1, 2)).float(), (ink & ~inner).sum((1, 2)).float()
    return torch.where(edge > 0, 2 * area / edge.clamp_min(1), torch.zeros_like(area))


def slant(x: Tensor) -> Tensor:
    """Horizontal shear of the ink, -cov(col, row) / var(row), intensity-weighted.  # [N, 1, 28, 28] -> [N]"""
    w = _unit(x)  # [N, H, W]
    rows = torch.arange(28, dtype=w.dtype)[None, :, None]
    cols = torch.arange(28, dtype=w.dtype)[None, None, :]
    mass = w.sum((1, 2)).clamp_min(1e-6)
    mr, mc = (w * rows).sum((1, 2)) / mass, (w * cols).sum((1, 2)) / mass
    var_r = (w * (rows - mr[:, None, None]) ** 2).sum((1, 2)) / mass
    cov = (w * (rows - mr[:, None, None]) * (cols - mc[:, None, None])).sum((1, 2)) / mass
    return -cov / var_r.clamp_min(1e-6)


def darkness(x: Tensor) -> Tensor:
    """Mean intensity of the object's pixels (> 0.1 on [0, 1]); low: a dark garment.  # [N, 1, 28, 28] -> [N]"""
    u = _unit(x)
    obj = u > OBJECT
    return (u * obj).sum((1, 2)) / obj.sum((1, 2)).clamp_min(1)


def level(values: Tensor, attribute: str) -> Tensor:
    """0, 1, 2: below, between, above the attribute's training terciles.  # [N] -> [N] int64"""
    lo, hi = THRESHOLDS[attribute]
    return (values > lo).long() + (values > hi).long()


def attributes(x: Tensor, fam: str) -> dict[str, Tensor]:
    """The levels of the family's measured attributes.  # [N, 1, 28, 28] -> {name: [N] in 0..2}"""
    if fam == "mnist":
        return {"thickness": level(thickness(x), "thickness"), "slant": level(slant(x), "slant")}
    return {"darkness": level(darkness(x), "darkness")}


# ----------------------------------------------------------------------------------------------- captions


def caption(fam: str, label: int, levels: dict[str, int], keep: dict[str, bool] | None = None) -> str:
    """The caption of one image: its class and the attribute words `keep` says to name (all by default)."""
    keep = keep or {}
    if fam == "mnist":
        thick = THICKNESS_WORDS[levels["thickness"]] if keep.get("thickness", True) else None
        tilt = SLANT_WORDS[levels["slant"]] if keep.get("slant", True) else None
        words = [w for w in (thick, DIGITS[label], tilt) if w]
    else:
        dark = DARKNESS_WORDS[levels["darkness"]] if keep.get("darkness", True) else None
        words = [w for w in (dark, GARMENTS[label]) if w]
    article = "an" if words[0] in AN_WORDS else "a"
    return " ".join([article, *words])


def captions(fam: str, labels: Tensor, levels: dict[str, Tensor], keep: Tensor | None = None) -> list[str]:
    """Captions of a batch; `keep` [N, A] (bool) says which of the A attributes each names (all when None)."""
    names = list(levels)
    out = []
    for i, label in enumerate(labels.tolist()):
        k = {n: bool(keep[i, j]) for j, n in enumerate(names)} if keep is not None else None
        out.append(caption(fam, label, {n: int(levels[n][i]) for n in names}, k))
    return out


def tokenize(texts: list[str]) -> Tensor:
    """Word ids of captions, padded with 0 to MAX_WORDS; a caption with words outside VOCAB (or too many words)
    is a one-line ConfigError naming them.  # -> [N, MAX_WORDS] int64"""
    ids = torch.zeros(len(texts), MAX_WORDS, dtype=torch.long)
    unknown: list[str] = []
    for i, text in enumerate(texts):
        words = text.lower().split()
        unknown += [w for w in words if w not in WORD_ID and w not in unknown]
        if not words or len(words) > MAX_WORDS:
            raise ConfigError(f"a caption holds 1 to {MAX_WORDS} words, got {len(words)}: {text!r}")
        ids[i, :len(words)] = torch.tensor([WORD_ID.get(w, 0) for w in words])
    if unknown:
        raise ConfigError(f"unknown word(s) {', '.join(repr(w) for w in unknown)}; the vocabulary is: "
                          + " ".join(VOCAB[1:]))
    return ids


def caption_tokens(x: Tensor, labels: Tensor, fam: str, keep: Tensor | None = None) -> Tensor:
    """The tokens of the captions of images x [N, 1, 28, 28] with their labels [N].  # -> [N, MAX_WORDS]"""
    return tokenize(captions(fam, labels.cpu(), attributes(x.cpu(), fam),
                             None if keep is None else keep.cpu())).to(x.device)
