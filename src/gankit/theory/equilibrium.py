"""Towards equilibrium, and what happens when D overpowers G.

At the equilibrium of the GAN game p_g = p_data and D(x) = 1/2 everywhere (Goodfellow et al. 2014, Proposition 1
and Theorem 1), so D's accuracy, the fraction of real samples it calls real (D(x) > 1/2) and of fakes it calls
fake (D(G(z)) < 1/2), should drift to 50% on both as G learns. The experiment trains the 1-D GAN (data N(4, 0.5²),
G's samples starting around 0; `theory.toy1d.Toy1D`) in three regimes from the same seeds:

- balanced: non-saturating loss, D's Adam learning rate 1e-3, one D step per G step;
- D overpowers G: D's learning rate 10x that (1e-2) and 5 D steps per G step, with the minimax G loss;
- the same overpowered D with the non-saturating loss, to separate the two causes.

G always takes plain SGD steps (learning rate 0.02), so its step is proportional to its gradient, as in the
argument; Adam would rescale a vanishing gradient back to full-size steps until it underflows below Adam's eps
(the saturation experiment shows that case).

It records D's accuracy on fresh real and fake samples, the norm of G's gradient and the JS divergence between
p_g and p_data (numerically, `evaluation.metrics.jsd_1d`) over training.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import progress
from ..evaluation.metrics import jsd_1d
from ..torch_utils import single_thread
from ..viz.figures import new_figure, save_figure
from .records import rounded
from .toy1d import Toy1D, Toy1DConfig

MU, SIGMA = 4.0, 0.5
EVAL_N = 2000
LR_G, LR_D = 0.02, 1e-3  # G: plain SGD (its step is proportional to its gradient); D: Adam
# regime -> (G loss, lr_g, lr_d, D steps per G step)
REGIMES: dict[str, tuple[str, float, float, int]] = {
    "balanced": ("nonsaturating", LR_G, LR_D, 1),
    "overpowered-minimax": ("minimax", LR_G, 10 * LR_D, 5),
    "overpowered-nonsaturating": ("nonsaturating", LR_G, 10 * LR_D, 5),
}
LABELS = {
    "balanced": "balanced (NS, lr_D 1x, k=1)",
    "overpowered-minimax": "D overpowers G (minimax, lr_D 10x, k=5)",
    "overpowered-nonsaturating": "D overpowers G (NS, lr_D 10x, k=5)",
}
COLOURS = {"balanced": "#2ca02c", "overpowered-minimax": "#d62728", "overpowered-nonsaturating": "#ff7f0e"}


def _budget(quick: bool) -> dict[str, Any]:
    if quick:
        return {"steps": 300, "every": 25, "seeds": 1}
    return {"steps": 1500, "every": 25, "seeds": 3}


@torch.no_grad()
def _d_accuracy(gan: Toy1D, real: torch.Tensor, z_seed: int) -> tuple[float, float, float]:
    """(accuracy on real, accuracy on fake, JSD) on a fixed real sample and fixed noise: the same points at every
    measurement, drawn outside training's RNG."""
    fake = gan.sample(EVAL_N, z_seed)  # [EVAL_N]
    acc_real = float((gan.d_logit(real) > 0).double().mean())
    acc_fake = float((gan.d_logit(fake) < 0).double().mean())
    jsd = jsd_1d(fake, MU, SIGMA) if torch.isfinite(fake).all() else math.log(2)
    return acc_real, acc_fake, jsd


def train_regime(regime: str, seed: int, steps: int, every: int, bar: Any = None) -> dict[str, list[float]]:
    """Train one 1-D GAN in `regime`; returns curves sampled every `every` G steps (step 0 included). `bar` (a
    gankit.progress bar) advances by one per G step."""
    bar = bar or progress.silent()
    g_loss, lr_g, lr_d, d_steps = REGIMES[regime]
    gan = Toy1D(Toy1DConfig(mu=MU, sigma=SIGMA, z_dim=4, g_loss=g_loss, lr_g=lr_g, lr_d=lr_d, g_optimizer="sgd",
                            seed=seed))
    real = MU + SIGMA * torch.randn(EVAL_N, generator=torch.Generator().manual_seed(seed + 5000))
    curves: dict[str, list[float]] = {"step": [], "acc_real": [], "acc_fake": [], "jsd": [], "g_grad": []}
    norms: list[float] = []
    for step in range(steps + 1):
        if step > 0:
            for _ in range(d_steps):
                gan.d_step()
            norms.append(gan.g_step()[1])
            bar.update(1)
        if step % every == 0:
            ar, af, j = _d_accuracy(gan, real, seed + 6000)
            curves["step"].append(step)
            curves["acc_real"].append(ar)
            curves["acc_fake"].append(af)
            curves["jsd"].append(j)
            # mean gradient norm over the interval just trained (NaN at step 0: no G step yet)
            curves["g_grad"].append(float(np.mean(norms)) if norms else float("nan"))
            norms = []
    curves["final_samples"] = gan.sample(EVAL_N, seed + 6000).tolist()
    return curves


