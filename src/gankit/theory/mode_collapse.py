"""Mode collapse on ring8 and grid25: the vanilla GAN against four remedies, over several seeds.

- vanilla: MLP G and D, non-saturating loss, Adam, no regulariser (G may put its mass on a few modes: any mode
  D has not learnt to reject is a good place for all of G's samples, and D's gradient says nothing about the
  modes G is missing);
- minibatch discrimination (Salimans et al. 2016): D sees, per sample, how close it is to the other samples of
  its batch, so a collapsed batch is easy to spot (gankit's `--minibatch-disc` features, `models.minibatch`);
- PacGAN (Lin et al. 2018): D judges m = 2 samples at once, concatenated; a pack from a collapsed G lacks the
  variety of a real pack (gankit's `--pack` grouping, `models.packing`);
- WGAN-GP (Gulrajani et al. 2017): a critic with a gradient penalty and 5 critic steps per G step, whose gradient
  stays informative away from the data;
- unrolled D (Metz et al. 2017): G's gradient flows through k = 5 look-ahead Adam steps of D, so G anticipates
  how D will react to a collapse.

Every method shares the nets and budget (`theory.toy2d`); the seeds train side by side. The optimiser is Metz et
al.'s for these toys, Adam at 1e-4 for both nets (beta1 0.5): there the vanilla GAN shows the textbook failure,
one mode at a time, hopping from mode to mode. (At 1e-3, in exploratory runs, it spread around the ring instead.)
The score is the mode protocol of VEEGAN / PacGAN (`evaluation.metrics.mode_stats`, 2,500 samples): a sample is
high quality (HQ) within 3 std of its nearest centre, and a mode counts when it holds at least 20 HQ samples.
"Visited" counts the modes a seed held at any of the kept snapshots: a G that hops visits many modes but holds few.

Beside each remedy the lab states whether it ends holding more modes than the vanilla GAN, with the papers' figure
(`PAPER`) and how this setup differs from theirs: PacGAN's Table 1 trains 400,000 updates of bigger nets (G 4 x 400
with BatchNorm, D 3 x 200 maxout) on a unit-radius ring of std 0.01 and counts a mode with a single HQ sample;
`bench/toys.py` runs that protocol itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import progress
from ..data import TOY_MODES, load_dataset
from ..evaluation.metrics import mode_stats
from ..torch_utils import single_thread
from ..viz.figures import new_figure, save_figure
from ..viz.plots import square_panel
from .records import rounded
from .toy2d import METHODS, METHOD_LABELS, ToyConfig, train_toy

DATASETS = ("ring8", "grid25")
LIMITS = {"ring8": 2.6, "grid25": 5.2}


LR = 1e-4  # Adam, both nets (Metz et al. 2017's toy setting)
SNAPSHOTS = 8  # snapshots after step 0, evenly spaced: what "visited" is counted over
FIGURE_COLUMNS = 5


#: PacGAN's Table 1 (Lin et al. 2018; 10 trials): method -> data -> (modes, high-quality fraction). Their GAN and
#: PacGAN2 rows; Table 1 has no minibatch-discrimination, WGAN-GP or unrolled row, and Metz et al. (unrolled) and
#: Salimans et al. (minibatch discrimination) report no such count for these toys.
PAPER: dict[str, dict[str, tuple[float, float]]] = {
    "vanilla": {"ring8": (6.3, 0.982), "grid25": (17.3, 0.948)},
    "pacgan": {"ring8": (7.9, 0.956), "grid25": (23.8, 0.913)},
}
#: how this lab's setup differs from the papers', said beside a remedy that does not help here
SETUP_GAP = ("this lab trains {steps:,} steps of width-128 MLPs at Adam 1e-4, where PacGAN's Table 1 trains 400,000 "
             "updates of a 4 x 400 BatchNorm G against a 3 x 200 maxout D, on a unit-radius ring of std 0.01 (the "
             "same ratio as ring8's 2 / 0.02), and counts a mode with one high-quality sample rather than 20")
REMEDIES = ("minibatch", "pacgan", "unrolled")


def _budget(quick: bool) -> dict[str, Any]:
    if quick:  # exercises the mechanics; sixty steps are far too few to place samples within 3 std
        return {"steps": 64, "seeds": 2, "batch": 64, "unroll": 2}
    return {"steps": 4000, "seeds": 5, "batch": 256, "unroll": 5}


def _held(x: torch.Tensor, centres: torch.Tensor, std: float) -> set[int]:
    """The modes that samples x [n, 2] hold by the protocol (at least 20 HQ samples)."""
    return {i for i, c in enumerate(mode_stats(x, centres, std)["per_mode"]) if c >= 20}


@single_thread()
def run(out: Path, *, quick: bool, seed: int) -> dict[str, Any]:
    b = _budget(quick)
    seeds = tuple(seed + i for i in range(b["seeds"]))
    snaps = tuple(b["steps"] * i // SNAPSHOTS for i in range(SNAPSHOTS + 1))
    table: dict[str, dict[str, Any]] = {}
    figures = []
    bar = progress.bar(len(DATASETS) * len(METHODS) * b["steps"], "explain mode-collapse", unit="step")
    for ds in DATASETS:
        centres, std = TOY_MODES[ds]
        real = load_dataset(ds, split="test", n=2500, seed=seed).x
        ref = mode_stats(real, centres, std)
        table[ds] = {"data": {"modes_mean": ref["modes"], "modes_std": 0.0, "visited_mean": ref["modes"],
                              "hq_mean": rounded(ref["hq"], 4), "hq_std": 0.0}}
        snapshots: dict[str, dict[int, torch.Tensor]] = {}
        for method in METHODS:
            cfg = ToyConfig(dataset=ds, method=method, seeds=seeds, steps=b["steps"], batch_size=b["batch"],
                            lr_g=LR, lr_d=LR, unroll=b["unroll"], d_steps=5 if method == "wgan-gp" else 1,
                            log_every=max(1, b["steps"] // 20), snapshot_steps=snaps)
            res = train_toy(cfg, bar)
            modes = [f["modes"] for f in res.final]
            hq = [f["hq"] for f in res.final]
            held = [[sorted(_held(res.snapshots[st][k], centres, std)) for st in snaps[1:]] for k in range(len(seeds))]
            visited = [len(set().union(*map(set, h))) for h in held]
            table[ds][method] = {"modes": modes, "hq": [rounded(h, 4) for h in hq], "visited": visited,
                                 "held_per_snapshot": held,
                                 "modes_mean": rounded(float(np.mean(modes)), 4),
                                 "modes_std": rounded(float(np.std(modes)), 4),
                                 "visited_mean": rounded(float(np.mean(visited)), 4),
                                 "hq_mean": rounded(float(np.mean(hq)), 4), "hq_std": rounded(float(np.std(hq)), 4)}
            shown = snaps[:: max(1, len(snaps) // (FIGURE_COLUMNS - 1))]
            snapshots[method] = {s: res.snapshots[s][0] for s in shown}  # the first seed
        name = f"mode-collapse-{ds}.png"
        _grid_figure(ds, snapshots, real, out / name)
        figures.append(name)

    bar.close()
    ring = table["ring8"]
    k_ring, k_grid = len(TOY_MODES["ring8"][0]), len(TOY_MODES["grid25"][0])
    verdicts = _remedy_verdicts(table, b["steps"])
    claims = [
        {"claim": "The protocol itself: 2,500 true samples cover every mode with about 98.9% high quality "
                  "(ring8 and grid25)",
         "value": [table["ring8"]["data"]["hq_mean"], table["grid25"]["data"]["hq_mean"]],
         "holds": bool(table["ring8"]["data"]["modes_mean"] == k_ring and table["grid25"]["data"]["modes_mean"] ==
                       k_grid and min(table["ring8"]["data"]["hq_mean"], table["grid25"]["data"]["hq_mean"]) > 0.97)},
        {"claim": "On ring8 the vanilla GAN collapses: at the end it holds at most 2 of the 8 modes, on every seed",
         "value": ring["vanilla"]["modes"],
         "holds": bool(max(ring["vanilla"]["modes"]) <= 2)},
        {"claim": "...and it hops: over training it held more distinct modes than it holds at the end (mean over "
                  "seeds of modes visited at the kept snapshots against modes held at the last)",
         "value": [ring["vanilla"]["visited_mean"], ring["vanilla"]["modes_mean"]],
         "holds": bool(ring["vanilla"]["visited_mean"] > ring["vanilla"]["modes_mean"])},
        *[{"claim": v["claim"], "value": v["value"], "holds": v["holds"]} for v in verdicts],
        {"claim": "On grid25 the vanilla GAN misses modes (mean over seeds below 25)",
         "value": table["grid25"]["vanilla"]["modes_mean"],
         "holds": bool(table["grid25"]["vanilla"]["modes_mean"] < k_grid)},
    ]
    md = _markdown(table)
    summary = (
        f"Each method trained {len(seeds)} seeds for {b['steps']} G steps at batch {b['batch']} with the same MLPs "
        f"(width 128) and Adam ({LR:g} for both nets, beta1 0.5), Metz et al.'s setting for these toys. Below: modes "
        f"held at the end, modes visited (held at any of {SNAPSHOTS} evenly spaced snapshots) and the high-quality "
        f"fraction, mean ± std over seeds, 2,500 samples; a sample is HQ within 3 std of a centre (0.06 on ring8, "
        f"0.15 on grid25; true data scores about 0.99) and a mode is held when it has 20 HQ samples. On ring8 the "
        f"vanilla GAN ended holding {ring['vanilla']['modes_mean']:.1f} of {k_ring} modes but visited "
        f"{ring['vanilla']['visited_mean']:.1f}: it moves from mode to mode instead of covering them, because D's "
        f"gradient only says where the data is more likely than G's samples, which is wherever G is not. "
        + " ".join(v["sentence"] for v in verdicts)
        + " The grids show the first seed's samples over training (rows: methods, columns: G steps).\n\n" + md)
    return {"steps": b["steps"], "batch_size": b["batch"], "seeds": list(seeds), "unroll": b["unroll"],
            "table": table, "table_markdown": md, "figures": figures, "claims": claims, "summary": summary}


def _remedy_verdicts(table: dict[str, dict[str, Any]], steps: int) -> list[dict[str, Any]]:
    """Per remedy and data set: does it end holding more modes than the vanilla GAN (mean over seeds)? A remedy
    that does not is said so, with the paper's figure where there is one and how the setups differ."""
    out = []
    for ds in DATASETS:
        k = len(TOY_MODES[ds][0])
        van = table[ds]["vanilla"]["modes_mean"]
        for m in REMEDIES:
            mine = table[ds][m]["modes_mean"]
            holds = bool(mine > van)
            paper = PAPER.get(m, {}).get(ds)
            paper_van = PAPER["vanilla"][ds]
            cite = (f" (PacGAN's Table 1: {paper[0]:g} of {k} against the GAN's {paper_van[0]:g})" if paper else "")
            if holds:
                sentence = f"On {ds}, {METHOD_LABELS[m]} held {mine:.1f} of {k} modes against the vanilla GAN's {van:.1f}{cite}."
            else:
                sentence = (f"On {ds}, {METHOD_LABELS[m]} did not help: {mine:.1f} of {k} modes against the vanilla "
                            f"GAN's {van:.1f}{cite}; {SETUP_GAP.format(steps=steps)}.")
            out.append({"claim": f"On {ds}, {METHOD_LABELS[m]} ends holding more modes than the vanilla GAN (mean "
                                 f"over seeds){cite}", "value": [mine, van], "holds": holds, "sentence": sentence})
    return out


