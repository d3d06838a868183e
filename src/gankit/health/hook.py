"""The glue the training loop calls on log steps: measure, run the monitor, apply remedies, and write findings and
remedies into the row's `events`."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .monitor import HealthMonitor, monitor_for, replay
from .probe import DiversityProbe
from .remedy import AutoRemedy


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
            from ..evaluation.classifier import load_classifier

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