def _tail_mean(values: list[float], frac: float = 0.2) -> float:
    """Mean over the last `frac` of a curve: the end state, with the step-to-step jitter averaged out."""
    k = max(1, int(round(len(values) * frac)))
    return float(np.mean(values[-k:]))


@single_thread()
def run(out: Path, *, quick: bool, seed: int) -> dict[str, Any]:
    b = _budget(quick)
    seeds = [seed + i for i in range(b["seeds"])]
    with progress.bar(len(REGIMES) * len(seeds) * b["steps"], "explain equilibrium", unit="step") as bar:
        runs = {r: [train_regime(r, s, b["steps"], b["every"], bar) for s in seeds] for r in REGIMES}

    stats: dict[str, dict[str, Any]] = {}
    for r, rs in runs.items():
        per_seed = {
            "acc_real": [_tail_mean(c["acc_real"]) for c in rs],
            "acc_fake": [_tail_mean(c["acc_fake"]) for c in rs],
            "g_grad": [_tail_mean(c["g_grad"]) for c in rs],
            "g_grad_start": [c["g_grad"][1] for c in rs],
            "jsd": [c["jsd"][-1] for c in rs],
        }
        g_loss, lr_g, lr_d, d_steps = REGIMES[r]
        stats[r] = {
            "g_loss": g_loss, "lr_g": lr_g, "lr_d": lr_d, "d_steps": d_steps,
            **{f"{k}_mean": rounded(float(np.mean(v)), 4) for k, v in per_seed.items()},
            **{f"{k}_std": rounded(float(np.std(v)), 4) for k, v in per_seed.items()},
            "per_seed": {k: [rounded(x, 4) for x in v] for k, v in per_seed.items()},
        }

    figures = ["equilibrium.png"]
    _figure(runs, out / "equilibrium.png")

    bal, mm, ns = stats["balanced"], stats["overpowered-minimax"], stats["overpowered-nonsaturating"]
    mm_acc = 0.5 * (mm["acc_real_mean"] + mm["acc_fake_mean"])
    grad_ratio = mm["g_grad_mean"] / max(bal["g_grad_mean"], 1e-300)
    tail = "last 20% of training, mean over seeds"
    claims = [
        {"claim": f"Balanced: D's accuracy on real and on fake both end within 15 points of 50% ({tail})",
         "value": [bal["acc_real_mean"], bal["acc_fake_mean"]],
         "holds": bool(abs(bal["acc_real_mean"] - 0.5) < 0.15 and abs(bal["acc_fake_mean"] - 0.5) < 0.15)},
        {"claim": f"D overpowers G (minimax, lr_D 10x, 5 D steps): D's accuracy ends above 95% ({tail})",
         "value": rounded(mm_acc, 4), "holds": bool(mm_acc > 0.95)},
        {"claim": "…and G's gradient norm collapses: under a hundredth of the balanced run's", "value":
         rounded(grad_ratio, 4), "holds": bool(grad_ratio < 0.01)},
        {"claim": "…and the samples are worse: final JS(p_data, p_g) over 10x the balanced run's",
         "value": [mm["jsd_mean"], bal["jsd_mean"]], "holds": bool(mm["jsd_mean"] > 10 * bal["jsd_mean"])},
    ]
    table = _markdown(stats)
    summary = (
        f"In the balanced run (non-saturating loss, G by SGD, D by Adam at 1e-3, one D step per G step) D's accuracy "
        f"ended at {bal['acc_real_mean']:.0%} on real and {bal['acc_fake_mean']:.0%} on fake samples ({tail}; "
        f"{len(seeds)} seeds, {b['steps']} G steps), with JS(p_data, p_g) = {bal['jsd_mean']:.4f} nats: D can no "
        f"longer tell the two apart, as at the game's equilibrium. When D got 10x G's learning rate and 5 steps per "
        f"G step under the minimax loss, its accuracy went to {mm_acc:.1%}; G's gradient norm fell to "
        f"{mm['g_grad_mean']:.2g} ({grad_ratio:.1e} of the balanced run's {bal['g_grad_mean']:.2g}), since "
        f"log(1 - D(G(z))) is flat where D rejects confidently, and the samples stayed far from the data "
        f"(JS {mm['jsd_mean']:.3f} nats). The same overpowered D with the non-saturating loss ended with accuracy "
        f"{0.5 * (ns['acc_real_mean'] + ns['acc_fake_mean']):.0%}, gradient norm {ns['g_grad_mean']:.2g} and JS "
        f"{ns['jsd_mean']:.4f}: the strong D alone does not stop learning here, because -log D(G(z)) keeps G's "
        f"gradient large exactly when D wins; it is the combination with the saturating loss that stalls G.\n\n"
        + table)
    return {"regimes": stats, "table_markdown": table, "steps": b["steps"], "seeds": seeds,
            "curves": {r: [{k: [rounded(v, 4) for v in c[k]] for k in ("step", "acc_real", "acc_fake", "jsd",
                                                                         "g_grad")} for c in rs]
                       for r, rs in runs.items()},
            "figures": figures, "claims": claims, "summary": summary}


