"""Training health: name what goes wrong in a GAN run while it runs, say why, and (optionally) fix it.

Three parts, each usable alone:

* measurements the loop takes on log steps only: `grad_norm` (total L2 norm of a network's gradients) and
  `DiversityProbe` (how spread out G's outputs on the fixed noise batch are, relative to real data, and for
  MNIST-family images the entropy of the shipped classifier's class histogram of those outputs);
* `HealthMonitor`: pure and cheap. It is fed each log interval's reduced stats row (the dict written to
  metrics.jsonl) and returns `Finding`s: d_domination, g_domination, mode_collapse, oscillation, exploding,
  non_finite, each with a one-sentence explanation and the practitioners' remedy. `gankit doctor` replays it
  over a finished run's metrics.jsonl;
* `AutoRemedy` (`--auto-remedy`): turns a finding into an adjustment the loop applies (lower a learning rate,
  instance noise, one-sided label smoothing, the non-saturating G loss, roll back to a checkpoint) and records it.

`HealthHook` ties them to the training loop. Findings and remedies are written into the metrics row of the log
step where they happen, as `row["events"] = [{"event": NAME, "step": s, "message": ..., "remedy": ...}, ...]`, so
every reader of metrics.jsonl keeps seeing one row per log step.

Thresholds were set on measured runs (BENCHMARKS.md, "Health monitor calibration"): healthy default recipes on
mnist5k and ring8 over several seeds raise nothing; D with 10x G's learning rate is flagged within a few hundred
steps.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from .data.transforms import as_float

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


# ------------------------------------------------------------------------------------------------ measurements
def grad_norm(module: nn.Module) -> torch.Tensor | None:
    """Total L2 norm of `module`'s parameter gradients (what clip_grad_norm_ reports), as a tensor: no host sync."""
    norms = [p.grad.detach().norm() for p in module.parameters() if p.grad is not None]
    if not norms:
        return None
    return torch.stack(norms).norm()


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean Euclidean distance between distinct rows of x [N, ...] (flattened): 0 for identical samples."""
    flat = x.detach().reshape(len(x), -1).float()
    n = len(flat)
    if n < 2:
        return 0.0
    d = torch.cdist(flat, flat)  # [N, N]
    return float(d.sum() / (n * (n - 1)))


def class_entropy(probs: torch.Tensor) -> float:
    """Entropy of the predicted-class histogram (argmax counts), normalised to [0, 1] by log K."""
    k = probs.shape[1]
    counts = torch.bincount(probs.argmax(1), minlength=k).double()
    p = counts / counts.sum()
    h = -(p[p > 0] * p[p > 0].log()).sum()
    return max(0.0, float(h / math.log(k)))


class DiversityProbe:
    """Diversity of G on a fixed noise batch, relative to a fixed real batch of the same size.

    `Health/diversity` = mean pairwise distance of G's outputs / that of real samples: about 1 for a generator as
    spread out as the data, 0 for one that maps every z to the same output. For grey 28x28 MNIST-family data,
    `Health/classes` is the normalised entropy of the shipped classifier's class histogram on the same outputs
    (real digits: about 0.95 on 64 images; a generator drawing one digit: 0). No training RNG is used, and G is
    evaluated in eval mode (no BatchNorm statistics are updated), so training is unchanged.
    """

    MAX_N = 512  # pairwise distances of 512 points: a few milliseconds

    def __init__(self, z: torch.Tensor, y: torch.Tensor | None, real: torch.Tensor, *, seed: int = 0,
                 classifier: Any = None) -> None:
        n = min(len(z), self.MAX_N, len(real))
        self.z = z[:n]
        self.y = y[:n] if y is not None else None
        gen = torch.Generator().manual_seed(seed + 104729)
        idx = torch.randperm(len(real), generator=gen)[:n]
        ref = as_float(real[idx]).to(z.device)  # [n, *sample_shape]
        self.real_distance = max(mean_pairwise_distance(ref), 1e-12)
        self.classifier = classifier

    @torch.no_grad()
    def __call__(self, G: nn.Module) -> dict[str, float]:
        was_training = G.training
        G.eval()
        try:
            fake = G(self.z, self.y)
        finally:
            G.train(was_training)
        out = {"Health/diversity": mean_pairwise_distance(fake) / self.real_distance}
        if self.classifier is not None:
            _, probs = self.classifier.embed(fake.float().cpu().clamp(-1, 1))
            out["Health/classes"] = class_entropy(probs)
        return out


# ------------------------------------------------------------------------------------------------ the monitor
@dataclass(frozen=True)
class Thresholds:
    """When a finding fires. Set on measured runs (BENCHMARKS.md, "Health monitor calibration")."""

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
    from .data import TOY_MODES

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


# ------------------------------------------------------------------------------------------------ auto-remedy
@dataclass
class RemedyState:
    """What --auto-remedy has changed so far; the loop applies it every step. Saved in every remedy event, so a
    resumed run picks it up from metrics.jsonl."""

    lr_scale_g: float = 1.0
    lr_scale_d: float = 1.0
    noise: float = 0.0  # instance noise std added at noise_from, annealed to 0 at the last step
    noise_from: int = 0
    label_smoothing: float = 0.0
    g_loss: str | None = None  # "nonsaturating" when the minimax G loss was switched
    applied: dict[str, int] = field(default_factory=dict)  # finding -> times remedied


class AutoRemedy:
    """Turns findings into adjustments. Each finding is remedied at most `max_times` (escalating), at most once
    per `cooldown` log intervals, and never twice in the same log step."""

    def __init__(self, cfg: Any, max_times: int = 3, cooldown: int = 6) -> None:
        self.loss_name = cfg.loss
        self.base_smoothing = cfg.label_smoothing
        self.steps = cfg.steps
        self.max_times, self.cooldown = max_times, cooldown
        self.state = RemedyState(label_smoothing=cfg.label_smoothing)
        self.wait: dict[str, int] = {}
        self.version = 0  # bumped on every change, so the loop rebuilds its loss only when needed
        self._loss_version = 0

    # ---------------------------------------------------------------- what the loop reads
    def lrs(self, lr_g: float, lr_d: float) -> tuple[float, float]:
        return lr_g * self.state.lr_scale_g, lr_d * self.state.lr_scale_d

    def noise_std(self, step: int, base: float) -> float:
        s = self.state
        if s.noise <= 0 or step >= self.steps:
            return base
        extra = s.noise * (1.0 - (step - s.noise_from) / max(1, self.steps - s.noise_from))
        return max(base, extra)

    def loss_spec(self) -> tuple[str, float]:
        """(loss name, label smoothing) the loop should use now."""
        return self.state.g_loss or self.loss_name, self.state.label_smoothing

    # ---------------------------------------------------------------- decisions
    def tick(self) -> None:
        for k in list(self.wait):
            self.wait[k] -= 1
            if self.wait[k] <= 0:
                del self.wait[k]

    def decide(self, finding: Finding, active: list[str]) -> dict[str, Any] | None:
        """Apply a remedy for `finding` (if one is due) and return its event, else None."""
        name = finding.name
        if name in self.wait or name == "non_finite":  # non_finite is handled by roll_back
            return None
        times = self.state.applied.get(name, 0)
        if times >= self.max_times:
            return None
        s = self.state
        did: list[str] = []
        if name == "d_domination":
            if self.loss_name == "minimax" and s.g_loss is None:
                s.g_loss = "nonsaturating"
                did.append("switched G to the non-saturating loss -log D(G(z))")
            s.lr_scale_d *= 0.5
            did.append(f"halved D's learning rate (now x{s.lr_scale_d:g})")
            if self.loss_name in ("minimax", "nonsaturating", "lsgan") and s.label_smoothing < 0.1:
                s.label_smoothing = 0.1
                did.append("one-sided label smoothing 0.1")
            self._noise(finding.step, 0.1 * (times + 1))
            did.append(f"instance noise {s.noise:g}, annealed to 0")
        elif name == "g_domination":
            s.lr_scale_g *= 0.5
            did.append(f"halved G's learning rate (now x{s.lr_scale_g:g})")
        elif name == "mode_collapse":
            self._noise(finding.step, 0.1 * (times + 1))
            s.lr_scale_g *= 0.5
            s.lr_scale_d *= 0.5
            did.append(f"instance noise {s.noise:g}, and halved both learning rates")
        elif name in ("oscillation", "exploding"):
            s.lr_scale_g *= 0.5
            s.lr_scale_d *= 0.5
            did.append(f"halved both learning rates (now G x{s.lr_scale_g:g}, D x{s.lr_scale_d:g})")
        if not did:
            return None
        s.applied[name] = times + 1
        self.wait[name] = self.cooldown
        self.version += 1
        return {"event": "auto_remedy", "step": finding.step, "finding": name, "action": "; ".join(did),
                "state": asdict(s)}

    def roll_back(self, step: int, to_step: int) -> dict[str, Any]:
        s = self.state
        s.lr_scale_g *= 0.5
        s.lr_scale_d *= 0.5
        s.applied["non_finite"] = s.applied.get("non_finite", 0) + 1
        self.version += 1
        return {"event": "auto_remedy", "step": step, "finding": "non_finite",
                "action": f"rolled back from step {step} to the checkpoint at step {to_step} and halved both "
                          f"learning rates (now G x{s.lr_scale_g:g}, D x{s.lr_scale_d:g})", "state": asdict(s)}

    def loss(self, current: Any, lsgan_abc: tuple[float, float, float]) -> Any:
        """The Loss the loop should use: `current`, rebuilt when a remedy changed the G loss or smoothing."""
        if self._loss_version != self.version:
            from .losses import get_loss

            name, smoothing = self.loss_spec()
            current = get_loss(name, label_smoothing=smoothing, lsgan_abc=lsgan_abc)
            self._loss_version = self.version
        return current

    def can_roll_back(self) -> bool:
        return self.state.applied.get("non_finite", 0) < self.max_times

    def restore(self, rows: list[dict[str, Any]]) -> None:
        """Take up the state recorded in a resumed run's metrics.jsonl."""
        for i, r in enumerate(rows):
            for e in r.get("events") or []:
                if e.get("event") == "auto_remedy" and isinstance(e.get("state"), dict):
                    self.state = RemedyState(**e["state"])
                    self.version += 1
                    left = self.cooldown - (len(rows) - 1 - i)  # the cooldown still to run, as if never stopped
                    if left > 0 and e.get("finding") != "non_finite":
                        self.wait[e["finding"]] = left
                    else:
                        self.wait.pop(e.get("finding"), None)

    def _noise(self, step: int, level: float) -> None:
        self.state.noise, self.state.noise_from = max(self.state.noise, min(level, 0.3)), step


