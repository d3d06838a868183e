"""Where a gankit training step's time goes, set against the FLOPs each kind of op does.

    python bench/breakdown.py [--data-dir DATA] [--batch 128] [--steps 40] [--reps 3] [--timer dispatch] [--out FILE]

For each speed variant of bench/run.py (default, and fast = --channels-last --reuse-fake), the 28x28 DCGAN
(width 64) trains under torch.profiler twice, for --base-steps and for --base-steps + --steps steps; the
difference of the two profiles is the cost of --steps steps with set-up, warm-up and the final snapshot taken
out. Ops fall into four groups by name: convolution forward, convolution backward, matrix multiply, and
everything else (BatchNorm, activations, Adam, copies, Python). FLOPs per group come from
torch.utils.flop_counter the same way (a 3-step run minus a 2-step run). The float32 matmul roof is measured in
the same round.

The point is the ceiling: `bound_if_rest_free` is the fraction of the roof the step would reach if everything but
the convolutions and matrix multiplies cost nothing, so a step can only come near the roof if its convolution
kernels do. `compute_ms` is that floor in time: the milliseconds per step the convolutions and matrix multiplies
take by themselves, and `images_per_s_if_rest_free` the rate it allows. --timer dispatch times each op at
PyTorch's dispatcher instead of with torch.profiler (which inflated the memory-bound ops several-fold here) and
counts the rest of the run's wall time, outside any op, under "other". Health probes are off and a metrics row
is written once per run, so only the training step is measured. Every figure is the median of --reps rounds
with min-max.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from torch.profiler import ProfilerActivity, profile
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from anywhere: bench/ siblings

import gankit  # noqa: E402
from perf import (fmt, interleaved, machine, matmul_roof, spread, step_flop_counts, train_kwargs,  # noqa: E402
                  write_json)
from run import VARIANTS  # noqa: E402

GROUPS = ("conv forward", "conv backward", "matmul", "other")
MATMULS = {"mm", "addmm", "bmm", "baddbmm", "matmul", "linear"}


def op_group(name: str) -> str:
    """The group of a profiler event ("aten::convolution_backward") or a flop-counter op ("aten.mm"). Only aten
    ops count as compute: autograd's wrappers around them ("autograd::engine::evaluate_function:
    ConvolutionBackward0") and gankit's own record_function ranges are overhead, in "other"."""
    if not name.startswith(("aten::", "aten.")):
        return "other"
    op = name.replace("::", ".").split(".")[1]
    if "convolution_backward" in op:
        return "conv backward"
    if "conv" in op:  # convolution, _convolution, mkldnn_convolution, slow_conv_transpose2d, ...
        return "conv forward"
    if op in MATMULS:
        return "matmul"
    return "other"


def by_group(values: dict[str, float]) -> dict[str, float]:
    """Sum per-op figures (profiler self time, FLOPs) into GROUPS."""
    out = dict.fromkeys(GROUPS, 0.0)
    for name, v in values.items():
        out[op_group(name)] += v
    return out


def measured_config(kw: dict[str, Any], steps: int, out: str) -> gankit.TrainConfig:
    """A run of `steps` steps with nothing but training in it: no health probes, one metrics row, checkpoint and
    sample grid at the end."""
    return gankit.TrainConfig(**{**kw, "steps": steps, "out": out, "health": False, "log_every": steps,
                                 "ckpt_every": steps, "sample_every": steps})


def profile_self_us(kw: dict[str, Any], steps: int) -> dict[str, float]:
    """Self CPU time (microseconds) per op of a whole gankit.train run of `steps` steps."""
    with tempfile.TemporaryDirectory(prefix="gankit-breakdown-") as d:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            gankit.train(measured_config(kw, steps, d))
    out: dict[str, float] = {}
    for ev in prof.key_averages():
        out[ev.key] = out.get(ev.key, 0.0) + float(ev.self_cpu_time_total)
    return out


