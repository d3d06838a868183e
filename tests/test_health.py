"""The health monitor: its logic on synthetic stats rows (fast), its measurements, --auto-remedy, and the loop
hooks on short real runs (a constant generator is named mode collapse; D with 10x G's learning rate is named
D domination; healthy ring8 runs raise nothing)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import gankit
from gankit.methods import gan as gan_method
from gankit.training import TrainingDiverged
from gankit.config import TrainConfig
from gankit.errors import ConfigError
from gankit.health import (AutoRemedy, DiversityProbe, HealthMonitor, Thresholds, class_entropy, d_outputs,
                           grad_norm, mean_pairwise_distance, monitor_for, replay)
from gankit.stats import read_jsonl


def rows(n, start=50, every=50, **values):
    """n metrics rows at steps start, start+every, ...; values may be callables of the row index."""
    out = []
    for i in range(n):
        r = {"step": start + i * every, "Loss/D": 1.2, "Loss/G": 0.9}
        for k, v in values.items():
            r[k] = float(v(i) if callable(v) else v)
        out.append(r)
    return out


HEALTHY = dict(**{"D/real": lambda i: 0.62 + 0.05 * math.sin(i), "D/fake": lambda i: 0.4 + 0.05 * math.cos(i),
                  "GradNorm/D": 2.0, "GradNorm/G": 1.5, "Health/diversity": lambda i: min(1.0, 0.2 + 0.1 * i),
                  "Health/classes": 0.9})


def names(findings):
    return [(f.step, f.name) for f in findings]


# ------------------------------------------------------------------------------------------------ the monitor
def test_healthy_rows_raise_nothing():
    assert replay(rows(60, **HEALTHY), HealthMonitor()) == []


def test_d_domination_after_patience_intervals_with_the_remedy():
    rs = rows(4, **HEALTHY) + rows(5, start=250, **{**HEALTHY, "D/real": 0.99, "D/fake": 0.01, "GradNorm/G": 0.01})
    found = replay(rs, HealthMonitor())
    assert names(found) == [(350, "d_domination")]  # the third dominated interval (patience 3)
    f = found[0]
    assert "D(x) 0.99, D(G(z)) 0.01" in f.message and "gradient norm has fallen" in f.message and "--lr-d" in f.remedy
    assert f.event()["event"] == "d_domination" and f.event()["step"] == 350


def test_a_finding_is_reported_once_while_it_lasts_and_again_after_it_clears():
    t = Thresholds(remind_every=100)
    dom = {**HEALTHY, "D/real": 0.99, "D/fake": 0.01}
    rs = rows(6, **dom) + rows(3, start=350, **HEALTHY) + rows(4, start=500, **dom)
    assert names(replay(rs, HealthMonitor(thresholds=t))) == [(150, "d_domination"), (600, "d_domination")]
    # ... and as a reminder every remind_every intervals while it lasts
    assert len(replay(rows(12, **dom), HealthMonitor(thresholds=Thresholds(remind_every=4)))) == 3


def test_g_domination():
    found = replay(rows(5, **{**HEALTHY, "D/real": 0.35, "D/fake": 0.7}), HealthMonitor())
    assert names(found) == [(150, "g_domination")]


def test_mode_collapse_from_low_or_falling_diversity_or_few_classes_not_during_warmup():
    low = rows(8, **{**HEALTHY, "Health/diversity": 0.02})
    assert names(replay(low, HealthMonitor())) == [(300, "mode_collapse")]  # judged from step 200, patience 3
    falling = rows(10, **{**HEALTHY, "Health/diversity": lambda i: 0.8 if i < 5 else 0.2})
    f = replay(falling, HealthMonitor())
    assert names(f) == [(400, "mode_collapse")] and "fell from 0.80 to 0.20" in f[0].message
    classes = rows(10, **{**HEALTHY, "Health/classes": lambda i: 0.9 if i < 5 else 0.1})
    assert names(replay(classes, HealthMonitor())) == [(400, "mode_collapse")]
    # unformed samples that the classifier reads as one class early on are not a collapse; still one class
    # after classes_late_steps is
    assert replay(rows(10, **{**HEALTHY, "Health/classes": 0.0}), HealthMonitor()) == []
    late = replay(rows(35, **{**HEALTHY, "Health/classes": 0.0}), HealthMonitor())
    assert names(late) == [(1600, "mode_collapse")] and "after 1600 steps" in late[0].message


def test_oscillation_only_without_progress():
    swing = {**HEALTHY, "D/fake": lambda i: 0.15 if i % 2 else 0.75, "D/real": 0.8}
    assert "oscillation" in [f.name for f in replay(rows(30, **swing), HealthMonitor())]
    improving = {**swing, "Eval/FID": lambda i: 300.0 - 8 * i}
    assert "oscillation" not in [f.name for f in replay(rows(30, **improving), HealthMonitor(eval_key="Eval/FID"))]
    # a score logged every 5th interval only (--eval-every 250): judged over the same window
    sparse = rows(30, **swing)
    for i, r in enumerate(sparse):
        if i % 5 == 4:
            r["Eval/FID"] = 300.0 - 8 * i
    assert "oscillation" not in [f.name for f in replay(sparse, HealthMonitor(eval_key="Eval/FID"))]
    flat = rows(30, **swing)
    for i, r in enumerate(flat):
        if i % 5 == 4:
            r["Eval/FID"] = 300.0
    assert "oscillation" in [f.name for f in replay(flat, HealthMonitor(eval_key="Eval/FID"))]


def test_non_finite_at_once_and_exploding_gradients():
    rs = rows(3, **HEALTHY) + [{"step": 200, "Loss/D": float("nan"), "Loss/G": 1.0}]
    f = replay(rs, HealthMonitor())
    assert names(f) == [(200, "non_finite")] and "Loss/D" in f[0].message and "roll back" in f[0].remedy
    boom = rows(8, **{**HEALTHY, "GradNorm/D": lambda i: 2.0 if i < 6 else 5000.0})
    f = replay(boom, HealthMonitor())
    assert names(f) == [(350, "exploding")] and "GradNorm/D" in f[0].message


def test_d_outputs_on_each_scale():
    assert d_outputs({"D/real": 0.9, "D/fake": 0.2}) == (0.9, 0.2)
    assert d_outputs({"Score/real": 1.0, "Score/fake": 0.0}, "lsgan", (0.0, 1.0, 1.0)) == (1.0, 0.0)
    assert d_outputs({"Score/real": 1.0, "Score/fake": -1.0}, "lsgan", (-1.0, 1.0, 0.0)) == (1.0, 0.0)
    assert d_outputs({"Score/real": 1.1, "Score/fake": -1.1}, "hinge") is None


def test_hinge_domination_from_its_loss_not_its_scores():
    """A healthy hinge D keeps its mean scores just past the margins (mnist5k: +1.1 / -1.1, loss 0.19-0.44)."""
    healthy = rows(10, **{"Score/real": 1.12, "Score/fake": -1.08, "Loss/D": 0.38})
    assert replay(healthy, HealthMonitor(loss="hinge")) == []
    dominated = rows(5, **{"Score/real": 1.9, "Score/fake": -2.2, "Loss/D": 0.01})
    assert names(replay(dominated, HealthMonitor(loss="hinge"))) == [(150, "d_domination")]
    assert d_outputs({"Score/real": 3.0, "Score/fake": -3.0}, "wgan-gp") is None


def test_monitor_ignores_event_lists_and_none_values():
    r = rows(5, **HEALTHY)
    r[2]["events"] = [{"event": "d_domination"}]
    r[3]["GradNorm/D"] = None
    assert replay(r, monitor_for({"loss": "nonsaturating", "dataset": "ring8"})) == []


# ------------------------------------------------------------------------------------------------ measurements
def test_pairwise_distance_and_class_entropy_known_answers():
    assert mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    assert mean_pairwise_distance(torch.ones(10, 1, 4, 4)) == 0.0
    one_hot = torch.eye(10)
    assert class_entropy(one_hot) == pytest.approx(1.0)
    assert class_entropy(one_hot[[3] * 10]) == 0.0
    assert class_entropy(one_hot[[0, 1] * 5]) == pytest.approx(math.log(2) / math.log(10))


def test_grad_norm_matches_what_clipping_reports():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    net(torch.randn(16, 4)).pow(2).mean().backward()
    ours = grad_norm(net)
    clipped = torch.nn.utils.clip_grad_norm_(net.parameters(), 1e9)
    assert float(ours) == pytest.approx(float(clipped), rel=1e-6)
    assert grad_norm(nn.Linear(2, 2)) is None  # no gradients yet


class ConstantG(nn.Module):
    """A generator forced to a constant output: z is ignored."""

    def __init__(self, shape, z_dim=4):
        super().__init__()
        self.z_dim = z_dim
        self.out = nn.Parameter(torch.zeros(*shape))

    def forward(self, z, y=None):
        return self.out.expand(len(z), *self.out.shape) + 0 * z.sum(1).view(-1, *[1] * self.out.dim())


def test_diversity_probe_zero_for_a_constant_generator_about_one_for_real_like_output():
    real = torch.randn(1000, 2)
    z = torch.randn(256, 2)
    probe = DiversityProbe(z, None, real)
    assert probe(ConstantG((2,), z_dim=2))["Health/diversity"] == 0.0

    class Identity(nn.Module):
        z_dim = 2

        def forward(self, z, y=None):
            return z

    assert probe(Identity())["Health/diversity"] == pytest.approx(1.0, abs=0.1)


# ------------------------------------------------------------------------------------------------ auto-remedy
def _finding(name, step=300):
    from gankit.health import REMEDIES, Finding

    return Finding(name, step, "msg", REMEDIES[name])


def test_auto_remedy_for_d_domination_on_minimax_escalates_then_stops():
    cfg = TrainConfig(loss="minimax", steps=1000).resolved()
    r = AutoRemedy(cfg, max_times=2, cooldown=2)
    ev = r.decide(_finding("d_domination"), [])
    assert ev["event"] == "auto_remedy" and ev["finding"] == "d_domination"
    assert r.state.g_loss == "nonsaturating" and r.state.lr_scale_d == 0.5 and r.state.label_smoothing == 0.1
    assert r.lrs(2e-4, 2e-3) == (2e-4, 1e-3)
    assert r.noise_std(300, 0.0) == pytest.approx(0.1) and r.noise_std(650, 0.0) == pytest.approx(0.05)
    loss = r.loss(None, (0.0, 1.0, 1.0))
    assert loss.name == "nonsaturating"
    assert r.decide(_finding("d_domination"), []) is None  # cooling down
    r.tick(), r.tick()
    assert r.decide(_finding("d_domination", 400), [])["state"]["lr_scale_d"] == 0.25
    r.tick(), r.tick()
    assert r.decide(_finding("d_domination", 500), []) is None  # max_times reached
    # a resumed run takes the state up from the recorded events
    r2 = AutoRemedy(cfg, cooldown=2)
    r2.restore([{"step": 300, "events": [ev]}, {"step": 350}])
    assert r2.state.lr_scale_d == 0.5 and r2.loss(None, (0.0, 1.0, 1.0)).name == "nonsaturating"
    assert r2.decide(_finding("d_domination", 400), []) is None  # still cooling down, as the original was
    r2.tick()
    assert r2.decide(_finding("d_domination", 400), [])["state"]["lr_scale_d"] == 0.25


def test_auto_remedy_needs_health():
    with pytest.raises(ConfigError, match="auto_remedy"):
        TrainConfig(health=False, auto_remedy=True)


# ------------------------------------------------------------------------------------------------ in the loop
TOY = dict(dataset="ring8", model="mlp", width=32, batch_size=64, progress=False, log_every=25)


def test_health_changes_no_weight_and_logs_its_stats(tmp_path):
    """The monitor only reads: health on and off train bit-identical weights (BatchNorm in the DCGAN included)."""
    for kw in (TOY, dict(dataset="mnist5k", width=8, batch_size=16, progress=False, log_every=5)):
        a = gankit.train(TrainConfig(**kw, steps=10, out=str(tmp_path / "on")))
        b = gankit.train(TrainConfig(**kw, steps=10, health=False, out=str(tmp_path / "off")))
        ta, tb = (gankit.load(r.out, ema=False).net.state_dict() for r in (a, b))
        assert all(torch.equal(ta[k], tb[k]) for k in ta)
        last_on, last_off = read_jsonl(Path(a.out) / "metrics.jsonl")[-1], read_jsonl(Path(b.out) / "metrics.jsonl")[-1]
        assert last_on["GradNorm/D"] > 0 and last_on["GradNorm/G"] > 0 and 0 <= last_on["Health/diversity"]
        assert last_off["GradNorm/D"] > 0 and "Health/diversity" not in last_off  # logged on log steps either way
        for p in (tmp_path / "on", tmp_path / "off"):
            import shutil

            shutil.rmtree(p)


def test_constant_generator_is_named_mode_collapse(tmp_path, monkeypatch):
    build = gan_method.build_networks

    def constant_g(cfg, data_shape, num_classes):
        _, D = build(cfg, data_shape, num_classes)
        return ConstantG(tuple(data_shape), z_dim=cfg.resolved().z_dim), D

    monkeypatch.setattr(gan_method, "build_networks", constant_g)
    res = gankit.train(TrainConfig(**TOY, steps=300, out=str(tmp_path / "const")))
    events = [e for r in read_jsonl(Path(res.out) / "metrics.jsonl") for e in r.get("events", [])]
    collapse = [e for e in events if e["event"] == "mode_collapse"]
    assert collapse and collapse[0]["step"] == 250  # judged from step 200; patience 3 intervals of 25
    assert collapse[0]["evidence"]["Health/diversity"] == 0.0 and "--instance-noise" in collapse[0]["remedy"]


def test_auto_remedy_rolls_back_on_nan_and_finishes(tmp_path, monkeypatch):
    """A NaN loss at step 35: --auto-remedy reloads the step-25 checkpoint, halves the lrs and trains on."""
    from gankit import losses

    real = losses.get_loss("nonsaturating")
    calls = {"n": 0}

    def nan_once(fake_logits):
        calls["n"] += 1
        out = real.g_loss(fake_logits)
        return out * float("nan") if calls["n"] == 35 else out

    bad = losses.Loss("nonsaturating", real.d_loss, nan_once)
    monkeypatch.setattr(gan_method, "get_loss", lambda *a, **k: bad)
    res = gankit.train(TrainConfig(**TOY, steps=75, ckpt_every=25, auto_remedy=True, out=str(tmp_path / "nan")))
    assert res.step == 75
    rows_ = read_jsonl(Path(res.out) / "metrics.jsonl")
    assert [r["step"] for r in rows_] == [25, 50, 75]
    events = [e for r in rows_ for e in r.get("events", [])]
    assert [e["event"] for e in events] == ["non_finite", "auto_remedy"]
    assert "rolled back from step 50 to the checkpoint at step 25" in events[1]["action"]
    assert rows_[1]["lr/G"] == pytest.approx(5e-4 / 2) and rows_[1]["lr/D"] == pytest.approx(5e-4 / 2)
    assert all(math.isfinite(v) for r in rows_ for v in r.values() if isinstance(v, float))


def test_without_auto_remedy_a_nan_still_stops_the_run(tmp_path, monkeypatch):
    from gankit import losses

    real = losses.get_loss("nonsaturating")
    bad = losses.Loss("nonsaturating", real.d_loss, lambda f: real.g_loss(f) * float("nan"))
    monkeypatch.setattr(gan_method, "get_loss", lambda *a, **k: bad)
    with pytest.raises(TrainingDiverged, match="non-finite"):
        gankit.train(TrainConfig(**TOY, steps=50, out=str(tmp_path / "nan")))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_d_with_10x_lr_is_named_d_domination_within_a_few_hundred_steps(tmp_path, seed):
    """The issue's broken configuration: minimax, D's learning rate 10x G's, no tricks, DCGAN on mnist5k. Its
    trajectory depends on float rounding (thread count, CPU): at seed 0, D dominated from step 250 on at one
    thread (named at 300) but G broke free for 100 steps at two threads (named at 600); hence 600 steps."""
    res = gankit.train(TrainConfig(loss="minimax", lr_g=2e-4, lr_d=2e-3, steps=600, seed=seed, progress=False,
                                   out=str(tmp_path / "broken")))
    events = [e for r in read_jsonl(Path(res.out) / "metrics.jsonl") for e in r.get("events", [])]
    dom = [e for e in events if e["event"] == "d_domination"]
    assert dom and dom[0]["step"] <= 600, events


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_healthy_ring8_raises_no_alarm(tmp_path, seed):
    """The default toy recipe (MLP GAN, R1 0.1) for 1,500 steps: no finding on any seed."""
    res = gankit.train(TrainConfig(dataset="ring8", model="mlp", steps=1500, seed=seed, progress=False,
                                   out=str(tmp_path / f"ring8-{seed}")))
    rows_ = read_jsonl(Path(res.out) / "metrics.jsonl")
    events = [e for r in rows_ for e in r.get("events", [])]
    assert events == [], events
    assert json.loads((Path(res.out) / "config.json").read_text())["health"] is True
