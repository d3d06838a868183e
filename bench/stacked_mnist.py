"""Stacked MNIST (1,000 modes) in PacGAN's two settings, with gankit's DCGAN and its --pack / --unrolled options.

    python bench/stacked_mnist.py --data-dir DATA --setting veegan [--variants dcgan pac2 pac3 pac4]
                                  [--seeds 0-4] [--steps N] [--n 25600] [--out bench/results/stacked-veegan.json]
    python bench/stacked_mnist.py --data-dir DATA --setting unrolled-quarter|unrolled-half
                                  [--variants dcgan unrolled5 pac4] ...

Settings, as Lin et al. 2018 (PacGAN) configure them (github.com/fjxmlzn/PacGAN, stacked_MNIST_experiments):
- veegan (their Table 2): DCGAN at 28x28x3, z 100, Adam 2e-4 / beta1 0.5, batch 64, 50 epochs of 128,000 stacks
  (100,000 updates), 26,000 samples scored; gankit's DCGAN at width 64 for G and D;
- unrolled-quarter / unrolled-half (their Table 3, Metz et al.'s setting): a small DCGAN G (64-32-16-8 channels)
  against a D of about 1/4 (2-4-8 channels) or 1/2 (4-8-16) its size, z 256, Adam G 1e-4 / D 2e-4, beta1 0.5,
  beta2 0.99, batch 128, 500,000 updates on stacks drawn afresh, 25,600 samples scored. gankit's DCGAN at 28x28
  has two stride-2 stages (G 2w-w, D w-2w channels); here G has w = 32 (64-32) and D w = 4 (4-8, "quarter") or
  w = 8 (8-16, "half"): the same ratios, not the same layers.
Each sample is scored by the shipped MNIST classifier channel by channel (`gankit evaluate`): modes present of
1,000 and KL(generated mode histogram || uniform). Real stacks score 1,000 modes and KL about 0.005.

The papers' budgets (100,000 and 500,000 updates, 10 and 50 seeds) are far beyond a shared CPU; --steps cuts
them, and the result file records the steps actually run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import gankit
from gankit.config import TrainConfig
from gankit.evaluation.evaluate import evaluate_run
from gankit.torch_utils import single_thread
from perf import machine, write_json

RESULTS = Path(__file__).resolve().parent / "results"

#: the settings' TrainConfig values (see the module docstring)
SETTINGS: dict[str, dict[str, Any]] = {
    "veegan": {"width": 64, "d_width": 64, "z_dim": 100, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
               "batch_size": 64},
    "unrolled-quarter": {"width": 32, "d_width": 4, "z_dim": 256, "lr_g": 1e-4, "lr_d": 2e-4, "beta1": 0.5,
                         "beta2": 0.99, "batch_size": 128},
    "unrolled-half": {"width": 32, "d_width": 8, "z_dim": 256, "lr_g": 1e-4, "lr_d": 2e-4, "beta1": 0.5,
                      "beta2": 0.99, "batch_size": 128},
}
PAPER_STEPS = {"veegan": 100_000, "unrolled-quarter": 500_000, "unrolled-half": 500_000}
VARIANTS: dict[str, dict[str, int]] = {"dcgan": {}, "pac2": {"pack": 2}, "pac3": {"pack": 3}, "pac4": {"pack": 4},
                                       "unrolled1": {"unrolled": 1}, "unrolled5": {"unrolled": 5},
                                       "minibatch": {"minibatch_disc": 100}}
#: the papers' figures, (modes, KL): PacGAN's Table 2 (VEEGAN's setting; "DCGAN" is PacGAN's own implementation)
#: and Table 3 (Metz et al.'s setting; DCGAN and unrolled rows as Metz et al. report them, PacDCGAN over 50 runs)
PAPER: dict[str, dict[str, tuple[float, float]]] = {
    "veegan": {"dcgan": (78.9, 4.50), "pac2": (1000.0, 0.06), "pac3": (1000.0, 0.06), "pac4": (1000.0, 0.07)},
    "unrolled-quarter": {"dcgan": (30.6, 5.99), "unrolled1": (65.4, 5.91), "unrolled5": (236.4, 4.67),
                         "pac2": (484.5, 2.61), "pac3": (601.3, 2.00), "pac4": (667.4, 1.81)},
    "unrolled-half": {"dcgan": (628.0, 2.58), "unrolled1": (523.6, 2.44), "unrolled5": (732.0, 1.66),
                      "pac2": (840.7, 1.00), "pac3": (866.6, 0.90), "pac4": (820.2, 1.15)},
}


def seeds_arg(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def one_run(setting: str, variant: str, seed: int, steps: int, n: int, runs: Path,
            data_dir: str | None) -> dict[str, Any]:
    opts = VARIANTS[variant]
    kw = dict(SETTINGS[setting])
    kw["batch_size"] *= opts.get("pack", 1)  # PacGAN keeps the number of D inputs: batch x m samples
    out = runs / f"{setting}-{variant}-s{seed}"
    cfg = TrainConfig(dataset="stacked-mnist", model="dcgan", data_dir=data_dir, steps=steps, seed=seed, ema=0.0,
                      r1=0.0, mode_seeking=0.0, d_steps=1, out=str(out), progress=False,
                      log_every=max(1, steps // 10), sample_every=max(1, steps // 4), ckpt_every=steps, **kw, **opts)
    t0 = time.perf_counter()
    res = gankit.train(cfg)
    train_s = time.perf_counter() - t0
    scores = evaluate_run(res.out, n=n, seed=seed, ema=False, data_dir=data_dir)
    return {"seed": seed, "modes": scores["modes"], "kl": round(float(scores["kl"]), 4), "train_s": round(train_s, 1),
            "run": str(out), "samples": str(out / "samples")}


@single_thread()
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--setting", choices=tuple(SETTINGS), required=True)
    p.add_argument("--variants", nargs="+", choices=tuple(VARIANTS), default=["dcgan", "pac2", "pac3", "pac4"])
    p.add_argument("--seeds", type=seeds_arg, default=list(range(5)))
    p.add_argument("--steps", type=int, help="G updates per run (default: the paper's)")
    p.add_argument("--n", type=int, default=25_600, help="generated samples scored (papers: 25,600 / 26,000)")
    p.add_argument("--data-dir", help="MNIST IDX files (else $GANKIT_DATA)")
    p.add_argument("--runs", default="runs/stacked", help="where the run folders go (not kept)")
    p.add_argument("--out", help="result JSON (default: bench/results/stacked-SETTING.json)")
    a = p.parse_args()
    steps = a.steps or PAPER_STEPS[a.setting]
    out = Path(a.out) if a.out else RESULTS / f"stacked-{a.setting}.json"
    result: dict[str, Any] = {"command": "python " + " ".join(sys.argv), "setting": a.setting, "seeds": a.seeds,
                              "steps": steps, "paper_steps": PAPER_STEPS[a.setting], "n_scored": a.n,
                              "config": SETTINGS[a.setting], "machine": machine(), "paper": PAPER[a.setting],
                              "table": {}}
    for v in a.variants:
        rows = []
        for seed in a.seeds:
            row = one_run(a.setting, v, seed, steps, a.n, Path(a.runs), a.data_dir)
            rows.append(row)
            print(f"{a.setting} {v} seed {seed}: {row['modes']} modes, KL {row['kl']}, {row['train_s']} s", flush=True)
            modes, kl = [r["modes"] for r in rows], [r["kl"] for r in rows]
            result["table"][v] = {"runs": rows, "modes_mean": round(float(np.mean(modes)), 2),
                                  "modes_std": round(float(np.std(modes)), 2), "kl_mean": round(float(np.mean(kl)), 4),
                                  "kl_std": round(float(np.std(kl)), 4), "n": len(rows)}
            write_json(out, result)  # after every run
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
