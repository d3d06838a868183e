"""How an InfoGAN run's categorical code turns into the digit over training: the code accuracy of every checkpoint
of finished runs, each a controlled variation of the recipe (docs/zoo.md, InfoGAN).

    python bench/infogan_trajectory.py --data-dir DATA RUN [RUN ...] [--out bench/results/infogan-trajectory.json]

A RUN is a `gankit train --method infogan --dataset mnist` folder trained with frequent checkpoints
(`--ckpt-every 250 --keep-ckpts 1000`). Per checkpoint: Q's most likely category for each of the 10,000 MNIST test
digits, mapped to the digit classes by the best one-to-one assignment (gankit.evaluation.codes.code_accuracy, as
bench/zoo_infogan.py scores), and the settings that differ from the method's recipe.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import machine, training_seconds, write_json  # noqa: E402

from gankit import checkpoint as ckpt  # noqa: E402
from gankit.config import TrainConfig  # noqa: E402
from gankit.data import load_dataset  # noqa: E402
from gankit.data.transforms import as_float  # noqa: E402
from gankit.evaluation.codes import code_accuracy  # noqa: E402

#: the settings a variation may change, reported beside each run
KNOBS = ("model", "width", "d_width", "batch_size", "lr_g", "lr_d", "info_weight", "info_cont_weight", "prior",
         "z_dim", "seed")


def score_run(run: Path, x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    cfg = TrainConfig.from_dict(ckpt.load(ckpt.resolve(run))[1]["config"], source=str(run)).resolved()
    points = []
    for step, file in ckpt.list_checkpoints(run):
        acc = code_accuracy(file, x, y)
        points.append({"step": step, "code_accuracy": acc["accuracy"], "code_error": acc["error"],
                       "train_s": training_seconds(run, step)})
        print(f"{run.name} step {step}: code accuracy {acc['accuracy']:.3f}", flush=True)
    return {"run": run.name, **{k: getattr(cfg, k) for k in KNOBS}, "points": points}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="InfoGAN run folders")
    ap.add_argument("--data-dir", default=os.environ.get("GANKIT_DATA"), help="folder with the MNIST IDX files "
                    "(default: $GANKIT_DATA)")
    ap.add_argument("--out", default="bench/results/infogan-trajectory.json")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    test = load_dataset("mnist", split="test", data_dir=args.data_dir)
    x, y = as_float(test.x), test.y
    result: dict[str, Any] = {"machine": machine(), "command": "python " + " ".join(sys.argv),
                              "runs": [score_run(Path(r), x, y) for r in args.runs]}
    write_json(args.out, result)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
