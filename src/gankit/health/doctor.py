"""`gankit doctor RUN`: what went wrong in a training run, when, and why.

Reads the run directory (config.json, metrics.jsonl with its health events, checkpoints/, samples/), and writes a
short diagnosis to stdout and RUN/doctor.txt, plus one page of plots, RUN/doctor.png: losses, D(x) and D(G(z)),
gradient norms, sample diversity (and the in-training score when logged) over time, with a vertical marker
where each finding fired, and the last sample grid. Runs trained with --no-health are diagnosed by replaying the
monitor over their metrics (without diversity, which only the loop can measure).
"""

from __future__ import annotations

import argparse
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..cli.jsonout import STDOUT, add_json_flag, check_json_target, emit_json
from ..errors import EXIT_FINDINGS, shown
from ..rundir import RunDir
from .monitor import FINDINGS, d_outputs, monitor_for, replay

#: What each finding means, as the verdict's headline.
TITLES = {"non_finite": "the run diverged (NaN/inf)", "exploding": "exploding values",
          "d_domination": "D domination", "g_domination": "G domination", "mode_collapse": "mode collapse",
          "oscillation": "oscillation without progress"}
_SHOWN, _SHOWN_EVENT = 80, 400  # the most characters of a config value / an event's text that doctor echoes
COLOURS = {"non_finite": "black", "exploding": "#8c564b", "d_domination": "#d62728", "g_domination": "#9467bd",
           "mode_collapse": "#ff7f0e", "oscillation": "#17becf"}


@dataclass
class Diagnosis:
    run: str
    summary: str  # "dcgan/minimax on mnist5k, 600 of 600 steps, ..."
    verdict: str
    findings: list[dict[str, Any]] = field(default_factory=list)  # every finding event, in order
    actions: list[dict[str, Any]] = field(default_factory=list)  # --auto-remedy's events
    end_state: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: str = "recorded"  # "recorded" (health events in metrics.jsonl) or "replayed"

    def first(self) -> list[dict[str, Any]]:
        """The first occurrence of each finding, in order of onset."""
        seen, out = set(), []
        for e in self.findings:
            if e["event"] not in seen:
                seen.add(e["event"])
                out.append(e)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "summary": self.summary, "verdict": self.verdict, "findings": self.findings,
                "first": self.first(), "actions": self.actions, "end_state": self.end_state, "notes": self.notes,
                "source": self.source}

    def text(self) -> str:
        wrap = lambda s, ind: textwrap.fill(s, 110, initial_indent=ind, subsequent_indent=" " * len(ind))  # noqa
        lines = [f"gankit doctor: {self.run}", wrap(self.summary, "run        "), wrap(self.verdict, "verdict    ")]
        first = self.first()
        if first:
            lines.append(f"findings   (first of each; {len(self.findings)} report(s) in all, "
                         f"{'recorded during training' if self.source == 'recorded' else 'replayed from metrics'})")
            for e in first:
                lines.append(wrap(f"{e['event']}: {e.get('message', '')}", f"  step {e['step']:>7}  "))
                lines.append(wrap(f"remedy: {e.get('remedy', '')}", " " * 16))
        for a in self.actions:
            if a is self.actions[0]:
                lines.append("auto-remedy")
            lines.append(wrap(f"({a.get('finding', '')}) {a.get('action', '')}", f"  step {a['step']:>7}  "))
        if self.end_state:
            lines.append(wrap(", ".join(f"{k} {v:.0f}" if k == "step" or abs(v) >= 100 else f"{k} {v:.3g}"
                                        for k, v in self.end_state.items()), "end        "))
        for n in self.notes:
            lines.append(wrap(n, "note       "))
        return "\n".join(lines) + "\n"


