"""AC-GAN on MNIST (Odena et al. 2017) beside the conditional DCGAN: how often a sample shows the class asked for,
FID, and how varied the samples of one class are. The model zoo's AC-GAN row and picture.

    python bench/zoo_acgan.py --data-dir DATA [--steps N] [--seeds 0 1 2] [--out bench/results/zoo-acgan.json]
                              [--figures docs/zoo]

Per seed, two runs of the same length on full MNIST: `--method acgan --conditional` and the conditional DCGAN
`--conditional` (both with the conditional images' recipe: mode seeking 0.3), each scored with
`gankit evaluate` on --eval-n samples in equal class shares: label accuracy by the shipped MNIST classifier (the
bar: at least 97 %), FID, precision/recall; and per-class diversity (gankit.evaluation.diversity: mean pixel
distance between samples of one class over that of real test digits of the class, 1 = as varied as the data).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import machine, training_seconds, write_json  # noqa: E402

import gankit  # noqa: E402
from gankit.data import load_dataset  # noqa: E402
from gankit.data.transforms import as_float  # noqa: E402
from gankit.evaluation.diversity import per_class_diversity  # noqa: E402

VARIANTS = {"acgan": {"method": "acgan"}, "cdcgan": {"method": "gan"}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("GANKIT_DATA"), help="folder with the MNIST IDX files "
                    "(default: $GANKIT_DATA)")
    ap.add_argument("--steps", type=int, default=10000, help="generator updates per run (default: 10000)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--runs", default="runs/zoo-acgan", help="where the runs go")
    ap.add_argument("--out", default="bench/results/zoo-acgan.json")
    ap.add_argument("--figures", help="write the first seed's AC-GAN picture into this folder (e.g. docs/zoo)")
    ap.add_argument("--eval-n", type=int, default=10000, help="samples scored per run (default: 10000)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reuse", action="store_true", help="score finished runs already in --runs")
    ap.add_argument("--score-only", action="store_true", help="train nothing: score the newest checkpoint of each "
                    "run in --runs, at whatever step it is (its step is recorded)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    test = load_dataset("mnist", split="test", data_dir=args.data_dir)
    real_x = as_float(test.x)
    result: dict[str, Any] = {"machine": machine(), "command": "python " + " ".join(sys.argv), "runs": []}
    for seed in args.seeds:
        for name in args.variants:
            out = Path(args.runs) / f"{name}-s{seed}"
            cfg = gankit.TrainConfig(dataset="mnist", data_dir=args.data_dir, conditional=True, steps=args.steps,
                                     seed=seed, out=str(out), progress=False, **VARIANTS[name])
            t0 = time.perf_counter()
            done = (out / "checkpoints" / f"step_{args.steps:07d}.safetensors").exists()
            if not (args.score_only or (args.reuse and done)):
                gankit.train(cfg)
            wall = time.perf_counter() - t0
            scores = gankit.evaluate(out, n=args.eval_n, seed=seed, data_dir=args.data_dir)
            G = gankit.load(out)
            cfg = G.config  # the run's own, which --score-only did not choose
            labels = torch.arange(2000) % 10
            fake = G.sample(2000, labels=labels, seed=seed + 1)
            div = per_class_diversity(fake, labels, real_x, test.y, 10, per_class=200)
            method_flag = "--method acgan " if name == "acgan" else ""
            row = {"variant": name, "seed": seed, "steps": G.step, "batch_size": cfg.batch_size,
                   "mode_seeking": cfg.mode_seeking, "train_s": training_seconds(out, G.step),
                   "wall_s": round(wall, 1),
                   "command": f"gankit train {method_flag}--conditional --dataset mnist --steps {cfg.steps} "
                              f"--seed {seed} --out {out}" + (f" (scored at step {G.step})" if G.step != cfg.steps
                                                              else ""),
                   "label_accuracy": scores["label_accuracy"], "fid": scores["fid"], "recall": scores["recall"],
                   "precision": scores["precision"], "eval_n": args.eval_n,
                   "class_diversity": div["ratio_mean"], "class_diversity_min": div["ratio_min"],
                   "class_diversity_per_class": div["ratios"]}
            if args.figures and name == "acgan" and seed == args.seeds[0]:
                from gankit.viz import save_grid

                Path(args.figures).mkdir(parents=True, exist_ok=True)
                grid = G.sample(100, labels=torch.arange(10).repeat_interleave(10), seed=seed)
                row["figure"] = str(Path(args.figures) / "acgan-classes.png")
                save_grid(grid, row["figure"], nrow=10, scale=2)
            result["runs"].append(row)
            write_json(args.out, result)  # after each run: partial results survive
            print(f"{name} seed {seed}: label accuracy {row['label_accuracy']:.3f}, FID {row['fid']:.1f}, "
                  f"recall {row['recall']:.2f}, class diversity {row['class_diversity']:.2f} "
                  f"(min {row['class_diversity_min']:.2f}); {G.step} steps, {row['train_s']} s", flush=True)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
