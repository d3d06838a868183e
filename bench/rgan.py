"""The recurrent GAN's claims, on the built-in series and on MNIST read row by row.

    python bench/rgan.py [--data-dir DATA] [--seeds 0] [--steps N] [--parts sines ar rows]
                         [--runs runs/rgan] [--out bench/results/rgan.json] [--figures docs]

For each seed and part, `gankit train --method rgan` (the method's recipe unless --steps is given), then:
- sines (conditional on the frequency band): the distance between 2,000 generated and 2,000 held-out real series
  (gankit.evaluation.sequences: W1 of dominant frequencies, RMS difference of mean autocorrelations, mean per-lag
  W1 of autocorrelations), beside the distance between two disjoint real draws (the floor) and between real and
  time-shuffled series; how often a generated series' dominant frequency lies in its label's band (real: the same
  share on real series); and train-on-synthetic-test-on-real: a GRU classifier of the band trained on 2,000
  generated series (labels cycled) and, with the same steps and seed, on 2,000 real ones, both tested on 1,000
  held-out real series.
- ar (unconditional AR(2) processes): the distance and its reference points.
- rows (`--dataset mnist`, 28 steps of 28 pixels): `gankit evaluate`'s scores of the run, among them the shipped
  MNIST classifier's mean confidence on 2,000 generated images and FID in its feature space.
The first seed's figures go to --figures (sequences.png: generated sines with their band beside real ones;
sequences-rows.png: a grid of generated digits). Raw results with the date, command, seeds and machine go to --out
after every run.
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
from gankit.data.series import SINE_CLASS_NAMES
from gankit.evaluation.sequences import score_rgan, tstr
from gankit.rundir import run_summary

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import machine  # noqa: E402

PARTS = {"sines": dict(dataset="sines", conditional=True), "ar": dict(dataset="ar"), "rows": dict(dataset="mnist")}
N_EVAL, N_TSTR_TRAIN, N_TSTR_TEST = 2000, 2000, 1000


def train_part(part: str, seed: int, args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    out = Path(args.runs) / f"{part}-s{seed}"
    kw: dict[str, Any] = dict(PARTS[part])
    if args.steps:
        kw["steps"] = args.steps
    cfg = gankit.TrainConfig(method="rgan", data_dir=args.data_dir, seed=seed, out=str(out), progress=False,
                             health=False, **kw).resolved()
    done = out / "checkpoints" / f"step_{cfg.steps:07d}.safetensors"
    if not (args.reuse and done.exists()):
        gankit.train(cfg)
    flags = " --conditional" if kw.get("conditional") else ""
    flags += f" --steps {args.steps}" if args.steps else ""
    row = {"part": part, "seed": seed, "steps": cfg.steps, "batch_size": cfg.batch_size, "rnn_cell": cfg.rnn_cell,
           "width": cfg.width, "z_dim_per_step": cfg.z_dim, "train_s": run_summary(out)["last_metrics"]["time_s"],
           "command": f"gankit train --method rgan --dataset {kw['dataset']}{flags} --seed {seed} --no-health "
                      f"--out {out}"}
    return gankit.load(out), row


def sines_tstr(G: Any, seed: int, tstr_steps: int) -> dict[str, Any]:
    real = load_dataset("sines", split="train", n=N_TSTR_TRAIN, seed=G.config.seed + 2)
    test = load_dataset("sines", split="test", n=N_TSTR_TEST, seed=G.config.seed + 2)
    y = torch.arange(N_TSTR_TRAIN) % 4
    fake = G.sample(N_TSTR_TRAIN, labels=y, seed=seed + 99).cpu()
    out = tstr((fake, y), (real.x, real.y), (test.x, test.y), 4, steps=tstr_steps, seed=seed)
    out["protocol"] = (f"GRU(32) classifier of the 4 frequency bands, Adam 3e-3, {tstr_steps} minibatches of 128; "
                       f"trained on {N_TSTR_TRAIN} generated (labels cycled) or {N_TSTR_TRAIN} real series, tested "
                       f"on {N_TSTR_TEST} held-out real series")
    return out


def figures(part: str, G: Any, folder: str) -> str | None:
    from gankit.viz import save_grid
    from gankit.viz.sequences import plot_sequences

    Path(folder).mkdir(parents=True, exist_ok=True)
    if part == "sines":
        y = torch.arange(16) % 4
        fake = G.sample(16, labels=y, seed=0).cpu()
        real = load_dataset("sines", split="test", n=400, seed=0)
        order = torch.cat([(real.y == k).nonzero()[:4, 0] for k in range(4)]).view(4, 4).t().reshape(-1)
        path = str(Path(folder) / "sequences.png")
        plot_sequences(fake, real.x[order], path, title=f"rgan on sines, step {G.step}",
                       labels=[SINE_CLASS_NAMES[int(k)] for k in y])
        return path
    if part == "rows":
        path = str(Path(folder) / "sequences-rows.png")
        save_grid(G.sample(64, seed=0).cpu(), path, nrow=8, scale=2)
        return path
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("GANKIT_DATA"), help="folder with the MNIST IDX files")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--steps", type=int, help="training steps of every run (default: the rgan recipe's)")
    ap.add_argument("--parts", nargs="+", choices=tuple(PARTS), default=list(PARTS))
    ap.add_argument("--tstr-steps", type=int, default=600, help="minibatches of each TSTR classifier")
    ap.add_argument("--runs", default="runs/rgan")
    ap.add_argument("--out", default="bench/results/rgan.json")
    ap.add_argument("--figures", default="docs", help="folder of the first seed's figures ('' for none)")
    ap.add_argument("--reuse", action="store_true", help="score finished runs in --runs instead of training again")
    args = ap.parse_args()
    torch.set_num_threads(1)
    result: dict[str, Any] = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                              "command": "python " + " ".join(sys.argv), "machine": machine(), "seeds": args.seeds,
                              "runs": []}
    for i, seed in enumerate(args.seeds):
        for part in args.parts:
            G, row = train_part(part, seed, args)
            row["scores"] = score_rgan(G, n=N_EVAL, seed=seed, data_dir=args.data_dir)
            if part == "sines":
                row["tstr"] = sines_tstr(G, seed, args.tstr_steps)
            if i == 0 and args.figures:
                row["figure"] = figures(part, G, args.figures)
            result["runs"].append(row)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
            s = row["scores"]
            if part == "rows":
                print(f"rows seed {seed}: confidence {s['confidence']:.3f}, FID {s['fid']:.1f}, "
                      f"{row['steps']} steps in {row['train_s']:.0f} s", flush=True)
            else:
                ref = s["reference"]
                print(f"{part} seed {seed}: freq_w1 {s['freq_w1']:.3f} (real {ref['real_vs_real']['freq_w1']:.3f}, "
                      f"shuffled {ref['real_vs_shuffled']['freq_w1']:.3f}), acf_l2 {s['acf_l2']:.3f} (real "
                      f"{ref['real_vs_real']['acf_l2']:.3f}, shuffled {ref['real_vs_shuffled']['acf_l2']:.3f})"
                      + (f"; TSTR {row['tstr']['tstr_accuracy']:.3f} vs TRTR {row['tstr']['trtr_accuracy']:.3f}"
                         if "tstr" in row else "") + f"; {row['steps']} steps in {row['train_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
