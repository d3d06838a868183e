"""Fingerprints of trained weights, for the test that every default recipe and training option trains exactly as
it did when the fingerprints were recorded (tests/test_loop_equivalence.py).

A fingerprint is the SHA-256 of every network's and optimizer's tensors in the final checkpoint, by sorted key.
Floating-point results depend on the CPU's kernels and the torch build, so fingerprints are recorded together with
the platform they were recorded on, and compared only there.

Record afresh (prints the table to paste into the test):  python tests/loop_hashes.py
"""

from __future__ import annotations

import hashlib
import platform
import sys
from pathlib import Path
from typing import Any

import torch

COMMON: dict[str, Any] = {"progress": False, "log_every": 25, "sample_every": 1000, "ckpt_every": 1000,
                          "seed": 3}

#: name -> config overrides. The first block is every default recipe at its own settings; the second the
#: training options, each on a short run.
CASES: dict[str, dict[str, Any]] = {
    # default recipes
    "mnist5k-dcgan": dict(dataset="mnist5k", model="dcgan", steps=150),
    "mnist5k-dcgan-cond": dict(dataset="mnist5k", model="dcgan", conditional=True, steps=150),
    "mnist5k-classic": dict(dataset="mnist5k", model="classic", steps=40),
    # the model the recipe picks when none is named (dcgan-dense), recorded when it became the default
    "mnist5k-default": dict(dataset="mnist5k", steps=60),
    "mnist5k-mlp": dict(dataset="mnist5k", model="mlp", steps=150),
    "mnist5k-dcgan-wgan-gp": dict(dataset="mnist5k", model="dcgan", loss="wgan-gp", steps=40),
    "ring8-mlp": dict(dataset="ring8", model="mlp", steps=300),
    "grid25-mlp": dict(dataset="grid25", model="mlp", steps=300),
    "gaussian1d-mlp": dict(dataset="gaussian1d", model="mlp", steps=300),
    "swissroll-mlp": dict(dataset="swissroll", model="mlp", steps=300),
    # the recipes on the full data sets (found through $GANKIT_DATA)
    "fashion-dcgan": dict(dataset="fashion-mnist", model="dcgan", steps=100),
    "fashion-dcgan-cond": dict(dataset="fashion-mnist", model="dcgan", conditional=True, steps=100),
    "fashion-classic": dict(dataset="fashion-mnist", model="classic", steps=30),
    "mnist-dcgan": dict(dataset="mnist", model="dcgan", steps=100),
    # options
    "minimax-lr-decay": dict(dataset="ring8", model="mlp", loss="minimax", lr_decay=True, steps=60),
    "lsgan-smoothing-noise": dict(dataset="mnist5k", model="dcgan", loss="lsgan", lsgan_abc=(-1.0, 1.0, 0.0),
                                  label_smoothing=0.1, instance_noise=0.1, steps=30),
    "hinge-clip-dsteps": dict(dataset="mnist5k", model="dcgan", loss="hinge", grad_clip=1.0, d_steps=2, steps=30),
    "cond-projection-r1": dict(dataset="mnist5k", model="dcgan", conditional=True, cond_d="projection", r1=1.0,
                               steps=30),
    "reuse-channels-last": dict(dataset="mnist5k", model="dcgan", reuse_fake=True, channels_last=True, steps=40),
    "cond-reuse-uniform-noema": dict(dataset="mnist5k", model="dcgan", conditional=True, reuse_fake=True,
                                     prior="uniform", ema=0.0, steps=30),
    "toy-mode-seeking": dict(dataset="ring8", model="mlp", mode_seeking=0.5, steps=60),
    "toy-cond": dict(dataset="ring8", model="mlp", conditional=True, steps=60),
    "wgan-gp-toy-smoothing": dict(dataset="ring8", model="mlp", loss="wgan-gp", instance_noise=0.05, steps=40),
}


def platform_key() -> str:
    """What floating-point results depend on: the torch build, the CPU's vector unit and the thread count."""
    return (f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, {platform.machine()}, "
            f"{torch.get_num_threads()} threads")


def fingerprint(run_dir: str | Path) -> str:
    from gankit import checkpoint as ckpt

    tensors, _ = ckpt.load(ckpt.latest_checkpoint(Path(run_dir)))
    h = hashlib.sha256()
    for key in sorted(tensors):
        if key.startswith("rng/"):
            continue
        t = tensors[key].contiguous()
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()[:24]


#: the cases that read the full MNIST / Fashion-MNIST files
NEEDS_DATA = {name for name, c in CASES.items() if c["dataset"] in ("mnist", "fashion-mnist")}


def train_case(name: str, out: Path) -> str:
    import gankit

    cfg = gankit.TrainConfig(**{**COMMON, **CASES[name], "out": str(out / name)})
    gankit.train(cfg)
    return fingerprint(out / name)


if __name__ == "__main__":
    import tempfile

    names = sys.argv[1:] or list(CASES)
    print(f"PLATFORM = {platform_key()!r}")
    with tempfile.TemporaryDirectory() as d:
        for n in names:
            print(f"    {n!r}: {train_case(n, Path(d))!r},", flush=True)
