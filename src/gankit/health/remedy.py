"""`--auto-remedy`: turns a health finding into an adjustment the loop applies (lower a learning rate, instance
noise, one-sided label smoothing, the non-saturating G loss, roll back to a checkpoint) and records it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .monitor import Finding


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
            from ..losses import get_loss

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
