"""PacGAN's Table 1 protocol on the two mixture toys, with gankit's training options, beside the paper's figures.

    python bench/toys.py --part paper [--data ring grid] [--variants gan pac2 pac3 pac4 unrolled] [--seeds 0-9]
                         [--steps N] [--out bench/results/toys-paper.json] [--figure docs/figures/toys-paper.png]
    python bench/toys.py --part defaults [--seeds 0-9] [--steps N] [--out bench/results/toys-defaults.json]
    python bench/toys.py --replot RESULT.json [RESULT.json ...] --runs RUNS --figure FIGURE.png

--replot draws the scatter figure again from runs kept under --runs (the first seed of each data set and variant
in the result files), sampled with the same noise as the score; nothing is trained.

--part paper: the setting of Lin et al. 2018 (PacGAN), Section 5 / Table 1, as their code configures it
(github.com/fjxmlzn/PacGAN, synthetic_data_experiments/*/config.py and pacgan_task.py):
- data: 2D-ring, 8 Gaussians on the unit circle, std 0.01; 2D-grid, 25 Gaussians on {-4, -2, 0, 2, 4}^2, std 0.05;
  a fixed training set of 100,000 points;
- G: z ~ N(0, I_2) -> 4 x (Linear 400 without bias, BatchNorm, ReLU) -> Linear 2; D: 3 x LinearMaxout (200 units,
  5 pieces) -> Linear 1; weights N(0, 0.02), biases 0;
- Adam, lr 1e-4, beta1 0.8 (the code's value), batch 100 D inputs (PacGANm: 100 packs of m samples);
- the code trains 400 epochs of 1,000 batches (400,000 updates of each net); on this CPU the run is cut to
  --steps, and the table says so;
- score: 2,500 samples from G (BatchNorm in eval mode); a sample is high quality within 3 std of its nearest centre
  (Euclidean, the code's `dis_thre = 3` on the distance in std units); "modes" counts modes with at least one HQ
  sample (the code's `mode coverage`: numpy.nonzero), "modes20" those with 20 (gankit's stricter rule);
  reverse KL = KL(p_gen || uniform) over the modes, p_gen the HQ samples' histogram.
- unrolled: Metz et al. 2017's unrolled G with K = 5 look-ahead D steps (gankit's `unrolled`), on the vanilla
  GAN's networks and optimiser; the paper's Table 1 has no unrolled row.

--part defaults: gankit's own default recipes (`gankit train --dataset ring8|grid25 --model mlp`) on gankit's toy
data (ring of radius 2, std 0.02, Metz et al.'s; the same grid), scored by the same rules on 2,500 samples of
the EMA generator, as `gankit evaluate` does.

Each result file holds the date, the command, the seeds, the steps and the machine.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.patches import Circle
from torch import Tensor, nn

import gankit
from gankit.config import TrainConfig
from gankit.data import TOY_MODES
from gankit.torch_utils import single_thread
from gankit.viz.plots import square_panel
from perf import machine, write_json

RESULTS = Path(__file__).resolve().parent / "results"

#: Table 1 of Lin et al. 2018 (PacGAN), mean over 10 trials: (modes, high-quality fraction, reverse KL)
PAPER: dict[str, dict[str, tuple[float, float, float]]] = {
    "ring": {"gan": (6.3, 0.982, 0.45), "pac2": (7.9, 0.956, 0.07), "pac3": (7.8, 0.977, 0.10),
             "pac4": (7.8, 0.959, 0.07)},
    "grid": {"gan": (17.3, 0.948, 0.70), "pac2": (23.8, 0.913, 0.13), "pac3": (24.6, 0.942, 0.06),
             "pac4": (24.8, 0.936, 0.04)},
}
VARIANTS: dict[str, dict[str, int]] = {"gan": {"pack": 1}, "pac2": {"pack": 2}, "pac3": {"pack": 3},
                                       "pac4": {"pack": 4}, "unrolled": {"pack": 1, "unrolled": 5},
                                       "minibatch": {"pack": 1, "minibatch_disc": 5}}
LABELS = {"gan": "GAN", "pac2": "PacGAN2", "pac3": "PacGAN3", "pac4": "PacGAN4", "unrolled": "unrolled GAN (K=5)",
          "minibatch": "minibatch discrimination"}
TOY_NAME = {"ring": "ring8", "grid": "grid25"}  # gankit's own toys, for --part defaults
PAPER_STEPS = 400_000  # 400 epochs x 1,000 batches of 100
N_EVAL = 2500


# ---------------------------------------------------------------------------------------------------- data
def centres(data: str) -> tuple[Tensor, float]:
    """The paper's mixture: centres [K, 2] and std."""
    if data == "ring":
        a = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return torch.stack([torch.cos(a), torch.sin(a)], 1).float(), 0.01
    g = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return torch.cartesian_prod(g, g), 0.05


def mixture(data: str, n: int, seed: int) -> Tensor:
    c, std = centres(data)
    gen = torch.Generator().manual_seed(seed)
    k = torch.randint(0, len(c), (n,), generator=gen)
    return c[k] + std * torch.randn(n, 2, generator=gen)  # [n, 2]