# ------------------------------------------------------------------------------------------------ loop glue
class HealthHook:
    """What the training loop calls on log steps: measures (gradient norms, diversity), runs the monitor, puts
    findings and remedies into the row's `events`, and says what to show in the progress bar."""

    def __init__(self, cfg: Any, data: Any, fixed_z: torch.Tensor, fixed_y: torch.Tensor | None,
                 past_rows: list[dict[str, Any]] | None = None) -> None:
        self.monitor = monitor_for(cfg)
        self.remedy = AutoRemedy(cfg) if getattr(cfg, "auto_remedy", False) else None
        classifier = None
        if data.is_image and tuple(data.sample_shape) == (1, 28, 28) and cfg.dataset in (
                "mnist", "mnist5k", "fashion-mnist"):
            from .evaluation.classifier import load_classifier

            classifier = load_classifier(cfg.dataset)
        self.probe = DiversityProbe(fixed_z, fixed_y, data.x, seed=cfg.seed, classifier=classifier)
        self.pending: list[dict[str, Any]] = []  # events of a row that was not written (rolled back)
        self.last: list[str] = []
        self.rewind(past_rows or [])

    def rewind(self, rows: list[dict[str, Any]], *, restore_remedy: bool = True) -> None:
        """Rebuild the monitor (and remedy state) from the rows already in metrics.jsonl (resume, roll back)."""
        self.monitor = HealthMonitor(self.monitor.loss, self.monitor.lsgan_abc, self.monitor.t,
                                     self.monitor.eval_key)
        replay(rows, self.monitor)
        if self.remedy is not None and restore_remedy:
            self.remedy.restore(rows)

    def roll_back(self, row: dict[str, Any], to_step: int, kept_rows: list[dict[str, Any]]) -> None:
        """After the loop reloaded the checkpoint at `to_step`: keep the dropped row's events (and the roll-back)
        for the next row written, lower the learning rates, and rebuild the monitor from the rows kept."""
        assert self.remedy is not None
        self.pending = list(row.get("events") or []) + [self.remedy.roll_back(int(row["step"]), to_step)]
        self.rewind(kept_rows, restore_remedy=False)

    def observe(self, row: dict[str, Any], G: nn.Module) -> None:
        """Add Health/* measurements and this step's events to `row` (in place)."""
        if all(math.isfinite(v) for v in row.values() if isinstance(v, float)):
            row.update(self.probe(G))
        findings = self.monitor.update(row)
        events = self.pending + [f.event() for f in findings]
        self.pending = []
        if self.remedy is not None:
            self.remedy.tick()
            for f in findings:
                action = self.remedy.decide(f, self.monitor.active)
                if action is not None:
                    events.append(action)
        if events:
            row["events"] = events
        self.last = self.monitor.active

    def postfix(self) -> str:
        return (" ! " + ",".join(self.last)) if self.last else ""
