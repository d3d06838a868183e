"""SAGAN against DCGAN at equal wall time on Fashion-MNIST, and SAGAN's attention maps for one sample.

Each model trains for the same wall-clock budget (`gankit train ... --steps 10000000`, stopped by SIGINT after
--minutes, which checkpoints the step it is at), one thread each, one after the other, then is scored with
`gankit evaluate RUN --n 2000 --seed 0` (FID in Fashion-MNIST's classifier features, recall):

    dcgan   gankit train --dataset fashion-mnist                          (the DCGAN recipe)
    sagan   gankit train --dataset fashion-mnist --model sagan --loss hinge --beta1 0
            (self-attention and spectral norm in G and D; TTUR: Adam 1e-4 / 4e-4, betas 0 / 0.9)

    OMP_NUM_THREADS=1 python bench/zoo_sagan.py --data-dir DATA [--minutes 30] [--seeds 0] [--runs runs/zoo-sagan]
        [--out bench/results/zoo-sagan.json] [--figure docs/zoo/sagan-attention.png]

The figure (from the last seed's SAGAN run, EMA generator, z of seed 0): the sample, and for each of four query
positions on G's 14x14 attention map the weights beta_j. it attends with, drawn over the sample. Raw results go
to --out with the date, the command and the machine, rewritten after every run.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

import gankit
from gankit import checkpoint as ckpt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import machine, write_json  # noqa: E402
from zoo_sn import EVAL_N, seeds_arg  # noqa: E402

MODELS: dict[str, list[str]] = {
    "dcgan": ["--model", "dcgan"],
    "sagan": ["--model", "sagan", "--loss", "hinge", "--beta1", "0"],
}
RESULTS = Path(__file__).resolve().parent / "results"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "zoo"
FOREVER = 10_000_000  # steps: the budget, not the step count, ends the run
QUERIES = ((4, 7), (7, 3), (7, 10), (11, 7))  # (row, column) on the 14x14 map of a 28x28 image


def train_for(run: Path, dataset: str, flags: list[str], seed: int, seconds: float, data_dir: str | None) -> None:
    """Train into `run` until `seconds` of wall time have passed, then stop it with SIGINT (it checkpoints)."""
    if run.exists() and ckpt.list_checkpoints(run):
        return  # trained before: scored again, not retrained
    cmd = [sys.executable, "-m", "gankit", "train", "--dataset", dataset, *flags, "--seed", str(seed),
           "--steps", str(FOREVER), "--no-progress", "--out", str(run)]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    proc = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
    err = proc.communicate()[1]
    if proc.returncode not in (0, 128 + signal.SIGINT):
        raise SystemExit(f"training {run} failed: {err.strip()}")


def gammas(G: gankit.Generator) -> float:
    return float(G.net.attention.gamma.detach())


def attention_figure(run: Path, out: Path, seed: int = 0) -> dict[str, Any]:
    """The sample for z of `seed` and, per query position, G's attention weights over the 14x14 map."""
    from gankit.viz.figures import new_figure, save_figure

    G = gankit.load(run)
    attention = G.net.attention
    attention.keep_map = True
    image = G.sample(1, seed=seed)[0, 0]  # [28, 28] in [-1, 1]
    maps = attention.last_map[0]  # [196 (query j), 196 (key i)]
    side = int(maps.shape[0] ** 0.5)
    scale = image.shape[0] / side
    fig = new_figure(2.2 * (1 + len(QUERIES)), 2.6)
    ax = fig.add_subplot(1, 1 + len(QUERIES), 1)
    ax.imshow(image.numpy(), cmap="gray", vmin=-1, vmax=1)
    colours = ("tab:red", "tab:orange", "tab:green", "tab:blue")
    for (r, c), colour in zip(QUERIES, colours):
        ax.plot((c + 0.5) * scale - 0.5, (r + 0.5) * scale - 0.5, "o", color=colour, ms=6)
    ax.set_title(f"sample (step {G.step})", fontsize=8)
    ax.axis("off")
    peaks = []
    for k, ((r, c), colour) in enumerate(zip(QUERIES, colours)):
        beta = maps[r * side + c].view(side, side)  # where query (r, c) looks
        peaks.append(float(beta.max()))
        ax = fig.add_subplot(1, 1 + len(QUERIES), 2 + k)
        ax.imshow(image.numpy(), cmap="gray", vmin=-1, vmax=1, extent=(-0.5, side - 0.5, side - 0.5, -0.5))
        ax.imshow(beta.numpy(), cmap="magma", alpha=0.6, extent=(-0.5, side - 0.5, side - 0.5, -0.5))
        ax.plot(c, r, "o", color=colour, ms=6, mec="white")
        ax.set_title(f"query ({r},{c}), max {beta.max():.3f}", fontsize=8)
        ax.axis("off")
    fig.suptitle(f"SAGAN generator's attention on its {side}x{side} map (gamma {gammas(G):.3f}; uniform weight "
                 f"{1 / side ** 2:.4f})", fontsize=9)
    save_figure(fig, out, dpi=110)
    return {"figure": str(out), "queries": [list(q) for q in QUERIES], "max_weight": peaks, "gamma_g": gammas(G),
            "step": G.step}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None, help="MNIST/Fashion-MNIST IDX folder (else $GANKIT_DATA)")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--minutes", type=float, default=30.0, help="wall-clock training budget per run")
    p.add_argument("--seeds", type=seeds_arg, default=seeds_arg("0"))
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--runs", default="runs/zoo-sagan")
    p.add_argument("--out", default=str(RESULTS / "zoo-sagan.json"))
    p.add_argument("--figure", default=str(DOCS / "sagan-attention.png"))
    args = p.parse_args()
    torch.set_num_threads(1)
    result: dict[str, Any] = {"what": "SAGAN vs DCGAN at equal wall time", "command": "python " + " ".join(sys.argv),
                              "machine": machine(), "budget_s": args.minutes * 60,
                              "protocol": f"gankit evaluate RUN --n {EVAL_N} --seed 0", "rows": []}
    for seed in args.seeds:
        for name in args.models:
            run = Path(args.runs) / f"{args.dataset}-{name}-s{seed}"
            t0 = time.perf_counter()
            train_for(run, args.dataset, MODELS[name], seed, args.minutes * 60, args.data_dir)
            tensors, meta = ckpt.load(ckpt.latest_checkpoint(run))
            s = gankit.evaluate(run, n=EVAL_N, seed=0, data_dir=args.data_dir)
            row = {"model": name, "seed": seed, "steps": meta["step"], "train_s": round(meta["elapsed_s"], 1),
                   "wall_s": round(time.perf_counter() - t0, 1), "load_avg_1m": round(os.getloadavg()[0], 2),
                   **{k: s.get(k) for k in ("fid", "kid", "precision", "recall", "classes_present")}}
            if name == "sagan":  # how far each network's attention has moved away from the identity
                row["gamma_g"] = float(tensors.get("G_ema/attention.gamma", tensors["G/attention.gamma"]))
                row["gamma_d"] = float(tensors["D/attention.gamma"])
            result["rows"].append(row)
            write_json(args.out, result)
            print(f"{name} seed {seed}: {row['steps']} steps in {row['train_s']:.0f} s, FID {row['fid']:.1f} recall "
                  f"{row['recall']:.3f}", flush=True)
    last = Path(args.runs) / f"{args.dataset}-sagan-s{args.seeds[-1]}"
    if "sagan" in args.models and args.figure:
        result["figure"] = attention_figure(last, Path(args.figure))
        write_json(args.out, result)
        print(f"figure -> {args.figure}")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