def diagnose(run_dir: str | Path) -> Diagnosis:
    """Read a run directory and name what went wrong (pure reading: writes nothing)."""
    run = Path(run_dir)
    cfg, rows = RunDir(run).read_config(), RunDir(run).rows()
    events = [_event(e) for r in rows if isinstance(r.get("events"), list) for e in r["events"] if _is_event(e)]
    actions = [e for e in events if e.get("event") == "auto_remedy"]
    if cfg.get("health", False):
        findings, source = [e for e in events if e.get("event") in FINDINGS], "recorded"
    else:
        findings, source = [f.event() for f in replay(rows, monitor_for(cfg))], "replayed"

    steps_cfg = cfg.get("steps")
    last = rows[-1] if rows else {}
    done = int(last.get("step", 0))
    c = {k: shown(cfg.get(k), _SHOWN) for k in ("model", "loss", "dataset", "lr_g", "lr_d", "batch_size", "seed")}
    summary = (f"{_label(cfg, c)} on {c['dataset']}, {done} of {shown(steps_cfg, _SHOWN)} steps logged, "
               f"lr G {c['lr_g']} / D {c['lr_d']}, batch {c['batch_size']}, seed {c['seed']}"
               + (", --auto-remedy" if cfg.get("auto_remedy") else ""))
    notes: list[str] = []
    from ..checkpoint import list_checkpoints

    ckpts = list_checkpoints(run)
    if rows and steps_cfg and done < steps_cfg:
        where = f"the last checkpoint is step {ckpts[-1][0]}" if ckpts else "no checkpoint was written"
        notes.append(f"the log stops at step {done} of {steps_cfg}: the run stopped early or is still going; {where}")
    if not rows:
        notes.append("metrics.jsonl is empty or missing: nothing to diagnose yet")
    if source == "replayed":
        notes.append("trained with --no-health: findings replayed from metrics.jsonl; diversity was not measured, "
                     "so mode collapse cannot be seen")

    end: dict[str, float] = {}
    dd = d_outputs(last, str(cfg.get("loss")), tuple(cfg.get("lsgan_abc") or (0.0, 1.0, 1.0))) if rows else None
    if dd is not None:
        end["D(x)"], end["D(G(z))"] = dd
    for key, name in (("Health/diversity", "diversity (real = 1)"), ("Health/classes", "class entropy"),
                      ("Eval/FID", "FID"), ("Eval/modes", "modes")):
        if isinstance(last.get(key), (int, float)):
            end[name] = float(last[key])
    if end:
        end = {"step": float(done), **end}

    first = {}
    for e in findings:
        first.setdefault(e["event"], e)
    if not rows:
        verdict = "no metrics yet"
    elif not first:
        verdict = f"healthy: no finding over {len(rows)} log intervals ({done} steps)"
    else:
        onset = sorted(first.values(), key=lambda e: e["step"])
        head = onset[0]
        verdict = (f"{TITLES.get(head['event'], head['event'])} from step {head['step']}: {head.get('message', '')} "
                   f"Remedy: {head.get('remedy', '')}.")
        if len(onset) > 1:
            verdict += " Also: " + ", ".join(f"{TITLES.get(e['event'], e['event'])} from step {e['step']}"
                                              for e in onset[1:]) + "."
        still = [n for n in first if any(e["event"] == n and e["step"] >= done - 20 * int(cfg.get("log_every", 50))
                                         for e in findings)]
        if actions:
            verdict += (f" --auto-remedy acted {len(actions)} time(s); "
                        + (f"still reported near the end: {', '.join(still)}." if still else
                           "no finding was reported near the end."))
    return Diagnosis(shown(str(run), 500), summary, verdict, findings, actions, end, notes, source)


def _is_event(e: Any) -> bool:
    return isinstance(e, dict) and isinstance(e.get("event"), str) and isinstance(e.get("step"), int)


def _event(e: dict[str, Any]) -> dict[str, Any]:
    """An event of metrics.jsonl with its text made printable and short: the file may come from anyone, and its
    strings go into doctor.txt and onto the terminal."""
    return {k: shown(v, _SHOWN_EVENT) if isinstance(v, str) else v for k, v in e.items()}


def doctor(run_dir: str | Path, *, plot: bool = True) -> Diagnosis:
    """Diagnose a run and write RUN/doctor.txt (and RUN/doctor.png), each atomically: a link planted at either
    name is replaced, not written through."""
    run = RunDir(Path(run_dir))
    run.check_layout()
    d = diagnose(run.root)
    atomic_write_text(run.doctor_text, d.text())
    if plot:
        plot_doctor(run.root, d, run.doctor_plot)
    return d