def _markdown(table: dict[str, dict[str, Any]]) -> str:
    lines = ["| method | ring8 modes (of 8) | ring8 visited | ring8 HQ | grid25 modes (of 25) | grid25 visited | "
             "grid25 HQ |", "|---|---|---|---|---|---|---|"]
    for m in ("data",) + METHODS:
        label = "true data (reference)" if m == "data" else METHOD_LABELS[m]
        cells = []
        for ds in DATASETS:
            r = table[ds][m]
            cells += [f"{r['modes_mean']:.1f} ± {r['modes_std']:.1f}", f"{r['visited_mean']:.1f}",
                      f"{r['hq_mean']:.1%} ± {r['hq_std']:.1%}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for m, figures in PAPER.items():  # the paper's rows: its own setup and budget (see SETUP_GAP)
        cells = []
        for ds in DATASETS:
            modes, hq = figures[ds]
            cells += [f"{modes:g}", "–", f"{hq:.1%}"]
        lines.append(f"| PacGAN's Table 1: {'GAN' if m == 'vanilla' else 'PacGAN2'} (400,000 updates) | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def _grid_figure(ds: str, snapshots: dict[str, dict[int, torch.Tensor]], real: torch.Tensor, path: Path) -> None:
    """Rows: methods; columns: G steps; generated points (red) over the data (blue), first seed."""
    steps = sorted(next(iter(snapshots.values())))
    fig = new_figure(2.1 * len(steps) + 0.8, 2.1 * len(snapshots))
    axes = np.atleast_2d(fig.subplots(len(snapshots), len(steps)))
    lim = LIMITS[ds]
    r = real.numpy()
    for i, (method, snaps) in enumerate(snapshots.items()):
        for j, step in enumerate(steps):
            ax = axes[i, j]
            f = snaps[step].numpy()
            ax.scatter(r[:, 0], r[:, 1], s=1, c="#9ecae1", linewidths=0)
            ax.scatter(f[:, 0], f[:, 1], s=1, c="#d62728", alpha=0.5, linewidths=0)
            square_panel(ax, lim)
            if i == 0:
                ax.set_title(f"step {step}", fontsize=9)
            if j == 0:
                ax.set_ylabel(METHOD_LABELS[method], fontsize=9)
    save_figure(fig, path)