# -------------------------------------------------------------------------------------------- the paper's nets
class PaperG(nn.Module):
    """z [N, 2] -> x [N, 2]: four hidden layers of 400, each Linear (no bias) -> BatchNorm -> ReLU."""

    def __init__(self, z_dim: int = 2, width: int = 400, out: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = z_dim
        for _ in range(4):
            layers += [nn.Linear(d, width, bias=False), nn.BatchNorm1d(width), nn.ReLU()]
            d = width
        layers.append(nn.Linear(d, out))
        self.net = nn.Sequential(*layers)
        self.z_dim = z_dim
        _init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class Maxout(nn.Module):
    """Linear to out x pieces units, then the max over each unit's pieces (Goodfellow et al. 2013)."""

    def __init__(self, d_in: int, d_out: int, pieces: int = 5) -> None:
        super().__init__()
        self.lin, self.d_out, self.pieces = nn.Linear(d_in, d_out * pieces), d_out, pieces

    def forward(self, x: Tensor) -> Tensor:
        return self.lin(x).view(x.shape[0], self.d_out, self.pieces).amax(2)  # [N, d_out]


class PaperD(nn.Module):
    """x [N, 2 m] (m samples packed) -> logits [N]: three LinearMaxout layers of 200 units, 5 pieces."""

    def __init__(self, d_in: int, width: int = 200) -> None:
        super().__init__()
        self.net = nn.Sequential(Maxout(d_in, width), Maxout(width, width), Maxout(width, width), nn.Linear(width, 1))
        _init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)


def _init(m: nn.Module) -> None:
    for layer in m.modules():
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


# ---------------------------------------------------------------------------------------------------- scoring
def score(x: Tensor, c: Tensor, std: float) -> dict[str, Any]:
    """PacGAN's rules on samples x [n, 2]: HQ within 3 std of the nearest centre; modes with >= 1 HQ sample (and
    with >= 20); reverse KL of the HQ histogram against uniform, in nats."""
    if not torch.isfinite(x).all():
        return {"modes": 0, "modes20": 0, "hq": 0.0, "kl": float("nan"), "per_mode": [0] * len(c)}
    d2 = torch.cdist(x.double(), c.double()).pow(2)
    best, nearest = d2.min(1)
    hq = best <= (3 * std) ** 2
    per = torch.bincount(nearest[hq], minlength=len(c)).double()
    p = per / per.sum().clamp_min(1)
    kl = float(torch.xlogy(p, p * len(c)).sum()) if per.sum() > 0 else float("nan")
    return {"modes": int((per > 0).sum()), "modes20": int((per >= 20).sum()), "hq": round(float(hq.double().mean()), 4),
            "kl": round(max(kl, 0.0), 4), "per_mode": [int(v) for v in per]}


def summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in ("modes", "modes20", "hq", "kl"):
        v = [r[k] for r in rows if not (isinstance(r[k], float) and math.isnan(r[k]))]
        out[f"{k}_mean"] = round(float(np.mean(v)), 4) if v else float("nan")
        out[f"{k}_std"] = round(float(np.std(v)), 4) if v else float("nan")
    out["n"] = len(rows)
    return out


