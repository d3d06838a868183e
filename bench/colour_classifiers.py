"""Train the shipped feature networks of the coloured sets (coloured-mnist, coloured-fashion, read at 32x32) the
way the MNIST / Fashion-MNIST ones were made (gankit.evaluation.classifier.train_classifier: Adam, one-cycle
schedule, random shifts, seed 0), write them into src/gankit/assets/classifiers/, and record each network's test
accuracy, size and SHA-256.

    OMP_NUM_THREADS=1 python bench/colour_classifiers.py --epochs 3 --out bench/results/colour-classifiers.json

Needs the MNIST and Fashion-MNIST IDX files ($GANKIT_DATA or --data-dir).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import torch

from perf import machine, write_json

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["coloured-mnist", "coloured-fashion"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir")
    ap.add_argument("--assets", default=str(ROOT / "src/gankit/assets/classifiers"))
    ap.add_argument("--out", required=True, help="the JSON result file")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from gankit.data import load_dataset
    from gankit.evaluation.classifier import INPUT_SHAPES, file_sha256, save_classifier, train_classifier

    record = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "command": "python " + " ".join(sys.argv), "machine": machine(), "networks": []}
    for name in args.datasets:
        size = INPUT_SHAPES[name][-1]
        train = load_dataset(name, split="train", data_dir=args.data_dir, image_size=size)
        test = load_dataset(name, split="test", data_dir=args.data_dir, image_size=size)
        t0 = time.perf_counter()
        model, acc = train_classifier(train.x, train.y, test.x, test.y, epochs=args.epochs, seed=args.seed,
                                      log=lambda m, n=name: print(f"{n}: {m}", flush=True))
        path = Path(args.assets) / f"{name}.safetensors"
        save_classifier(model, path, dataset=name, test_accuracy=acc, epochs=args.epochs, batch_size=128, lr=2e-3,
                        seed=args.seed, train_size=len(train), test_size=len(test), image_size=size)
        record["networks"].append({"dataset": name, "input_shape": list(INPUT_SHAPES[name]), "epochs": args.epochs,
                                   "seed": args.seed, "test_accuracy": round(acc, 4),
                                   "train_s": round(time.perf_counter() - t0, 1), "file": path.name,
                                   "bytes": path.stat().st_size, "sha256": file_sha256(path)})
        print(f"{name}: test accuracy {acc:.4f} -> {path} ({path.stat().st_size} bytes)", flush=True)
        write_json(args.out, record)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
