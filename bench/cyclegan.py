"""CycleGAN's claim: unpaired translation MNIST <-> a second domain, with and without the adversarial term.

    python bench/cyclegan.py --data-dir DATA [--domain thick|invert] [--seed 0] [--steps N]
                             [--runs runs/bench-cyclegan] [--out bench/results/cyclegan-DOMAIN.json]
                             [--figure docs/translate/cyclegan-DOMAIN.png] [--n 2000]

Trains `gankit train --task cyclegan --dataset mnist --domain-b DOMAIN --loss lsgan --seed S` twice, with
`--adv-weight 1` (CycleGAN) and `--adv-weight 0` (the same translators on the cycle term alone), for --steps steps
each (default: the cyclegan recipe's), then scores both with gankit.evaluation.unpaired on --n held-out MNIST
test images per domain: cycle-consistency error, the shipped classifier's accuracy on the translated digits (and on
the true translations, the ceiling), FID of the translations against real domain-B images (and of the true
translations, the floor), and the L1 distance to the true translation. Writes the raw results (date, command,
seed, machine, steps, seconds) to --out and one figure to --figure: rows of 12 test digits, top to bottom: the
input a, its true translation domain_b(a), G_ab(a) and G_ba(G_ab(a)) with the adversarial term, the same two
without it.
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
from gankit.data.domains import get_domain
from gankit.data.transforms import as_float
from gankit.evaluation.classifier import load_classifier
from gankit.evaluation.unpaired import translation_scores
from gankit.rundir import run_summary

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import machine  # noqa: E402

PER_ROW = 12


def train_one(args: argparse.Namespace, adv: float) -> tuple[Path, dict[str, Any]]:
    out = Path(args.runs) / f"cyclegan-{args.domain}-adv{adv:g}-s{args.seed}"
    kw: dict[str, Any] = {"steps": args.steps} if args.steps else {}
    cfg = gankit.TrainConfig(dataset="mnist", data_dir=args.data_dir, task="cyclegan", method="cyclegan",
                             domain_b=args.domain, loss="lsgan", adv_weight=adv, seed=args.seed, out=str(out),
                             progress=False, sample_every=max(1, (args.steps or 4000) // 10), **kw).resolved()
    done = out / "checkpoints" / f"step_{cfg.steps:07d}.safetensors"
    if not (args.reuse and done.exists()):
        gankit.train(cfg)
    flags = f" --steps {args.steps}" if args.steps else ""
    return out, {"adv_weight": adv, "steps": cfg.steps, "batch_size": cfg.batch_size, "width": cfg.width,
                 "train_s": run_summary(out)["last_metrics"]["time_s"],
                 "command": f"gankit train --task cyclegan --dataset mnist --data-dir DATA --domain-b {args.domain} "
                            f"--loss lsgan --adv-weight {adv:g} --seed {args.seed}{flags} --out {out}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("GANKIT_DATA"), help="folder with the MNIST IDX files")
    ap.add_argument("--domain", default="thick", help="domain B: thick or invert")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, help="training steps of each run (default: the cyclegan recipe's)")
    ap.add_argument("--n", type=int, default=2000, help="held-out test images translated per domain")
    ap.add_argument("--runs", default="runs/bench-cyclegan")
    ap.add_argument("--out", help="default: bench/results/cyclegan-DOMAIN.json")
    ap.add_argument("--figure", help="default: docs/translate/cyclegan-DOMAIN.png ('' for none)")
    ap.add_argument("--reuse", action="store_true", help="score finished runs in --runs instead of training again")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    out_json = args.out or f"bench/results/cyclegan-{args.domain}.json"
    fig = f"docs/translate/cyclegan-{args.domain}.png" if args.figure is None else args.figure
    domain = get_domain(args.domain)

    test = load_dataset("mnist", split="test", data_dir=args.data_dir)
    perm = torch.randperm(len(test), generator=torch.Generator().manual_seed(args.seed))
    half = len(test) // 2
    ia, ib = perm[:args.n], perm[half:half + args.n]
    x = as_float(test.x)
    net = load_classifier("mnist")
    result: dict[str, Any] = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                              "command": "python " + " ".join(sys.argv), "machine": machine(), "seed": args.seed,
                              "domain_b": args.domain, "n_translated": args.n,
                              "images": "MNIST test split, seeded permutation: n A images, n other images made into "
                                        "domain B", "runs": []}
    rows = [x[ia[:PER_ROW]], domain.make(x[ia[:PER_ROW]])]
    for adv in (1.0, 0.0):
        out, row = train_one(args, adv)
        G = gankit.load(out)
        G_ab, G_ba = G.extra_net("translate"), G.extra_net("translate_back")
        row.update(translation_scores(G_ab, G_ba, x[ia], test.y[ia], x[ib], test.y[ib], domain_b=args.domain,
                                      net=net))
        result["runs"].append(row)
        with torch.no_grad():
            ab = G_ab(rows[0])
            rows += [ab, G_ba(ab)]
        Path(out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(out_json).write_text(json.dumps(result, indent=1) + "\n")
        print(f"adv_weight {adv:g}: {row['steps']} steps in {row['train_s']:.0f} s; cycle_l1 {row['cycle_l1']:.4f}, "
              f"translated label accuracy {row['translated_label_accuracy']:.4f} (true translation "
              f"{row['reference_label_accuracy']:.4f}), translated FID {row['translated_fid']:.2f} (true "
              f"translation {row['reference_fid']:.2f}), L1 to truth {row['l1_to_truth']:.4f}", flush=True)
    if fig:
        from gankit.viz import save_grid

        Path(fig).parent.mkdir(parents=True, exist_ok=True)
        save_grid(torch.cat(rows).cpu(), fig, nrow=PER_ROW, scale=2)
        print(f"figure -> {fig}")
    print(f"results -> {out_json}")


if __name__ == "__main__":
    main()
