"""The quickstart, judged as a user would: `gankit train --out runs/quickstart` with every knob at its default,
scored by the shipped MNIST classifier.

    python bench/quickstart.py --data-dir DATA [--seeds 0-4] [--runs runs/quickstart-bench]
                               [--out bench/results/quickstart.json]
    python bench/quickstart.py --timing [--steps N]     # steps/s of the default recipe at batch 32 and 64

For each seed: train the default recipe on mnist5k (the built-in 5,000-digit subset), then score 10,000 samples
of its EMA generator against mnist5k with `gankit evaluate`'s protocol: FID, precision and recall in the
classifier's features, `confident` (the fraction of samples the classifier reads as one class with probability
above 0.9) and the class histogram's smallest and largest share. The same figures for real digits (5,000 MNIST
test digits against mnist5k, `gankit evaluate --real --dataset mnist5k`) go beside them. The training seconds are
the run's own clock (metrics.jsonl `time_s`), with the machine and its threads.

`--data-dir` is needed for the real-digit row and the memorisation check only; the runs themselves use the
built-in subset.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ siblings, run from anywhere

import gankit  # noqa: E402
from gankit.stats import read_jsonl  # noqa: E402
from perf import machine, write_json  # noqa: E402
from stability import seeds_arg  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
N_SAMPLES = 10_000
#: what the quickstart must reach (the figures a user sees): confident share, class shares, FID against mnist5k
BARS = {"confident_min": 0.90, "class_share_min": 0.06, "class_share_max": 0.14, "fid_max": 60.0,
        "train_s_max": 300.0}


def image_scores(s: dict[str, Any]) -> dict[str, Any]:
    hist = s["class_histogram"]
    return {"fid": round(s["fid"], 2), "precision": round(s["precision"], 4), "recall": round(s["recall"], 4),
            "confident": round(s["confident"], 4), "class_share_min": round(min(hist), 4),
            "class_share_max": round(max(hist), 4), "classes_present": s["classes_present"]}


def meets(r: dict[str, Any]) -> bool:
    return (r["confident"] >= BARS["confident_min"] and r["class_share_min"] >= BARS["class_share_min"]
            and r["class_share_max"] <= BARS["class_share_max"] and r["fid"] <= BARS["fid_max"]
            and r["train_s"] <= BARS["train_s_max"])


def quality(args: argparse.Namespace) -> None:
    out = Path(args.out)
    command = "python bench/quickstart.py " + " ".join(sys.argv[1:])
    result: dict[str, Any] = {
        "command": command, "n_samples": N_SAMPLES,
        "reference": "mnist5k (the built-in 5,000-digit subset)", "bars": BARS, "machine": machine(), "seeds": {}}
    if out.exists():  # seeds run on another day or in another invocation are kept; a seed run again is replaced
        kept = json.loads(out.read_text())
        result["seeds"], result["command"], result["machine"] = kept["seeds"], kept["command"], kept["machine"]
    real = gankit.evaluate_real("mnist5k", data_dir=args.data_dir, seed=0)
    result["real"] = {**image_scores(real), "what": real["protocol"]["generated"]}
    print("real digits:", result["real"], flush=True)
    for seed in args.seeds:
        run = Path(args.runs) / f"s{seed}"
        shutil.rmtree(run, ignore_errors=True)
        cfg = gankit.TrainConfig(out=str(run), seed=seed, progress=False)
        gankit.train(cfg)
        rows = read_jsonl(run / "metrics.jsonl")
        s = gankit.evaluate(run, n=N_SAMPLES, seed=seed, data_dir=args.data_dir)
        r = {**image_scores(s), "steps": rows[-1]["step"], "train_s": round(rows[-1]["time_s"], 1)}
        r["meets_bars"], r["command"] = meets(r), command
        m = machine()
        r["date"] = m["date"]
        r["machine"] = f"{m['cpu']}, {m['cores']} cores, {m['threads']} threads, torch {m['torch']}"
        result["seeds"][str(seed)] = r
        print(f"seed {seed}: {r}", flush=True)
        result["recipe"] = {k: v for k, v in json.loads((run / "config.json").read_text()).items()
                            if k in ("model", "width", "d_width", "z_dim", "steps", "batch_size", "lr_g", "lr_d",
                                     "beta1", "beta2", "ema", "loss", "r1", "mode_seeking", "prior")}
        write_json(out, result)
    fids = [r["fid"] for r in result["seeds"].values()]
    if fids:
        result["fid_median"] = statistics.median(fids)
        write_json(out, result)
    print(f"wrote {out}")


def time_steps(batch_size: int, steps: int, out: Path) -> float:
    cfg = gankit.TrainConfig(out=str(out), steps=steps, batch_size=batch_size, progress=False,
                             sample_every=10**9, ckpt_every=10**9, log_every=10**9)
    gankit.train(cfg)  # warm-up effects are part of a real run too; steps is large enough to dominate
    rows = read_jsonl(out / "metrics.jsonl")
    return steps / rows[-1]["time_s"]


def timing(args: argparse.Namespace) -> None:
    default = gankit.TrainConfig().resolved()
    result: dict[str, Any] = {"machine": machine(), "steps": args.steps, "recipe_steps": default.steps,
                              "recipe_batch_size": default.batch_size}
    with tempfile.TemporaryDirectory() as tmp:
        for b in sorted({32, 64, default.batch_size}):  # the recipe's batch is always among those timed
            rate = time_steps(b, args.steps, Path(tmp) / f"b{b}")
            result[f"it_per_s_batch{b}"] = round(rate, 2)
            result[f"images_per_s_batch{b}"] = round(rate * b, 1)
    result["quickstart_train_s_estimate"] = round(default.steps / result[f"it_per_s_batch{default.batch_size}"], 1)
    print(json.dumps(result, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="folder with mnist/ IDX files (the real-digit row and memorisation)")
    ap.add_argument("--seeds", type=seeds_arg, default=[0], help="e.g. 0-4 or 0,3")
    ap.add_argument("--runs", default="runs/quickstart-bench", help="where the runs go (cleared per seed)")
    ap.add_argument("--out", default=str(RESULTS / "quickstart.json"))
    ap.add_argument("--timing", action="store_true", help="time steps at batch 32 and 64 instead; no scoring")
    ap.add_argument("--steps", type=int, default=300, help="--timing: steps timed per batch size")
    args = ap.parse_args()
    timing(args) if args.timing else quality(args)


if __name__ == "__main__":
    main()
