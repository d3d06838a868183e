"""Time the quickstart (`gankit train` with every default) and the default image recipe's batch-size choice.

    python bench/quickstart.py [--steps N] [--out DIR]

Runs, one after another in this process so they share the machine's state, a short DCGAN training on mnist5k
at batch 32 and at batch 64 (the recipe's G/D widths 64/32), and prints steps/s for each and the wall time a
full default quickstart would take. Timings are for the machine it runs on; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import torch

import gankit


def time_steps(batch_size: int, steps: int, out: Path) -> float:
    cfg = gankit.TrainConfig(out=str(out), steps=steps, batch_size=batch_size, progress=False,
                             sample_every=10**9, ckpt_every=10**9, log_every=10**9)
    gankit.train(cfg)  # warm-up effects are part of a real run too; steps is large enough to dominate
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return steps / rows[-1]["time_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300, help="steps timed per batch size")
    ap.add_argument("--out", help="where to write bench JSON (default: print only)")
    args = ap.parse_args()
    default = gankit.TrainConfig().resolved()
    result = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
              "torch": torch.__version__, "steps": args.steps, "recipe_steps": default.steps,
              "recipe_batch_size": default.batch_size}
    with tempfile.TemporaryDirectory() as tmp:
        for b in (32, 64):
            rate = time_steps(b, args.steps, Path(tmp) / f"b{b}")
            result[f"it_per_s_batch{b}"] = round(rate, 2)
            result[f"images_per_s_batch{b}"] = round(rate * b, 1)
    rate = result[f"it_per_s_batch{default.batch_size}"]
    result["quickstart_train_s_estimate"] = round(default.steps / rate, 1)
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
