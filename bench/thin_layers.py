"""DCGAN's thin layers as GEMMs against oneDNN, side by side.

    python bench/thin_layers.py [--data-dir DATA] [--batch 64,128] [--reps 8] [--out FILE]
    python bench/thin_layers.py --per-layer [--batch 64,128] [--reps 3]

With --channels-last, D's first convolution (1 input channel on MNIST) and G's last transposed convolution
(1 output channel) run as im2col/col2im GEMMs (gankit/models/gemmconv.py), as G's projection and D's head already
did. This trains the fast variant of bench/run.py (--channels-last --reuse-fake, G and D width 64, 28x28) both
ways, round by round in one process, and reports images/s and the ratio of each round's pair. "onednn" puts the
two thin layers back on PyTorch's nn.Conv2d / nn.ConvTranspose2d kernels and changes nothing else.

--per-layer times the layers alone instead (NHWC, median of 15 calls per round): D's first 4x4/2 convolution
on 28x28 with 1, 3 and 11 input channels (11: an MNIST image beside the conditional D's ten label maps), forward
plus the backward each phase asks for (the D step wants the weight gradient, the G step the input gradient
through a frozen D), and G's last transposed convolution to 1 and 3 channels, in training (forward and both
gradients) and in sampling (forward only).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from anywhere: bench/ siblings

from gankit.models import dcgan, gemmconv  # noqa: E402
from perf import fmt, gankit_images_per_s, interleaved, machine, spread, train_kwargs, write_json  # noqa: E402
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


def median_ms(fn: Any, calls: int = 15) -> float:
    """Median wall time of fn() in ms over `calls` calls, after one untimed call."""
    fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def layer_cases(batch: int) -> dict[str, Any]:
    """{case: {"onednn": fn, "gemm": fn}} for the thin layers at this batch size, each fn one timed call."""
    cl = torch.channels_last
    cases: dict[str, Any] = {}
    for c in (1, 3, 11):  # D's first layer, c input channels -> 64, 28x28 -> 14x14
        x = torch.randn(batch, c, 28, 28).contiguous(memory_format=cl)
        w = torch.randn(64, c, 4, 4).contiguous(memory_format=cl)
        g = torch.randn(batch, 64, 14, 14).contiguous(memory_format=cl)
        for phase, (xi, wi) in {"D step": (x, w.clone().requires_grad_(True)),
                                "G step": (x.clone().requires_grad_(True), w)}.items():
            cases[f"D first, {c} in, {phase}"] = {
                name: (lambda f=f, xi=xi, wi=wi, g=g: f(xi, wi, None, 2, 1).backward(g))
                for name, f in (("onednn", F.conv2d), ("gemm", gemmconv.conv2d))}
    for c in (1, 3):  # G's last layer, 64 -> c channels, 14x14 -> 28x28
        x = torch.randn(batch, 64, 14, 14).contiguous(memory_format=cl).requires_grad_(True)
        w = torch.randn(64, c, 4, 4).contiguous(memory_format=cl).requires_grad_(True)
        g = torch.randn(batch, c, 28, 28).contiguous(memory_format=cl)
        fns = (("onednn", F.conv_transpose2d), ("gemm", gemmconv.conv_transpose2d))
        cases[f"G last, {c} out, training"] = {
            name: (lambda f=f, x=x, w=w, g=g: f(x, w, None, 2, 1).backward(g)) for name, f in fns}
        cases[f"G last, {c} out, sampling"] = {
            name: (lambda f=f, x=x.detach(), w=w.detach(): f(x, w, None, 2, 1)) for name, f in fns}
    return cases


def per_layer(batches: list[int], reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for batch in batches:
        cases = layer_cases(batch)
        ms: dict[str, dict[str, list[float]]] = {case: {"onednn": [], "gemm": []} for case in cases}
        for _ in range(reps):  # rounds: every case both ways, so drift hits both alike
            for case, fns in cases.items():
                for name, fn in fns.items():
                    ms[case][name].append(median_ms(fn))
        out[str(batch)] = {case: {name: spread(v) for name, v in d.items()} for case, d in ms.items()}
        print(f"batch {batch} | layer | oneDNN ms | GEMM ms |")
        for case, d in out[str(batch)].items():
            print(f"| {case} | {fmt(d['onednn'], 2)} | {fmt(d['gemm'], 2)} |")
    return out


def end_to_end(data_dir: str | None, batch: int, images: int, reps: int) -> dict[str, Any]:
    """The fast variant trained with the thin layers on oneDNN and as GEMMs, interleaved round by round."""
    steps = max(6, images // batch)
    warmup = max(2, steps // 3)
    kw = train_kwargs(data_dir, width=64, d_width=64, batch_size=batch, **ALL_VARIANTS["fast"])

    def onednn() -> dict[str, float]:
        with thin_layers_on_onednn():
            return gankit_images_per_s(kw, steps, warmup)

    print(f"batch {batch}: {steps - warmup} steps timed after {warmup}, fast variant, {reps} rounds")
    res = interleaved({"onednn": onednn, "gemm": lambda: gankit_images_per_s(kw, steps, warmup)}, reps, "images_per_s")
    per = {name: [r["images_per_s"] for r in v["runs"]] for name, v in res.items()}
    ratio = paired_ratios(per["gemm"], per["onednn"])
    print(f"  gemm / onednn, paired by round: median {ratio['median']:.3f} ({ratio['min']:.3f}-{ratio['max']:.3f}), "
          f"above 1 in {ratio['rounds_above_1']} of {len(ratio['per_round'])} rounds")
    return {"steps": steps, "warmup": warmup, "images_per_s": per, "spread": {n: spread(v) for n, v in per.items()},
            "gemm_over_onednn": ratio}



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="folder with mnist/ IDX files (default: the shipped mnist5k)")
    ap.add_argument("--batch", type=batch_sizes, default=[64, 128], help="batch sizes, comma-separated (64,128)")
    ap.add_argument("--images", type=int, default=5760, help="images timed per run (default 5760: 90 steps at 64)")
    ap.add_argument("--reps", type=int, default=8, help="rounds, both ways interleaved (default 8)")
    ap.add_argument("--per-layer", action="store_true", help="time the thin layers alone, not training")
    ap.add_argument("--out", default="runs/bench-thin-layers.json", help="where the figures go as JSON")
    args = ap.parse_args()
    if args.reps < 1 or args.images < 1:
        ap.error(f"--reps and --images must be >= 1, got {args.reps} and {args.images}")
    out: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv)}
    if args.per_layer:
        out["per_layer_ms"] = per_layer(args.batch, args.reps)
    else:
        out["batches"] = {str(b): end_to_end(args.data_dir, b, args.images, args.reps) for b in args.batch}
    write_json(args.out, out)
    print(f"figures in {args.out}")


if __name__ == "__main__":
    main()