class _OpTimer(TorchDispatchMode):
    """Wall time of every aten op as it runs, summed by op name (microseconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.us: dict[str, float] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        t0 = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        name = str(func)  # "aten.convolution_backward.default"
        self.us[name] = self.us.get(name, 0.0) + (time.perf_counter() - t0) * 1e6
        return out


#: time outside the ops (Python, autograd's engine, the timer's own call per op), in the "other" group
OUTSIDE_OPS = "outside ops"


def dispatch_op_us(kw: dict[str, Any], steps: int) -> dict[str, float]:
    """Like profile_self_us, timed at the dispatcher instead of by torch.profiler, which was seen to inflate the
    memory-bound ops (LeakyReLU, the thin GEMMs) several-fold; the whole run's wall time not spent inside an op
    goes to OUTSIDE_OPS."""
    with tempfile.TemporaryDirectory(prefix="gankit-breakdown-") as d:
        cfg = measured_config(kw, steps, d)
        timer = _OpTimer()
        t0 = time.perf_counter()
        with timer:
            gankit.train(cfg)
        wall_us = (time.perf_counter() - t0) * 1e6
    return {**timer.us, OUTSIDE_OPS: max(wall_us - sum(timer.us.values()), 0.0)}


TIMERS = {"profiler": profile_self_us, "dispatch": dispatch_op_us}


def breakdown(short_us: dict[str, float], long_us: dict[str, float], steps: int, flops: dict[str, float],
              roof_gflops: float) -> dict[str, Any]:
    """Per-step time and FLOPs of each group from the profiles of a short and a long run `steps` steps apart
    (pure: the numbers in, the table out)."""
    t_short, t_long = by_group(short_us), by_group(long_us)
    ms = {g: max(t_long[g] - t_short[g], 0.0) / steps / 1e3 for g in GROUPS}
    gflop = {g: v / 1e9 for g, v in by_group(flops).items()}
    step_ms = sum(ms.values())
    compute_ms = ms["conv forward"] + ms["conv backward"] + ms["matmul"]
    total_gflop = sum(gflop.values())
    groups = {}
    for g in GROUPS:
        rate = gflop[g] / (ms[g] / 1e3) if ms[g] > 0 and gflop[g] > 0 else None
        groups[g] = {"ms_per_step": ms[g], "share": ms[g] / step_ms if step_ms else 0.0, "gflop_per_step": gflop[g],
                     "gflops": rate, "roof_fraction": rate / roof_gflops if rate is not None else None}
    achieved = total_gflop / (step_ms / 1e3) if step_ms else 0.0
    bound = total_gflop / (compute_ms / 1e3) if compute_ms else 0.0
    return {"groups": groups, "step_ms": step_ms, "compute_ms": compute_ms, "gflop_per_step": total_gflop,
            "roof_gflops": roof_gflops,
            "achieved_gflops": achieved, "roof_fraction": achieved / roof_gflops,
            "bound_if_rest_free": bound / roof_gflops}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="folder with mnist/ IDX files (default: the shipped mnist5k)")
    ap.add_argument("--batch", type=int, default=128, help="batch size (default 128, as the roof measurement of bench/run.py)")
    ap.add_argument("--steps", type=int, default=40, help="steps measured: long run minus short run (default 40)")
    ap.add_argument("--base-steps", type=int, default=10, help="steps of the short run (default 10)")
    ap.add_argument("--reps", type=int, default=3, help="rounds, variants interleaved (default 3)")
    ap.add_argument("--timer", choices=sorted(TIMERS), default="profiler",
                    help="how op times are read: torch.profiler's self time (default), or wall time at the "
                         "dispatcher, which does not inflate memory-bound ops (the rest of the run is 'outside ops')")
    ap.add_argument("--out", default="runs/bench-breakdown.json", help="where the figures go as JSON")
    args = ap.parse_args()
    for name in ("batch", "steps", "base_steps", "reps"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")

    width = 64
    result: dict[str, Any] = {"machine": machine(), "timer": args.timer, "batch_size": args.batch, "width": width,
                              "steps": args.steps, "base_steps": args.base_steps, "reps": args.reps, "variants": {}}
    print(f"DCGAN 28x28, batch {args.batch}, width {width}: {args.steps} steps after {args.base_steps}", flush=True)
    fns = {}
    for name, flags in VARIANTS.items():
        kw = train_kwargs(args.data_dir, width=width, d_width=width, batch_size=args.batch, **flags)
        flops = step_flop_counts(kw)

        def one(kw: dict[str, Any] = kw, flops: dict[str, float] = flops) -> dict[str, Any]:
            roof = matmul_roof()
            short = TIMERS[args.timer](kw, args.base_steps)
            long = TIMERS[args.timer](kw, args.base_steps + args.steps)
            return breakdown(short, long, args.steps, flops, roof)

        fns[name] = one
    res = interleaved(fns, args.reps, "roof_fraction", lambda m: print(m, flush=True))
    for name, r in res.items():
        runs = r["runs"]
        v: dict[str, Any] = {"roof_fraction": r["roof_fraction"], "runs": runs}
        for key in ("step_ms", "compute_ms", "achieved_gflops", "roof_gflops", "bound_if_rest_free"):
            v[key] = spread([x[key] for x in runs])
        v["images_per_s_if_rest_free"] = spread([args.batch / (x["compute_ms"] / 1e3) for x in runs])
        v["gflop_per_step"] = runs[0]["gflop_per_step"]
        v["groups"] = {}
        for g in GROUPS:
            v["groups"][g] = {"gflop_per_step": runs[0]["groups"][g]["gflop_per_step"]}
            for key in ("ms_per_step", "share", "gflops", "roof_fraction"):
                vals = [x["groups"][g][key] for x in runs if x["groups"][g][key] is not None]
                v["groups"][g][key] = spread(vals) if vals else None
        result["variants"][name] = v

    for name, v in result["variants"].items():
        print(f"\n{name}: {v['gflop_per_step']:.2f} GFLOP per step, {fmt(v['step_ms'])} ms per step, "
              f"{fmt(v['achieved_gflops'])} of a {fmt(v['roof_gflops'])} GFLOP/s roof: "
              f"{fmt(v['roof_fraction'], 2)}; bound if the rest were free: {fmt(v['bound_if_rest_free'], 2)}; "
              f"convolutions and GEMMs alone {fmt(v['compute_ms'], 1)} ms per step, at most "
              f"{fmt(v['images_per_s_if_rest_free'])} images/s")
        print("| group | ms per step | share | GFLOP per step | GFLOP/s | fraction of roof |")
        print("|---|---|---|---|---|---|")
        for g, s in v["groups"].items():
            rate = f"{fmt(s['gflops'])}" if s["gflops"] else ""
            frac = f"{fmt(s['roof_fraction'], 2)}" if s["roof_fraction"] else ""
            print(f"| {g} | {fmt(s['ms_per_step'], 1)} | {fmt(s['share'], 2)} | {s['gflop_per_step']:.2f} | "
                  f"{rate} | {frac} |")
    write_json(args.out, result)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
