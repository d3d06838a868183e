"""The attack's pictures: success/accuracy curves against epsilon, and a gallery of triptychs
(original | perturbation amplified | adversarial) with predicted labels and confidences."""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import Tensor

from ..viz.figures import save_figure
from .curve import Curve, EpsOutcome


def plot_curves(curves: dict[str, Curve], path: str | Path, *, title: str, eps_label: str) -> Path:
    """Success rate (left) and accuracy (right) against eps: each curve's attack (solid) and random control
    (dashed, same L2 norm per image). `curves` maps a legend label (e.g. "standard", "adv-trained") to a Curve."""
    fig = Figure(figsize=(10, 3.9))
    ax_s, ax_a = fig.subplots(1, 2)
    for (label, curve), color in zip(curves.items(), ("C0", "C3", "C2", "C1")):
        r = curve.results
        eps = [p.eps for p in r]
        ax_s.plot(eps, [100 * p.success_rate for p in r], "o-", color=color, label=f"attack ({label})")
        ax_s.plot(eps, [100 * p.random_control_success_rate for p in r], "s--", color=color, alpha=0.7,
                  label=f"random, same L2 ({label})")
        ax_a.plot(eps, [100 * p.accuracy for p in r], "o-", color=color, label=f"attack ({label})")
        ax_a.plot(eps, [100 * p.random_control_accuracy for p in r], "s--", color=color, alpha=0.7,
                  label=f"random, same L2 ({label})")
    ax_s.set_title("success rate (images correct before the attack)")
    ax_s.set_ylabel("%")
    ax_a.set_title("accuracy (all evaluated images)")
    for ax in (ax_s, ax_a):
        ax.set_xlabel(eps_label)
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=7)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def pick_gallery(curve: Curve, outcome: EpsOutcome, n: int) -> list[int]:
    """Indices of up to n scored images: first one fooled image per true class (class order), then more fooled
    ones, then unfooled ones, each in data order. Deterministic."""
    pred = outcome.probs_adv.argmax(1)
    fooled = pred != curve.y if curve.target is None else pred == curve.target
    order = torch.nonzero(curve.scored).flatten().tolist()
    first_per_class: dict[int, int] = {}
    for i in order:
        if fooled[i] and int(curve.y[i]) not in first_per_class:
            first_per_class[int(curve.y[i])] = i
    chosen = [first_per_class[k] for k in sorted(first_per_class)]
    rest = [i for i in order if fooled[i] and i not in chosen] + [i for i in order if not fooled[i]]
    return (chosen + rest)[:n]


def _label(k: int, names: list[str] | None) -> str:
    return names[k] if names else str(k)


def plot_gallery(curve: Curve, outcome: EpsOutcome, path: str | Path, *, n: int = 10,
                 class_names: list[str] | None = None, per_row: int = 2, title: str = "") -> tuple[Path, list[int]]:
    """Triptychs original | perturbation (amplified: mid-grey is 0, the brightest/darkest pixel is the largest
    change, the factor is in the title) | adversarial, `per_row` side by side. Titles give the predicted
    class and its softmax confidence; a red title marks a fooled classifier. Returns the path and the indices."""
    idx = pick_gallery(curve, outcome, n)
    rows = max(1, -(-len(idx) // per_row))
    fig = Figure(figsize=(2.1 * 3 * per_row, 2.25 * rows + 0.5))
    axes = fig.subplots(rows, 3 * per_row, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    pred_clean = curve.probs_clean.argmax(1)
    pred_adv = outcome.probs_adv.argmax(1)
    for j, i in enumerate(idx):
        r, c = divmod(j, per_row)
        x, xa = curve.x[i, 0], outcome.x_adv[i, 0]
        delta: Tensor = xa - x
        peak = float(delta.abs().max())
        amp = 0.5 / peak if peak > 0 else 1.0
        yl, pc, pa = int(curve.y[i]), int(pred_clean[i]), int(pred_adv[i])
        fooled_now = pa != yl if curve.target is None else pa == curve.target
        l2 = float(delta.flatten().norm())
        panels = [(x, f"true {_label(yl, class_names)}\npred {_label(pc, class_names)} "
                      f"({100 * float(curve.probs_clean[i, pc]):.0f}%)", "black"),
                  (0.5 + delta * amp, f"perturbation x{amp:.1f}\nL2 {l2:.2f}, L-inf {peak:.2f}", "black"),
                  (xa, f"adversarial\npred {_label(pa, class_names)} ({100 * float(outcome.probs_adv[i, pa]):.0f}%)",
                   "red" if fooled_now else "black")]
        for k, (img, text, color) in enumerate(panels):
            ax = axes[r, 3 * c + k]
            ax.imshow(img.clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(text, fontsize=8, color=color)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path), idx
