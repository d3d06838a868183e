"""Train the shipped spoken-digit classifier (gankit.evaluation.speech.SpeechClassifier).

    python bench/train_speech_classifier.py --data-dir DATA [--epochs 30] [--seed 0]
        [--out src/gankit/assets/classifiers/spoken-digits.safetensors] [--result bench/results/speech-classifier.json]

It trains on the spoken-digits `test` split (voice variants m6-m8, f4-f5: renderings the GANs never train on) and is
measured on the `train` split (variants m1-m5, f1-f3, other seeds: voices it never heard), as the clips are and
after the Griffin-Lim round trip that generated spectrograms go through (gankit.audio). DATA holds
spoken_digits/ (`python -m gankit.data.speech --out DATA`); without it the splits are rendered into the cache.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import torch

from gankit import audio
from gankit.data.speech import load_spoken_digit_waves
from gankit.evaluation.speech import accuracy, heard, save_speech_classifier, train_speech_classifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf import machine, write_json  # noqa: E402

DEFAULT_OUT = "src/gankit/assets/classifiers/spoken-digits.safetensors"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", help="folder holding spoken_digits/ (default: $GANKIT_DATA, else the cache)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--result", default="bench/results/speech-classifier.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    w_fit, y_fit = load_spoken_digit_waves("test", data_dir=args.data_dir)
    w_eval, y_eval = load_spoken_digit_waves("train", data_dir=args.data_dir)
    x_fit, x_eval = audio.waves_to_images(w_fit), audio.waves_to_images(w_eval)
    t0 = time.perf_counter()
    model = train_speech_classifier(x_fit, y_fit, epochs=args.epochs, seed=args.seed, x_val=x_eval, y_val=y_eval)
    seconds = time.perf_counter() - t0
    acc = accuracy(model, x_eval, y_eval)
    acc_gl = accuracy(model, heard(x_eval, seed=args.seed), y_eval)
    acc_fit = accuracy(model, x_fit, y_fit)
    save_speech_classifier(model, args.out, accuracy_unheard=acc, accuracy_unheard_griffin_lim=round(acc_gl, 6),
                           trained_on="spoken-digits test split", epochs=args.epochs, seed=args.seed)
    size = Path(args.out).stat().st_size
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "command": "python " + " ".join(sys.argv), "machine": machine(), "seed": args.seed,
              "epochs": args.epochs, "n_fit": len(y_fit), "n_eval": len(y_eval),
              "accuracy_fit_split": acc_fit, "accuracy_unheard_voices": acc,
              "accuracy_unheard_voices_griffin_lim": acc_gl, "train_seconds": round(seconds, 1),
              "file": args.out, "file_bytes": size,
              "weights": sum(p.numel() for p in model.parameters())}
    write_json(args.result, result)
    print(f"accuracy on unheard voices {acc:.4f} (after Griffin-Lim {acc_gl:.4f}); on its own split {acc_fit:.4f}; "
          f"{size} bytes -> {args.out}; result -> {args.result}")


if __name__ == "__main__":
    main()
