"""Training health: name what goes wrong in a GAN run while it runs, say why, and (optionally) fix it.

Three parts, each usable alone:

* measurements the loop takes on log steps only (`probe`): `grad_norm` (total L2 norm of a network's gradients) and
  `DiversityProbe` (how spread out G's outputs on the fixed noise batch are, relative to real data, and for
  MNIST-family images the entropy of the shipped classifier's class histogram of those outputs);
* `HealthMonitor` (`monitor`): pure and cheap. It is fed each log interval's reduced stats row (the dict written to
  metrics.jsonl) and returns `Finding`s: d_domination, g_domination, mode_collapse, oscillation, exploding,
  non_finite, each with a one-sentence explanation and the practitioners' remedy. `gankit doctor` replays it
  over a finished run's metrics.jsonl;
* `AutoRemedy` (`remedy`, `--auto-remedy`): turns a finding into an adjustment the loop applies (lower a learning rate,
  instance noise, one-sided label smoothing, the non-saturating G loss, roll back to a checkpoint) and records it.

`HealthHook` (`hook`) ties them to the training loop. Findings and remedies are written into the metrics row of the log
step where they happen, as `row["events"] = [{"event": NAME, "step": s, "message": ..., "remedy": ...}, ...]`, so
every reader of metrics.jsonl keeps seeing one row per log step.

`gankit doctor` (`gankit.health.doctor`, imported from there) reads a finished run and names what went wrong,
when, and why.

Thresholds were set on measured runs (bench/health_calibration.py; docs/health.md): healthy default recipes on
mnist5k and ring8 over several seeds raise nothing; D with 10x G's learning rate is flagged within a few hundred
steps.
"""

from .hook import HealthHook
from .monitor import (FINDINGS, REMEDIES, Finding, HealthMonitor, Thresholds, d_outputs, eval_key_for, monitor_for,
                      replay)
from .probe import DiversityProbe, class_entropy, grad_norm, mean_pairwise_distance
from .remedy import AutoRemedy, RemedyState

__all__ = ["FINDINGS", "REMEDIES", "AutoRemedy", "DiversityProbe", "Finding", "HealthHook", "HealthMonitor",
           "RemedyState", "Thresholds", "class_entropy", "d_outputs", "eval_key_for", "grad_norm",
           "mean_pairwise_distance", "monitor_for", "replay"]
