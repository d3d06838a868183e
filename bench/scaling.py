"""How gankit's training cost grows: with the batch size, with the data set's size, and with
the run's length (no step whose cost grows with the number of steps already taken).

    python bench/scaling.py [--data-dir DATA] [--reps 3] [--parts batch,data,length]

- batch: images/s of the DCGAN recipe (G/D widths 64/32, 28x28) at batch 16 ... 512, default layout and
  channels-last, interleaved round by round;
- data: seconds per step and the set-up time on mnist5k, MNIST (60,000, needs --data-dir) and a synthetic
  600,000 (MNIST tiled ten times, handed to the loop in place of the loaded set); time per epoch is steps per
  epoch times seconds per step plus nothing else that depends on the size;
- length: a 2,000-step toy run that logs every step, draws a sample grid every 20 and checkpoints every 100;
  the seconds per 100 steps at its start and its end (a cost that grows with the run would show as a rise).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gankit  # noqa: E402
from gankit.stats import read_jsonl  # noqa: E402
from perf import (fmt, gankit_images_per_s, interleaved, machine, spread, tiled_training_data,  # noqa: E402
                  train_kwargs)


def part_batch(args: argparse.Namespace) -> dict[str, Any]:
    out = {}
    for b in (16, 32, 64, 128, 256, 512):
        steps, warmup = max(20, 3000 // b), max(5, 600 // b)
        variants = {name: (lambda kw=train_kwargs(None, batch_size=b, **flags): gankit_images_per_s(kw, steps, warmup))
                    for name, flags in (("default", {}), ("channels_last", {"channels_last": True}))}
        res = interleaved(variants, args.reps, "images_per_s", lambda m: None)
        out[b] = {name: r["images_per_s"] for name, r in res.items()}
        print(f"| {b} | {fmt(out[b]['default'])} | {fmt(out[b]['channels_last'])} |", flush=True)
    return out


def part_data(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [("mnist5k", None, 1)]
    if args.data_dir:
        sizes += [("mnist", args.data_dir, 1), ("mnist", args.data_dir, 10)]
    out = {}
    steps = 300
    for name, data_dir, tile in sizes:
        per_step, setup, n = [], [], {"mnist5k": 5000, "mnist": 60000}[name] * tile
        for _ in range(args.reps):
            with tiled_training_data(tile), tempfile.TemporaryDirectory(prefix="gankit-scale-") as d:
                cfg = gankit.TrainConfig(dataset=name, data_dir=data_dir, steps=steps, log_every=50, out=d,
                                         progress=False)
                t0 = time.perf_counter()
                gankit.train(cfg)
                total = time.perf_counter() - t0
                rows = {r["step"]: r["time_s"] for r in read_jsonl(f"{d}/metrics.jsonl")}
            per_step.append((rows[steps] - rows[50]) / (steps - 50))
            setup.append(total - rows[steps])
        s = spread(per_step)
        epoch = n // 32 * s["median"]
        out[f"{name}x{tile}"] = {"n": n, "seconds_per_step": s, "setup_and_finish_s": spread(setup),
                                 "epoch_s_estimate": epoch}
        print(f"| {n:,} | {s['median'] * 1e3:.1f} ms ({s['min'] * 1e3:.1f}-{s['max'] * 1e3:.1f}) | "
              f"{fmt(spread(setup), 1)} s | {epoch:.0f} s |", flush=True)
    return out


def part_length(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gankit-length-") as d:
        cfg = gankit.TrainConfig(dataset="ring8", model="mlp", steps=2000, log_every=1, sample_every=20,
                                 ckpt_every=100, out=d, progress=False)
        gankit.train(cfg)
        t = {r["step"]: r["time_s"] for r in read_jsonl(f"{d}/metrics.jsonl")}
    per100 = [t[s + 100] - t[s] for s in range(100, 2000, 100)]
    first, last = spread(per100[:5]), spread(per100[-5:])
    print(f"seconds per 100 steps (log every step, a grid every 20, a checkpoint every 100): steps 100-600 "
          f"{fmt(first, 2)}, steps 1500-2000 {fmt(last, 2)}", flush=True)
    return {"per_100_steps": per100, "first": first, "last": last}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--parts", default="batch,data,length")
    ap.add_argument("--out", default="runs/bench-scaling.json")
    args = ap.parse_args()
    result: dict[str, Any] = {"machine": machine(), "command": " ".join(["python", "bench/scaling.py", *sys.argv[1:]])}
    for part in args.parts.split(","):
        if part == "batch":
            print("| batch | default images/s | channels-last images/s |\n|---|---|---|")
        elif part == "data":
            print("| images | per step | set-up and finish | epoch (batch 32) |\n|---|---|---|---|")
        result[part] = {"batch": part_batch, "data": part_data, "length": part_length}[part](args)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
