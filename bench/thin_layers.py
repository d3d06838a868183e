"""DCGAN's thin layers as GEMMs against oneDNN, side by side (issue #6, item 2).

    python bench/thin_layers.py [--data-dir DATA] [--batch 64,128] [--reps 8] [--out FILE]

With --channels-last, D's first convolution (1 input channel on MNIST) and G's last transposed convolution
(1 output channel) run as im2col/col2im GEMMs (gankit/models/gemmconv.py), as G's projection and D's head already
did. This trains the fast variant of bench/run.py (--channels-last --reuse-fake, G and D width 64, 28x28) both
ways, round by round in one process, and reports images/s and the ratio of each round's pair. "onednn" puts the
two thin layers back on PyTorch's nn.Conv2d / nn.ConvTranspose2d kernels and changes nothing else.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Iterator

from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from anywhere: bench/ siblings

from gankit.models import dcgan  # noqa: E402
from perf import gankit_images_per_s, interleaved, machine, spread, train_kwargs  # noqa: E402
from run import ALL_VARIANTS, batch_sizes  # noqa: E402


@contextlib.contextmanager
def thin_layers_on_onednn() -> Iterator[None]:
    """DCGAN models built inside run D's first and G's last layer on PyTorch's own kernels (same parameters)."""
    d_init, g_init = dcgan.DCGANDiscriminator.__init__, dcgan.DCGANGenerator.__init__

    def d_init_onednn(self: Any, *a: Any, **k: Any) -> None:
        d_init(self, *a, **k)
        self.features[0].__class__ = nn.Conv2d

    def g_init_onednn(self: Any, *a: Any, **k: Any) -> None:
        g_init(self, *a, **k)
        self.net[-2].__class__ = nn.ConvTranspose2d

    dcgan.DCGANDiscriminator.__init__, dcgan.DCGANGenerator.__init__ = d_init_onednn, g_init_onednn  # type: ignore
    try:
        yield
    finally:
        dcgan.DCGANDiscriminator.__init__, dcgan.DCGANGenerator.__init__ = d_init, g_init  # type: ignore


def paired_ratios(a: list[float], b: list[float]) -> dict[str, Any]:
    """a[i] / b[i] for each round, with their median, min and max."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired_ratios needs two equally long, non-empty lists, got {len(a)} and {len(b)}")
    ratios = [x / y for x, y in zip(a, b)]
    return {"per_round": ratios, "median": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
            "rounds_above_1": sum(r > 1 for r in ratios)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="folder with mnist/ IDX files (default: the shipped mnist5k)")
    ap.add_argument("--batch", type=batch_sizes, default=[64, 128], help="batch sizes, comma-separated (64,128)")
    ap.add_argument("--images", type=int, default=5760, help="images timed per run (default 5760: 90 steps at 64)")
    ap.add_argument("--reps", type=int, default=8, help="rounds, both ways interleaved (default 8)")
    ap.add_argument("--out", default="runs/bench-thin-layers.json", help="where the figures go as JSON")
    args = ap.parse_args()
    if args.reps < 1 or args.images < 1:
        ap.error(f"--reps and --images must be >= 1, got {args.reps} and {args.images}")
    out: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv), "batches": {}}
    for batch in args.batch:
        steps = max(6, args.images // batch)
        warmup = max(2, steps // 3)
        kw = train_kwargs(args.data_dir, width=64, d_width=64, batch_size=batch, **ALL_VARIANTS["fast"])

        def onednn(kw: dict[str, Any] = kw, steps: int = steps, warmup: int = warmup) -> dict[str, float]:
            with thin_layers_on_onednn():
                return gankit_images_per_s(kw, steps, warmup)

        print(f"batch {batch}: {steps - warmup} steps timed after {warmup}, fast variant, {args.reps} rounds")
        res = interleaved({"onednn": onednn, "gemm": lambda kw=kw, s=steps, w=warmup: gankit_images_per_s(kw, s, w)},
                          args.reps, "images_per_s")
        per = {name: [r["images_per_s"] for r in v["runs"]] for name, v in res.items()}
        ratio = paired_ratios(per["gemm"], per["onednn"])
        out["batches"][str(batch)] = {"steps": steps, "warmup": warmup, "images_per_s": per,
                                      "spread": {n: spread(v) for n, v in per.items()}, "gemm_over_onednn": ratio}
        print(f"  gemm / onednn, paired by round: median {ratio['median']:.3f} ({ratio['min']:.3f}-{ratio['max']:.3f}), "
              f"above 1 in {ratio['rounds_above_1']} of {len(ratio['per_round'])} rounds")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"figures in {args.out}")


if __name__ == "__main__":
    main()