# ------------------------------------------------------------------------------------------------------- runs
def paper_run(data: str, variant: str, seed: int, steps: int, runs: Path) -> tuple[dict[str, Any], Tensor]:
    opts = VARIANTS[variant]
    m = opts["pack"]
    cfg = TrainConfig(dataset="python:vectors", model="mlp", z_dim=2, steps=steps, batch_size=100 * m, lr_g=1e-4,
                      lr_d=1e-4, beta1=0.8, beta2=0.999, ema=0.0, r1=0.0, mode_seeking=0.0, d_steps=1, seed=seed,
                      pack=m, unrolled=opts.get("unrolled", 0), out=str(runs / f"{data}-{variant}-s{seed}"),
                      progress=False, health=False, log_every=max(1, steps // 10), sample_every=steps,
                      ckpt_every=steps, n_samples=64)
    torch.manual_seed(seed)  # the caller's modules: their init from the run's seed
    G, D = PaperG(), PaperD(2 * m)
    t0 = time.perf_counter()
    res = gankit.train(cfg, data=mixture(data, 100_000, 0), generator=G, discriminator=D)
    train_s = time.perf_counter() - t0
    g = gankit.load(res.out, generator=PaperG(), ema=False)
    with torch.no_grad():
        x = g.sample(N_EVAL, seed=10_000 + seed)
    c, std = centres(data)
    return {**score(x, c, std), "seed": seed, "train_s": round(train_s, 1)}, x


def default_run(data: str, seed: int, steps: int | None, runs: Path) -> tuple[dict[str, Any], Tensor]:
    ds = TOY_NAME[data]
    kw: dict[str, Any] = {"steps": steps} if steps else {}
    cfg = TrainConfig(dataset=ds, model="mlp", seed=seed, out=str(runs / f"default-{ds}-s{seed}"), progress=False,
                      **kw)
    t0 = time.perf_counter()
    res = gankit.train(cfg)
    train_s = time.perf_counter() - t0
    g = gankit.load(res.out)
    with torch.no_grad():
        x = g.sample(N_EVAL, seed=10_000 + seed)
    c, std = TOY_MODES[ds]
    return {**score(x, c, std), "seed": seed, "train_s": round(train_s, 1), "steps": res.step}, x


def seeds_arg(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def figure(samples: dict[str, dict[str, Tensor]], path: Path, part: str) -> None:
    """Rows: data sets; columns: variants; the first seed's 2,500 samples (red) over the centres' 3-std discs."""
    from gankit.viz.figures import new_figure, save_figure

    datas = list(samples)
    cols = list(next(iter(samples.values())))
    fig = new_figure(2.4 * len(cols), 2.4 * len(datas))
    axes = np.atleast_2d(fig.subplots(len(datas), len(cols)))
    for i, data in enumerate(datas):
        if part == "paper":
            c, std = centres(data)
        else:
            c, std = TOY_MODES[TOY_NAME[data]]
        lim = float(c.abs().max()) * 1.3
        for j, v in enumerate(cols):
            ax = axes[i, j]
            x = samples[data][v].numpy()
            for cx, cy in c.tolist():
                ax.add_patch(Circle((cx, cy), 3 * std, color="#9ecae1", zorder=0))
            ax.scatter(x[:, 0], x[:, 1], s=1, c="#d62728", alpha=0.4, linewidths=0)
            square_panel(ax, lim)
            if i == 0:
                ax.set_title(LABELS.get(v, v), fontsize=9)
            if j == 0:
                ax.set_ylabel(data, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)


def replot(results: list[str], runs: Path, path: Path) -> None:
    samples: dict[str, dict[str, Tensor]] = {}
    part = "paper"
    for f in results:
        res = json.loads(Path(f).read_text())
        part = res["part"]
        seed = res["seeds"][0]
        for data, rows in res["table"].items():
            for v in rows:
                name = f"{data}-{v}-s{seed}" if part == "paper" else f"default-{TOY_NAME[data]}-s{seed}"
                g = gankit.load(runs / name, generator=PaperG() if part == "paper" else None, ema=part != "paper")
                with torch.no_grad():
                    samples.setdefault(data, {})[v] = g.sample(N_EVAL, seed=10_000 + seed)
    figure(samples, path, part)
    print(f"wrote {path}")


@single_thread()
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--replot", nargs="+", metavar="RESULT", help="draw --figure from the runs of these result files")
    p.add_argument("--part", choices=("paper", "defaults"))
    p.add_argument("--data", nargs="+", choices=("ring", "grid"), default=["ring", "grid"])
    p.add_argument("--variants", nargs="+", choices=tuple(VARIANTS), default=["gan", "pac2", "pac3", "pac4",
                                                                             "unrolled"])
    p.add_argument("--seeds", type=seeds_arg, default=list(range(10)))
    p.add_argument("--steps", type=int, help="G updates per run (paper: 400,000; defaults: the recipe's)")
    p.add_argument("--runs", default="runs/toys", help="where the run folders go (not kept)")
    p.add_argument("--out", help="result JSON (default: bench/results/toys-PART.json)")
    p.add_argument("--figure", help="scatter figure of the first seed's samples (PNG)")
    a = p.parse_args()
    if a.replot:
        if not a.figure:
            p.error("--replot needs --figure")
        replot(a.replot, Path(a.runs), Path(a.figure))
        return
    if not a.part:
        p.error("--part is required (or --replot)")
    if a.part == "paper" and not a.steps:
        p.error("--part paper needs --steps (give the budget explicitly: the paper's is 400,000)")
    runs = Path(a.runs)
    out = Path(a.out) if a.out else RESULTS / f"toys-{a.part}.json"
    variants = a.variants if a.part == "paper" else ["default"]
    result: dict[str, Any] = {
        "command": "python " + " ".join(sys.argv), "seeds": a.seeds, "part": a.part,
        "steps": a.steps if a.steps else "recipe", "paper_steps": PAPER_STEPS if a.part == "paper" else None,
        "eval_samples": N_EVAL, "machine": machine(), "paper": PAPER if a.part == "paper" else None, "table": {}}
    samples: dict[str, dict[str, Tensor]] = {}
    for data in a.data:
        result["table"][data] = {}
        samples[data] = {}
        for v in variants:
            rows = []
            for seed in a.seeds:
                row, x = (paper_run(data, v, seed, a.steps, runs) if a.part == "paper"
                          else default_run(data, seed, a.steps, runs))
                rows.append(row)
                if seed == a.seeds[0]:
                    samples[data][v] = x
                print(f"{data} {v} seed {seed}: modes {row['modes']} (>=20 HQ: {row['modes20']}), HQ {row['hq']:.3f}, "
                      f"KL {row['kl']}, {row['train_s']} s", flush=True)
                result["table"][data][v] = {"runs": rows, **summary(rows)}
                write_json(out, result)  # after every run: an interrupted table keeps what it measured
    if a.figure:
        figure(samples, Path(a.figure), a.part)
        result["figure"] = a.figure
    write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
