"""Success rate and accuracy against epsilon, for an attack and for its random control.

Definitions (also written into attack.json):
- success rate: over the images the classifier gets right before the attack (targeted: and whose label is not
  the target), the fraction the attack fools: the prediction changes (untargeted) or becomes the target.
- accuracy: over all evaluated images, the fraction still classified correctly after the attack.
- random control: each image gets random noise with the L2 norm of its own adversarial perturbation
  (`attacks.random_control`), scored by the same two definitions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import progress

from .attacks import Model01, fgsm, perturbation_stats, pgd, random_control
from .config import ATTACK_NAMES, ATTACKS


@dataclass(frozen=True)
class EpsResult:
    """One point of the curve; the JSON record for one epsilon."""

    eps: float
    success_rate: float
    accuracy: float
    random_control_success_rate: float
    random_control_accuracy: float
    mean_l2: float
    mean_linf: float
    mean_psnr_db: float | None  # over perturbed images; None when none was changed (eps 0)
    random_control_mean_l2: float
    random_control_mean_linf: float
    time_s: float


@dataclass
class EpsOutcome:
    """An epsilon's result with the images behind it (for the gallery)."""

    result: EpsResult
    x_adv: Tensor  # [N, C, H, W] in [0, 1]
    probs_adv: Tensor  # [N, K]
    x_rand: Tensor  # [N, C, H, W] in [0, 1]
    probs_rand: Tensor  # [N, K]


@dataclass
class Curve:
    x: Tensor  # [N, C, H, W] in [0, 1], the attacked images
    y: Tensor  # [N] true labels
    probs_clean: Tensor  # [N, K]
    scored: Tensor  # [N] bool: the images success rates are computed over
    target: int | None
    outcomes: list[EpsOutcome]

    @property
    def clean_accuracy(self) -> float:
        return float((self.probs_clean.argmax(1) == self.y).float().mean())

    @property
    def results(self) -> list[EpsResult]:
        return [o.result for o in self.outcomes]


@torch.no_grad()
def predict(model: Model01, x: Tensor, batch_size: int = 500) -> Tensor:
    """Class probabilities for images in [0, 1].  # [N, K]"""
    return torch.cat([F.softmax(model(b), dim=1) for b in x.split(batch_size)])


def run_attack_batch(model: Model01, x: Tensor, y: Tensor, attack: str, eps: float, *, steps: int = 40,
                     rel_step: float = 2.5, target: int | None = None) -> Tensor:
    """Adversarial versions of one batch by attack name (`ATTACK_NAMES`).  # [N, C, H, W] in [0, 1]"""
    if attack == "fgsm":
        return fgsm(model, x, y, eps, target=target)
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; choose one of {', '.join(ATTACK_NAMES)}")
    return pgd(model, x, y, eps, norm=ATTACKS[attack], steps=steps, step_size=rel_step * eps / steps,
               target=target)


def _rate(hit: Tensor, mask: Tensor) -> float:
    return float(hit[mask].float().mean()) if mask.any() else math.nan


def attack_curve(model: Model01, x: Tensor, y: Tensor, attack: str, eps_list: list[float], *, steps: int = 40,
                 rel_step: float = 2.5, target: int | None = None, seed: int = 0, batch_size: int = 500,
                 log: Callable[[str], Any] | None = None) -> Curve:
    """Attack images x [N, C, H, W] in [0, 1] with labels y at every eps, with the random control beside it.

    The random control draws the same directions (from `seed`) at every eps, so its curve changes only with the
    norm it is given."""
    if x.dim() != 4 or y.shape != (len(x),) or len(x) == 0:
        raise ValueError(f"attack_curve takes images [N, C, H, W] and labels [N], got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    probs_clean = predict(model, x, batch_size)
    scored = probs_clean.argmax(1) == y
    if target is not None:
        scored &= y != target
    tgt = None if target is None else torch.full_like(y, target)
    outcomes = []
    batches = list(zip(x.split(batch_size), y.split(batch_size)))
    with progress.bar(len(eps_list) * len(batches), f"{attack} attack", unit="batch") as shown:
        for eps in eps_list:
            outcomes.append(_eps_outcome(model, x, y, attack, eps, batches, steps=steps, rel_step=rel_step,
                                         target=target, seed=seed, batch_size=batch_size, scored=scored, tgt=tgt,
                                         bar=shown))
            if log is not None:
                log(format_result(outcomes[-1].result))
    return Curve(x, y, probs_clean, scored, target, outcomes)


def _eps_outcome(model: Model01, x: Tensor, y: Tensor, attack: str, eps: float, batches: list[tuple[Tensor, Tensor]],
                 *, steps: int, rel_step: float, target: int | None, seed: int, batch_size: int, scored: Tensor,
                 tgt: Tensor | None, bar: Any) -> EpsOutcome:
    """The attack and its random control at one eps (one step of the progress bar per batch attacked)."""
    t0 = time.perf_counter()
    advs = []
    for xb, yb in batches:
        advs.append(run_attack_batch(model, xb, yb, attack, eps, steps=steps, rel_step=rel_step, target=target))
        bar.update(1)
    x_adv = torch.cat(advs)
    adv = perturbation_stats(x, x_adv)
    gen = torch.Generator().manual_seed(seed)
    x_rand = torch.cat([random_control(xb, lb.float(), generator=gen)
                        for xb, lb in zip(x.split(batch_size), adv["l2"].split(batch_size))])
    rnd = perturbation_stats(x, x_rand)
    probs_adv, probs_rand = predict(model, x_adv, batch_size), predict(model, x_rand, batch_size)
    pred_adv, pred_rand = probs_adv.argmax(1), probs_rand.argmax(1)
    hit_adv = pred_adv != y if tgt is None else pred_adv == tgt
    hit_rand = pred_rand != y if tgt is None else pred_rand == tgt
    finite = torch.isfinite(adv["psnr_db"])
    result = EpsResult(
        eps=float(eps), success_rate=_rate(hit_adv, scored), accuracy=float((pred_adv == y).float().mean()),
        random_control_success_rate=_rate(hit_rand, scored),
        random_control_accuracy=float((pred_rand == y).float().mean()),
        mean_l2=float(adv["l2"].mean()), mean_linf=float(adv["linf"].mean()),
        mean_psnr_db=float(adv["psnr_db"][finite].mean()) if finite.any() else None,
        random_control_mean_l2=float(rnd["l2"].mean()), random_control_mean_linf=float(rnd["linf"].mean()),
        time_s=round(time.perf_counter() - t0, 2))
    return EpsOutcome(result, x_adv, probs_adv, x_rand, probs_rand)


def format_result(r: EpsResult) -> str:
    psnr = f"{r.mean_psnr_db:.1f} dB" if r.mean_psnr_db is not None else "inf"
    return (f"eps {r.eps:g}: success {100 * r.success_rate:.1f}% (random control {100 * r.random_control_success_rate:.1f}%)"
            f", accuracy {100 * r.accuracy:.1f}% (random control {100 * r.random_control_accuracy:.1f}%), mean L2 "
            f"{r.mean_l2:.3f}, L-inf {r.mean_linf:.3f}, PSNR {psnr} ({r.time_s:.0f} s)")
