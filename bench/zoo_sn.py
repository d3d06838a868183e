"""Spectral normalisation and the projection discriminator: does `--spectral-norm` let the projection D
(`--conditional --cond-d projection`) train as well as the conditional DCGAN's one-hot-map D?

Each variant is the conditional image recipe on MNIST (or --dataset) plus the change named, trained per seed and
scored with `gankit evaluate RUN --n 2000 --seed 0` (FID in the data set's classifier features, recall, label
accuracy: how often the classifier reads the class asked for):

    concat              the conditional DCGAN as shipped (one-hot label maps in D, mode-seeking 0.3)
    projection          --cond-d projection
    projection-sn       --cond-d projection --spectral-norm
    projection-ms0      --cond-d projection --mode-seeking 0       (the projection D as first measured: collapsed)
    projection-sn-ms0   --cond-d projection --spectral-norm --mode-seeking 0   (as Miyato & Koyama train it)

    OMP_NUM_THREADS=1 python bench/zoo_sn.py --data-dir DATA [--seeds 0-4] [--steps N] [--variants ...]
                                             [--runs runs/zoo-sn] [--out bench/results/zoo-sn.json]

    python bench/zoo_sn.py --merge A.json B.json ... [--out bench/results/zoo-sn.json]

joins the result files of processes run side by side (one per variant) into --out and prints the table; nothing
is trained. Each file's command and machine stay with its rows.

Raw results (one row per run: variant, seed, steps, training seconds, scores) go to --out with the date, the
command and the machine, rewritten after every run; a run already finished under --runs is scored again, not
retrained. The table printed at the end is mean and standard deviation per variant.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

import gankit
from gankit import checkpoint as ckpt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import machine, write_json  # noqa: E402

VARIANTS: dict[str, dict[str, Any]] = {
    "concat": {},
    "projection": {"cond_d": "projection"},
    "projection-sn": {"cond_d": "projection", "spectral_norm": True},
    "projection-ms0": {"cond_d": "projection", "mode_seeking": 0.0},
    "projection-sn-ms0": {"cond_d": "projection", "spectral_norm": True, "mode_seeking": 0.0},
}
RESULTS = Path(__file__).resolve().parent / "results"
EVAL_N = 2000


def seeds_arg(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def train_once(run: Path, cfg: gankit.TrainConfig) -> float:
    """Train `cfg` into `run` unless a finished run is there; the training seconds (from the checkpoint)."""
    done = ckpt.list_checkpoints(run) if run.exists() else []
    if not (done and done[-1][0] >= cfg.steps):
        if run.exists():
            gankit.resume(run, progress=False)
        else:
            gankit.train(cfg)
    return float(ckpt.load(ckpt.latest_checkpoint(run))[1].get("elapsed_s", float("nan")))


def scores(run: Path, data_dir: str | None) -> dict[str, Any]:
    s = gankit.evaluate(run, n=EVAL_N, seed=0, data_dir=data_dir)
    return {k: s.get(k) for k in ("fid", "kid", "precision", "recall", "label_accuracy", "classes_present")}


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| variant | seeds | steps | FID | recall | label acc. | training s |", "|---|---|---|---|---|---|---|"]
    for name in VARIANTS:
        mine = [r for r in rows if r["variant"] == name]
        if not mine:
            continue

        def cell(key: str, digits: int) -> str:
            vals = [float(r[key]) for r in mine if r.get(key) is not None]
            if len(vals) > 1:
                return f"{statistics.mean(vals):.{digits}f} ± {statistics.stdev(vals):.{digits}f}"
            return f"{vals[0]:.{digits}f}" if vals else "-"

        steps = sorted({r["steps"] for r in mine})
        lines.append(f"| {name} | {', '.join(str(r['seed']) for r in mine)} | {', '.join(map(str, steps))} | "
                     f"{cell('fid', 0)} | {cell('recall', 3)} | {cell('label_accuracy', 2)} | "
                     f"{cell('train_s', 0)} |")
    return "\n".join(lines)


def merge(files: list[str], out: str) -> None:
    """One result file from several: the rows of each, with the command and machine that produced them."""
    merged: dict[str, Any] = {"what": None, "protocol": None, "rows": []}
    for name in files:
        part = json.loads(Path(name).read_text())
        merged["what"], merged["protocol"] = part["what"], part["protocol"]
        merged["rows"] += [{**row, "command": part["command"], "machine": part["machine"]} for row in part["rows"]]
    write_json(out, merged)
    print(table(merged["rows"]))
    print(f"-> {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None, help="MNIST/Fashion-MNIST IDX folder (else $GANKIT_DATA)")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--seeds", type=seeds_arg, default=seeds_arg("0-4"))
    p.add_argument("--steps", type=int, default=None, help="generator steps (default: the recipe's, 3,000)")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--runs", default="runs/zoo-sn")
    p.add_argument("--out", default=str(RESULTS / "zoo-sn.json"))
    p.add_argument("--merge", nargs="+", metavar="FILE", help="join these result files into --out; train nothing")
    args = p.parse_args()
    if args.merge:
        merge(args.merge, args.out)
        return
    torch.set_num_threads(1)
    result: dict[str, Any] = {"what": "conditional DCGAN with a projection D, with and without spectral norm",
                              "command": "python " + " ".join(sys.argv), "machine": machine(),
                              "protocol": f"gankit evaluate RUN --n {EVAL_N} --seed 0", "rows": []}
    for name in args.variants:
        for seed in args.seeds:
            run = Path(args.runs) / f"{args.dataset}-{name}-s{seed}"
            cfg = gankit.TrainConfig(dataset=args.dataset, data_dir=args.data_dir, conditional=True, seed=seed,
                                     steps=args.steps, progress=False, out=str(run), **VARIANTS[name])
            t0 = time.perf_counter()
            train_s = train_once(run, cfg)
            row = {"variant": name, "seed": seed, "steps": cfg.resolved().steps, "train_s": round(train_s, 1),
                   **scores(run, args.data_dir)}
            result["rows"].append(row)
            write_json(args.out, result)
            print(f"{name} seed {seed}: FID {row['fid']:.1f} recall {row['recall']:.3f} label acc. "
                  f"{row['label_accuracy']:.2f} ({train_s:.0f} s training, {time.perf_counter() - t0:.0f} s all)",
                  flush=True)
    print(table(result["rows"]))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
