"""Paired image-to-image tasks: the same U-Net trained with and without the adversarial term, side by side.

    python bench/translate.py --data-dir DATA [--tasks edges superres4 superres2 inpaint colorize]
                              [--datasets mnist fashion-mnist] [--seed 0] [--steps N] [--n 10000]
                              [--runs runs/translate] [--results bench/results] [--figures docs/translate]

For each task and data set (colorize: coloured-mnist only, the others on the grey sets): `gankit train --task TASK
--dataset SET --seed S --steps N --no-health` twice, with --adv-weight 1 (pix2pix: L1 + cGAN) and --adv-weight 0
(the same network on the L1 term alone, the same batches and holes), then `gankit evaluate` of each on the first
--n test images (classifier accuracy, FID against the real targets, L1 / PSNR / SSIM, the masked region's L1 for
inpaint, the colour error for colorize, and for superres the bicubic upsampling's scores). Raw results (date,
command, seed, machine, steps, training seconds, every score) go to RESULTS/translate-<task>.json, and one figure
per task and data set to FIGURES/<task>-<set>.png: rows of held-out test images as input | L1 only | L1 + cGAN |
target. The default --steps is the full-length budget (about 30 minutes of the GAN's training on a 2-core CPU);
pass a smaller one for a short check.
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
from gankit.data.tasks import get_task
from gankit.evaluation.paired import evaluate_translation
from gankit.methods.pix2pix import held_out_images

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import machine, training_seconds, write_json  # noqa: E402

FULL_STEPS = 6000  # ~30 minutes of L1 + cGAN training at ~3.4 steps/s, one thread
TASKS = ("edges", "superres4", "superres2", "inpaint", "colorize")
FIGURE_IMAGES = 16


def train(task: str, dataset: str, adv: float, args: argparse.Namespace) -> tuple[Path, str]:
    out = Path(args.runs) / f"{task}-{dataset}-adv{adv:g}-s{args.seed}"
    cfg = gankit.TrainConfig(method="pix2pix", task=task, dataset=dataset, data_dir=args.data_dir, seed=args.seed,
                             steps=args.steps, adv_weight=adv, out=str(out), progress=False, health=False)
    command = (f"gankit train --task {task} --dataset {dataset} --data-dir DATA --seed {args.seed} --steps "
               f"{args.steps} --adv-weight {adv:g} --no-health --out {out}")
    done = out / "checkpoints" / f"step_{args.steps:07d}.safetensors"
    if not (args.reuse and done.exists()):
        gankit.train(cfg)
    return out, command


def figure(task: str, runs: dict[float, Path], path: Path) -> None:
    """Rows of input | L1 only | L1 + cGAN | target for held-out test images (4 quadruples per row)."""
    from gankit.viz import save_grid

    G1, G0 = gankit.load(runs[1.0]), gankit.load(runs[0.0])
    t = get_task(task)
    target = held_out_images(G1.config.resolved(), _data_stub(G1), FIGURE_IMAGES)
    g = torch.Generator().manual_seed(G1.config.seed + 7919)
    u = torch.rand((len(target), t.uniforms), generator=g) if t.uniforms else None
    inp, target = t.make(target, u)
    with torch.no_grad():
        net1, net0 = G1.extra_net("translate"), G0.extra_net("translate")
        cols = [t.display(inp, target.shape[1]), net0(inp), net1(inp), target]
    save_grid(torch.stack(cols, 1).flatten(0, 1), path, nrow=16, scale=2)


def _data_stub(G: Any) -> Any:
    """What held_out_images needs of the training data when the test split is missing: its images."""
    from gankit.data import load_dataset

    cfg = G.config
    return load_dataset(cfg.dataset, data_dir=cfg.data_dir, channels=cfg.channels, compact=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("GANKIT_DATA"), help="folder with the MNIST IDX files")
    ap.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    ap.add_argument("--datasets", nargs="+", default=["mnist"], help="grey sets for edges / superres / inpaint "
                    "(mnist, fashion-mnist); colorize always uses coloured-mnist")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=FULL_STEPS, help=f"G updates per run (default {FULL_STEPS})")
    ap.add_argument("--n", type=int, default=10000, help="test images scored per run")
    ap.add_argument("--runs", default="runs/translate")
    ap.add_argument("--results", default="bench/results")
    ap.add_argument("--figures", default="docs/translate")
    ap.add_argument("--reuse", action="store_true", help="score finished runs in --runs instead of training again")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for task in args.tasks:
        sets = ["coloured-mnist"] if task == "colorize" else args.datasets
        path = Path(args.results) / f"translate-{task}.json"
        now = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "command": "python " + " ".join(sys.argv), "machine": machine()}
        # one file per task: runs of other data sets from an earlier invocation are kept (each row says which
        # invocation made it), those of the data sets run now are replaced
        kept = []
        if path.is_file():
            old = json.loads(path.read_text())
            if old.get("steps") == args.steps and old.get("seed") == args.seed and old.get("n_scored") == args.n:
                kept = [r for r in old["runs"] if r["dataset"] not in sets]
        result: dict[str, Any] = {**now, "task": task, "seed": args.seed, "steps": args.steps, "n_scored": args.n,
                                  "runs": kept}
        for dataset in sets:
            runs: dict[float, Path] = {}
            for adv in (1.0, 0.0):
                out, command = train(task, dataset, adv, args)
                runs[adv] = out
                scores = evaluate_translation(gankit.load(out), n=args.n, data_dir=args.data_dir)
                row = {"dataset": dataset, "adv_weight": adv, "network": "L1 + cGAN" if adv else "L1 only",
                       "command": command, "bench": now, "train_s": training_seconds(out, args.steps), **scores}
                result["runs"].append(row)
                write_json(path, result)
                shown = " ".join(f"{k}={v:.4g}" for k, v in scores.items() if isinstance(v, float))
                print(f"{task} {dataset} adv {adv:g}: {shown} ({row['train_s']} s)", flush=True)
            figure(task, runs, Path(args.figures) / f"{task}-{dataset}.png")
        print(f"{task}: -> {path}", flush=True)


if __name__ == "__main__":
    main()
