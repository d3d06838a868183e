"""Train the default recipes on full MNIST / Fashion-MNIST and score them: the README's results table.

    python bench/quality.py --data-dir DATA [--datasets mnist fashion-mnist] [--steps N] [--seed 0]
                            [--variants dcgan/nonsaturating dcgan/nonsaturating/cond ...]
                            [--out bench/results/quality.json]

For each data set: MLP GAN, dcgan-dense (the default model there), DCGAN with the non-saturating, LSGAN, WGAN-GP
and hinge losses, and the conditional DCGAN (which also gets the Classification Accuracy Score). Each run uses the
default recipe (see gankit/recipes.py) and `gankit evaluate` with 10,000 samples and the given seed; the wall time
is the training time on this machine. Prints a Markdown table and writes every score with its protocol, the
command, the date and the machine to --out (bench/render.py renders the docs' tables from it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import gankit
from gankit.rundir import run_summary
from perf import machine, write_json

VARIANTS = [("mlp", "nonsaturating", False), ("dcgan-dense", "nonsaturating", False),
            ("dcgan", "nonsaturating", False), ("dcgan", "lsgan", False),
            ("dcgan", "wgan-gp", False), ("dcgan", "hinge", False), ("dcgan", "nonsaturating", True)]
COLUMNS = ("fid", "kid", "precision", "recall", "density", "coverage", "class_kl", "label_accuracy", "cas")


def run_one(dataset: str, model: str, loss: str, conditional: bool, args: argparse.Namespace) -> dict[str, Any]:
    name = f"{dataset}-{model}-{loss}{'-cond' if conditional else ''}-s{args.seed}"
    out = Path(args.runs) / name
    kw: dict[str, Any] = {}
    if args.steps:
        kw["steps"] = args.steps
    cfg = gankit.TrainConfig(dataset=dataset, data_dir=args.data_dir, model=model, loss=loss,
                             conditional=conditional, seed=args.seed, out=str(out), progress=False, **kw)
    resolved = cfg.resolved()
    if args.reuse and (out / "checkpoints" / f"step_{resolved.steps:07d}.safetensors").exists():
        print(f"reusing the finished run {out}", flush=True)
    else:
        gankit.train(cfg)
    # the run's own clock (metrics.jsonl time_s at the last step): training only, no evaluation
    train_s = run_summary(out)["last_metrics"]["time_s"]
    scores = gankit.evaluate(out, n=10000, seed=args.seed, data_dir=args.data_dir, cas=conditional)
    return {"name": name, "dataset": dataset, "model": model, "loss": loss, "conditional": conditional,
            "steps": resolved.steps, "train_s": round(train_s, 1),
            "command": f"gankit train --dataset {dataset} --data-dir DATA --model {model} --loss {loss}"
                       f"{' --conditional' if conditional else ''} --seed {args.seed}"
                       f"{f' --steps {args.steps}' if args.steps else ''} --out {out}; gankit evaluate {out} "
                       f"--seed {args.seed}{' --cas' if conditional else ''}", **scores}


def table(rows: list[dict[str, Any]]) -> str:
    head = "| data | model | loss | steps | train s | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (5 + len(COLUMNS))]
    for r in rows:
        cells = [f"{r[c]:.3g}" if isinstance(r.get(c), float) else "" for c in COLUMNS]
        model = r["model"] + (" (cond)" if r["conditional"] else "")
        lines.append(f"| {r['dataset']} | {model} | {r['loss']} | {r['steps']} | {r['train_s']:.0f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, help="folder with mnist/ and fashion_mnist/ IDX files")
    ap.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    ap.add_argument("--steps", type=int, help="override the recipe's steps (default: the recipe's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", default="runs/bench-quality", help="where the runs go")
    ap.add_argument("--out", default="bench/results/quality.json")
    ap.add_argument("--reuse", action="store_true", help="evaluate finished runs already in --runs instead of "
                    "training them again")
    ap.add_argument("--variants", nargs="+", metavar="MODEL/LOSS[/cond]",
                    help="only these variants (default: all seven), e.g. dcgan/nonsaturating/cond")
    args = ap.parse_args()
    variants = VARIANTS
    if args.variants:
        known = {f"{m}/{l}{'/cond' if c else ''}": (m, l, c) for m, l, c in VARIANTS}
        unknown = [v for v in args.variants if v not in known]
        if unknown:
            ap.error(f"unknown variant {unknown[0]!r} (choose from {', '.join(known)})")
        variants = [known[v] for v in args.variants]
    result = {"machine": machine(), "command": "python bench/quality.py " + " ".join(sys.argv[1:]), "rows": []}
    rows = result["rows"]
    for dataset in args.datasets:
        for model, loss, cond in variants:
            rows.append(run_one(dataset, model, loss, cond, args))
            write_json(args.out, result)  # after each run: partial results survive
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
