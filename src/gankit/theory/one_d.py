"""The 1-D picture of Goodfellow et al. 2014, Figure 1: p_data, p_g and D(x) on one axis as a GAN trains.

Data N(4, 0.5^2). G is an MLP from z ~ N(0, I_4), started with p_g narrow and centred at x = 2, so it overlaps
the data a little, as in panel (a) of the paper. D is an MLP on standardised x. Both train by Algorithm 1 with
k = 1 and Adam, the non-saturating G loss, and learning rates held for the first half then decayed linearly
to 5% so the game settles instead of orbiting the equilibrium.

Panels, following the paper's caption: (a) early in training; (b) the same G with D trained on alone until it
is close to D* = p_data / (p_data + p_g); (c) after more G updates p_g has moved toward the data, guided by D's
slope; (d) the end: p_g ≈ p_data and D(x) ≈ 1/2. p_g is drawn as a kernel density estimate of 20,000 samples.

Numbers over training: JS(p_data, p_g) (`gankit.evaluation.metrics.jsd_1d`: G's samples binned against the
exact normal mass per bin), the mean |D(x) - 1/2| under p_data (by integration on a grid), and
V(D, G) = E_data log D(x) + E_z log(1 - D(G(z))) (the data term integrated, the G term a 20,000-sample mean).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import torch

from .. import progress
from ..evaluation.metrics import jsd_1d
from ..torch_utils import single_thread
from ..viz import save_gif
from ..viz.figures import figure_to_array, new_figure, save_figure
from .colours import DATA_COLOUR, DSTAR_COLOUR, D_COLOUR, GEN_COLOUR
from .densities import LOG4, grid, integrate, kde_1d, normal_pdf, optimal_d
from .records import rounded
from .toy1d import Toy1D, Toy1DConfig, train_d_fixed_g

MU, SIGMA = 4.0, 0.5
X_LO, X_HI = 0.5, 7.0
N_EVAL = 20_000  # generator samples per measurement
EVAL_SEED = 12_345  # the measurement noise stream, apart from training's


def _budget(quick: bool) -> dict[str, int]:
    if quick:
        return {"steps": 400, "frames": 8, "d_only_steps": 300}
    return {"steps": 3000, "frames": 40, "d_only_steps": 1500}


def _state(gan: Toy1D, x: torch.Tensor, p_data: torch.Tensor) -> dict[str, Any]:
    """Everything one panel or one point of the curves needs, measured on G's evaluation samples."""
    g = gan.sample(N_EVAL, EVAL_SEED)
    logit = gan.d_logit(x)
    d = torch.sigmoid(logit)
    log_d_real = -torch.nn.functional.softplus(-logit)  # log D(x), finite where D rounds to 0
    value = integrate(p_data * log_d_real, x) - torch.nn.functional.softplus(gan.d_logit(g)).mean().item()
    return {"samples": g, "d": d, "p_g": kde_1d(g, x), "jsd": jsd_1d(g, MU, SIGMA), "value": value,
            "d_dev": integrate(p_data * (d - 0.5).abs(), x)}


def _draw(ax: Any, x: torch.Tensor, p_data: torch.Tensor, st: dict[str, Any], title: str,
          d_star: torch.Tensor | None = None) -> None:
    xs = x.numpy()
    ax.plot(xs[::40], p_data.numpy()[::40], ".", color=DATA_COLOUR, ms=4, label="p_data")
    ax.plot(xs, st["p_g"].numpy(), "-", color=GEN_COLOUR, lw=1.8, label="p_g")
    ax.plot(xs, st["d"].numpy(), "--", color=D_COLOUR, lw=1.8, label="D(x)")
    if d_star is not None:  # D* is a ratio of densities: drawn only where the mixture has mass
        shown = torch.where(0.5 * (p_data + st["p_g"]) > 1e-3, d_star, torch.full_like(d_star, float("nan")))
        ax.plot(xs, shown.numpy(), ":", color=DSTAR_COLOUR, lw=2.0, label="D*(x)")
    ax.axhline(0.5, color="grey", lw=0.6)
    ax.set_xlim(X_LO, X_HI)
    ax.set_ylim(0, max(1.05, float(st["p_g"].max()) * 1.05))
    ax.set_xlabel("x")
    ax.set_title(title, fontsize=9)


