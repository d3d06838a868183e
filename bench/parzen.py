"""The Parzen-window log-likelihood of the 2014 GAN paper's Table 1, for real data and for trained runs.

    python bench/parzen.py --data-dir DATA [--runs RUN ...] [--seed 0] [--out bench/results/parzen.json]

Real data first (the first 10,000 MNIST training images as the "samples": what the estimator gives a perfect sampler of
this size), then each run's generator with 10,000 samples (`gankit evaluate RUN --parzen`). Prints a Markdown
table with the paper's numbers beside ours and writes every score with its protocol to --out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import gankit
from gankit.evaluation.evaluate import evaluate_real
from perf import machine

#: Goodfellow et al. 2014, Table 1 (MNIST, Gaussian Parzen window, mean log-likelihood in nats, +- standard error)
PAPER = {"DBN": "138 +- 2", "Stacked CAE": "121 +- 1.6", "Deep GSN": "214 +- 1.1",
         "Adversarial nets": "225 +- 2"}
KEYS = ("parzen_ll", "parzen_ll_se", "parzen_sigma", "parzen_protocol", "parzen_valid_ll")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--runs", nargs="*", default=[], help="run directories to score (MNIST runs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/results/parzen.json")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    real = evaluate_real("mnist", data_dir=args.data_dir, seed=args.seed, parzen=True)
    rows.append({"name": "real MNIST training images", "command": f"gankit evaluate --real --dataset mnist "
                 f"--data-dir DATA --parzen --seed {args.seed}", **{k: real[k] for k in KEYS}})
    for run in args.runs:
        scores = gankit.evaluate(run, n=10000, seed=args.seed, data_dir=args.data_dir, parzen=True)
        cfg = json.loads((Path(run) / "config.json").read_text())
        rows.append({"name": f"gankit {cfg['model']} / {cfg['loss']}{' (cond)' if cfg['conditional'] else ''}, "
                             f"{scores['protocol']['step']} steps", "run": run, "config": cfg,
                     "command": f"gankit evaluate {run} --parzen --seed {args.seed}",
                     "fid": scores.get("fid"), **{k: scores[k] for k in KEYS}})
    runs = f"--runs {' '.join(args.runs)}" if args.runs else ""
    result = {"machine": machine(), "command": f"python bench/parzen.py --data-dir {args.data_dir} {runs}".strip(),
              "seed": args.seed, "paper": PAPER, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("| model | Parzen log-likelihood (nats) | sigma |\n|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['parzen_ll']:.0f} +- {r['parzen_ll_se']:.1f} | {r['parzen_sigma']:.3f} |")
    for name, value in PAPER.items():
        print(f"| {name} (Goodfellow et al. 2014) | {value} | |")


if __name__ == "__main__":
    main()
