"""InfoGAN on MNIST (Chen et al. 2016): its 10-way categorical code as an unsupervised digit classifier, and what
its two continuous codes do to the digits. The model zoo's InfoGAN row and pictures.

    python bench/zoo_infogan.py --data-dir DATA [--steps N] [--seeds 0 1 2] [--out bench/results/zoo-infogan.json]
                                [--figures docs/zoo]

Per seed: `gankit train --method infogan --dataset mnist` (the method's recipe: the paper's MNIST networks, 62 noise
dims, one 10-way and two U(-1, 1) codes, Adam 1e-3 for G and 2e-4 for D) for --steps steps, then
  - code accuracy: Q's most likely category for each of the 10,000 MNIST test digits, mapped to the digit classes
    by the best one-to-one assignment (the paper: about 5 % error, section 7.1);
  - the continuous codes: 1,000 samples per code with that code swept over [-1, 1] (noise, the other codes and
    the category drawn), and the Pearson correlation of the code with the ink's width and slant
    (gankit.evaluation.codes.ink_moments); the paper's figure 2 shows c2 turning slant and c3 width;
  - FID and the other `gankit evaluate` scores of 2,000 samples.
With --figures, the first seed's pictures: rows = code values in the order of their assigned digits, columns =
noise; and one picture per continuous code, rows = categories, columns = the code from -1 to 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import machine, training_seconds, write_json  # noqa: E402

import gankit  # noqa: E402
from gankit.data import load_dataset  # noqa: E402
from gankit.data.transforms import as_float  # noqa: E402
from gankit.evaluation.codes import code_accuracy, ink_moments, pearson  # noqa: E402


def continuous_effects(G: Any, n: int, seed: int) -> list[dict[str, float]]:
    """Per continuous code: its correlation with the ink's width and slant over n samples in which only that code
    is swept over [-1, 1] on a grid, the rest drawn."""
    out = []
    net = G.net
    for j in range(net.info_cont):
        z = G.sample_z(n, seed=seed + j)
        cont = net.codes(z)[1].clone()
        c = torch.linspace(-1, 1, n)
        cont[:, j] = c
        with torch.no_grad():
            x = net(net.with_codes(z, cont=cont))
        width, slant = ink_moments(x)
        out.append({"code": j, "corr_width": pearson(c, width), "corr_slant": pearson(c, slant),
                    "width_at_-1": float(width[: n // 10].mean()), "width_at_+1": float(width[-n // 10:].mean()),
                    "slant_at_-1": float(slant[: n // 10].mean()), "slant_at_+1": float(slant[-n // 10:].mean())})
    return out


def figures(G: Any, assignment: dict[int, int], out_dir: Path, seed: int) -> list[str]:
    from gankit.viz import save_grid

    out_dir.mkdir(parents=True, exist_ok=True)
    net, k = G.net, G.num_codes
    order = sorted(range(k), key=lambda c: assignment.get(c, k + c))  # code values in the order of their digits
    cols = 10
    z = G.sample_z(cols, seed=seed).repeat(k, 1)  # the same noise and continuous codes down each column
    cats = torch.tensor(order).repeat_interleave(cols)
    with torch.no_grad():
        grid = net(net.with_codes(z, cat=cats))
    files = [out_dir / "infogan-categorical.png"]
    save_grid(grid, files[0], nrow=cols, scale=2)
    steps = torch.linspace(-1, 1, cols)
    for j in range(net.info_cont):
        z = G.sample_z(1, seed=seed + 100 + j).repeat(k * cols, 1)  # one noise vector for the whole picture
        cont = net.codes(z)[1].clone()
        cont[:, j] = steps.repeat(k)
        with torch.no_grad():
            grid = net(net.with_codes(z, cat=cats, cont=cont))
        files.append(out_dir / f"infogan-continuous-{j + 1}.png")
        save_grid(grid, files[-1], nrow=cols, scale=2)
    return [str(f) for f in files]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("GANKIT_DATA"), help="folder with the MNIST IDX files "
                    "(default: $GANKIT_DATA)")
    ap.add_argument("--steps", type=int, default=20000, help="generator updates per run (default: 20000)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--batch-size", type=int, help="default: the recipe's")
    ap.add_argument("--prior", default="uniform", help="the noise's prior (default: uniform, U(-1, 1) as in the "
                    "paper's released code)")
    ap.add_argument("--score-only", action="store_true", help="train nothing: score the newest checkpoint of each "
                    "seed's run in --runs, at whatever step it is (its step is recorded)")
    ap.add_argument("--runs", default="runs/zoo-infogan", help="where the runs go")
    ap.add_argument("--out", default="bench/results/zoo-infogan.json")
    ap.add_argument("--figures", help="write the first seed's pictures into this folder (e.g. docs/zoo)")
    ap.add_argument("--eval-n", type=int, default=2000, help="samples for FID etc., 0: skip them (default: 2000)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reuse", action="store_true", help="score finished runs already in --runs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    test = load_dataset("mnist", split="test", data_dir=args.data_dir)
    test_x = as_float(test.x)
    result: dict[str, Any] = {"machine": machine(), "command": "python " + " ".join(sys.argv), "runs": []}
    for seed in args.seeds:
        out = Path(args.runs) / f"s{seed}"
        kw = {"batch_size": args.batch_size} if args.batch_size else {}
        cfg = gankit.TrainConfig(method="infogan", dataset="mnist", data_dir=args.data_dir, steps=args.steps,
                                 prior=args.prior, seed=seed, out=str(out), progress=False, **kw)
        t0 = time.perf_counter()
        done = (out / "checkpoints" / f"step_{args.steps:07d}.safetensors").exists()
        if not (args.score_only or (args.reuse and done)):
            gankit.train(cfg)
        wall = time.perf_counter() - t0
        acc = code_accuracy(out, test_x, test.y)
        G = gankit.load(out)
        cfg = G.config  # the run's own, which --score-only did not choose
        scores = (gankit.evaluate(out, n=args.eval_n, seed=seed, data_dir=args.data_dir) if args.eval_n
                  else {"fid": None, "recall": None, "precision": None})
        row = {"seed": seed, "steps": G.step, "batch_size": cfg.batch_size, "prior": cfg.prior,
               "train_s": training_seconds(out, G.step), "wall_s": round(wall, 1),
               "command": f"gankit train --method infogan --dataset mnist --prior {cfg.prior} --steps {cfg.steps} "
                          f"--batch-size {cfg.batch_size} --width {cfg.width} --d-width {cfg.d_width} --seed {seed} "
                          f"--out {out}" + (f" (scored at step {G.step})" if G.step != cfg.steps else ""),
               "width": cfg.width, "d_width": cfg.d_width,
               "code_error": acc["error"], "code_accuracy": acc["accuracy"], "assignment": acc["assignment"],
               "confusion": acc["confusion"], "continuous": continuous_effects(G, 1000, seed),
               "fid": scores["fid"], "recall": scores["recall"], "precision": scores["precision"],
               "eval_n": args.eval_n}
        if args.figures and seed == args.seeds[0]:
            row["figures"] = figures(G, acc["assignment"], Path(args.figures), seed)
        result["runs"].append(row)
        write_json(args.out, result)  # after each seed: partial results survive
        cont = "; ".join(f"c{c['code'] + 1}: r(width) {c['corr_width']:+.2f}, r(slant) {c['corr_slant']:+.2f}"
                         for c in row["continuous"])
        print(f"seed {seed}: code error {acc['error']:.3f} ({G.step} steps, {row['train_s']} s), "
              f"FID {row['fid'] if row['fid'] is None else round(row['fid'], 1)}; {cont}", flush=True)
    print(f"-> {args.out}")
    print(json.dumps({"code_error": [r["code_error"] for r in result["runs"]]}))


if __name__ == "__main__":
    main()
