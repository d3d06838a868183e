"""The semi-supervised GAN's claim: MNIST test error with 100 labels (10 per class), over label draws (seeds).

    python bench/zoo_sgan.py --data-dir DATA [--seeds 0 1 2 3 4] [--steps N] [--baseline-steps N]
                             [--runs runs/zoo-sgan] [--out bench/results/zoo-sgan.json]

For each seed (the seed draws the labelled subset, the initialisation and the training stream):
  1. `gankit train --method sgan --dataset mnist --labels-per-class 10 --model mlp --seed S` (the method's recipe
     for everything else unless --steps / --lr are given), then D's test error on the 10,000 MNIST test images,
     as `gankit evaluate RUN --json` reports it (`test_error`), and the same at every --curve-every steps from
     the run's checkpoints (`curve`);
  2. the baseline: the same classifier network (gankit.methods.sgan.SGANDiscriminator, the same noise, weight
     norm and data-dependent initialisation) trained on the same 100 labelled images alone, with the same
     optimiser, learning rate, batch size and number of D updates, and its test error.
Salimans et al. (2016), Table 1: 93 +- 6.5 errors of 10,000 (0.93 %) with 100 labels, feature matching.
Writes raw per-seed results with the date, command, machine and wall times to --out (after every seed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

import gankit
from gankit.data import load_dataset
from gankit.data.transforms import as_float
from gankit.checkpoint import list_checkpoints
from gankit.evaluation.evaluate import classifier_test_error
from gankit.methods.sgan import (INIT_BATCH, INIT_DRAW_OFFSET, SGANDiscriminator, classify_error,
                                 labelled_subset)
from gankit.rundir import run_summary
from gankit.training.state import make_optimizer
from perf import machine

PAPER = {"test_error": 0.0093, "test_errors": 93, "test_errors_std": 6.5,
         "source": "Salimans et al. 2016, Table 1 (MNIST, 100 labels, feature matching)"}


def supervised_baseline(cfg: gankit.TrainConfig, train: Any, test: Any, updates: int) -> dict[str, Any]:
    """The SGAN's classifier trained with cross-entropy on the labelled subset alone: no G, no unlabelled data."""
    torch.manual_seed(cfg.seed)
    D = SGANDiscriminator(tuple(train.sample_shape), train.num_classes, cfg.d_width)
    g = torch.Generator().manual_seed(cfg.seed + INIT_DRAW_OFFSET)
    D.data_init(as_float(train.x[torch.randperm(len(train), generator=g)[:INIT_BATCH]]))
    idx = labelled_subset(train.y, train.num_classes, cfg.labels_per_class, cfg.seed)
    x, y = as_float(train.x[idx]), train.y[idx]
    opt = make_optimizer(D.parameters(), cfg.lr_d, cfg)
    draw = torch.Generator().manual_seed(cfg.seed)
    t0 = time.perf_counter()
    D.train()
    for _ in range(updates):
        pick = torch.randint(0, len(idx), (cfg.batch_size,), generator=draw)
        loss = torch.nn.functional.cross_entropy(D(x[pick]), y[pick])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    err = classify_error(D, test.x, test.y)
    return {"test_error": err, "test_errors": round(err * len(test)), "updates": updates,
            "train_s": round(time.perf_counter() - t0, 1)}


def run_seed(seed: int, args: argparse.Namespace, test: Any) -> dict[str, Any]:
    out = Path(args.runs) / f"sgan-s{seed}"
    kw: dict[str, Any] = {}
    if args.steps:
        kw["steps"] = args.steps
    if args.lr:
        kw["lr_g"] = kw["lr_d"] = args.lr
    cfg = gankit.TrainConfig(dataset="mnist", data_dir=args.data_dir, method="sgan", model="mlp",
                             labels_per_class=args.labels_per_class, seed=seed, out=str(out), progress=False,
                             health=False, ckpt_every=args.curve_every, keep_ckpts=10_000, **kw).resolved()
    done = out / "checkpoints" / f"step_{cfg.steps:07d}.safetensors"
    if not (args.reuse and done.exists()):
        gankit.train(cfg)
    train_s = run_summary(out)["last_metrics"]["time_s"]
    G = gankit.load(out)
    scores = classifier_test_error(G, test.x, test.y)
    curve = [{"step": step, "test_error": classifier_test_error(gankit.load(path), test.x, test.y)["test_error"]}
             for step, path in list_checkpoints(out)]
    train = load_dataset("mnist", split="train", data_dir=args.data_dir, compact=True)
    base = supervised_baseline(cfg, train, test, updates=args.baseline_steps or cfg.steps * cfg.d_steps)
    flags = f" --steps {args.steps}" if args.steps else ""
    flags += f" --lr {args.lr}" if args.lr else ""
    return {"seed": seed, "steps": cfg.steps, "batch_size": cfg.batch_size, "lr": cfg.lr_d, "train_s": train_s,
            "command": f"gankit train --method sgan --dataset mnist --data-dir DATA --model mlp --labels-per-class "
                       f"{args.labels_per_class} --seed {seed}{flags} --ckpt-every {args.curve_every} "
                       f"--keep-ckpts 10000 --no-health --out {out}; "
                       f"gankit evaluate {out} --json SCORES (test_error)",
            "sgan": scores, "curve": curve, "supervised_only": base}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("GANKIT_DATA"), help="folder with the MNIST IDX files")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="one label draw each")
    ap.add_argument("--labels-per-class", type=int, default=10)
    ap.add_argument("--steps", type=int, help="training steps (default: the sgan recipe's)")
    ap.add_argument("--lr", type=float, help="learning rate of G and D (default: the sgan recipe's)")
    ap.add_argument("--baseline-steps", type=int, help="updates of the supervised-only baseline (default: as many "
                    "as D's in the SGAN run)")
    ap.add_argument("--curve-every", type=int, default=1000, help="checkpoint (and score) every N steps")
    ap.add_argument("--runs", default="runs/zoo-sgan")
    ap.add_argument("--out", default="bench/results/zoo-sgan.json")
    ap.add_argument("--reuse", action="store_true", help="score finished runs in --runs instead of training again")
    args = ap.parse_args()
    test = load_dataset("mnist", split="test", data_dir=args.data_dir)
    result: dict[str, Any] = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                              "command": "python " + " ".join(sys.argv), "machine": machine(), "paper": PAPER,
                              "seeds": []}
    for seed in args.seeds:
        row = run_seed(seed, args, test)
        result["seeds"].append(row)
        errs = [r["sgan"]["test_error"] for r in result["seeds"]]
        base = [r["supervised_only"]["test_error"] for r in result["seeds"]]
        result["summary"] = {"n_seeds": len(errs), "sgan_test_error_mean": statistics.mean(errs),
                             "sgan_test_error_std": statistics.stdev(errs) if len(errs) > 1 else 0.0,
                             "supervised_only_test_error_mean": statistics.mean(base)}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"seed {seed}: sgan test error {row['sgan']['test_error']:.4f} ({row['sgan']['test_errors']} errors), "
              f"supervised only {row['supervised_only']['test_error']:.4f}; {row['steps']} steps in "
              f"{row['train_s']:.0f} s", flush=True)
    print(json.dumps(result["summary"]))


if __name__ == "__main__":
    main()
