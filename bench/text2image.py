"""Text to image's claims: generated images agree with their captions' class and attributes, against a control.

    python bench/text2image.py [--data-dir DATA] [--seeds 0] [--steps N] [--datasets mnist fashion-mnist]
                               [--runs runs/text2image] [--out bench/results/text2image.json]
                               [--figure docs/text2image.png]

For each seed and data set, `gankit train --method text2image --dataset D` (the method's recipe unless --steps is
given), then `gankit evaluate`'s scores of the run (gankit.evaluation.captions): on the captions of 2,000 held-out
test images (every attribute named), one generated image per caption; how often the shipped classifier's class is
the caption's class, and how often the measured stroke width / slant (MNIST) or darkness (Fashion-MNIST) falls in
the level the caption names, each beside the same agreement with a random other caption (the control: what an
image that ignored its caption would score). The first seed's MNIST run draws the figure: one row per caption,
eight samples each, the caption written beside its row. Raw results with the date, command, seeds and machine go to
--out after every run.
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
from gankit.evaluation.captions import score_text2image
from gankit.methods.text2image import sample_text
from gankit.rundir import run_summary

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import machine  # noqa: E402

FIGURE_CAPTIONS = {"mnist": ["a thin two", "a thick two", "a thin seven slanting left", "a thick seven slanting right",
                             "a four standing upright", "a thick zero", "a thin one slanting right"],
                   "fashion-mnist": ["a dark ankle boot", "a light ankle boot", "a dark t-shirt", "a light t-shirt",
                                     "a dark bag", "a light trouser"]}
PER_CAPTION = 8


def figure(G: Any, texts: list[str], path: str) -> None:
    """One row per caption: PER_CAPTION samples with the caption at the row's left."""
    from gankit.viz.figures import new_figure, save_figure

    x = sample_text(G, texts, PER_CAPTION, seed=0).cpu()  # [len * 8, 1, 28, 28]
    fig = new_figure(1.0 + 0.55 * PER_CAPTION + 1.9, 0.6 * len(texts) + 0.3)
    axes = fig.subplots(len(texts), PER_CAPTION + 1, squeeze=False)
    for r, text in enumerate(texts):
        axes[r, 0].text(1.0, 0.5, text, ha="right", va="center", fontsize=8)
        axes[r, 0].set_axis_off()
        for c in range(PER_CAPTION):
            ax = axes[r, c + 1]
            ax.imshow(((x[r * PER_CAPTION + c, 0] + 1) / 2).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_axis_off()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path, dpi=80)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("GANKIT_DATA"), help="folder with the MNIST IDX files")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--steps", type=int, help="training steps (default: the text2image recipe's)")
    ap.add_argument("--datasets", nargs="+", choices=("mnist", "fashion-mnist"), default=["mnist", "fashion-mnist"])
    ap.add_argument("--n", type=int, default=2000, help="held-out captions scored per run")
    ap.add_argument("--runs", default="runs/text2image")
    ap.add_argument("--out", default="bench/results/text2image.json")
    ap.add_argument("--figure", default="docs/text2image.png", help="the first MNIST run's figure ('' for none)")
    ap.add_argument("--reuse", action="store_true", help="score finished runs in --runs instead of training again")
    args = ap.parse_args()
    torch.set_num_threads(1)
    result: dict[str, Any] = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                              "command": "python " + " ".join(sys.argv), "machine": machine(), "seeds": args.seeds,
                              "runs": []}
    for i, seed in enumerate(args.seeds):
        for dataset in args.datasets:
            out = Path(args.runs) / f"{dataset}-s{seed}"
            kw: dict[str, Any] = {"steps": args.steps} if args.steps else {}
            cfg = gankit.TrainConfig(method="text2image", dataset=dataset, data_dir=args.data_dir, seed=seed,
                                     out=str(out), progress=False, health=False, **kw).resolved()
            done = out / "checkpoints" / f"step_{cfg.steps:07d}.safetensors"
            if not (args.reuse and done.exists()):
                gankit.train(cfg)
            G = gankit.load(out)
            steps = f" --steps {args.steps}" if args.steps else ""
            row: dict[str, Any] = {
                "dataset": dataset, "seed": seed, "steps": cfg.steps, "batch_size": cfg.batch_size,
                "train_s": run_summary(out)["last_metrics"]["time_s"],
                "command": f"gankit train --method text2image --dataset {dataset}{steps} --seed {seed} --no-health "
                           f"--out {out}",
                "scores": score_text2image(G, n=args.n, seed=seed, data_dir=args.data_dir)}
            if i == 0 and args.figure and dataset == "mnist":
                figure(G, FIGURE_CAPTIONS["mnist"], args.figure)
                row["figure"] = args.figure
            result["runs"].append(row)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
            s = row["scores"]
            attrs = [k.removesuffix("_agreement") for k in s if k.endswith("_agreement") and "class" not in k]
            print(f"{dataset} seed {seed}: class {s['class_agreement']:.3f} (control "
                  f"{s['class_agreement_control']:.3f}, real {s['real_class_agreement']:.3f}); "
                  + "; ".join(f"{a} {s[a + '_agreement']:.3f} (control {s[a + '_agreement_control']:.3f})"
                              for a in attrs)
                  + f"; {row['steps']} steps in {row['train_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
