"""Render the result tables of the README and docs/ from the JSON files in bench/results/: one source per number.

    python bench/render.py            # rewrite every table between its markers
    python bench/render.py --check    # exit 1 when a table differs from what its JSON renders (nothing written)

A table lives between `<!-- table:NAME -->` and `<!-- /table:NAME -->` in README.md or docs/*.md; NAME is a key
of TABLES below, which names the result files it reads. Everything between the markers is generated: edit the
JSON's producer (the bench script), not the table. A result file that is missing is an error naming it (exit 2).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MARKER = re.compile(r"(<!-- table:(?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(<!-- /table:(?P=name) -->)", re.S)


class MissingResult(Exception):
    """A table's result file is not in bench/results/."""


# Result files from before the bench scripts wrote their own date, machine and command: that provenance, as
# recorded when they were run, kept here beside the files it describes.
PROVENANCE: dict[str, dict[str, str]] = {
    "bench-breakdown-dispatch-b64.json": {
        "command": "python bench/breakdown.py --data-dir DATA --batch 64 --reps 3 --timer dispatch "
                   "--out bench/results/bench-breakdown-dispatch-b64.json"},
    "bench-breakdown-dispatch-b128.json": {
        "command": "python bench/breakdown.py --data-dir DATA --batch 128 --reps 3 --timer dispatch "
                   "--out bench/results/bench-breakdown-dispatch-b128.json"},
    "stability-ring8-mlp.json": {
        "command": "OMP_NUM_THREADS=1 python bench/stability.py --recipes ring8-mlp --seeds 0-4 "
                   "--out bench/results/stability-ring8-mlp.json (stopped after the seeds listed)"},
    "stability-mnist-classic-b.json": {
        "command": "OMP_NUM_THREADS=1 python bench/stability.py --data-dir DATA --recipes mnist-classic --seeds 2-9 "
                   "--reuse --out bench/results/stability-mnist-classic-b.json",
        "date": "2026-11-28", "machine": "2-core x86_64 CPU (AMD EPYC), 1 thread, torch 2.13.0+cpu"},
    "stability-fashion-classic.json": {
        "command": "OMP_NUM_THREADS=1 python bench/stability.py --data-dir DATA --recipes fashion-classic --seeds 0-9 "
                   "--reuse --out bench/results/stability-fashion-classic.json (seeds 0-3 finished)",
        "date": "2026-11-28", "machine": "2-core x86_64 CPU (AMD EPYC), 1 thread, torch 2.13.0+cpu"},
    "stability-fashion-classic-b.json": {
        "command": "OMP_NUM_THREADS=1 python bench/stability.py --data-dir DATA --recipes fashion-classic --seeds 4-6 "
                   "--reuse --out bench/results/stability-fashion-classic-b.json",
        "date": "2026-11-28", "machine": "2-core x86_64 CPU (AMD EPYC), 1 thread, torch 2.13.0+cpu"},
    "stability-fashion-classic-c.json": {
        "command": "OMP_NUM_THREADS=1 python bench/stability.py --data-dir DATA --recipes fashion-classic --seeds 7-9 "
                   "--reuse --out bench/results/stability-fashion-classic-c.json",
        "date": "2026-11-28", "machine": "2-core x86_64 CPU (AMD EPYC), 1 thread, torch 2.13.0+cpu"},
}


def load(name: str, results: Path) -> Any:
    path = results / name
    if not path.is_file():
        raise MissingResult(f"bench/results/{name} is missing (a rendered table reads it)")
    return json.loads(path.read_text())


def machine_text(m: dict[str, Any]) -> str:
    """'2026-11-29, 2-core x86_64 CPU (AMD EPYC), 1 thread, torch 2.13.0+cpu' from a bench script's machine record."""
    threads = m.get("threads")
    t = f", {threads} thread{'s' if threads != 1 else ''}" if threads else ""
    load = f", load average {m['load_avg_1m']:g} at the start" if "load_avg_1m" in m else ""
    return f"{m['date']}, {m.get('cores', 2)}-core x86_64 CPU ({m['cpu']}){t}, torch {m['torch']}{load}"


def command_text(cmd: str) -> str:
    """A recorded command with this machine's data folder written as DATA."""
    cmd = re.sub(r"--data-dir \S+", "--data-dir DATA", cmd)
    return re.sub(r" --runs /\S+", "", cmd)  # where scratch runs went changes no result


def source(files: list[str], results: Path, data: list[Any]) -> str:
    """The line under a table: which file, which command, when and where."""
    parts = []
    for name, d in zip(files, data):
        p = PROVENANCE.get(name, {})
        m = _machine_of(d)
        if m is not None:
            cmd = d.get("command") or (d.get("rows") or [{}])[0].get("command") or p["command"]
            parts.append(f"`{name}`: `{command_text(cmd)}`, {machine_text(m)}")
            continue
        seeds = [r for per in d.values() for r in per.values()] if isinstance(d, dict) else []
        dated = sorted({f"{r['date']}, {_one_thread(r['machine'])}" for r in seeds if r.get("date")})
        where = "; ".join(dated) or (f"{p['date']}, {p['machine']}" if "date" in p else "")
        cmd = f"`{p['command']}`" if "command" in p else ""
        parts.append(f"`{name}`" + (": " if cmd or where else "") + ", ".join(x for x in (cmd, where) if x))
    return "*Source: " + "; ".join(parts) + ".*\n"


def _machine_of(d: Any) -> dict[str, Any] | None:
    """A result file's machine record with its date: at the top, or in its first row (dated at the top or
    there)."""
    if not isinstance(d, dict):
        return None
    m = d.get("machine")
    if m is None and isinstance(d.get("rows"), list) and d["rows"] and isinstance(d["rows"][0], dict):
        m = d["rows"][0].get("machine")
    if not isinstance(m, dict):
        return None
    return m if "date" in m else {**m, "date": str(d.get("date", "undated"))[:10]}


def _one_thread(text: str) -> str:
    return re.sub(r"\b1 threads\b", "1 thread", text)


def g(x: Any, digits: int = 3) -> str:
    """A number at `digits` significant figures (no exponent for ordinary sizes); blank for None."""
    if x is None:
        return ""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def fixed(x: Any, places: int) -> str:
    return "" if x is None else f"{x:,.{places}f}"


