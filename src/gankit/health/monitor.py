"""The health monitor: pure and cheap. It is fed each log interval's reduced stats row (the dict written to
metrics.jsonl) and returns `Finding`s, each with a one-sentence explanation and the practitioners' remedy. No
tensors, files or clocks, so `replay` over a finished run's metrics.jsonl gives what the loop saw."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

FINDINGS = ("non_finite", "exploding", "d_domination", "g_domination", "mode_collapse", "oscillation")

#: The practitioners' remedies, with the flags that apply them in gankit.
REMEDIES: dict[str, str] = {
    "d_domination": "lower D's learning rate (--lr-d) or its steps (--d-steps), add instance noise "
                    "(--instance-noise 0.1), one-sided label smoothing (--label-smoothing 0.1), the non-saturating "
                    "or hinge loss (--loss nonsaturating|hinge), or an R1 penalty (--r1 1)",
    "g_domination": "give D more capacity or updates: raise D's learning rate (--lr-d) or steps (--d-steps 2), or "
                    "lower G's (--lr-g)",
    "mode_collapse": "roll back to a checkpoint from before the collapse and lower the learning rates (--lr), add "
                     "instance noise (--instance-noise 0.1) or an R1 penalty (--r1 1), or try a smaller batch",
    "oscillation": "lower both learning rates (--lr, --lr-decay), damp D with --r1 or --instance-noise, and sample "
                   "from the EMA generator (--ema 0.999)",
    "exploding": "lower the learning rates, clip gradients (--grad-clip 10), or use a bounded loss (nonsaturating, "
                 "hinge, wgan-gp); roll back to the last checkpoint if it diverges",
    "non_finite": "roll back to the last checkpoint with a lower learning rate (--auto-remedy does this), clip "
                  "gradients (--grad-clip 10), or use a more stable loss (nonsaturating, hinge, wgan-gp)",
}



@dataclass(frozen=True)
class Thresholds:
    """When a finding fires. Set on measured runs (bench/health_calibration.py; docs/health.md)."""

    patience: int = 3  # consecutive log intervals a condition must hold (non_finite: 1)
    dom_gap: float = 0.9  # d_domination: D(x) - D(G(z)) at least this (e.g. 0.95 vs 0.05)...
    dom_fake: float = 0.03  # ... and D(G(z)) at most this (healthy LSGAN on mnist5k dips to 0.07)
    hinge_dom_loss: float = 0.05  # d_domination for the hinge loss: D's loss at most this (healthy: 0.19-0.44)
    g_gap: float = 0.2  # g_domination: D(G(z)) - D(x) at least this
    collapse_diversity: float = 0.15  # mode_collapse: fixed-noise diversity below this fraction of real data's
    collapse_classes: float = 0.45  # mode_collapse: class-histogram entropy below this (1 = uniform over classes)
    classes_formed: float = 0.7  # ... once the histogram had reached this (unformed blobs read as one class)
    classes_late_steps: int = 1500  # ... or after this many steps (healthy DCGAN > 0.8 by step 600, LSGAN by 950)
    collapse_drop: float = 0.4  # ... or diversity below this fraction of its best so far, and below 0.5 absolute
    warmup_steps: int = 200  # steps before mode_collapse and oscillation are judged (G starts near a point)
    osc_window: int = 16  # oscillation: intervals in the window
    osc_std: float = 0.2  # oscillation: std of D(G(z)) over the window at least this...
    osc_progress: float = 0.05  # ... while the evaluation score (if logged) improved by less than this fraction
    explode_factor: float = 1000.0  # exploding: a gradient norm this many times its early median
    explode_abs: float = 1e4  # ... or a loss / score / gradient norm beyond this magnitude
    remind_every: int = 20  # an active finding is reported again after this many intervals


@dataclass
class Finding:
    """A named health problem at a log step, with the evidence, a one-sentence explanation and the remedy."""

    name: str
    step: int
    message: str
    remedy: str
    evidence: dict[str, float] = field(default_factory=dict)

    def event(self) -> dict[str, Any]:
        return {"event": self.name, "step": self.step, "message": self.message, "remedy": self.remedy,
                **({"evidence": self.evidence} if self.evidence else {})}


def d_outputs(row: dict[str, Any], loss: str = "nonsaturating",
              lsgan_abc: tuple[float, float, float] = (0.0, 1.0, 1.0)) -> tuple[float, float] | None:
    """D's verdict on real and fake data as "how real", in [0, 1] (0.5 each at equilibrium), or None.

    Cross-entropy losses log it (D/real, D/fake = mean sigmoid). LSGAN's outputs are placed between the fake
    code a (0) and the real code b (1). Hinge and Wasserstein scores have no such scale: None. (A healthy hinge D
    on mnist5k keeps its mean scores just past the margins, +1.1 and -1.1, so clipping them to the margins
    would call every hinge run dominated; its loss is the better sign, see HealthMonitor.)
    """
    if isinstance(row.get("D/real"), float) and isinstance(row.get("D/fake"), float):
        return row["D/real"], row["D/fake"]
    sr, sf = row.get("Score/real"), row.get("Score/fake")
    if not (isinstance(sr, (int, float)) and isinstance(sf, (int, float))):
        return None
    if loss == "lsgan":
        a, b = lsgan_abc[0], lsgan_abc[1]
        if a == b:
            return None
        f = lambda s: min(1.0, max(0.0, (s - a) / (b - a)))  # noqa: E731
        return f(sr), f(sf)
    return None  # hinge: scores sit just past the margins in healthy runs (measured), so no 0..1 scale


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


class HealthMonitor:
    """Feed it each log row (`update(row)`); it returns the findings that start (or are still on, every
    `remind_every` intervals) at that row. Pure: no tensors, no files, no clocks; the same rows give the same
    findings, so `gankit doctor` can replay a run and a resumed run can rebuild the monitor from its log."""

    def __init__(self, loss: str = "nonsaturating", lsgan_abc: tuple[float, float, float] = (0.0, 1.0, 1.0),
                 thresholds: Thresholds | None = None, eval_key: str | None = None) -> None:
        self.loss, self.lsgan_abc = loss, tuple(lsgan_abc)
        self.t = thresholds or Thresholds()
        self.eval_key = eval_key  # e.g. "Eval/FID" (lower is better) or "Eval/modes" (higher is better)
        self.streak: dict[str, int] = {name: 0 for name in FINDINGS}
        self.since_report: dict[str, int] = {}
        self.fake_hist: deque[tuple[int, float]] = deque(maxlen=self.t.osc_window)  # (step, D(G(z)))
        self.eval_hist: list[tuple[int, float]] = []  # (step, score) of every scored row
        self.gnorm_early: dict[str, list[float]] = {"GradNorm/D": [], "GradNorm/G": []}
        self.best_diversity = 0.0
        self.best_classes = 0.0
        self.rows_seen = 0

    @property
    def active(self) -> list[str]:
        return [name for name in FINDINGS if name in self.since_report]

    def update(self, row: dict[str, Any]) -> list[Finding]:
        step = int(row.get("step", 0))
        self.rows_seen += 1
        conditions = self._conditions(row, step)
        out = []
        for name in FINDINGS:
            cond = conditions.get(name)
            self.streak[name] = self.streak[name] + 1 if cond is not None else 0
            need = 1 if name in ("non_finite", "exploding") else self.t.patience
            if cond is None:
                self.since_report.pop(name, None)  # cleared: a relapse is reported anew
                continue
            if self.streak[name] < need:
                continue
            if name not in self.since_report or self.since_report[name] >= self.t.remind_every:
                message, evidence = cond
                out.append(Finding(name, step, message, REMEDIES[name], evidence))
                self.since_report[name] = 0
            self.since_report[name] += 1
        return out

    # ---------------------------------------------------------------- the conditions, one per finding
    def _conditions(self, row: dict[str, Any], step: int) -> dict[str, tuple[str, dict[str, float]]]:
        t = self.t
        c: dict[str, tuple[str, dict[str, float]]] = {}
        watched = {k: v for k, v in row.items() if isinstance(v, float)
                   and k.split("/")[0] in ("Loss", "Score", "D", "GradNorm", "Health")}
        bad = sorted(k for k, v in watched.items() if not math.isfinite(v))
        if bad:
            c["non_finite"] = (f"{', '.join(bad)} became NaN or infinite: the weights have diverged and every "
                               "later step is wasted.", {})
            return c  # nothing else is meaningful on a non-finite row

        # exploding: a gradient norm far beyond its early level, or any magnitude beyond explode_abs
        for key, early in self.gnorm_early.items():
            v = _num(row.get(key))
            if v is None:
                continue
            if len(early) < 5:
                early.append(v)
                continue
            base = sorted(early)[len(early) // 2]
            if base > 0 and v > t.explode_factor * base:
                c["exploding"] = (f"{key} is {v:.3g}, {v / base:.0f}x its early level: updates this large throw "
                                  "the networks off course and usually end in NaN.", {key: v, "early": base})
        huge = sorted(k for k, v in watched.items() if abs(v) > t.explode_abs)
        if huge and "exploding" not in c:
            c["exploding"] = (f"{huge[0]} reached {watched[huge[0]]:.3g}: values this large usually end in NaN.",
                              {huge[0]: watched[huge[0]]})

        dd = d_outputs(row, self.loss, self.lsgan_abc)
        if dd is not None:
            real, fake = dd
            self.fake_hist.append((step, fake))
            if real - fake >= t.dom_gap and fake <= t.dom_fake:
                gtxt = ""
                g = _num(row.get("GradNorm/G"))
                early_g = self.gnorm_early["GradNorm/G"]
                base = sorted(early_g)[len(early_g) // 2] if len(early_g) >= 3 else 0.0
                if g is not None and base > 0 and g < 0.1 * base:
                    gtxt = f", and G's gradient norm has fallen to {g:.2g} ({base / max(g, 1e-30):.0f}x below its " \
                           "early level)"
                elif g is not None and self.loss == "minimax":
                    gtxt = f"; the minimax G loss saturates there (G's gradient norm {g:.2g})"
                c["d_domination"] = (f"D tells real from generated almost perfectly (D(x) {real:.3g}, D(G(z)) "
                                     f"{fake:.2g}){gtxt}: G gets no useful signal and stops learning.",
                                     {"D/real": real, "D/fake": fake, **({"GradNorm/G": g} if g is not None else {})})
            if fake - real >= t.g_gap:
                c["g_domination"] = (f"D rates generated samples as more real than real ones (D(G(z)) {fake:.2f}, "
                                     f"D(x) {real:.2f}): D has stopped learning, so G is no longer guided toward "
                                     "the data.", {"D/real": real, "D/fake": fake})

        hinge_d = _num(row.get("Loss/D")) if self.loss == "hinge" else None
        if hinge_d is not None and hinge_d <= t.hinge_dom_loss:
            c["d_domination"] = (f"D's hinge loss is {hinge_d:.3g}: nearly every real and generated sample lies "
                                 "beyond D's margins, so G gets no useful signal and stops learning.",
                                 {"Loss/D": hinge_d})

        score = _num(row.get(self.eval_key)) if self.eval_key else None
        if score is not None:
            self.eval_hist.append((step, score))

        # mode collapse: the fixed-noise batch's outputs bunch together (after G has left its initial point)
        div, cls = _num(row.get("Health/diversity")), _num(row.get("Health/classes"))
        if step >= t.warmup_steps:
            if div is not None:
                prev_best = self.best_diversity
                self.best_diversity = max(self.best_diversity, div)
                if div < t.collapse_diversity:
                    c["mode_collapse"] = (f"G's outputs on a fixed noise batch are {div:.2f}x as far apart as real "
                                          "samples: it maps most z to a few outputs.", {"Health/diversity": div})
                elif div < t.collapse_drop * prev_best and div < 0.5:
                    c["mode_collapse"] = (f"the diversity of G's outputs fell from {prev_best:.2f} to {div:.2f} of "
                                          "real data's: G is collapsing onto a few outputs.",
                                          {"Health/diversity": div, "best": prev_best})
            # the classifier calls unformed blobs all one class, so only a fall from a varied histogram counts
            prev_cls = self.best_classes
            if cls is not None:
                self.best_classes = max(self.best_classes, cls)
            if cls is not None and cls < t.collapse_classes and "mode_collapse" not in c:
                if prev_cls >= t.classes_formed:
                    c["mode_collapse"] = (f"the classifier sees few classes in G's outputs (class entropy {cls:.2f}, "
                                          f"down from {prev_cls:.2f}; 1 = all equally): G draws only some of the "
                                          "data's modes.", {"Health/classes": cls, "best": prev_cls})
                elif step >= t.classes_late_steps:
                    c["mode_collapse"] = (f"after {step} steps the classifier still sees almost one class in G's "
                                          f"outputs (class entropy {cls:.2f}; 1 = all equally): G draws at best "
                                          "one kind of sample.", {"Health/classes": cls})
            # oscillation without progress: D's verdict on fakes swings widely while the score stands still
            if len(self.fake_hist) == t.osc_window:
                vals = [v for _, v in self.fake_hist]
                m = sum(vals) / len(vals)
                sd = math.sqrt(sum((v - m) ** 2 for v in vals) / len(vals))
                if sd >= t.osc_std and not self._progress(self.fake_hist[0][0]):
                    c["oscillation"] = (f"D's verdict on generated samples swings widely (D(G(z)) std {sd:.2f} over "
                                        f"the last {t.osc_window} log intervals) without the samples improving: the "
                                        "two networks chase each other instead of converging.", {"std": sd})
        return c

    def _progress(self, since: int) -> bool:
        """Has the evaluation score improved by osc_progress since step `since`? (False when nothing is scored.)"""
        if not self.eval_hist:
            return False
        before = [v for s, v in self.eval_hist if s <= since]
        first = before[-1] if before else self.eval_hist[0][1]
        last = self.eval_hist[-1][1]
        lower_better = self.eval_key in ("Eval/FID", "Eval/KID", "Eval/JSD")
        gain = (first - last) if lower_better else (last - first)
        return gain > self.t.osc_progress * max(abs(first), 1e-12)


def eval_key_for(dataset: str) -> str | None:
    """The in-training score (--eval-every) that tells progress, for the oscillation finding."""
    from ..data import TOY_MODES

    if dataset in TOY_MODES:
        return "Eval/modes"
    if dataset == "gaussian1d":
        return "Eval/JSD"
    return "Eval/FID"


def monitor_for(cfg: Any) -> HealthMonitor:
    """The monitor for a run's config (a TrainConfig or a config.json dict)."""
    get = cfg.get if isinstance(cfg, dict) else (lambda k, d=None: getattr(cfg, k, d))
    return HealthMonitor(str(get("loss", "nonsaturating")), tuple(get("lsgan_abc", (0.0, 1.0, 1.0))),
                         eval_key=eval_key_for(str(get("dataset", ""))))


def replay(rows: list[dict[str, Any]], monitor: HealthMonitor) -> list[Finding]:
    """Every finding the monitor raises over `rows` (a metrics.jsonl), in order."""
    return [f for r in rows if "step" in r for f in monitor.update(r)]