def _markdown(stats: dict[str, dict[str, Any]]) -> str:
    rows = ["| regime | G loss | lr G (SGD) / D (Adam) | D steps | D acc. real | D acc. fake | ‖∇G‖ | JSD (nats) |",
            "|---|---|---|---|---|---|---|---|"]
    for r, s in stats.items():
        rows.append(f"| {LABELS[r]} | {s['g_loss']} | {s['lr_g']:g} / {s['lr_d']:g} | {s['d_steps']} | "
                    f"{s['acc_real_mean']:.2f} ± {s['acc_real_std']:.2f} | {s['acc_fake_mean']:.2f} ± "
                    f"{s['acc_fake_std']:.2f} | {s['g_grad_mean']:.2g} | {s['jsd_mean']:.4f} ± {s['jsd_std']:.4f} |")
    return "\n".join(rows)


def _figure(runs: dict[str, list[dict[str, list[float]]]], path: Path) -> None:
    """Top row: D's accuracy on real (solid) and fake (dashed) per regime, every seed. Bottom: G's gradient norm,
    JS divergence over training, and the final samples' histogram against the data density."""
    fig = new_figure(13, 7)
    axes = fig.subplots(2, 3)
    for ax, (r, rs) in zip(axes[0], runs.items()):
        for i, c in enumerate(rs):
            alpha = 1.0 if i == 0 else 0.4
            ax.plot(c["step"], c["acc_real"], color="#1f77b4", alpha=alpha, label="on real" if i == 0 else None)
            ax.plot(c["step"], c["acc_fake"], color="#d62728", ls="--", alpha=alpha,
                    label="on fake" if i == 0 else None)
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(LABELS[r], fontsize=9)
        ax.set_xlabel("G step")
        ax.set_ylabel("D accuracy")
        ax.legend(loc="lower right", fontsize=8)
    for r, rs in runs.items():
        for i, c in enumerate(rs):
            kw = {"color": COLOURS[r], "alpha": 1.0 if i == 0 else 0.4, "label": LABELS[r] if i == 0 else None}
            axes[1, 0].plot(c["step"][1:], c["g_grad"][1:], **kw)
            axes[1, 1].plot(c["step"], c["jsd"], **kw)
    axes[1, 0].set_yscale("log")
    axes[1, 0].set_title("‖∇ G's loss‖ (mean per interval)", fontsize=9)
    axes[1, 1].set_yscale("log")
    axes[1, 1].set_title("JS(p_data, p_g), nats", fontsize=9)
    for ax in axes[1, :2]:
        ax.set_xlabel("G step")
        ax.legend(fontsize=7)
    ax = axes[1, 2]
    xs = np.linspace(-1, 7, 400)
    ax.plot(xs, np.exp(-0.5 * ((xs - MU) / SIGMA) ** 2) / (SIGMA * math.sqrt(2 * math.pi)), color="black",
            label="p_data")
    bins = np.linspace(-1, 7, 120)
    for r, rs in runs.items():
        s = np.asarray(rs[0]["final_samples"])
        ax.hist(np.clip(s, -1, 7), bins=bins, density=True, histtype="step", color=COLOURS[r], label=LABELS[r])
    ax.set_title("final samples (first seed)", fontsize=9)
    ax.set_xlabel("x")
    ax.legend(fontsize=7)
    save_figure(fig, path)