def plot_doctor(run: Path, d: Diagnosis, path: Path) -> Path:
    """One page: losses, D outputs, gradient norms, diversity / score, the last samples; findings marked."""
    import numpy as np
    from matplotlib.figure import Figure

    from ..viz.figures import save_figure

    cfg, rows = RunDir(run).read_config(), RunDir(run).rows()
    steps = np.array([r["step"] for r in rows], dtype=float)

    def series(key: str) -> np.ndarray | None:
        if not any(isinstance(r.get(key), (int, float)) for r in rows):
            return None
        return np.array([r[key] if isinstance(r.get(key), (int, float)) else np.nan for r in rows], dtype=float)

    def plot_keys(ax: Any, keys: tuple[tuple[str, str], ...]) -> None:
        """Each (metrics key, legend label) that was logged, as a line over the steps."""
        for key, label in keys:
            s = series(key)
            if s is not None:
                ax.plot(steps, s, label=label, lw=1)

    fig = Figure(figsize=(15, 8.4))
    axes = fig.subplots(2, 3).ravel()
    fig.suptitle(textwrap.shorten(f"{run.name}: {d.verdict}", 170), fontsize=10)

    ax = axes[0]
    plot_keys(ax, tuple((k, k) for k in ("Loss/D", "Loss/G", "Loss/GP", "Loss/R1")))
    ax.set_title("losses")

    ax = axes[1]
    loss, abc = str(cfg.get("loss")), tuple(cfg.get("lsgan_abc") or (0.0, 1.0, 1.0))
    outs = [d_outputs(r, loss, abc) for r in rows]
    if any(o is not None for o in outs):
        ax.plot(steps, [o[0] if o else np.nan for o in outs], label="D(x)", lw=1)
        ax.plot(steps, [o[1] if o else np.nan for o in outs], label="D(G(z))", lw=1)
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title("D's verdict (1 = real)" + ("" if loss in ("minimax", "nonsaturating") else f", {loss} scale"))
    else:
        plot_keys(ax, (("Score/real", "Score/real"), ("Score/fake", "Score/fake")))
        ax.set_title("D's raw scores")

    ax = axes[2]
    plot_keys(ax, (("GradNorm/D", "GradNorm/D"), ("GradNorm/G", "GradNorm/G")))
    if ax.lines:
        ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, "no gradient norms logged", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("gradient norms")

    ax = axes[3]
    plot_keys(ax, (("Health/diversity", "diversity (real = 1)"), ("Health/classes", "class entropy")))
    if ax.lines:
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_ylim(bottom=0)
    else:
        ax.text(0.5, 0.5, "diversity not measured\n(trained with --no-health)", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_title("fixed-noise sample diversity")

    ax = axes[4]
    score = next((k for k in ("Eval/FID", "Eval/modes", "Eval/JSD") if series(k) is not None), None)
    if score:
        s = series(score)
        keep = ~np.isnan(s)
        ax.plot(steps[keep], s[keep], "o-", label=score, lw=1, ms=3)
        ax.set_title(f"{score} (--eval-every)")
    else:
        plot_keys(ax, (("lr/G", "lr/G"), ("lr/D", "lr/D")))
        ax.set_title("learning rates")

    for ax in axes[:5]:
        ax.set_xlabel("step")
        _mark(ax, d)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=7)

    ax = axes[5]
    ax.set_axis_off()
    grids = RunDir(run).sample_files()
    if grids:
        from PIL import Image

        ax.imshow(np.asarray(Image.open(grids[-1]).convert("RGB")))
        ax.set_title(f"samples/{grids[-1].name} (the sampling generator)", fontsize=9)
    else:
        ax.text(0.5, 0.5, "no sample grids", ha="center", va="center", transform=ax.transAxes)
    return save_figure(fig, path, dpi=80, rect=(0, 0, 1, 0.96))


def _mark(ax: Any, d: Diagnosis) -> None:
    """Vertical lines: solid at each finding's onset (first report), dashed at each auto-remedy action."""
    for i, e in enumerate(d.first()):
        ax.axvline(e["step"], color=COLOURS.get(e["event"], "red"), lw=1.2, alpha=0.8)
        ax.text(e["step"], 0.98 - 0.3 * (i % 3), " " + e["event"], rotation=90, va="top", ha="left", fontsize=7,
                color=COLOURS.get(e["event"], "red"), transform=ax.get_xaxis_transform())
    for a in d.actions:
        ax.axvline(a["step"], color="green", lw=1, ls="--", alpha=0.7)


# ------------------------------------------------------------------------------------------------ CLI
def add_parsers(sub: Any) -> None:
    p = sub.add_parser("doctor", help="diagnose a training run: what went wrong, when, and why",
                       description="Read a run's metrics.jsonl (with the health monitor's events), config, "
                       "checkpoints and samples; print a short diagnosis naming when things went wrong and why, "
                       "with the remedy, and write it to RUN/doctor.txt with one page of plots, RUN/doctor.png. "
                       "Exit status 0 when it found nothing, 1 when it found a problem, 2 on bad input.")
    p.add_argument("run", help="run directory")
    add_json_flag(p, "the diagnosis")
    p.add_argument("--no-plot", action="store_true", help="skip doctor.png")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    check_json_target(args.json)
    d = doctor(args.run, plot=not args.no_plot)
    emit_json(args.json, d.to_dict())
    if args.json != STDOUT:
        print(d.text(), end="")
        run = RunDir(Path(args.run))
        print(f"gankit: diagnosis -> {shown(str(run.doctor_text), 500)}"
              + ("" if args.no_plot else f", plots -> {shown(str(run.doctor_plot), 500)}"))
    return EXIT_FINDINGS if d.findings else 0  # scripts can tell a run with a problem from a healthy one


def _label(cfg: dict[str, Any], shown_cfg: dict[str, str]) -> str:
    """The run named as training named it ("dcgan/minimax", "stylegan/hinge"); a run folder's method that is not
    registered here is named by its config's words."""
    from ..errors import ConfigError
    from ..methods import get_method

    method = cfg.get("method", "gan")
    try:
        return get_method(str(method)).label(shown_cfg["model"], shown_cfg["loss"])
    except (ConfigError, TypeError):
        return f"{shown(method, _SHOWN)} {shown_cfg['model']}/{shown_cfg['loss']}"

