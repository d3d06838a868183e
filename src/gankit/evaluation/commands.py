"""The evaluation verbs of the command line: `gankit evaluate` and `gankit train-classifier`."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from ..config import MAX_SEED
from ..cli.jsonout import add_json_flag, check_file_target, check_json_target, emit_json, human
from .. import progress
from ..errors import ConfigError


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="score a run (or real data, or a file of images) with offline metrics",
                       description="Score a run's generator (or images from a folder or .npy/.npz file, --images) "
                       "against the real data: FID and KID in the domain "
                       "classifier's feature space, precision/recall, density/coverage, the Inception-Score "
                       "analogue and class histogram (images); modes and high-quality fraction (ring8, grid25); "
                       "JS divergence (gaussian1d). Every score is written with its protocol.")
    p.add_argument("run", nargs="?", help="run directory or checkpoint file (omit with --real or --images)")
    p.add_argument("--real", action="store_true",
                   help="score the real test split against the real training split: the floor for generators")
    p.add_argument("--images", metavar="PATH",
                   help="score these images instead of a run's samples, with the same metrics and JSON keys: a "
                   "folder of image files (sub-folders included) or a .npy/.npz of images (as for npy:PATH data; "
                   "a .npz's labels add label_accuracy); they must be 28x28 grey, as the feature networks read "
                   "them (not resized); needs --dataset")
    p.add_argument("--dataset", help="with --real: mnist, fashion-mnist, mnist5k or stacked-mnist; with --images: "
                   "mnist, fashion-mnist or mnist5k, the real training split (and feature network) to score against")
    p.add_argument("--data-dir", help="folder with the MNIST/Fashion-MNIST IDX files (default: the run's, "
                   "else $GANKIT_DATA, else the cache)")
    p.add_argument("--n", type=int, help="generated samples to score (default: 10000 for images, 2500 for toys); "
                   "with --images a seeded random subset of them (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed for z and for KID's subsets (default: 0)")
    p.add_argument("--no-ema", action="store_true", help="score the raw G instead of its EMA copy")
    p.add_argument("--classifier", help="a domain classifier file to use instead of the shipped one")
    p.add_argument("--cas", action="store_true", help="conditional runs: also the Classification Accuracy "
                   "Score (train a classifier on 10,000 samples, test on the real test split; about a minute)")
    p.add_argument("--inception", action="store_true", help="also Inception-v3 FID and Inception Score via "
                   "torch-fidelity (optional extra: pip install 'gankit[inception]'; the only scores for colour "
                   "folder: runs). Weights are never downloaded: see --inception-weights")
    p.add_argument("--inception-weights", help="the Inception-v3 weights file (default: $GANKIT_INCEPTION_WEIGHTS, "
                   "else torch-fidelity's file in torch hub's cache)")
    p.add_argument("--parzen", action="store_true",
                   help="also the Parzen-window log-likelihood of the test split in nats (MNIST family; the 2014 "
                   "GAN paper's protocol: 10,000 samples, sigma chosen on 1,000 validation images); JSON keys "
                   "parzen_ll and parzen_ll_se")
    add_json_flag(p, "the scores and their protocol")
    progress.add_flag(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train-classifier", help="train a domain classifier (the metrics' feature network)",
                       description="Train the small CNN whose penultimate layer is the feature space of "
                       "`gankit evaluate`, on a full training set, and report its test accuracy. The shipped "
                       "networks were made with: gankit train-classifier --dataset mnist --data-dir DATA --epochs 6 "
                       "--out src/gankit/assets/classifiers/mnist.safetensors, and --dataset fashion-mnist "
                       "--epochs 12 for Fashion-MNIST (seed 0 both); the coloured sets' networks (read at "
                       "32x32) by bench/colour_classifiers.py.")
    p.add_argument("--dataset", required=True, choices=("mnist", "fashion-mnist", "coloured-mnist",
                                                        "coloured-fashion"),
                   help="training data (the coloured sets at 32x32, as their network reads them)")
    p.add_argument("--data-dir", help="folder with the IDX files (default: $GANKIT_DATA, else the cache)")
    p.add_argument("--epochs", type=int, default=6, help="passes over the training set (default: 6)")
    p.add_argument("--batch-size", type=int, default=128, help="images per training batch (default: 128)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak Adam learning rate, one-cycle (default: 2e-3)")
    p.add_argument("--seed", type=int, default=0, help="weight initialisation and batch order (default: 0)")
    p.add_argument("--out", required=True, help="safetensors file to write")
    progress.add_flag(p)
    p.set_defaults(func=cmd_train_classifier)


#: bounds of the evaluation flags: far past any real use (FID is usually taken on 10,000 or 50,000 samples),
#: low enough that a slip of the keyboard is a one-line error, not an allocation failure inside torch
MAX_EVAL_SAMPLES = 100_000
MAX_EPOCHS = 1000
MAX_BATCH = 65_536


def _check_range(flag: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        shown = value if value.bit_length() < 256 else "a huge integer"
        raise ConfigError(f"{flag} must be in [{low}, {high}], got {shown}")


def cmd_train_classifier(args: argparse.Namespace) -> int:
    from ..data import load_dataset
    from .classifier import save_classifier, train_classifier

    _check_range("--epochs", args.epochs, 1, MAX_EPOCHS)
    _check_range("--batch-size", args.batch_size, 1, MAX_BATCH)
    _check_range("--seed", args.seed, 0, MAX_SEED)
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ConfigError(f"--lr must be a finite number > 0, got {args.lr}")
    check_file_target("--out", args.out)
    from .classifier import INPUT_SHAPES

    size = INPUT_SHAPES[args.dataset][-1]
    train = load_dataset(args.dataset, split="train", data_dir=args.data_dir, image_size=size)
    test = load_dataset(args.dataset, split="test", data_dir=args.data_dir, image_size=size)
    model, acc = train_classifier(train.x, train.y, test.x, test.y, epochs=args.epochs,
                                  batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                  log=lambda m: print(f"gankit: {m}", flush=True))
    out = save_classifier(model, args.out, dataset=args.dataset, test_accuracy=acc, epochs=args.epochs,
                          batch_size=args.batch_size, lr=args.lr, seed=args.seed, train_size=len(train),
                          test_size=len(test))
    print(f"gankit: {args.dataset} classifier, test accuracy {acc:.4f} -> {out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_images, evaluate_real, evaluate_run, format_scores

    if args.n is not None:
        _check_range("--n", args.n, 1, MAX_EVAL_SAMPLES)
    _check_range("--seed", args.seed, 0, MAX_SEED)
    check_json_target(args.json)
    if args.images:
        if args.run or args.real:
            raise ConfigError(f"give either --images or {'a RUN' if args.run else '--real'}, not both")
        run_only = [f for f, on in (("--no-ema", args.no_ema), ("--cas", args.cas), ("--inception", args.inception))
                    if on]
        if run_only:
            raise ConfigError(f"{', '.join(run_only)}: only for a RUN's generator; --images scores fixed images")
        if not args.dataset:
            raise ConfigError("--images needs --dataset (mnist, fashion-mnist or mnist5k) to score against")
        scores = evaluate_images(args.images, args.dataset, n=args.n, seed=args.seed, data_dir=args.data_dir,
                                 classifier=args.classifier, parzen=args.parzen)
    elif args.real:
        if args.run:
            raise ConfigError("give either a RUN or --real, not both")
        if not args.dataset:
            raise ConfigError("--real needs --dataset (mnist, fashion-mnist or mnist5k)")
        scores = evaluate_real(args.dataset, data_dir=args.data_dir, seed=args.seed, classifier=args.classifier,
                               parzen=args.parzen)
    else:
        if not args.run:
            raise ConfigError("evaluate needs a RUN directory (or --real --dataset NAME, or --images PATH "
                              "--dataset NAME)")
        scores = evaluate_run(args.run, n=args.n, seed=args.seed, ema=not args.no_ema, data_dir=args.data_dir,
                              classifier=args.classifier, cas=args.cas, inception=args.inception,
                              inception_weights=args.inception_weights, parzen=args.parzen)
        skipped = (scores.get("inception") or {}).get("skipped")
        if skipped:
            print(f"gankit: Inception metrics skipped: {skipped}", file=sys.stderr)
    human(format_scores(scores), args.json)
    emit_json(args.json, scores)
    return 0
