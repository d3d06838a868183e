"""Do the default recipes converge on every seed? Trains each recipe over seeds 0-9 at its default
budget, scores every run, and tabulates the outcome per recipe.

    python bench/stability.py --data-dir DATA [--recipes ring8-mlp mnist-dcgan ...] [--seeds 0-9]
                              [--runs runs/stability] [--reuse] [--out bench/results/stability.json]

A run counts as converged by criteria fixed before any run was made:
- toys (ring8, grid25): every mode covered (the 3-std protocol of `gankit evaluate`, 2,500 samples);
- images: FID in the shipped classifier's features (`gankit evaluate --n 2000`) below FID_CONVERGED, at least
  9 of the 10 classes each holding 2% of the samples or more, and no health finding (d_domination,
  mode_collapse, non_finite, exploding) in the last quarter of the run;
- conditional images, also: label accuracy (the shipped classifier agreeing with the label asked for) of at
  least LABEL_ACC_CONVERGED, so that the label decides what is drawn (a G that ignores it scores 0.1). This
  criterion was fixed before any conditional recipe was run over seeds.
Runs already finished under --runs are scored again without training when --reuse is given, and interrupted
ones resume from their newest checkpoint, so the table can be filled over several sittings.

    python bench/stability.py --merge bench/results/stability-a.json bench/results/stability-b.json

joins the results of processes run side by side (one per recipe or seed range) into --out and prints the table;
nothing is trained. A seed found again in a later file replaces the earlier result (a rerun), and says so.
The result files live in bench/results/, under version control, so that the figures docs/results.md renders can
be read back per seed; the runs themselves (weights, samples) stay under --runs, which is not kept.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path
from typing import Any

import gankit
from gankit import checkpoint as ckpt
from perf import machine
from gankit.stats import read_jsonl

RECIPES: dict[str, dict[str, Any]] = {
    "ring8-mlp": {"dataset": "ring8", "model": "mlp"},
    "grid25-mlp": {"dataset": "grid25", "model": "mlp"},
    # a candidate ring8 recipe: deeper nets and a linear learning-rate decay over grid25's 16,000 steps
    "ring8-mlp-deep": {"dataset": "ring8", "model": "mlp", "depth": 4, "lr_decay": True, "steps": 16000},
    "mnist-dcgan": {"dataset": "mnist", "model": "dcgan"},
    "mnist-classic": {"dataset": "mnist", "model": "classic"},
    "mnist-dcgan-cond": {"dataset": "mnist", "model": "dcgan", "conditional": True},
    "fashion-dcgan": {"dataset": "fashion-mnist", "model": "dcgan"},
    "fashion-classic": {"dataset": "fashion-mnist", "model": "classic"},
    "fashion-dcgan-cond": {"dataset": "fashion-mnist", "model": "dcgan", "conditional": True},
}
#: an image run has converged below this FID (2,000 samples; a collapsed MLP GAN scores above 1,000 on MNIST)
FID_CONVERGED = 500.0
#: a conditional image run must draw the class it is asked for at least this often
LABEL_ACC_CONVERGED = 0.5
BAD_EVENTS = {"d_domination", "mode_collapse", "non_finite", "exploding"}
#: the tracked folder for result files, wherever the script is run from
RESULTS = Path(__file__).resolve().parent / "results"


def seeds_arg(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def late_findings(run: Path) -> list[str]:
    rows = read_jsonl(run / "metrics.jsonl")
    if not rows:
        return []
    last = rows[-1]["step"]
    found = {e.get("event") for r in rows if r["step"] > 0.75 * last for e in r.get("events") or []}
    return sorted(str(f) for f in found if f in BAD_EVENTS)


def score(run: Path, spec: dict[str, Any], seed: int, data_dir: str | None) -> dict[str, Any]:
    toy = spec["dataset"] in ("ring8", "grid25")
    s = gankit.evaluate(run, n=2500 if toy else 2000, seed=seed, data_dir=data_dir)
    if toy:
        total = {"ring8": 8, "grid25": 25}[spec["dataset"]]
        return {"modes": s["modes"], "hq": s["hq"], "converged": s["modes"] == total}
    hist = s["class_histogram"]
    classes = sum(1 for v in hist if v >= 0.02) if isinstance(hist, list) else None  # fractions of samples
    bad = late_findings(run)
    ok = s["fid"] < FID_CONVERGED and (classes is None or classes >= 9) and not bad
    out = {"fid": s["fid"], "recall": s.get("recall"), "classes": classes, "late_findings": bad}
    if spec.get("conditional"):
        out["label_accuracy"] = s["label_accuracy"]
        ok = ok and s["label_accuracy"] >= LABEL_ACC_CONVERGED
    return {**out, "converged": bool(ok)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="folder with mnist/ and fashion_mnist/ IDX files (image recipes)")
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--seeds", type=seeds_arg, default=list(range(10)), help="e.g. 0-9 or 0,3,5")
    ap.add_argument("--runs", default="runs/stability")
    ap.add_argument("--reuse", action="store_true", help="score finished runs in --runs instead of retraining")
    ap.add_argument("--out", default=str(RESULTS / "stability.json"))
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="join these result files into --out; no training")
    args = ap.parse_args()
    out = Path(args.out)
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    if args.merge:
        merge(results, [json.loads(Path(f).read_text()) for f in args.merge])
        out.write_text(json.dumps(results, indent=2) + "\n")
        print_table(results)
        return
    for name in args.recipes:
        spec = RECIPES[name]
        per_seed = results.setdefault(name, {})
        for seed in args.seeds:
            run = Path(args.runs) / f"{name}-s{seed}"
            cfg = gankit.TrainConfig(**spec, data_dir=args.data_dir, seed=seed, out=str(run), progress=False)
            saved = [step for step, _ in ckpt.list_checkpoints(run)]
            if args.reuse and cfg.resolved().steps in saved:
                pass
            elif args.reuse and saved:  # an interrupted run continues from its newest checkpoint (bit-identical)
                gankit.train(cfg, resume=True)
            else:  # a fresh run; this benchmark's own folder for it is cleared first
                shutil.rmtree(run, ignore_errors=True)
                gankit.train(cfg)
            r = score(run, spec, seed, args.data_dir)
            r["train_s"] = read_jsonl(run / "metrics.jsonl")[-1]["time_s"]
            m = machine()  # where and when, beside each seed's result (seeds may run on different days)
            r["date"], r["machine"] = m["date"], f"{m['cpu']}, {m['cores']} cores, {m['threads']} thread{'s' if m['threads'] != 1 else ''}, torch {m['torch']}"
            per_seed[str(seed)] = r
            print(f"{name} seed {seed}: {r}", flush=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


def merge(results: dict[str, Any], parts: list[dict[str, Any]]) -> None:
    """Fold per-recipe, per-seed results into `results`, in order: a later result for a seed replaces the earlier."""
    for part in parts:
        for name, per_seed in part.items():
            into = results.setdefault(name, {})
            for seed, r in per_seed.items():
                if seed in into and into[seed] != r:
                    print(f"stability --merge: {name} seed {seed}: the later result replaces the earlier one")
                into[seed] = r
            results[name] = dict(sorted(into.items(), key=lambda kv: int(kv[0])))


def print_table(results: dict[str, Any]) -> None:
    print("\n| recipe | seeds converged | outcome per seed | median |\n|---|---|---|---|")
    for name, per_seed in results.items():
        key = "modes" if "modes" in next(iter(per_seed.values())) else "fid"
        vals = [per_seed[s][key] for s in sorted(per_seed, key=int)]
        ok = sum(per_seed[s]["converged"] for s in per_seed)
        shown = ", ".join(f"{v:.0f}" for v in vals)
        if "label_accuracy" in next(iter(per_seed.values())):
            acc = [per_seed[s]["label_accuracy"] for s in sorted(per_seed, key=int)]
            shown += "; label accuracy: " + ", ".join(f"{a:.2f}" for a in acc)
        print(f"| {name} | {ok} / {len(per_seed)} | {key}: {shown} | {statistics.median(vals):.0f} |")


if __name__ == "__main__":
    main()