@single_thread()
def run(out: Path, *, quick: bool, seed: int) -> dict[str, Any]:
    b = _budget(quick)
    steps = b["steps"]
    x = grid(X_LO, X_HI, 1301)
    p_data = normal_pdf(x, MU, SIGMA)
    gan = Toy1D(Toy1DConfig(mu=MU, sigma=SIGMA, z_dim=4, g_init_mean=2.0, g_init_scale=3.0, seed=seed))

    every = max(1, steps // b["frames"])
    panel_steps = {"a": 15, "c": 100, "d": steps}  # (a) and (c) early, where the paper's story happens
    history: dict[str, list[float]] = {"step": [], "jsd": [], "value": [], "d_dev": []}
    panels: dict[str, tuple[dict[str, Any], str, torch.Tensor | None]] = {}
    frames = []
    bar = progress.bar(steps, "explain one-d", unit="step")
    for step in range(steps + 1):
        if step % every == 0 or step in panel_steps.values():
            st = _state(gan, x, p_data)
            for key, val in (("step", step), ("jsd", st["jsd"]), ("value", st["value"]), ("d_dev", st["d_dev"])):
                history[key].append(val)
            if step % every == 0:
                fig = new_figure(6.4, 3.4)
                ax = fig.subplots()
                _draw(ax, x, p_data, st, f"step {step}: JS = {st['jsd']:.3f}, V(D,G) = {st['value']:.3f}")
                ax.legend(loc="upper left", fontsize=7)
                frames.append(figure_to_array(fig))
            if step == panel_steps["a"]:
                panels["a"] = (st, f"(a) step {step}: D partly accurate", None)
                panels["b"] = _panel_b(gan, x, p_data, st, b["d_only_steps"], seed)
            if step == panel_steps["c"]:
                panels["c"] = (st, f"(c) step {step}: p_g moved toward the data", None)
            if step == steps:
                panels["d"] = (st, f"(d) step {step}: p_g ≈ p_data, D ≈ 1/2", None)
        if step == steps:
            break
        gan.scale_lr(min(1.0, 2.0 * (1.0 - step / steps) + 0.05))  # hold, then decay linearly to 5%
        gan.d_step()
        gan.g_step()
        bar.update(1)
    bar.close()

    fig = new_figure(14, 3.4)
    axes = fig.subplots(1, 4)
    for ax, key in zip(axes, "abcd"):
        st, title, d_star = panels[key]
        _draw(ax, x, p_data, st, title, d_star)
    axes[1].legend(loc="upper left", fontsize=7)
    save_figure(fig, out / "one-d.png")
    save_gif(frames, out / "one-d.gif", duration_ms=250)
    _curves(history, out / "one-d-curves.png")

    final = panels["d"][0]
    jsd0, jsd1 = history["jsd"][0], final["jsd"]
    claims = [
        {"claim": "JS(p_data, p_g) falls over training (final below a quarter of the initial value and below 0.1)",
         "value": rounded(jsd1, 4), "holds": bool(jsd1 < 0.25 * jsd0 and jsd1 < 0.1)},
        {"claim": "At the end D(x) is about 1/2 on the data's support: E_{x~p_data}|D(x) - 1/2| < 0.05",
         "value": rounded(final["d_dev"], 4), "holds": bool(final["d_dev"] < 0.05)},
        {"claim": "V(D, G) approaches -log 4 = -1.3863 (within 0.01 at the end)",
         "value": rounded(final["value"], 5), "holds": bool(abs(final["value"] + LOG4) < 0.01)},
        {"claim": "Panel (b): D trained alone on a fixed G approaches D* (mean |D - D*| under p_data + p_g < 0.1)",
         "value": rounded(panels["b"][0]["dstar_gap"], 4), "holds": bool(panels["b"][0]["dstar_gap"] < 0.1)},
    ]
    summary = (
        f"A 1-D GAN learns N({MU:g}, {SIGMA:g}²) in {steps} steps. The generator starts narrow and to the left of "
        f"the data, and D gives its samples low scores. D's slope then pushes p_g right (panel c). At the end p_g "
        f"lies on p_data and D(x) is flat at 1/2. JS(p_data, p_g) falls from {jsd0:.3f} to {jsd1:.4f} nats. "
        f"V(D, G) ends at {final['value']:.4f}, against -log 4 = {-LOG4:.4f}. V ≈ -log 4 whenever D ≈ 1/2, so "
        "only JS shows that p_g matches p_data. The learning rates decay over the second half of training. "
        "Before that, the two players can orbit the equilibrium, and JS rises and falls (see the curves). "
        "Panel (b) trains D alone on a frozen early generator, and D nears D* = p_data / (p_data + p_g): "
        "this is the inner loop of Algorithm 1 run to convergence.")
    return {
        "figures": ["one-d.png", "one-d.gif", "one-d-curves.png"],
        "claims": claims,
        "summary": summary,
        "mu": MU, "sigma": SIGMA, "steps": steps,
        "jsd_initial": rounded(jsd0), "jsd_final": rounded(jsd1),
        "d_mean_abs_dev_final": rounded(final["d_dev"]),
        "value_final": rounded(final["value"]), "minus_log4": rounded(-LOG4),
        "value_gap_final": rounded(abs(final["value"] + LOG4)),
        "panel_steps": panel_steps,
        "panel_b_mean_abs_gap_to_dstar": rounded(panels["b"][0]["dstar_gap"]),
        "history": {k: [rounded(v, 5) if isinstance(v, float) else v for v in vals] for k, vals in history.items()},
    }


def _panel_b(gan: Toy1D, x: torch.Tensor, p_data: torch.Tensor, st: dict[str, Any], d_steps: int,
             seed: int) -> tuple[dict[str, Any], str, torch.Tensor]:
    """Train a copy of D alone against the frozen G of panel (a); compare it with D* from p_g's density estimate."""
    D = copy.deepcopy(gan.D)
    rng = torch.Generator().manual_seed(seed + 7)
    G = gan.G

    def real(n: int) -> torch.Tensor:
        return MU + SIGMA * torch.randn(n, 1, generator=rng)

    def fake(n: int) -> torch.Tensor:
        with torch.no_grad():
            return G(torch.randn(n, gan.cfg.z_dim, generator=rng))

    train_d_fixed_g(D, real, fake, steps=d_steps, batch_size=512, lr=2e-3)
    with torch.no_grad():
        d = torch.sigmoid(D(x.float().reshape(-1, 1))).reshape(-1).double()
    d_star = optimal_d(p_data, st["p_g"])
    mix = 0.5 * (p_data + st["p_g"])
    gap = integrate(mix * (d - d_star).abs(), x) / integrate(mix, x)
    return ({**st, "d": d, "dstar_gap": gap}, "(b) D trained alone → D*", d_star)


def _curves(h: dict[str, list[float]], path: Path) -> None:
    fig = new_figure(12, 3.2)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ax1.semilogy(h["step"], [max(v, 1e-5) for v in h["jsd"]], color=GEN_COLOUR)
    ax1.axhline(math.log(2), color="grey", lw=0.6, ls="--")
    ax1.set_title("JS(p_data, p_g) [nats]; log 2 dashed", fontsize=9)
    ax2.plot(h["step"], h["value"], color=D_COLOUR)
    ax2.axhline(-LOG4, color="grey", lw=0.8, ls="--")
    ax2.set_title("V(D, G); -log 4 dashed", fontsize=9)
    ax3.plot(h["step"], h["d_dev"], color=DATA_COLOUR)
    ax3.set_title("E_p_data |D(x) - 1/2|", fontsize=9)
    for ax in (ax1, ax2, ax3):
        ax.set_xlabel("step")
    save_figure(fig, path)
