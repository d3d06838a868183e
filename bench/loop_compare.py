"""The training loop against an earlier version of itself: images/s of the same runs, side by side, in one run.

Each round trains every configuration once with this checkout's gankit and once with the source of `--ref` (a
git commit, extracted to a temporary folder), each in a fresh process, alternating which goes first; the figure is
the paired ratio (this / ref) per round, so slow moments of a shared machine hit both alike.

    python bench/loop_compare.py --ref fdfa2b6 [--reps 5] [--quick] [--out bench/results/loop-compare.json]
    python bench/loop_compare.py --render bench/results/loop-compare.json     # the markdown table of a result
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from perf import fmt, machine, spread, write_json  # noqa: E402

#: name -> (TrainConfig keywords, steps, warmup): the default image recipe, the fast path, and a toy
CASES: dict[str, tuple[dict[str, Any], int, int]] = {
    "dcgan-default": ({"dataset": "mnist5k", "model": "dcgan"}, 240, 40),
    "dcgan-fast": ({"dataset": "mnist5k", "model": "dcgan", "batch_size": 64, "channels_last": True,
                    "reuse_fake": True}, 160, 40),
    "ring8-mlp": ({"dataset": "ring8", "model": "mlp"}, 600, 100),
}

_CHILD = """
import json, sys
sys.path.insert(0, {bench!r})
import gankit, perf
assert gankit.__file__.startswith({src!r}), gankit.__file__
kw = dict(json.loads({kw!r}), progress=False)
print(json.dumps(perf.gankit_images_per_s(kw, {steps}, {warmup})))
"""


def extract(ref: str, dest: Path) -> Path:
    """The `src/` tree of git commit `ref`, written under `dest`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def one_run(src: Path, kw: dict[str, Any], steps: int, warmup: int) -> float:
    code = _CHILD.format(bench=str(ROOT / "bench"), src=str(src), kw=json.dumps(kw), steps=steps, warmup=warmup)
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["images_per_s"])


def render(result: dict[str, Any]) -> str:
    """The markdown table of a result file: images/s of both loops and the paired ratio, per configuration."""
    m = result["machine"]
    lines = [f"`{result['command']}` ({m['date']}, {m['cpu']}, {m['cores']} cores, torch {m['torch']}; "
             f"{result['this']} against {result['ref']}, {result['reps']} rounds)", "",
             "| run | steps | images/s, this loop | images/s, ref | ratio this/ref | rounds this faster |",
             "|---|---|---|---|---|---|"]
    for name, c in result["cases"].items():
        ips = c["images_per_s"]
        lines.append(f"| {name} | {c['steps']} | {fmt(ips['this'])} | {fmt(ips['ref'])} | {fmt(c['ratio'], 3)} | "
                     f"{c['rounds_this_faster']} of {c['ratio']['n']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--render", metavar="JSON", help="print the markdown table of a result file and stop")
    ap.add_argument("--ref", help="git commit of the loop to compare against")
    ap.add_argument("--reps", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--quick", action="store_true", help="a third of the steps")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "loop-compare.json"))
    args = ap.parse_args()
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return
    if not args.ref:
        ap.error("--ref is required (or --render)")
    ref = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.ref], check=True,
                         capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    result: dict[str, Any] = {"machine": machine(), "command": "python bench/loop_compare.py " +
                              " ".join(sys.argv[1:]), "this": head, "ref": ref, "reps": args.reps, "cases": {}}
    with tempfile.TemporaryDirectory(prefix="gankit-ref-") as d:
        trees = {"this": ROOT / "src", "ref": extract(ref, Path(d))}
        for name, (kw, steps, warmup) in CASES.items():
            if args.quick:
                steps, warmup = steps // 3, warmup // 3
            ips: dict[str, list[float]] = {"this": [], "ref": []}
            for r in range(args.reps):
                order = ["this", "ref"] if r % 2 == 0 else ["ref", "this"]
                for which in order:
                    ips[which].append(one_run(trees[which], kw, steps, warmup))
                print(f"{name} round {r + 1}/{args.reps}: this {ips['this'][-1]:.0f}, ref {ips['ref'][-1]:.0f} "
                      "images/s", flush=True)
            ratios = [a / b for a, b in zip(ips["this"], ips["ref"])]
            result["cases"][name] = {"config": kw, "steps": steps, "warmup": warmup,
                                     "images_per_s": {k: spread(v) for k, v in ips.items()},
                                     "runs": ips, "ratio": spread(ratios),
                                     "rounds_this_faster": sum(x > 1 for x in ratios)}
            print(f"{name}: ratio this/ref {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})")
    write_json(args.out, result)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
