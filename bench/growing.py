"""FID against wall time for the DCGAN, progressive growing and the small StyleGAN at 32x32, on Fashion-MNIST
(resized to 32) and coloured MNIST (padded to 32), at the same wall budget; and the growing methods' figures.

    OMP_NUM_THREADS=1 python bench/growing.py --minutes 30 --seeds 0 1 2 --phase-steps 600 \\
        --runs runs/growing --out bench/results/growing.json --figures docs/growing

For each data set, method and seed: `gankit train` with the method's recipe, stopped by SIGTERM once the budget
is spent (gankit then writes a checkpoint and exits 143), checkpoints every --ckpt-every steps, all kept. Then,
for up to --points checkpoints spread over the run's training time (the time each checkpoint records), the FID of
--n samples of the EMA generator against the data set's training split, in the feature space of the shipped
domain classifier (Fashion-MNIST: the 32x32 samples resized to 28x28, the native size; coloured MNIST: the
coloured-mnist network at 32x32). The growing method's schedule is --phase-steps per fade-in and per
stabilising stretch. For the StyleGAN run: its perceptual path length (gankit.evaluation.ppl) at the end.
Figures (the first seed): FID against minutes, the progressive run's growth GIF, the StyleGAN's style-mixing grid
and truncation sweep, and each run's final samples. Raw results with the date, command, seeds and machine go to
--out after every run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import machine, write_json  # noqa: E402

DATASETS = {  # name -> (gankit data flags, feature network, its input size)
    "fashion-mnist": (["--dataset", "fashion-mnist", "--image-size", "32"], "fashion-mnist", 28),
    "coloured-mnist": (["--dataset", "coloured-mnist", "--image-size", "32"], "coloured-mnist", 32),
}
METHODS = {  # name -> gankit flags
    "dcgan": ["--method", "gan", "--model", "dcgan"],
    "progressive": ["--method", "progressive"],
    "stylegan": ["--method", "stylegan"],
}
PSIS = (1.0, 0.85, 0.7, 0.55, 0.4, 0.25, 0.1)


def train_until(cmd: list[str], seconds: float, env: dict[str, str]) -> dict[str, Any]:
    """Run the training command; SIGTERM it after `seconds` (gankit checkpoints and stops)."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate()
    if proc.returncode not in (0, 128 + signal.SIGTERM):
        raise SystemExit(f"training failed ({proc.returncode}): {err.strip()[-2000:]}")
    return {"exit": proc.returncode, "wall_s": round(time.time() - t0, 1)}


def spread_checkpoints(run: Path, points: int) -> list[tuple[int, float, Path]]:
    """(step, training seconds, file) of up to `points` checkpoints spread evenly over the training time."""
    from gankit import checkpoint as ckpt

    found = []
    for step, path in ckpt.list_checkpoints(run):
        _, meta = ckpt.load(path)
        found.append((step, float(meta.get("elapsed_s", 0.0)), path))
    if len(found) <= points:
        return found
    end = found[-1][1]
    chosen = {min(range(len(found)), key=lambda i: abs(found[i][1] - end * k / (points - 1))) for k in range(points)}
    return [found[i] for i in sorted(chosen)]


class Scorer:
    """FID of generated images against one data set's training split, its features computed once."""

    def __init__(self, dataset: str, data_dir: str | None) -> None:
        from gankit.data import load_dataset
        from gankit.evaluation.classifier import load_classifier

        _, feature_set, self.size = DATASETS[dataset]
        self.net = load_classifier(feature_set)
        real = load_dataset(dataset, split="train", data_dir=data_dir, image_size=self.size, compact=True).x
        self.f_real, _ = self.net.embed(real)

    def fid(self, fake: torch.Tensor) -> float:
        from gankit.evaluation import metrics
        from gankit.evaluation.evaluate import to_feature_size

        f_fake, _ = self.net.embed(to_feature_size(fake, self.size))
        return metrics.fid(f_fake, self.f_real)