def spread(s: dict[str, float], places: int = 0) -> str:
    """'median (min-max)' of a bench spread record."""
    return f"{s['median']:,.{places}f} ({s['min']:,.{places}f}-{s['max']:,.{places}f})"


def _spread_of(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def md(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def classes_present(hist: Any) -> str:
    """Classes holding at least 2 % of the samples (the criterion of bench/stability.py)."""
    return str(sum(1 for v in hist if v >= 0.02)) if isinstance(hist, list) else ""


# --- the tables -------------------------------------------------------------------------------------------------

def t_floors(files: list[str], data: list[Any]) -> str:
    rows = []
    for dataset, s in data[0]["rows"].items():
        rows.append([f"real {dataset} test split vs train split", fixed(s["fid"], 2),
                     f"{s['kid']:.2f} ± {s['kid_std']:.2f}", fixed(s["precision"], 3), fixed(s["recall"], 3),
                     fixed(s["density"], 3), fixed(s["coverage"], 3), fixed(s["inception_score"], 2),
                     fixed(s["class_kl"], 4)])
    return md(["data", "FID", "KID (×1000, ± std)", "precision", "recall", "density", "coverage", "IS analogue",
               "class KL"], rows)


def t_quality(files: list[str], data: list[Any]) -> str:
    rows = []
    for d in data:
        for r in d["rows"]:
            model = r["model"] + (" conditional" if r["conditional"] else "")
            acc = r.get("label_accuracy")
            cas = r.get("cas")
            cas = cas.get("accuracy") if isinstance(cas, dict) else cas
            rows.append([r["dataset"], f"{model} / {r['loss']}", f"{r['steps']:,}", fixed(r["fid"], 1),
                         f"{r['kid']:.1f}", fixed(r["precision"], 3), fixed(r["recall"], 3), fixed(r["density"], 3),
                         fixed(r["coverage"], 3), classes_present(r.get("class_histogram")),
                         fixed(r.get("class_kl"), 3), fixed(acc, 3), "" if cas is None else f"{100 * cas:.1f} %",
                         f"{r['train_s']:,.0f}"])
    return md(["data", "model / loss", "G steps", "FID", "KID (×1000)", "precision", "recall", "density",
               "coverage", "classes ≥ 2 %", "class KL", "label accuracy", "CAS", "train s"], rows)


def t_quickstart(files: list[str], data: list[Any]) -> str:
    d = data[0]

    def cells(r: dict[str, Any]) -> list[str]:
        return [fixed(r["fid"], 1), fixed(r["precision"], 3), fixed(r["recall"], 3), f"{100 * r['confident']:.1f} %",
                f"{100 * r['class_share_min']:.1f} % / {100 * r['class_share_max']:.1f} %"]

    rows = [["real digits (5,000 MNIST test digits)", "", "", *cells(d["real"]), ""]]
    for seed, r in sorted(d["seeds"].items(), key=lambda kv: int(kv[0])):
        rows.append([f"`gankit train`, seed {seed}", f"{r['steps']:,}", f"{r['train_s']:,.0f}", *cells(r),
                     "yes" if r["meets_bars"] else "no"])
    b = d["bars"]
    rows.append(["the bar", "", f"≤ {b['train_s_max']:,.0f}", f"≤ {b['fid_max']:g}", "", "",
                 f"≥ {100 * b['confident_min']:.0f} %",
                 f"≥ {100 * b['class_share_min']:.0f} % / ≤ {100 * b['class_share_max']:.0f} %", ""])
    return md(["samples", "G steps", "train s", "FID vs mnist5k", "precision", "recall", "confident (p > 0.9)",
               "smallest / largest class", "meets every bar"], rows)


def _merged_stability(data: list[Any]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for d in data:
        for recipe, per_seed in d.items():
            merged.setdefault(recipe, {}).update(per_seed)
    return merged


def t_stability(files: list[str], data: list[Any]) -> str:
    rows = []
    for recipe, per_seed in _merged_stability(data).items():
        seeds = sorted(per_seed, key=int)
        rs = [per_seed[s] for s in seeds]
        ok = sum(r["converged"] for r in rs)
        if "modes" in rs[0]:
            outcome = ("modes " + ", ".join(str(r["modes"]) for r in rs)
                       + f"; high quality {min(r['hq'] for r in rs):.2f}-{max(r['hq'] for r in rs):.2f}")
        else:
            fids = [r["fid"] for r in rs]
            outcome = (f"FID (2,000 samples) {', '.join(f'{f:.0f}' for f in fids)}; median "
                       f"{statistics.median(fids):.0f}; recall {min(r['recall'] for r in rs):.2f}-"
                       f"{max(r['recall'] for r in rs):.2f}; classes ≥ 2 %: "
                       f"{_range([r['classes'] for r in rs], '{:d}')}")
            if "label_accuracy" in rs[0]:
                outcome += (f"; label accuracy {min(r['label_accuracy'] for r in rs):.2f}-"
                            f"{max(r['label_accuracy'] for r in rs):.2f}")
            late = sorted({f for r in rs for f in r.get("late_findings", [])})
            outcome += f"; late health findings: {', '.join(late) if late else 'none'}"
        train = [r["train_s"] for r in rs]
        rows.append([f"`{recipe}`", _seed_ranges([int(s) for s in seeds]), f"{ok} / {len(rs)}", outcome,
                     f"{min(train):,.0f}-{max(train):,.0f}"])
    return md(["recipe", "seeds", "converged", "outcome, per seed in order", "train s"], rows)


def _range(xs: list[Any], fmt: str) -> str:
    lo, hi = fmt.format(min(xs)), fmt.format(max(xs))
    return lo if lo == hi else f"{lo}-{hi}"


def _seed_ranges(seeds: list[int]) -> str:
    out, start = [], seeds[0]
    for a, b in zip(seeds, seeds[1:] + [None]):
        if b != a + 1:
            out.append(f"{start}-{a}" if a != start else str(a))
            start = b
    return ", ".join(out)


def t_perf_full(files: list[str], data: list[Any]) -> str:
    head = ["figure"] + [f"`{f}` ({d['machine']['date']})" for f, d in zip(files, data)]

    def row(label: str, get: Callable[[dict[str, Any]], str]) -> list[str]:
        return [label] + [get(d) for d in data]

    def ratio(d: dict[str, Any], v: str) -> str:
        t = d["throughput"][v]
        return f"{spread(t['images_per_s'])}, x{spread(t['speedup_vs_reference'], 2)}"

    def roof(d: dict[str, Any], v: str) -> str:
        r = d["roof"]["batches"]["128"][v]
        of_best = r.get("roof_fraction_of_run_best")
        if of_best is None:  # older files: the fraction against the best roof read anywhere in the run
            best = max(x["roof_gflops"] for b in d["roof"]["batches"].values() for k, w in b.items()
                       if isinstance(w, dict) and "runs" in w for x in w["runs"])
            of_best = _spread_of([x["achieved_gflops"] / best for x in r["runs"]])
        return f"{spread(r['achieved_gflops'])} GFLOP/s, {spread(of_best, 2)} of the run's best roof"

    rows = [row("training, reference loop (pytorch/examples dcgan, re-stated), images/s",
                lambda d: spread(d["throughput"]["reference"]["images_per_s"])),
            row("training, gankit default, images/s (ratio to the reference)", lambda d: ratio(d, "gankit-default")),
            row("training, gankit `--channels-last --reuse-fake`, images/s (ratio)", lambda d: ratio(d, "gankit-fast")),
            row("compute, default, batch 128", lambda d: roof(d, "gankit-default")),
            row("compute, `--channels-last --reuse-fake`, batch 128", lambda d: roof(d, "gankit-fast")),
            row("sampling, n = 1024 per call, default layout, images/s",
                lambda d: spread(d["sampling"]["default"]["batch_1024"])),
            row("sampling, n = 1024 per call, channels-last, images/s",
                lambda d: spread(d["sampling"]["channels_last"]["batch_1024"]))]
    return md(head, rows)


def t_perf_compiled(files: list[str], data: list[Any]) -> str:
    d = data[0]
    t, r = d["throughput"], d["roof"]
    rows = [["reference loop", spread(t["reference"]["images_per_s"]), "", ""]]
    for v, label in (("gankit-fast", "gankit `--channels-last --reuse-fake`"),
                     ("gankit-compiled", "the same with `--compile`")):
        rows.append([label, spread(t[v]["images_per_s"]), f"x{spread(t[v]['speedup_vs_reference'], 2)}",
                     spread(r[v]["achieved_gflops"])])
    return md(["loop", f"images/s (batch {t['batch_size']}, {t['n_images']:,} images)", "ratio to the reference",
               f"GFLOP/s at batch {r['batch_size']}"], rows)


def t_thin_layers(files: list[str], data: list[Any]) -> str:
    rows = []
    for batch, b in data[0]["batches"].items():
        r = b["gemm_over_onednn"]
        rows.append([batch, spread(b["spread"]["onednn"]), spread(b["spread"]["gemm"]),
                     f"{spread(r, 2)}, above 1 in {r['rounds_above_1']} of {len(r['per_round'])} rounds"])
    return md(["batch", "thin layers on oneDNN, images/s", "thin layers as GEMMs, images/s",
               "GEMM / oneDNN, paired by round"], rows)


def t_thin_layers_per_layer(files: list[str], data: list[Any]) -> str:
    per = data[0]["per_layer_ms"]
    batches = list(per)
    head = ["layer"] + [f"batch {b}, {k}" for b in batches for k in ("oneDNN", "GEMM")]
    rows = []
    for layer in per[batches[0]]:
        rows.append([layer] + [spread(per[b][layer][k], 2) for b in batches for k in ("onednn", "gemm")])
    return md(head, rows)


def t_breakdown(files: list[str], data: list[Any]) -> str:
    rows = []
    for d in data:
        for name, v in d["variants"].items():
            gr = v["groups"]

            def grp(k: str) -> str:
                if k not in gr or not gr[k].get("gflop_per_step"):
                    return ""
                x = gr[k]
                rate = f", {x['gflops']['median']:.0f} GFLOP/s" if isinstance(x.get("gflops"), dict) else ""
                return f"{x['ms_per_step']['median']:.0f} ms{rate}"

            other = gr["other"]
            rows.append([str(d["batch_size"]), name, spread(v["step_ms"]), grp("conv forward"), grp("conv backward"),
                         grp("matmul"), f"{other['ms_per_step']['median']:.0f} ms ({other['share']['median']:.2f})",
                         spread(v["compute_ms"], 1), spread(v["images_per_s_if_rest_free"])])
    return md(["batch", "variant", "ms per step", "conv forward", "conv backward", "GEMM layers",
               "everything else (share)", "convolutions and GEMMs alone, ms", "at most, images/s"], rows)


def t_memory(files: list[str], data: list[Any]) -> str:
    rows = []
    for r in data[0]["rows"]:
        rows.append([r["what"], f"{r['peak_rss_mib']:,.0f}",
                     "" if "load_s" not in r else f"{r['load_s']:.1f}", "" if "batches_s" not in r else f"{r['batches_s']:.1f}"])
    return md(["data path (200 batches of 64 unless named)", "peak RSS, MiB", "load s", "200 batches, s"], rows)


def t_classifiers(files: list[str], data: list[Any]) -> str:
    rows = []
    for f, d in zip(files, data):
        c = d["classifier"]
        rows.append([c["dataset"], f"{100 * c['test_accuracy']:.2f} %", f"{c['test_size']:,}", str(c["epochs"]),
                     str(c["seed"]), f"`gankit train-classifier --dataset {c['dataset']} --data-dir DATA --epochs "
                     f"{c['epochs']} --seed {c['seed']} --out src/gankit/assets/{f}`"])
    return md(["feature network", "test accuracy", "test images", "epochs", "seed", "command"], rows)


def t_parzen(files: list[str], data: list[Any]) -> str:
    d = data[0]
    rows = [[r["name"], f"{r['parzen_ll']:.0f} ± {r['parzen_ll_se']:.1f}", fixed(r["parzen_sigma"], 3)]
            for r in d["rows"]]
    rows += [[f"{name} (Goodfellow et al. 2014, Table 1)", value.replace("+-", "±"), ""]
             for name, value in d["paper"].items()]
    return md(["samples", "Parzen log-likelihood of the MNIST test set (nats, ± s.e.)", "sigma"], rows)


def _pct(x: float, places: int = 1) -> str:
    return f"{100 * x:.{places}f} %"


def _budget(steps: Any, train_s: Any) -> str:
    t = "" if train_s is None or train_s != train_s else f", {train_s:,.0f} s"  # NaN: the clock was not kept
    return f"{g(steps)} steps{t}"


def _seeds(rows: list[dict[str, Any]]) -> str:
    seeds = [r["seed"] for r in rows]
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"mean of seeds {', '.join(map(str, seeds))}"


def _zoo_infogan(d: Any) -> list[str]:
    r = d["runs"][0]
    return ["`infogan`", "`gankit train --method infogan --dataset mnist`",
            f"categorical code as a digit classifier: {_pct(r['code_error'])} error (seed {r['seed']})",
            "about 5 % error (Chen et al. 2016, section 7.1)", _budget(r["steps"], r.get("train_s"))]


def _zoo_acgan(d: Any) -> list[str]:
    by = {r["variant"]: r for r in d["runs"] if r["seed"] == d["runs"][0]["seed"]}
    a, c = by["acgan"], by.get("cdcgan")
    beside = (f" (conditional DCGAN: {_pct(c['label_accuracy'])}, FID {c['fid']:.0f})" if c else "")
    return ["`acgan`", "`gankit train --method acgan --conditional --dataset mnist`",
            f"label accuracy {_pct(a['label_accuracy'])}, FID {a['fid']:.0f}{beside}; seed {a['seed']}, "
            f"{g(a['eval_n'])} samples", "no MNIST figure; the bar: at least 97 %",
            _budget(a["steps"], a.get("train_s"))]


def _zoo_sgan(d: Any) -> list[str]:
    r = d["seeds"][0]
    return ["`sgan`", "`gankit train --method sgan --dataset mnist --model mlp --labels-per-class 10`",
            f"test error {_pct(d['summary']['sgan_test_error_mean'], 2)} with 100 labels, {_seeds(d['seeds'])} (the "
            "same classifier on the 100 labels alone: "
            f"{_pct(d['summary']['supervised_only_test_error_mean'], 2)})",
            f"{_pct(d['paper']['test_error'], 2)} ({d['paper']['test_errors']} ± {d['paper']['test_errors_std']} "
            "errors; Salimans et al. 2016, Table 1)", _budget(r["steps"], r.get("train_s"))]


def _zoo_bigan(d: Any) -> list[str]:
    r = d["seeds"][0]
    return ["`bigan`", "`gankit train --method bigan --dataset mnist --model mlp`",
            f"1-NN accuracy on E(x): {_pct(r['knn1_accuracy'])} (untrained E: {_pct(r['knn1_accuracy_untrained_encoder'])}"
            f", pixels: {_pct(r['knn1_accuracy_pixels'])}); seed {r['seed']}",
            f"{_pct(d['paper']['knn1_accuracy'], 2)} (Donahue et al. 2017, Table 1)",
            _budget(r["steps"], r.get("train_s"))]


def _zoo_sn(d: Any) -> list[str]:
    by = {r["variant"]: r for r in d["rows"] if r["seed"] == d["rows"][0]["seed"]}
    sn, plain, concat = by["projection-sn"], by["projection"], by.get("concat")
    beside = f"; one-hot (concat) D without it: {concat['fid']:.0f}" if concat else ""
    return ["`--spectral-norm`", "`gankit train --conditional --cond-d projection --spectral-norm --dataset mnist`",
            f"projection D: FID {sn['fid']:.0f} with spectral norm, {plain['fid']:.0f} without{beside}",
            "the bar: the conditional DCGAN's level or better", _budget(sn["steps"], sn.get("train_s"))]


def _zoo_sagan(d: Any) -> list[str]:
    by = {r["model"]: r for r in d["rows"] if r["seed"] == d["rows"][0]["seed"]}
    s, dc = by["sagan"], by["dcgan"]
    return ["`--model sagan`", "`gankit train --model sagan --dataset fashion-mnist`",
            f"FID {s['fid']:.0f} against DCGAN's {dc['fid']:.0f} at equal wall time "
            f"({d['budget_s']:.0f} s: {g(s['steps'])} and {g(dc['steps'])} steps)",
            "the bar: below DCGAN at equal wall time", _budget(s["steps"], s.get("train_s"))]


def t_acgan_ablation(files: list[str], data: list[Any]) -> str:
    rows = [["real + fake (the paper)" if r["aux_on_fake"] else "real only", g(r["mode_seeking"]),
             _pct(r["label_accuracy"]), f"{r['fid']:,.0f}", fixed(r["recall"], 2)] for r in data[0]["rows"]]
    return md(["D's class term", "mode seeking", "label accuracy", "FID", "recall"], rows)


def t_infogan_trajectory(files: list[str], data: list[Any]) -> str:
    """One row per run: what it changed from the recipe, and the code accuracy at each checkpoint."""
    steps = sorted({p["step"] for d in data for r in d["runs"] for p in r["points"] if p["step"] % 250 == 0})
    base = data[0]["runs"][0]
    rows = []
    for d in data:
        for r in d["runs"]:
            changed = ", ".join(f"{k} {g(r[k])}" for k in ("batch_size", "lr_g", "lr_d", "info_weight",
                                                          "info_cont_weight", "prior", "seed") if r[k] != base[k])
            at = {p["step"]: p["code_accuracy"] for p in r["points"]}
            rows.append([f"`{r['run']}`", changed or "the recipe",
                         *[_pct(at[s]) if s in at else "" for s in steps]])
    return md(["run", "change", *[f"step {g(s)}" for s in steps]], rows)


ZOO = {"zoo-infogan.json": _zoo_infogan, "zoo-acgan.json": _zoo_acgan, "zoo-sgan.json": _zoo_sgan,
       "zoo-bigan.json": _zoo_bigan, "zoo-sn.json": _zoo_sn, "zoo-sagan.json": _zoo_sagan}


def t_zoo(files: list[str], data: list[Any]) -> str:
    rows = [ZOO[name](d) for name, d in zip(files, data)]
    return md(["method", "command", "measured (one seed)", "paper", "training (steps, seconds)"], rows)


def load_classifier_meta(name: str, results: Path) -> Any:
    """The training record a shipped feature network carries in its safetensors header."""
    path = ROOT / "src" / "gankit" / "assets" / name
    if not path.is_file():
        raise MissingResult(f"src/gankit/assets/{name} is missing (a rendered table reads it)")
    with path.open("rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    return json.loads(header["__metadata__"]["gankit"])


def t_attack(files: list[str], data: list[Any]) -> str:
    rows = []
    for d in data:
        rep = d["report"]
        for r in rep["results"]:
            psnr = r.get("mean_psnr_db")
            rows.append([g(r["eps"]), f"{100 * r['success_rate']:.1f} %", f"{100 * r['random_control_success_rate']:.1f} %",
                         f"{100 * r['accuracy']:.1f} %", f"{100 * r['random_control_accuracy']:.1f} %",
                         f"{r['mean_l2']:.3f}", f"{r['mean_linf']:.3f}", "" if psnr is None else f"{psnr:.1f}"])
    return md(["eps", "success", "random control: success", "accuracy", "random control: accuracy", "mean L2",
               "mean L-inf", "PSNR dB"], rows)


def t_theory(files: list[str], data: list[Any]) -> str:
    rows = []
    for d in data:
        rec = d["record"]
        for c in rec["claims"]:
            v = c.get("value")
            shown = g(float(v), 4) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)
            rows.append([f"`{rec['name']}`", c["claim"].replace("|", "\\|"), shown, "yes" if c["holds"] else "**no**"])
    return md(["experiment", "claim", "measured", "holds"], rows)


def t_cyclegan(files: list[str], data: list[Any]) -> str:
    rows = []
    for d in data:
        for r in d["runs"]:
            rows.append([f"{d['domain_b']}", "CycleGAN" if r["adv_weight"] else "cycle term alone (`--adv-weight 0`)",
                         f"{r['steps']:,} ({r['train_s'] / 60:.1f} min)", f"{r['cycle_l1']:.3f}",
                         f"{100 * r['translated_label_accuracy']:.1f} % ({100 * r['reference_label_accuracy']:.1f} %)",
                         f"{r['translated_fid']:.1f} ({r['reference_fid']:.1f})", f"{r['l1_to_truth']:.3f}",
                         f"{r['l1_to_input']:.3f}"])
    return md(["domain B", "objective", "steps (training time)", "cycle L1", "translated digits classified right "
               "(true translations)", "FID to real B (true translations)", "L1 to the true translation",
               "L1 to the input"], rows)


def t_speech(files: list[str], data: list[Any]) -> str:
    d = data[0]
    c = d["classifier"]
    rows = [["shipped classifier on the train split's clips (voices it never heard)", f"{c['n']:,} real clips",
             f"{100 * c['accuracy']:.1f} % (after Griffin-Lim: {100 * c['accuracy_griffin_lim']:.1f} %)", "", "", ""]]
    for r in d["seeds"]:
        s = r["scores"]
        budget = f"{r['step']:,} steps, {r['train_seconds'] / 60:.0f} min" + ("" if d["full_length"] else
                                                                              ", short budget")
        rows.append([f"SpecGAN, conditional, seed {r['seed']}", budget, f"{100 * s['label_accuracy']:.1f} %",
                     f"{s['fid']:.1f}", f"{s['fid_real_vs_real']:.2f} / {s['fid_real_griffin_lim']:.2f}",
                     classes_present(s["class_histogram"])])
    return md(["what", "data / budget", "digits heard right", "FID", "FID real vs real / after Griffin-Lim",
               "classes ≥ 2 %"], rows)


def _toy_parts(data: list[Any]) -> list[Any]:
    """bench/toys.py result files, one per command, or a file that gathers several (`parts`)."""
    return [p for d in data for p in (d["parts"] if "parts" in d else [d])]


def t_toys_paper(files: list[str], data: list[Any]) -> str:
    """bench/toys.py --part paper: ours at a short budget beside PacGAN's Table 1 (400,000 updates, 10 trials)."""
    rows = []
    for d in sorted(_toy_parts(data), key=lambda d: (d["steps"], list(d["table"])[0] != "ring")):
        for data_set, per in d["table"].items():
            for v, r in per.items():
                paper = (d.get("paper") or {}).get(data_set, {}).get(v)
                rows.append([data_set, v, f"{d['steps']:,}", str(r["n"]), f"{r['modes_mean']:g}", f"{r['modes20_mean']:g}",
                             f"{100 * r['hq_mean']:.1f} %", f"{r['kl_mean']:.2f}",
                             "" if paper is None else f"{paper[0]:g} / {100 * paper[1]:.1f} % / {paper[2]:.2f}"])
    return md(["data", "variant", "steps", "seeds", "modes (>= 1 HQ)", "modes (>= 20 HQ)", "HQ", "reverse KL",
               "PacGAN's Table 1: modes / HQ / KL"], rows)


def t_stacked(files: list[str], data: list[Any]) -> str:
    """bench/stacked_mnist.py: modes of 1,000 and KL to uniform, beside PacGAN's Tables 2 and 3."""
    rows = []
    for d in data:
        for v, r in d["table"].items():
            paper = d["paper"].get(v)
            rows.append([d["setting"], v, f"{d['steps']:,}", str(r["n"]), f"{r['modes_mean']:g}", f"{r['kl_mean']:.2f}",
                         f"{d['n_scored']:,}", "" if paper is None else f"{paper[0]:g} / {paper[1]:.2f}"])
    return md(["setting", "variant", "steps", "seeds", "modes (of 1,000)", "KL", "samples scored",
               "paper: modes / KL"], rows)


# Full-length budgets of the recipes these bench scripts stand for; a result file below them is labelled "short
# budget" in its table.
GROWING_FULL_MINUTES = 30  # bench/growing.py --minutes 30
RGAN_FULL_STEPS = 8_000  # the rgan recipe's steps
TEXT2IMAGE_FULL_STEPS = 6_000  # the text2image recipe's steps

DATASET_LABEL = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "coloured-mnist": "coloured MNIST",
                 "coloured-fashion": "coloured Fashion-MNIST"}


def _arg(command: str, flag: str) -> str | None:
    m = re.search(rf"{flag} (\S+)", command)
    return m.group(1) if m else None


def _growth_stage(step: int, phase_steps: int, size: int) -> str:
    """Where a progressive run stands at `step` (gankit.models.progressive.stage_at: `phase_steps` at 4x4, then a
    fade-in and a stabilising stretch of `phase_steps` for each next level)."""
    levels = (size // 4).bit_length()  # 4x4, 8x8, ..., size x size
    full = phase_steps * (2 * levels - 2)  # the last level's fade-in ends here
    if step > full:
        return f"at {size}x{size} from step {full:,}"
    if step == full:
        return f"the {size}x{size} fade-in just ended"
    k = max(0, (step - phase_steps) // phase_steps)
    level = 4 * 2 ** (min(k // 2 + 1, levels - 1) if step >= phase_steps else 0)
    return f"fading in {level}x{level}" if step >= phase_steps and k % 2 == 0 else f"at {level}x{level}"


def t_growing(files: list[str], data: list[Any]) -> str:
    """bench/growing.py: each method's FID at its final checkpoint, per data set, at equal wall budget."""
    d = data[0]
    methods = {"dcgan": "DCGAN", "progressive": "progressive", "stylegan": "StyleGAN"}
    short = d["budget_minutes"] < GROWING_FULL_MINUTES
    rows: dict[str, list[str]] = {}
    for r in d["runs"]:
        if r["seed"] != d["seeds"][0]:
            continue
        size = int(_arg(r["command"], "--image-size") or 28)
        label = f"{DATASET_LABEL.get(r['dataset'], r['dataset'])} {size}x{size}"
        last = r["curve"][-1]
        cell = f"{last['fid']:.0f} ({last['step']:,} steps, {last['train_s'] / 60:.1f} min"
        if r["method"] == "progressive":
            cell += "; " + _growth_stage(last["step"], d["phase_steps"], size)
        rows.setdefault(label, [label] + [""] * len(methods))[list(methods).index(r["method"]) + 1] = cell + ")"
    budget = ("short budget: " if short else "") + f"{d['budget_minutes']:g} minutes per run"
    head = [f"data ({budget}; FID of {d['n_fid']:,} samples, final checkpoint, seed {d['seeds'][0]})",
            *methods.values()]
    return md(head, list(rows.values()))


def t_colour_classifiers(files: list[str], data: list[Any]) -> str:
    rows = [[f"`{n['dataset']}`", f"{n['epochs']}", str(n["seed"]), fixed(n["test_accuracy"], 4), f"{n['bytes']:,}",
             f"{n['train_s']:,.0f}"] for n in data[0]["networks"]]
    return md(["feature network", "epochs", "seed", "test accuracy", "bytes", "train s"], rows)


def _dist(x: float) -> str:
    return f"{x:.2f}" if x >= 10 else f"{x:.3f}"


RGAN_DISTANCES = ("freq_w1", "acf_l2", "acf_w1")


def _rgan_run_label(r: dict[str, Any]) -> str:
    dataset = _arg(r["command"], "--dataset") or r["part"]
    if r["part"] == "rows":
        return f"`{dataset}` (rows)"
    return f"`{dataset}" + (" --conditional" if "--conditional" in r["command"].split() else "") + "`"


def t_rgan_reference(files: list[str], data: list[Any]) -> str:
    """bench/rgan.py: the sequence distances' floor (two real draws) and ceiling (real vs time-shuffled)."""
    rows = []
    for r in data[0]["runs"]:
        ref = r["scores"].get("reference")
        if ref is None:
            continue
        for key, label in (("real_vs_real", "real vs real"), ("real_vs_shuffled", "real vs shuffled")):
            rows.append([r["part"], label] + [_dist(ref[key][k]) for k in RGAN_DISTANCES])
    return md(["data", "", *RGAN_DISTANCES], rows)


def t_rgan(files: list[str], data: list[Any]) -> str:
    """bench/rgan.py: each run's distances to held-out real series (or image scores), beside the references."""
    rows = []
    for r in data[0]["runs"]:
        s = r["scores"]
        ref = s.get("reference")
        if ref is not None:
            measured = (f"freq_w1 {s['freq_w1']:.2f}, acf_l2 {s['acf_l2']:.3f}, acf_w1 {s['acf_w1']:.3f}")
            reference = "; ".join(f"{_dist(ref['real_vs_real'][k])} / {_dist(ref['real_vs_shuffled'][k])}"
                                  for k in RGAN_DISTANCES)
        else:
            measured = (f"the shipped classifier's mean confidence {s['confidence']:.3f}, FID {s['fid']:.0f}, "
                        f"classes present {s['classes_present']}")
            reference = ""
        more = []
        if "band_agreement" in s:
            more.append(f"dominant frequency in the label's band: {_pct(s['band_agreement'])} (real series: "
                        f"{_pct(s['band_agreement_real'])})")
        t = r.get("tstr")
        if t:
            more.append(f"TSTR {_pct(t['tstr_accuracy'])} vs TRTR {_pct(t['trtr_accuracy'])} "
                        f"(chance {100 * t['chance']:g} %)")
        if s.get("classes_present") == 1:
            more.append("collapsed: every sample in one class")
        budget = f"{r['steps']:,} steps, {r['train_s']:.0f} s" + (", short budget" if r["steps"] < RGAN_FULL_STEPS
                                                                 else "")
        rows.append([_rgan_run_label(r), measured, reference, "; ".join(more), budget])
    return md(["run", "generated vs held-out real", "reference (real vs real / vs shuffled)", "more", "training"],
              rows)


def t_text2image(files: list[str], data: list[Any]) -> str:
    """bench/text2image.py: how often the class and each attribute agree with the caption, beside the controls."""
    rows = []
    for r in data[0]["runs"]:
        s = r["scores"]
        attrs = [k[:-len("_agreement")] for k in s
                 if k.endswith("_agreement") and k not in ("class_agreement", "real_class_agreement")]
        attr = "; ".join(f"{a} {_pct(s[a + '_agreement'])} ({_pct(s[a + '_agreement_control'])})" for a in attrs)
        budget = f"{r['steps']:,} steps, {r['train_s']:.0f} s" + (", short budget"
                                                                 if r["steps"] < TEXT2IMAGE_FULL_STEPS else "")
        rows.append([DATASET_LABEL.get(r["dataset"], r["dataset"]),
                     f"{_pct(s['class_agreement'])} ({_pct(s['class_agreement_control'])}; "
                     f"{_pct(s['real_class_agreement'])})", attr, budget])
    return md(["data", "class agrees with caption (control; real images)", "attribute agrees with caption (control)",
               "training"], rows)


def _short(steps: int, full: int) -> str:
    return ", short budget" if steps < full else ""


def _family_growing(d: Any) -> list[list[str]]:
    """progressive and StyleGAN beside the DCGAN, coloured MNIST at 32x32, at equal wall time (growing.json)."""
    seed = d["seeds"][0]
    runs = {r["method"]: r for r in d["runs"] if r["seed"] == seed and r["dataset"] == "coloured-mnist"}
    dc = runs["dcgan"]["curve"][-1]
    rows = []
    for method, label in (("progressive", "progressive growing"), ("stylegan", "StyleGAN")):
        last = runs[method]["curve"][-1]
        rows.append([label, f"`gankit train --method {method} --dataset coloured-mnist --image-size 32`",
                     f"FID {last['fid']:.0f} against the DCGAN's {dc['fid']:.0f}, coloured MNIST 32x32, equal wall time",
                     f"{d['budget_minutes']:g} min, {last['step']:,} steps"
                     + _short(int(d["budget_minutes"]), GROWING_FULL_MINUTES)])
    return rows


def _family_translate(d: Any) -> list[list[str]]:
    """pix2pix, edges -> digits (translate-edges.json): the same U-Net with and without the adversarial term."""
    by = {r["network"]: r for r in d["runs"] if r["dataset"] == "mnist"}
    a, b = by["L1 + cGAN"], by["L1 only"]
    return [["pix2pix (edges, super-resolution, inpainting, colourisation)",
             "`gankit train --task edges --dataset mnist`",
             f"edges → MNIST digits read right {_pct(a['accuracy'])}, FID {a['fid']:.1f} (L1 alone: "
             f"{_pct(b['accuracy'])}, FID {b['fid']:.1f})", f"{d['steps']:,} steps, short budget"]]


def _family_cyclegan(d: Any) -> list[list[str]]:
    by = {bool(r["adv_weight"]): r for r in d["runs"]}
    a, b = by[True], by[False]
    return [["CycleGAN (unpaired)", f"`gankit train --task cyclegan --dataset mnist --domain-b {d['domain_b']}`",
             f"MNIST → {d['domain_b']} digits still read right: {_pct(a['translated_label_accuracy'])} "
             f"(cycle term alone: {_pct(b['translated_label_accuracy'])}); cycle L1 {a['cycle_l1']:.3f}",
             f"{a['steps']:,} steps, short budget"]]


def _family_rgan(d: Any) -> list[list[str]]:
    r = next(r for r in d["runs"] if r["part"] == "sines")
    s, ref = r["scores"], r["scores"]["reference"]
    return [["recurrent GAN (sequences)", "`gankit train --method rgan --dataset sines --conditional`",
             f"dominant-frequency distance {s['freq_w1']:.2f} (real vs real {_dist(ref['real_vs_real']['freq_w1'])}, "
             f"real vs shuffled {_dist(ref['real_vs_shuffled']['freq_w1'])}); in the label's band "
             f"{_pct(s['band_agreement'])}", f"{r['steps']:,} steps" + _short(r["steps"], RGAN_FULL_STEPS)]]


def _family_text2image(d: Any) -> list[list[str]]:
    r = next(r for r in d["runs"] if r["dataset"] == "fashion-mnist")
    s = r["scores"]
    return [["text to image", "`gankit train --method text2image --dataset fashion-mnist`",
             f"the class named in the caption drawn {_pct(s['class_agreement'])} of the time (random captions: "
             f"{_pct(s['class_agreement_control'])})", f"{r['steps']:,} steps"
             + _short(r["steps"], TEXT2IMAGE_FULL_STEPS)]]


def _family_speech(d: Any) -> list[list[str]]:
    r = d["seeds"][0]
    s = r["scores"]
    return [["SpecGAN (spoken digits)", "`gankit train --method specgan --dataset spoken-digits --conditional`",
             f"digits heard right {_pct(s['label_accuracy'])} by the shipped spoken-digit classifier, FID "
             f"{s['fid']:.0f}", f"{r['step']:,} steps" + ("" if d["full_length"] else ", short budget")]]


FAMILIES = {"growing.json": _family_growing, "translate-edges.json": _family_translate,
            "cyclegan-thick.json": _family_cyclegan, "rgan.json": _family_rgan,
            "text2image.json": _family_text2image, "speech.json": _family_speech}


def t_families(files: list[str], data: list[Any]) -> str:
    """One line per GAN family beyond the model zoo, each from its own benchmark's result file (seed 0)."""
    rows = [row for name, d in zip(files, data) for row in FAMILIES[name](d)]
    return md(["family", "command", "measured (seed 0)", "training"], rows)


#: NAME -> (result files, how to load one, how to render them)
def t_translate(files: list[str], data: list[Any]) -> str:
    """One image-to-image task: each data set's L1-only and L1 + cGAN networks (and bicubic for superres)."""
    d = data[0]
    extra = {"inpaint": ("masked_l1", "hole L1"), "colorize": ("colour_error", "colour error")}.get(d["task"])
    head = ["data", "network", "steps", "train s", "accuracy", "FID", "L1", "PSNR (dB)", "SSIM"]
    head += [extra[1]] if extra else []

    def row(dataset: str, name: str, steps: str, secs: str, s: dict[str, Any]) -> list[str]:
        acc = f"{100 * s['accuracy']:.2f} %" if "accuracy" in s else ""
        cells = [dataset, name, steps, secs, acc, g(s.get("fid")), fixed(s["l1"], 4), fixed(s["psnr"], 2),
                 fixed(s["ssim"], 4)]
        return cells + ([fixed(s.get(extra[0]), 4)] if extra else [])

    rows, earlier = [], {}
    for i, r in enumerate(d["runs"]):
        if "bicubic" in r and all(q["dataset"] != r["dataset"] for q in d["runs"][:i]):  # first of its data set
            rows.append(row(r["dataset"], "bicubic upsampling", "", "", r["bicubic"]))
        rows.append(row(r["dataset"], r["network"], f"{d['steps']:,}", fixed(r.get("train_s"), 0), r))
        b = r.get("bench", d)
        if b["command"] != d["command"]:  # a data set kept from an earlier invocation of the script
            earlier[r["dataset"]] = f"`{command_text(b['command'])}`, {machine_text(b['machine'])}"
    notes = "".join(f"\n*{name} rows: {where}.*\n" for name, where in earlier.items())
    return md(head, rows) + notes


def t_studio(files: list[str], data: list[Any]) -> str:
    d = data[0]
    rows = []
    for w in d["windows"]:
        page = w["condition"] == "page open"
        rows.append([str(w["round"]), w["condition"], f"{w['seconds']:.0f}", f"{w['steps_per_s']:.1f}",
                     f"{w['updates_per_s']:.1f}" if page else "–",
                     f"{w['js_draw_ms_per_update']:.1f}" if page else "–", f"{w['server_cpu']:.2f}",
                     f"{w['browser_cpu']:.2f}" if page else "–", f"{w['load_avg_1m']:.1f}"])
    s = d["summary"]
    rows.append(["mean", "", "", f"{s['steps_per_s_no_client']:.1f} → {s['steps_per_s_page_open']:.1f} "
                 f"({_pct(s['slowdown'])} slower)", f"{s['updates_per_s']:.1f}", "", "", f"{s['browser_cpu_cores']:.2f}",
                 ""])
    return md(["round", "page", "s", "training steps/s", "page updates/s", "JS draw ms/update", "server CPU (cores)",
               "browser CPU (cores)", "load avg"], rows)


TABLES: dict[str, tuple[list[str], Callable[[str, Path], Any], Callable[[list[str], list[Any]], str]]] = {
    "floors": (["floors.json"], load, t_floors),
    "quality": (["quality-dense-15k.json", "quality-mnist-dense.json", "quality-fashion-mnist-dense.json",
                 "quality-mnist.json", "quality-mnist-cond.json"], load, t_quality),
    "quickstart": (["quickstart.json"], load, t_quickstart),
    "stability": (["stability-ring8-mlp.json", "stability-mnist-classic-b.json", "stability-fashion-classic.json",
                   "stability-fashion-classic-b.json", "stability-fashion-classic-c.json"], load, t_stability),
    "perf-full": (["bench-perf-full.json", "bench-perf-full-b.json"], load, t_perf_full),
    "perf-compiled": (["bench-perf-compiled-quick.json"], load, t_perf_compiled),
    "thin-layers": (["bench-thin-layers.json"], load, t_thin_layers),
    "thin-layers-per-layer": (["bench-thin-layers-per-layer.json"], load, t_thin_layers_per_layer),
    "breakdown": (["bench-breakdown-dispatch-b64.json", "bench-breakdown-dispatch-b128.json"], load, t_breakdown),
    "memory": (["memory.json"], load, t_memory),
    "studio": (["studio.json"], load, t_studio),
    "parzen": (["parzen.json"], load, t_parzen),
    "zoo": (list(ZOO), load, t_zoo),
    "acgan-ablation": (["zoo-acgan-ablation.json"], load, t_acgan_ablation),
    "infogan-trajectory": (["infogan-trajectory.json"], load, t_infogan_trajectory),
    "toys-paper": (["toys-paper-ring-200steps.json", "toys-paper-ring-gan.json", "toys-paper-ring-pacgan.json",
                    "toys-paper-grid.json"], load, t_toys_paper),
    "stacked-veegan": (["stacked-veegan.json"], load, t_stacked),
    "theory": ([f"theory/{n}.json" for n in ("one-d", "optimal-d", "saturation", "lsgan")], load,
               t_theory),
    "attack-mnist-pgd-l2": (["attack-mnist-pgd-l2.json"], load, t_attack),
    "attack-mnist-fgsm": (["attack-mnist-fgsm.json"], load, t_attack),
    "cyclegan-thick": (["cyclegan-thick.json"], load, t_cyclegan),
    "cyclegan-invert": (["cyclegan-invert.json"], load, t_cyclegan),
    "speech": (["speech.json"], load, t_speech),
    "growing": (["growing.json"], load, t_growing),
    "colour-classifiers": (["colour-classifiers.json"], load, t_colour_classifiers),
    "rgan-reference": (["rgan.json"], load, t_rgan_reference),
    "rgan": (["rgan.json"], load, t_rgan),
    "text2image": (["text2image.json"], load, t_text2image),
    "families": (list(FAMILIES), load, t_families),
    "classifiers": (["classifiers/mnist.safetensors", "classifiers/fashion-mnist.safetensors"],
                    load_classifier_meta, t_classifiers),
    **{f"translate-{task}": ([f"translate-{task}.json"], load, t_translate)
       for task in ("edges", "superres4", "superres2", "inpaint", "colorize")},
}


def render_table(name: str, results: Path = RESULTS) -> str:
    if name not in TABLES:
        raise KeyError(f"unknown table {name!r} (bench/render.py knows: {', '.join(TABLES)})")
    files, loader, fn = TABLES[name]
    data = [loader(f, results) for f in files]
    body = fn(files, data)
    if loader is load_classifier_meta:
        return body + "\n*Source: the training record in each network's safetensors header " \
                      "(`src/gankit/assets/classifiers/`).*\n"
    return body + "\n" + source(files, results, data)


def render_text(text: str, results: Path = RESULTS) -> str:
    """`text` with every marked table replaced by its rendering."""
    return MARKER.sub(lambda m: m.group(1) + render_table(m.group("name"), results) + m.group(4), text)


def tables_in(text: str) -> list[str]:
    return [m.group("name") for m in MARKER.finditer(text)]


def documents(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="report tables that differ; write nothing")
    args = ap.parse_args(argv)
    stale, failed = [], False
    for doc in documents():
        text = doc.read_text()
        try:
            new = render_text(text)
        except (MissingResult, KeyError) as e:  # this document is left as it is; the others still render
            print(f"render: {doc.relative_to(ROOT)}: {e.args[0]}", file=sys.stderr)
            failed = True
            continue
        if new != text:
            stale.append(doc)
            if not args.check:
                doc.write_text(new)
    for doc in stale:
        print(f"{'differs' if args.check else 'rewrote'}: {doc.relative_to(ROOT)}")
    return 2 if failed else 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
