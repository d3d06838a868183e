"""Time to quality: wall time until the MNIST feature-space FID falls below a threshold fixed in
advance, gankit's default recipe against the reference recipe of pytorch/examples' dcgan, on the same machine.

    python bench/time_to_quality.py --data-dir DATA [--seeds 0,1] [--out runs/bench-ttq.json]
                                    [--plot docs/time_to_quality.png]

The threshold, fixed before any curve was measured: FID 350 with 5,000 generated digits against the features of
MNIST's 60,000 training images, in the shipped MNIST classifier's feature space (gankit's `evaluate` protocol; a
run of the default recipe ends at FID 279 with 10,000 samples, the README's table).

- gankit: the default recipe, `gankit train --dataset mnist --data-dir DATA --seed S` (gankit/recipes.py: the
  dcgan-dense nets at width 32, batch 64, non-saturating loss, Adam 1e-3 for G and 2e-4 for D, EMA 0.999, 5,000
  steps; until 2026-11-30 the DCGAN at widths 64/32, batch 32, Adam 2e-4, 3,000 steps), with a checkpoint every
  --every steps; each checkpoint's EMA generator is scored afterwards. Its seconds are the run's own clock (`time_s` in
  metrics.jsonl: data batches, steps, logging, health probes, sample grids and checkpoint writes included).
- reference: main.py's loop and recipe (bench/reference_dcgan.py: per-sample PIL data set and DataLoader with 2
  workers, batch 64, G and D width 64, BCE on a sigmoid, Adam 2e-4 for both, no EMA) at 28x28, for
  --reference-steps iterations; its generator's weights are copied every --every iterations, with the copying
  kept off its clock. main.py has no sampling mode of its own (it draws its grids with netG in training mode,
  BatchNorm on batch statistics), so each copy is scored both ways, eval-mode BatchNorm and batch statistics over
  batches of 128, and the reference is credited with the better of the two.

Both clocks start at the training loop (after the data set and the networks are built). Every snapshot is scored
with the same noise seed. The time to quality is the clock at the first snapshot at or below the threshold
(resolution: --every steps). The runs go one at a time; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from anywhere: bench/ siblings

import gankit  # noqa: E402
from gankit import checkpoint as ckpt  # noqa: E402
from gankit.data import load_dataset  # noqa: E402
from gankit.evaluation import metrics  # noqa: E402
from gankit.evaluation.classifier import load_classifier  # noqa: E402
from gankit.stats import read_jsonl  # noqa: E402
from perf import digits, machine  # noqa: E402
from reference_dcgan import train_reference  # noqa: E402

THRESHOLD = 350.0  # fixed before the first measured curve; see the module docstring
N_SAMPLES = 5000
NOISE_SEED = 1234
SAMPLE_BATCH = 128


def log(msg: str) -> None:
    print(msg, flush=True)


class Scorer:
    """FID of generated digits against MNIST's training images, in the shipped MNIST classifier's features."""

    def __init__(self, data_dir: str, n: int) -> None:
        self.net = load_classifier("mnist")
        real = load_dataset("mnist", split="train", data_dir=data_dir).x
        self.real_feats, _ = self.net.embed(real)
        self.n = n

    def fid(self, images: torch.Tensor) -> float:
        feats, _ = self.net.embed(images)
        return metrics.fid(feats, self.real_feats)

    @torch.no_grad()
    def reference_fid(self, netG: torch.nn.Module, z_dim: int) -> dict[str, float]:
        z = torch.randn(self.n, z_dim, generator=torch.Generator().manual_seed(NOISE_SEED))
        out = {}
        for mode in ("eval", "train"):
            netG.train(mode == "train")
            images = torch.cat([netG(c) for c in z.split(SAMPLE_BATCH)]).clamp(-1, 1)
            out[f"fid_{mode}_bn"] = self.fid(images)
        out["fid"] = min(out["fid_eval_bn"], out["fid_train_bn"])
        return out


def run_gankit(args: argparse.Namespace, seed: int, scorer: Scorer) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="gankit-ttq-") as d:
        cfg = gankit.TrainConfig(dataset="mnist", data_dir=args.data_dir, seed=seed, out=d, progress=False,
                                 ckpt_every=args.every, keep_ckpts=10_000, steps=args.gankit_steps)
        t0 = time.perf_counter()
        res = gankit.train(cfg)
        log(f"  gankit seed {seed}: {res.step} steps in {time.perf_counter() - t0:.0f} s (wall, set-up included)")
        clock = {r["step"]: r["time_s"] for r in read_jsonl(f"{d}/metrics.jsonl")}
        curve = []
        for step, f in ckpt.list_checkpoints(d):
            images = gankit.load(f).sample(scorer.n, seed=NOISE_SEED)
            curve.append({"step": step, "seconds": clock[step], "fid": scorer.fid(images)})
            log(f"    step {step:5d}  {clock[step]:7.1f} s  FID {curve[-1]['fid']:.1f}")
    return curve


def run_reference(args: argparse.Namespace, seed: int, scorer: Scorer) -> list[dict[str, Any]]:
    images, labels = digits(args.data_dir)
    snaps: list[tuple[int, float, torch.nn.Module]] = []
    t0 = time.perf_counter()
    train_reference(images, labels, steps=args.reference_steps, warmup=0, seed=seed, snapshot_every=args.every,
                    snapshot=lambda it, s, netG: snaps.append((it, s, copy.deepcopy(netG))))
    log(f"  reference seed {seed}: {args.reference_steps} iterations in {time.perf_counter() - t0:.0f} s (wall, "
        "set-up and snapshot copies included)")
    curve = []
    for it, seconds, netG in snaps:
        curve.append({"step": it, "seconds": seconds, **scorer.reference_fid(netG, z_dim=100)})
        log(f"    iter {it:5d}  {seconds:7.1f} s  FID {curve[-1]['fid']:.1f} (eval-mode BN "
            f"{curve[-1]['fid_eval_bn']:.1f}, batch-statistics BN {curve[-1]['fid_train_bn']:.1f})")
    return curve


def time_to(curve: list[dict[str, Any]], threshold: float) -> float | None:
    return next((p["seconds"] for p in curve if p["fid"] <= threshold), None)


def plot(result: dict[str, Any], path: Path) -> None:
    from gankit.viz.figures import new_figure, save_figure

    fig = new_figure(7, 4.2)
    ax = fig.subplots()
    colours = {"gankit": "#d62728", "reference": "#1f77b4"}
    labels = {"gankit": "gankit default recipe", "reference": "pytorch/examples dcgan recipe"}
    for name, runs in result["curves"].items():
        for i, (seed, curve) in enumerate(runs.items()):
            label = f"{labels[name]} (seed{'s' if len(runs) > 1 else ''} {', '.join(runs)})" if i == 0 else None
            ax.plot([p["seconds"] for p in curve], [p["fid"] for p in curve], "o-", ms=3, color=colours[name],
                    alpha=1.0 if i == 0 else 0.55, label=label)
    ax.axhline(result["threshold"], color="0.4", ls="--", lw=1)
    ax.text(ax.get_xlim()[1], result["threshold"], f" FID {result['threshold']:.0f}", va="center", ha="right",
            fontsize=8, color="0.3", backgroundcolor="white")
    ax.set_yscale("log")
    ax.set_xlabel("training wall time (s), 2-core CPU")
    ax.set_ylabel(f"FID ({result['n_samples']} samples, MNIST classifier features)")
    ax.set_title("Time to quality on MNIST, 28x28")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    save_figure(fig, path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, help="folder with mnist/ IDX files (the full training split)")
    ap.add_argument("--seeds", default="0,1", help="comma-separated seeds; each trains both recipes")
    ap.add_argument("--every", type=int, default=200, help="steps between scored snapshots")
    ap.add_argument("--reference-steps", type=int, default=4000,
                    help="iterations of the reference loop (batch 64: 4,000 are 4.3 epochs of MNIST)")
    ap.add_argument("--gankit-steps", type=int, help="gankit's steps (default: the recipe's 3,000)")
    ap.add_argument("--n", type=int, default=N_SAMPLES, help="generated digits per FID")
    ap.add_argument("--out", default="runs/bench-ttq.json")
    ap.add_argument("--plot", default="docs/time_to_quality.png")
    args = ap.parse_args()
    log_every = gankit.TrainConfig().log_every  # gankit's seconds at a checkpoint come from its metrics row
    if args.every < 1 or args.every % log_every:
        ap.error(f"--every must be a positive multiple of {log_every} (gankit's log interval), got {args.every}")
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.perf_counter()
    result: dict[str, Any] = {"machine": machine(), "command": " ".join(["python", "bench/time_to_quality.py",
                                                                          *sys.argv[1:]]),
                              "threshold": THRESHOLD, "n_samples": args.n, "noise_seed": NOISE_SEED,
                              "every": args.every, "reference_steps": args.reference_steps,
                              "gankit_steps": args.gankit_steps or "recipe default",
                              "curves": {"gankit": {}, "reference": {}}}
    log(f"machine: {result['machine']}")
    scorer = Scorer(args.data_dir, args.n)
    for seed in seeds:  # the two recipes alternate, so a slow stretch of a shared machine hits both
        result["curves"]["gankit"][str(seed)] = run_gankit(args, seed, scorer)
        result["curves"]["reference"][str(seed)] = run_reference(args, seed, scorer)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    rows = {}
    for seed in map(str, seeds):
        g = time_to(result["curves"]["gankit"][seed], THRESHOLD)
        r = time_to(result["curves"]["reference"][seed], THRESHOLD)
        rows[seed] = {"gankit_s": g, "reference_s": r,
                      "speedup": (r / g) if (g and r) else None,
                      "gankit_final_fid": result["curves"]["gankit"][seed][-1]["fid"],
                      "reference_final_fid": result["curves"]["reference"][seed][-1]["fid"],
                      "reference_best_fid": min(p["fid"] for p in result["curves"]["reference"][seed])}
        log(f"seed {seed}: FID <= {THRESHOLD:.0f} after {g} s (gankit) and {r} s (reference)")
    result["time_to_threshold"] = rows
    result["wall_s"] = time.perf_counter() - t0
    result["load_avg_1m_end"] = machine()["load_avg_1m"]
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    plot(result, Path(args.plot))
    log(f"wall {result['wall_s']:.0f} s; figures in {args.out}, curves in {args.plot}")


if __name__ == "__main__":
    main()
