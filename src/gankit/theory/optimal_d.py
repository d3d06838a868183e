"""The optimal discriminator (Goodfellow et al. 2014, Proposition 1 and Theorem 1).

For a fixed generator, the D that maximises V(D, G) = E_data log D(x) + E_g log(1 - D(x)) is
D*(x) = p_data(x) / (p_data(x) + p_g(x)), and V(D*, G) = -log 4 + 2 JSD(p_data || p_g).

Data N(0, 1), a fixed generator N(1, 0.5^2). An MLP D (two hidden layers of 64 LeakyReLU units) is trained alone
with sigmoid cross-entropy on fresh samples every step (Adam, cosine decay to 0), then compared with D* on the
support, which we define as the grid points where the mixture density (p_data + p_g) / 2 is at least 0.01:
outside it there are almost no training samples and D is unconstrained. Both sides of the identity are
integrated numerically (trapezoid rule on a grid over [-10, 10] with step 1e-3): `value` is ∫ p_data log D* +
p_g log(1 - D*), and `value_formula` is -log 4 + 2 JSD with the JSD integrated on its own from its two KL terms.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import progress
from ..torch_utils import seeded, single_thread
from ..viz.figures import new_figure, save_figure
from .colours import DATA_COLOUR, DSTAR_COLOUR, D_COLOUR, GEN_COLOUR
from .densities import (LOG4, gan_value, grid, integrate, jsd, mixture_support, normal_logpdf, normal_pdf, optimal_d,
                        optimal_d_logit)
from .records import rounded
from .toy1d import train_d_fixed_g
from .toy_nets import mlp

DATA = (0.0, 1.0)  # mu, sigma
GEN = (1.0, 0.5)
SUPPORT_THRESHOLD = 0.01  # on the mixture density (p_data + p_g) / 2
MAX_GAP_LIMIT = 0.05


def _budget(quick: bool) -> dict[str, Any]:
    return {"steps": 1000, "batch": 2048, "lr": 3e-3} if quick else {"steps": 5000, "batch": 2048, "lr": 2e-3}


@single_thread()
def run(out: Path, *, quick: bool, seed: int) -> dict[str, Any]:
    b = _budget(quick)
    x = grid(-10.0, 10.0, 20001)
    p_data, p_g = normal_pdf(x, *DATA), normal_pdf(x, *GEN)
    d_star = optimal_d(p_data, p_g)
    d_star_logit = optimal_d_logit(normal_logpdf(x, *DATA), normal_logpdf(x, *GEN))

    # both sides of V(D*, G) = -log 4 + 2 JSD, each integrated on its own
    value = gan_value(d_star_logit, p_data, p_g, x)
    js = jsd(p_data, p_g, x)
    value_formula = -LOG4 + 2.0 * js

    with seeded(seed):
        D = mlp(1, 1, 64)
    bar = progress.bar(b["steps"], "explain optimal-d", unit="step")
    rng = torch.Generator().manual_seed(seed + 1)
    losses = train_d_fixed_g(
        D, lambda n: DATA[0] + DATA[1] * torch.randn(n, 1, generator=rng),
        lambda n: GEN[0] + GEN[1] * torch.randn(n, 1, generator=rng), steps=b["steps"], batch_size=b["batch"],
        lr=b["lr"], bar=bar)
    bar.close()
    with torch.no_grad():
        d_logit = D(x.float().reshape(-1, 1)).reshape(-1).double()
    d = torch.sigmoid(d_logit)

    support = mixture_support(p_data, p_g, SUPPORT_THRESHOLD)
    gap = (d - d_star).abs()
    max_gap = float(gap[support].max())
    m = 0.5 * (p_data + p_g)
    mean_gap = integrate(m * gap, x)
    value_trained = gan_value(d_logit, p_data, p_g, x)
    # the same quantity by Monte Carlo, as training sees it: 100,000 fresh samples from each side
    mc_rng = torch.Generator().manual_seed(seed + 2)
    with torch.no_grad():
        lr = D(DATA[0] + DATA[1] * torch.randn(100_000, 1, generator=mc_rng))
        lf = D(GEN[0] + GEN[1] * torch.randn(100_000, 1, generator=mc_rng))
    value_trained_mc = float(-torch.nn.functional.softplus(-lr).mean() - torch.nn.functional.softplus(lf).mean())
    lo, hi = float(x[support].min()), float(x[support].max())

    _figure(x, p_data, p_g, d, d_star, support, losses, value, out / "optimal-d.png")

    claims = [
        {"claim": f"The trained D matches D* = p_data / (p_data + p_g): max |D - D*| over the support "
                  f"[{lo:.2f}, {hi:.2f}] < {MAX_GAP_LIMIT}",
         "value": rounded(max_gap, 4), "holds": bool(max_gap < MAX_GAP_LIMIT)},
        {"claim": "V(D*, G) = -log 4 + 2 JSD(p_data || p_g): both sides integrated separately agree within 1e-4",
         "value": rounded(abs(value - value_formula), 3), "holds": bool(abs(value - value_formula) < 1e-4)},
        {"claim": "No D beats D*: V(D_trained, G) <= V(D*, G), and the trained D comes within 0.01 of it",
         "value": rounded(value - value_trained, 4),
         "holds": bool(-1e-9 <= value - value_trained < 0.01)},
    ]
    summary = (
        f"The generator is held fixed at N({GEN[0]:g}, {GEN[1]:g}²) against data N({DATA[0]:g}, {DATA[1]:g}). "
        f"D is trained alone for {b['steps']} steps on fresh batches of {b['batch']}, and it lands on the "
        f"analytic optimum D* = p_data / (p_data + p_g). The largest gap on the support is {max_gap:.3f}, and the "
        f"mean gap under the mixture is {mean_gap:.4f}. D* is not a step function: it is lowest "
        f"({float(d_star[support].min()):.2f}) where the narrow generator piles up its mass, and it climbs back "
        f"toward 1 on both sides, where the wider data dominate. Plugging D* into the value function gives "
        f"V(D*, G) = {value:.6f}, and -log 4 + 2 JSD = {value_formula:.6f} with JSD = {js:.6f} nats. So, "
        "against an optimal D, the generator's objective is the Jensen-Shannon divergence up to constants. "
        f"D's cross-entropy loss is -V(D, G), so training drives it down toward -V(D*, G) = {-value:.4f}.")
    return {
        "figures": ["optimal-d.png"],
        "claims": claims,
        "summary": summary,
        "p_data": {"mu": DATA[0], "sigma": DATA[1]}, "p_g": {"mu": GEN[0], "sigma": GEN[1]},
        "steps": b["steps"], "batch_size": b["batch"],
        "support_definition": f"grid points where (p_data + p_g) / 2 >= {SUPPORT_THRESHOLD}",
        "support": [rounded(lo, 4), rounded(hi, 4)],
        "max_abs_gap": rounded(max_gap), "mean_abs_gap": rounded(mean_gap),
        "value": rounded(value, 9), "value_formula": rounded(value_formula, 9), "jsd": rounded(js, 9),
        "value_abs_diff": rounded(abs(value - value_formula), 3),
        "value_trained": rounded(value_trained, 7), "value_trained_mc": rounded(value_trained_mc, 7),
        "d_loss_final": rounded(float(np.mean(losses[-50:])), 6),
    }


def _figure(x: torch.Tensor, p_data: torch.Tensor, p_g: torch.Tensor, d: torch.Tensor, d_star: torch.Tensor,
            support: torch.Tensor, losses: list[float], value: float, path: Path) -> None:
    xs = x.numpy()
    view = (xs >= -4) & (xs <= 4)
    lo, hi = float(x[support].min()), float(x[support].max())
    fig = new_figure(14, 3.6)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ax1.axvspan(lo, hi, color="#eeeeee", zorder=0, label="support")
    ax1.plot(xs[view], p_data.numpy()[view], color=DATA_COLOUR, label="p_data = N(0, 1)")
    ax1.plot(xs[view], p_g.numpy()[view], color=GEN_COLOUR, label="p_g = N(1, 0.5²)")
    ax1.plot(xs[view], d_star.numpy()[view], ":", color=DSTAR_COLOUR, lw=2.5, label="D* = p_data/(p_data+p_g)")
    ax1.plot(xs[view], d.numpy()[view], "--", color=D_COLOUR, lw=1.5, label="trained D")
    ax1.set_xlim(-4, 4)
    ax1.set_ylim(0, 1.05)
    ax1.set_xlabel("x")
    ax1.set_title("the trained D lands on D*", fontsize=9)
    ax1.legend(loc="center left", fontsize=7)
    gap = (d - d_star).abs().numpy()
    ax2.axvspan(lo, hi, color="#eeeeee", zorder=0)
    ax2.semilogy(xs[view], np.maximum(gap[view], 1e-6), color=D_COLOUR)
    ax2.set_xlim(-4, 4)
    ax2.set_xlabel("x")
    ax2.set_title("|D - D*|; grey: support, (p_data + p_g)/2 ≥ 0.01", fontsize=9)
    steps = np.arange(1, len(losses) + 1)
    w = max(1, len(losses) // 100)
    smooth = np.convolve(losses, np.ones(w) / w, mode="valid")
    ax3.plot(steps[w - 1:], smooth, color=D_COLOUR, label="D's loss (running mean)")
    ax3.axhline(-value, color="grey", ls="--", label=f"-V(D*, G) = log 4 - 2 JSD = {-value:.4f}")
    ax3.set_ylim(-value - 0.05, max(math.log(4.0), -value + 0.3))
    ax3.set_xlabel("D step")
    ax3.set_title("D's cross-entropy loss = -V(D, G)", fontsize=9)
    ax3.legend(loc="upper right", fontsize=7)
    save_figure(fig, path)
