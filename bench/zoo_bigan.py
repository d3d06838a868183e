"""The BiGAN's claim: 1-nearest-neighbour accuracy on the encoder's features, and reconstructions G(E(x)).

    python bench/zoo_bigan.py --data-dir DATA [--seeds 0] [--steps N] [--runs runs/zoo-bigan]
                              [--out bench/results/zoo-bigan.json] [--figure docs/zoo/bigan.png]

For each seed: `gankit train --method bigan --dataset mnist --model mlp --seed S` (the method's recipe unless
--steps / --lr are given); then E(x) of 10,000 MNIST training images (a seeded draw) and of the 10,000 test images,
and the test images' 1-NN accuracy among the training features by cosine similarity (Donahue et al. 2017, Table 1:
97.39 % for BiGAN on permutation-invariant MNIST). Beside it, the same 1-NN on raw pixels and on E's features of
an untrained encoder (the run's architecture at its initialisation). Reconstructions G(E(x)) of the 10,000 test
images are read by the shipped MNIST classifier (accuracy against the true labels, and on the originals), and the
first seed's grid (originals above reconstructions) is written to --figure. Raw results with the date, command
and machine go to --out (after every seed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

import gankit
from gankit.data import load_dataset
from gankit.evaluation.classifier import load_classifier
from gankit.evaluation.representation import nearest_neighbour_accuracy, reconstruction_scores
from gankit.methods.bigan import BiGANEncoder
from gankit.rundir import run_summary

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zoo_sgan import machine  # noqa: E402

PAPER = {"knn1_accuracy": 0.9739, "source": "Donahue et al. 2017, Table 1 (MNIST, 1NN on BiGAN features)"}
N_TRAIN = 10_000


def figure(G: Any, x: torch.Tensor, path: str, per_row: int = 16, rows: int = 2) -> None:
    """Originals above their reconstructions: `rows` pairs of rows of `per_row` test images."""
    from gankit.viz import save_grid

    with torch.no_grad():
        rec = G(G.encode(x[:per_row * rows])).cpu()
    parts = []
    for r in range(rows):
        parts += [x[r * per_row:(r + 1) * per_row], rec[r * per_row:(r + 1) * per_row]]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_grid(torch.cat(parts), path, nrow=per_row, scale=2)


def run_seed(seed: int, args: argparse.Namespace, train: Any, test: Any, first: bool) -> dict[str, Any]:
    out = Path(args.runs) / f"bigan-s{seed}"
    kw: dict[str, Any] = {}
    if args.steps:
        kw["steps"] = args.steps
    if args.lr:
        kw["lr_g"] = kw["lr_d"] = args.lr
    cfg = gankit.TrainConfig(dataset="mnist", data_dir=args.data_dir, method="bigan", model="mlp", seed=seed,
                             out=str(out), progress=False, health=False, **kw).resolved()
    done = out / "checkpoints" / f"step_{cfg.steps:07d}.safetensors"
    if not (args.reuse and done.exists()):
        gankit.train(cfg)
    train_s = run_summary(out)["last_metrics"]["time_s"]
    G = gankit.load(out)
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:N_TRAIN]
    xtr, ytr = train.x[pick], train.y[pick]
    with torch.no_grad():
        ftr, fte = G.encode(xtr), G.encode(test.x)
        torch.manual_seed(seed)
        untrained = BiGANEncoder(tuple(G.data_shape), cfg.z_dim, cfg.d_width).eval()
        utr, ute = untrained(xtr), untrained(test.x)
    scores = {"knn1_accuracy": nearest_neighbour_accuracy(ftr, ytr, fte, test.y),
              "knn1_accuracy_untrained_encoder": nearest_neighbour_accuracy(utr, ytr, ute, test.y),
              "knn1_accuracy_pixels": nearest_neighbour_accuracy(xtr.flatten(1), ytr, test.x.flatten(1), test.y),
              **reconstruction_scores(G, test.x, test.y, load_classifier("mnist"))}
    if first and args.figure:
        figure(G, test.x, args.figure)
    flags = f" --steps {args.steps}" if args.steps else ""
    flags += f" --lr {args.lr}" if args.lr else ""
    return {"seed": seed, "steps": cfg.steps, "batch_size": cfg.batch_size, "z_dim": cfg.z_dim, "train_s": train_s,
            "command": f"gankit train --method bigan --dataset mnist --data-dir DATA --model mlp --seed {seed}"
                       f"{flags} --no-health --out {out}", **scores}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("GANKIT_DATA"), help="folder with the MNIST IDX files")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--steps", type=int, help="training steps (default: the bigan recipe's)")
    ap.add_argument("--lr", type=float, help="learning rate of G, E and D (default: the bigan recipe's)")
    ap.add_argument("--runs", default="runs/zoo-bigan")
    ap.add_argument("--out", default="bench/results/zoo-bigan.json")
    ap.add_argument("--figure", default="docs/zoo/bigan.png", help="originals above reconstructions ('' for none)")
    ap.add_argument("--reuse", action="store_true", help="score finished runs in --runs instead of training again")
    args = ap.parse_args()
    train = load_dataset("mnist", split="train", data_dir=args.data_dir)
    test = load_dataset("mnist", split="test", data_dir=args.data_dir)
    result: dict[str, Any] = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                              "command": "python " + " ".join(sys.argv), "machine": machine(), "paper": PAPER,
                              "seeds": []}
    for i, seed in enumerate(args.seeds):
        row = run_seed(seed, args, train, test, first=i == 0)
        result["seeds"].append(row)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"seed {seed}: 1-NN accuracy on E(x) {row['knn1_accuracy']:.4f} (pixels {row['knn1_accuracy_pixels']:.4f}, "
              f"untrained E {row['knn1_accuracy_untrained_encoder']:.4f}); reconstructions classified "
              f"{row['reconstruction_accuracy']:.4f} (originals {row['original_accuracy']:.4f}); {row['steps']} steps "
              f"in {row['train_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