def figures(dataset: str, runs: dict[str, Path], folder: Path, scorer: Scorer) -> dict[str, Any]:
    """The first seed's figures; returns their paths and the StyleGAN's PPL."""
    import gankit
    from gankit.evaluation.evaluate import _ppl
    from gankit.viz import save_grid

    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, Any] = {}
    for method, run in runs.items():
        G = gankit.load(run)
        path = folder / f"samples-{dataset}-{method}.png"
        save_grid(G.sample(64, seed=0), path, nrow=8, scale=2)
        made[f"samples_{method}"] = str(path)
        if method == "progressive":
            from gankit.rundir import RunDir

            if not (run / "progress.gif").exists():  # a run stopped by SIGTERM: made from its snapshots here
                RunDir(run).finish()
            gif = folder / f"growth-{dataset}.gif"
            shutil.copyfile(run / "progress.gif", gif)
            made["growth_gif"] = str(gif)
        if method == "stylegan":
            path = folder / f"style-mixing-{dataset}.png"
            save_grid(G.mix(5, 6, seed=0), path, nrow=7, scale=2)
            made["style_mixing"] = str(path)
            z = G.sample_z(8, seed=1)
            rows = [G.net(z, None, psi=p) for p in PSIS]
            path = folder / f"truncation-{dataset}.png"
            save_grid(torch.cat(rows), path, nrow=8, scale=2)
            made["truncation_sweep"] = {"file": str(path), "rows_psi": list(PSIS)}
            made["ppl"] = _ppl(G, DATASETS[dataset][1], None, 0)
    return made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0, help="wall budget of each run")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--phase-steps", type=int, default=600, help="progressive: steps per fade-in / stable stretch")
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--points", type=int, default=6, help="checkpoints scored per run")
    ap.add_argument("--n", type=int, default=2000, help="samples per FID")
    ap.add_argument("--data-dir")
    ap.add_argument("--runs", default="runs/growing")
    ap.add_argument("--out", default="bench/results/growing.json")
    ap.add_argument("--figures", default="docs/growing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    import gankit

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    record: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python " + " ".join(sys.argv), "machine": machine(), "budget_minutes": args.minutes,
        "seeds": args.seeds, "phase_steps": args.phase_steps, "n_fid": args.n, "runs": [], "figures": {}}
    for dataset in args.datasets:
        scorer = Scorer(dataset, args.data_dir)
        first: dict[str, Path] = {}
        for method in args.methods:
            for seed in args.seeds:
                out = Path(args.runs) / f"{dataset}-{method}-s{seed}"
                if out.exists():
                    shutil.rmtree(out)
                cmd = [sys.executable, "-m", "gankit", "train", *DATASETS[dataset][0], *METHODS[method],
                       "--steps", "10000000", "--ckpt-every", str(args.ckpt_every), "--keep-ckpts", "10000",
                       "--sample-every", str(args.ckpt_every), "--seed", str(seed), "--no-progress",
                       "--out", str(out)]
                if method == "progressive":
                    cmd += ["--phase-steps", str(args.phase_steps)]
                if args.data_dir:
                    cmd += ["--data-dir", args.data_dir]
                ran = train_until(cmd, args.minutes * 60, env)
                curve = []
                for step, seconds, path in spread_checkpoints(out, args.points):
                    G = gankit.load(path)
                    curve.append({"step": step, "train_s": round(seconds, 1), "fid": round(scorer.fid(
                        G.sample(args.n, seed=seed)), 3)})
                    print(f"{dataset} {method} seed {seed}: step {step} ({seconds / 60:.1f} min) FID "
                          f"{curve[-1]['fid']}", flush=True)
                cfg = json.loads((out / "config.json").read_text())
                record["runs"].append({"dataset": dataset, "method": method, "seed": seed, **ran,
                                       "command": " ".join(["gankit", *cmd[3:]]),
                                       "recipe": {k: cfg[k] for k in ("batch_size", "lr_g", "lr_d", "beta1", "beta2",
                                                                      "width", "d_width", "z_dim", "ema")},
                                       "curve": curve})
                write_json(args.out, record)
                if seed == args.seeds[0]:
                    first[method] = out
        record["figures"][dataset] = figures(dataset, first, Path(args.figures), scorer)
        write_json(args.out, record)
    plot(record, Path(args.figures) / "fid-vs-time.png")
    record["figures"]["fid_vs_time"] = str(Path(args.figures) / "fid-vs-time.png")
    write_json(args.out, record)
    print(f"-> {args.out}")


def plot(record: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in record["runs"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 3.6), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        for r in record["runs"]:
            if r["dataset"] == dataset and r["curve"]:
                ax.plot([p["train_s"] / 60 for p in r["curve"]], [p["fid"] for p in r["curve"]], marker="o",
                        label=f"{r['method']} (seed {r['seed']})")
        ax.set(title=f"{dataset}, 32x32", xlabel="training minutes (1 thread)", ylabel="FID (domain classifier)")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    fig.suptitle(f"{record['budget_minutes']:g} min budget per run, {record['machine']['cores']}-core CPU", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
