"""The practitioners' tricks on MNIST, each switched against one baseline from the same seed and budget.

The baseline follows the DCGAN advice (Radford et al. 2016) and ganhacks: tanh output with data in [-1, 1], Adam
(2e-4, beta1 0.5), LeakyReLU in D, strided convolutions instead of pooling, no instance noise, no labels, no
label smoothing. Each variant changes exactly one of those (nets: `theory.tricks_nets`), and every variant draws
the same batches, noise and labels from the same seed, so the differences are the trick's alone (up to the
chaos of training: a single seed, so differences of a few FID points are noise, not findings).

Score: FID in the feature space of gankit's shipped MNIST classifier (as `gankit evaluate`), generated samples
against the training images (all of mnist5k; 10,000 of full MNIST), plus the dynamics: mean D(x) and D(G(z)), D's accuracy and G's gradient norm over
the last fifth of training. Data: the built-in mnist5k, or full MNIST with GANKIT_TRICKS_DATASET=mnist (files found
through GANKIT_DATA).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import progress
from ..data import load_dataset
from ..errors import ConfigError
from ..evaluation import metrics
from ..evaluation.classifier import load_classifier
from ..losses import get_loss
from ..regularizers import add_instance_noise, instance_noise_std
from ..torch_utils import eval_mode, grad_norm, seeded, single_thread
from ..viz.figures import new_figure, save_figure
from .records import rounded
from .tricks_nets import NetConfig, SmallD, SmallG

DATASET_ENV = "GANKIT_TRICKS_DATASET"


@dataclass(frozen=True)
class Variant:
    """One run: the baseline with (at most) one trick switched."""

    name: str
    trick: str  # what this row changes, for the table
    output: str = "tanh"
    lr: float = 2e-4
    optimizer: str = "adam"
    d_act: str = "leaky"
    d_down: str = "stride"
    instance_noise: float = 0.0  # initial std, annealed linearly to 0 (regularizers.instance_noise_std)
    conditional: bool = False
    label_smoothing: float = 0.0


VARIANTS: tuple[Variant, ...] = (
    Variant("baseline", "baseline: tanh, lr 2e-4, Adam, LeakyReLU, strided conv"),
    Variant("sigmoid", "sigmoid output, data in [0, 1]", output="sigmoid"),
    Variant("lr-1e-3", "learning rate 1e-3 (G and D)", lr=1e-3),
    Variant("sgd", "SGD (lr 0.01) instead of Adam", optimizer="sgd", lr=0.01),
    Variant("relu", "ReLU instead of LeakyReLU in D", d_act="relu"),
    Variant("maxpool", "3x3 conv + max-pooling instead of strided conv in D", d_down="pool"),
    Variant("instance-noise", "instance noise (std 0.1 annealed to 0)", instance_noise=0.1),
    Variant("labels", "class labels to G and D (conditional)", conditional=True),
    Variant("label-smoothing", "one-sided label smoothing (real target 0.9)", label_smoothing=0.1),
)


def _budget(quick: bool) -> dict[str, int]:
    """--quick only exercises the mechanics: a dozen steps say nothing about a trick."""
    if quick:
        return {"steps": 12, "batch": 16, "n_eval": 200, "every": 4, "n_ref": 1000}
    return {"steps": 800, "batch": 64, "n_eval": 2000, "every": 20, "n_ref": 10_000}


def _dataset() -> str:
    name = os.environ.get(DATASET_ENV, "mnist5k")
    if name not in ("mnist5k", "mnist"):
        raise ConfigError(f"{DATASET_ENV} must be 'mnist5k' or 'mnist', got {name!r}")
    return name


def _optimizer(params: Any, v: Variant) -> torch.optim.Optimizer:
    if v.optimizer == "sgd":
        return torch.optim.SGD(params, lr=v.lr)
    return torch.optim.Adam(params, lr=v.lr, betas=(0.5, 0.999))


def train_variant(v: Variant, x: torch.Tensor, y: torch.Tensor, *, steps: int, batch: int, every: int, seed: int,
                  z_dim: int = 64, bar: Any = None) -> tuple[SmallG, dict[str, list[float]]]:
    """Train one variant on images x [N, 1, 28, 28] in [-1, 1] with labels y [N]; returns G and its curves. `bar`
    (a gankit.progress bar) advances by one per step."""
    bar = bar or progress.silent()
    ncls = 10 if v.conditional else 0
    net_cfg = NetConfig(z_dim=z_dim, output=v.output, d_act=v.d_act, d_down=v.d_down, num_classes=ncls)
    with seeded(seed):
        G, D = SmallG(net_cfg), SmallD(net_cfg)
    opt_g, opt_d = _optimizer(G.parameters(), v), _optimizer(D.parameters(), v)
    loss = get_loss("nonsaturating", label_smoothing=v.label_smoothing)
    data = (x + 1) / 2 if v.output == "sigmoid" else x  # the data's range matches G's output
    gen = torch.Generator().manual_seed(seed)  # batches, z and fake labels: the same draws in every variant
    noise_gen = torch.Generator().manual_seed(seed + 1)  # instance noise only, so it shifts no other draw
    curves: dict[str, list[float]] = {k: [] for k in ("step", "d_real", "d_fake", "acc", "g_grad", "loss_d",
                                                       "loss_g")}
    acc: dict[str, list[float]] = {k: [] for k in curves if k != "step"}
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(data), (batch,), generator=gen)
        real, y_real = data[idx], y[idx]
        z = torch.randn(batch, z_dim, generator=gen)
        y_fake = torch.randint(0, 10, (batch,), generator=gen)
        yr, yf = (y_real, y_fake) if ncls else (None, None)
        std = instance_noise_std(step - 1, steps, v.instance_noise)
        # ---- D phase
        fake = G(z, yf)
        r_logits = D(add_instance_noise(real, std, noise_gen), yr)
        f_logits = D(add_instance_noise(fake.detach(), std, noise_gen), yf)
        loss_d = loss.d_loss(r_logits, f_logits)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # ---- G phase (the same fakes, against the updated D)
        loss_g = loss.g_loss(D(add_instance_noise(fake, std, noise_gen), yf))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        g_grad = float(grad_norm(G, dtype=torch.float64))
        opt_g.step()
        # ---- log (means over the interval)
        with torch.no_grad():
            dr, df = torch.sigmoid(r_logits), torch.sigmoid(f_logits)
            row = {"d_real": float(dr.mean()), "d_fake": float(df.mean()),
                   "acc": 0.5 * float((dr > 0.5).float().mean() + (df < 0.5).float().mean()),
                   "g_grad": g_grad, "loss_d": float(loss_d), "loss_g": float(loss_g)}
        for k, val in row.items():
            acc[k].append(val)
        bar.update(1)
        if step % every == 0 or step == steps:
            curves["step"].append(step)
            for k in acc:
                curves[k].append(float(np.mean(acc[k])))
                acc[k] = []
    return G, curves


@torch.no_grad()
def sample(G: SmallG, n: int, seed: int) -> torch.Tensor:
    """n samples in [-1, 1] (sigmoid outputs mapped back), in eval mode, labels cycling 0..9 when conditional.
    # [n, 1, 28, 28]"""
    z = torch.randn(n, G.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    y = torch.arange(n) % 10 if G.cfg.num_classes else None
    with eval_mode(G):
        x = G(z, y)
    return x * 2 - 1 if G.cfg.output == "sigmoid" else x


def _tail(values: list[float], frac: float = 0.2) -> float:
    k = max(1, int(round(len(values) * frac)))
    return float(np.mean(values[-k:]))


@single_thread()  # small convs at batch 64: on a shared 2-core machine a second thread mostly waits
def run(out: Path, *, quick: bool, seed: int) -> dict[str, Any]:
    b = _budget(quick)
    name = _dataset()
    ds = load_dataset(name)
    x, y = ds.x, ds.y  # [N, 1, 28, 28] in [-1, 1], [N]
    net = load_classifier(name)
    ref = x if len(x) <= b["n_ref"] else x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
                                           [:b["n_ref"]]]
    ref_feats, _ = net.embed(ref)  # the training images (at most n_ref of them) in the classifier's features
    eval_seed = seed + 777

    def fid_of(G: SmallG) -> float:
        feats, _ = net.embed(sample(G, b["n_eval"], eval_seed))
        return metrics.fid(feats, ref_feats)

    rows: list[dict[str, Any]] = []
    strips: dict[str, torch.Tensor] = {}
    curves_all: dict[str, dict[str, list[float]]] = {}
    fid_init = None
    bar = progress.bar(len(VARIANTS) * b["steps"], "explain tricks", unit="step")
    for v in VARIANTS:
        if v.name == "baseline":  # the untrained baseline generator: the score training must beat
            with seeded(seed):
                G0 = SmallG(NetConfig(z_dim=64))
            fid_init = fid_of(G0)
        G, curves = train_variant(v, x, y, steps=b["steps"], batch=b["batch"], every=b["every"], seed=seed, bar=bar)
        fid = fid_of(G)
        strips[v.name] = sample(G, 10, eval_seed)
        curves_all[v.name] = curves
        rows.append({"variant": v.name, "trick": v.trick, "fid": rounded(fid, 5),
                     **{k: rounded(_tail(curves[k]), 4) for k in ("d_real", "d_fake", "acc", "g_grad")},
                     "settings": asdict(v)})

    bar.close()
    base = rows[0]
    for r in rows:
        r["fid_vs_baseline"] = rounded(r["fid"] - base["fid"], 4)
    figures = ["tricks-samples.png", "tricks-dynamics.png"]
    _samples_figure(strips, out / figures[0])
    _dynamics_figure(curves_all, rows, out / figures[1])

    finite = all(math.isfinite(r["fid"]) and all(math.isfinite(r[k]) for k in ("d_real", "d_fake", "acc",
                                                                               "g_grad")) for r in rows)
    by = {r["variant"]: r for r in rows}
    claims = [
        {"claim": f"All {len(VARIANTS)} variants trained to the end with finite FID and dynamics",
         "value": len(rows), "holds": bool(finite and len(rows) == len(VARIANTS))},
        {"claim": f"Training helps: the baseline's FID after {b['steps']} steps is below its untrained generator's",
         "value": [base["fid"], rounded(fid_init, 5)], "holds": bool(base["fid"] < fid_init)},
        {"claim": "Adam beats plain SGD at the same budget (lower FID)",
         "value": [base["fid"], by["sgd"]["fid"]], "holds": bool(base["fid"] < by["sgd"]["fid"])},
    ]
    table = _markdown(rows, fid_init)
    better = [r["variant"] for r in rows[1:] if r["fid"] < base["fid"]]
    worse = [r["variant"] for r in rows[1:] if r["fid"] >= base["fid"]]
    summary = (
        f"One baseline DCGAN-like net on {name} ({b['steps']} steps at batch {b['batch']}, seed {seed}) against "
        f"{len(VARIANTS) - 1} variants that each switch one trick, all from the same initial weights and the same "
        f"batches and noise. FID (shipped MNIST classifier's features, {b['n_eval']} samples against the training "
        f"images): baseline {base['fid']:.1f} (untrained: {fid_init:.1f}). Lower than the baseline: "
        f"{', '.join(better) or 'none'}; higher: {', '.join(worse) or 'none'}. One seed and a short budget: "
        "read the larger gaps, not the ordering of close ones. D/G dynamics over the last fifth of training "
        "(mean D(x), D(G(z)), D's accuracy, ‖∇G‖) are in the table.\n\n" + table)
    return {"dataset": name, "budget": b, "fid_untrained": rounded(fid_init, 5), "rows": rows,
            "table_markdown": table,
            "curves": {k: {kk: [rounded(vv, 4) for vv in vals] for kk, vals in c.items()}
                       for k, c in curves_all.items()},
            "figures": figures, "claims": claims, "summary": summary}


