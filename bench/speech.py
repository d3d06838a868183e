"""Spoken digits: the shipped classifier on held-out renderings, and a conditional SpecGAN heard through it.

    python bench/speech.py --data-dir DATA [--steps 6000] [--seeds 0] [--runs runs/speech]
                           [--out bench/results/speech.json] [--figures docs/speech] [--reuse]

1. The shipped spoken-digit classifier (trained on the `test` split's voices) on the `train` split, whose voice
   variants and seeds it never saw: accuracy on the clips as they are and after the Griffin-Lim round trip.
2. For each seed: `gankit train --method specgan --dataset spoken-digits --conditional --seed S` (the method's recipe;
   --steps sets the budget), then `gankit evaluate RUN` (1,500 generated clips heard through Griffin-Lim: label
   accuracy, class spread, FID in the classifier's features, beside the real-vs-real floors on the same reference).
3. The first seed's figures in --figures: one generated spectrogram per digit above real ones of the same digits
   (specgan-digits.png) and two of the generated clips as WAV files.

The recipe's budget (6,000 steps, about 45 minutes on a 2-core CPU at a load average of 6) is the full-length run; shorter budgets are
labelled by their step count in the result. DATA holds spoken_digits/ (`python -m gankit.data.speech --out DATA`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

import gankit
from gankit import audio
from gankit.data.speech import DIGITS, load_spoken_digit_waves
from gankit.evaluation.speech import accuracy, heard, load_speech_classifier
from gankit.methods.specgan import SpecGAN
from gankit.viz.spectrograms import plot_spectrograms

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import machine, training_seconds, write_json  # noqa: E402


def classifier_result(data_dir: str | None) -> dict[str, Any]:
    net = load_speech_classifier()
    waves, y = load_spoken_digit_waves("train", data_dir=data_dir)
    x = audio.waves_to_images(waves)
    return {"file": net.path.name, "sha256": net.sha256, "n": len(y), "split": "train (voices it never heard)",
            "accuracy": accuracy(net.model, x, y), "accuracy_griffin_lim": accuracy(net.model, heard(x), y)}


def train(seed: int, args: argparse.Namespace) -> Path:
    run = Path(args.runs) / f"specgan-cond-s{seed}"
    if args.reuse and (run / "checkpoints").is_dir():
        return run
    cmd = [sys.executable, "-m", "gankit", "train", "--method", "specgan", "--dataset", "spoken-digits",
           "--conditional", "--seed", str(seed), "--no-progress", "--out", str(run)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    subprocess.run(cmd, check=True)
    return run


def figures(run: Path, args: argparse.Namespace) -> dict[str, str]:
    """One figure (generated spectrograms, one per digit, above real ones of the same digits) and two WAV files."""
    out = Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    G = gankit.load(run)
    fake = G.sample(10, labels=torch.arange(10), seed=0).cpu()  # [10, 1, 64, 64]
    waves, y = load_spoken_digit_waves("train", data_dir=args.data_dir)
    first = torch.tensor([int(torch.nonzero(y == k)[0]) for k in range(10)])
    real = audio.waves_to_images(waves[first])
    plot_spectrograms(torch.cat([fake, real]), out / "specgan-digits.png", ncol=10, dpi=60,
                      titles=list(DIGITS) + [f"real {d}" for d in DIGITS],
                      suptitle=f"top: conditional SpecGAN after {G.step:,} steps, one sample per digit asked for; "
                      "bottom: real renderings from the train split")
    sound = audio.images_to_waves(fake, seed=0)
    files = {"figure": str(out / "specgan-digits.png")}
    for k in (3, 7):
        path = out / f"specgan-{DIGITS[k]}.wav"
        audio.write_wav(path, sound[k])
        files[f"wav_{DIGITS[k]}"] = str(path)
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", help="folder holding spoken_digits/ (default: $GANKIT_DATA, else the cache)")
    ap.add_argument("--steps", type=int, help=f"training steps (default: the recipe's {SpecGAN.recipe['steps']})")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--n", type=int, default=1500, help="generated clips scored per run")
    ap.add_argument("--runs", default="runs/speech")
    ap.add_argument("--out", default="bench/results/speech.json")
    ap.add_argument("--figures", default="docs/speech")
    ap.add_argument("--reuse", action="store_true", help="score finished runs in --runs instead of training again")
    ap.add_argument("--figures-only", action="store_true", help="only redraw the first seed's figures of the "
                    "result in --out (its run must be in --runs)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.figures_only:
        result = json.loads(Path(args.out).read_text())
        row = result["seeds"][0]
        row["figures"] = figures(Path(row["run"]), args)
        row["figures_command"] = "python " + " ".join(sys.argv)
        write_json(args.out, result)
        print(f"figures -> {args.figures}")
        return
    result: dict[str, Any] = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                              "command": "python " + " ".join(sys.argv), "machine": machine(),
                              "steps": args.steps or SpecGAN.recipe["steps"],
                              "full_length": (args.steps or SpecGAN.recipe["steps"]) >= SpecGAN.recipe["steps"],
                              "classifier": classifier_result(args.data_dir), "seeds": []}
    write_json(args.out, result)
    for i, seed in enumerate(args.seeds):
        t0 = time.perf_counter()
        run = train(seed, args)
        scores = gankit.evaluate(str(run), n=args.n, seed=0)
        G = gankit.load(run)
        row = {"seed": seed, "run": str(run), "step": G.step, "train_seconds": training_seconds(run, G.step),
               "wall_seconds": round(time.perf_counter() - t0, 1),
               "scores": {k: v for k, v in scores.items() if k != "protocol"}, "protocol": scores["protocol"]}
        result["seeds"].append(row)
        write_json(args.out, result)
        if i == 0:
            row["figures"] = figures(run, args)
            write_json(args.out, result)
        s = row["scores"]
        print(f"seed {seed}: {G.step} steps, label accuracy {s['label_accuracy']:.3f}, FID {s['fid']:.2f} "
              f"(real vs real {s['fid_real_vs_real']:.2f}, real after Griffin-Lim {s['fid_real_griffin_lim']:.2f})")
    print(f"classifier on unheard voices: {result['classifier']['accuracy']:.4f} "
          f"(after Griffin-Lim {result['classifier']['accuracy_griffin_lim']:.4f}); result -> {args.out}")


if __name__ == "__main__":
    main()