def _markdown(rows: list[dict[str, Any]], fid_init: float) -> str:
    lines = ["| variant | what changes | FID | Δ vs baseline | D(x) | D(G(z)) | D acc. | ‖∇G‖ |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        delta = "" if r["variant"] == "baseline" else f"{r['fid_vs_baseline']:+.1f}"
        lines.append(f"| {r['variant']} | {r['trick']} | {r['fid']:.1f} | {delta} | {r['d_real']:.2f} | "
                     f"{r['d_fake']:.2f} | {r['acc']:.2f} | {r['g_grad']:.2g} |")
    lines.append(f"| (untrained G) | | {fid_init:.1f} | | | | | |")
    return "\n".join(lines)


def _samples_figure(strips: dict[str, torch.Tensor], path: Path) -> None:
    """One row of 10 samples per variant (the same noise; conditional: classes 0..9)."""
    fig = new_figure(8.5, 0.95 * len(strips) + 0.3)
    axes = fig.subplots(len(strips), 1)
    for ax, (name, imgs) in zip(np.atleast_1d(axes), strips.items()):
        row = torch.cat(list(((imgs[:, 0] + 1) / 2).clamp(0, 1)), dim=1).numpy()  # [28, 280]
        ax.imshow(row, cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    save_figure(fig, path)


def _dynamics_figure(curves: dict[str, dict[str, list[float]]], rows: list[dict[str, Any]], path: Path) -> None:
    """Small multiples: mean D(x) and D(G(z)) per variant over training, FID in each title."""
    n = len(curves)
    cols = 3
    fig = new_figure(12, 2.6 * math.ceil(n / cols))
    axes = np.atleast_2d(fig.subplots(math.ceil(n / cols), cols))
    fids = {r["variant"]: r["fid"] for r in rows}
    for ax, (name, c) in zip(axes.flat, curves.items()):
        ax.plot(c["step"], c["d_real"], label="D(x)", color="#1f77b4")
        ax.plot(c["step"], c["d_fake"], label="D(G(z))", color="#d62728")
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{name}: FID {fids[name]:.1f}", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.legend(fontsize=7, loc="center right")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    save_figure(fig, path)
