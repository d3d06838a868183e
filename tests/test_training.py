import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import gankit
from gankit import checkpoint as ckpt
from gankit.config import TrainConfig
from gankit.errors import ConfigError
from gankit.losses import LOSS_NAMES

TOY = dict(dataset="ring8", model="mlp", batch_size=64, log_every=10, sample_every=20, ckpt_every=20,
           progress=False)


def _cfg(tmp_path, name="run", **kw):
    return TrainConfig(**{**TOY, "steps": 40, "out": str(tmp_path / name), **kw})


def _weights(path):
    tensors, meta = ckpt.load(ckpt.resolve(path))
    return tensors, meta


def test_run_directory_contents(tmp_path):
    res = gankit.train(_cfg(tmp_path, ema=0.99))
    out = Path(res.out)
    assert res.step == 40
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["dataset"] == "ring8" and cfg["steps"] == 40
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20, 30, 40]
    for key in ("Loss/D", "Loss/G", "D/real", "D/fake", "time_s", "it_per_s"):
        assert key in rows[-1]
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000020.png", "step_0000040.png"]
    assert [s for s, _ in ckpt.list_checkpoints(out)] == [20, 40]
    assert (out / "progress.gif").stat().st_size > 0 and (out / "losses.png").stat().st_size > 0
    tensors, meta = _weights(out)
    assert meta["step"] == 40 and meta["config"]["model"] == "mlp"
    assert any(k.startswith("G_ema/") for k in tensors) and any(k.startswith("opt_D/state/") for k in tensors)


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_every_loss_trains_finite(tmp_path, loss):
    res = gankit.train(_cfg(tmp_path, steps=20, loss=loss, d_steps=2 if loss == "wgan-gp" else 1))
    assert all(v == v for v in res.last_metrics.values() if isinstance(v, float))
    if loss == "wgan-gp":
        assert "Loss/GP" in res.last_metrics


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    a = _weights(gankit.train(_cfg(tmp_path, "a", steps=20)).out)[0]
    b = _weights(gankit.train(_cfg(tmp_path, "b", steps=20)).out)[0]
    c = _weights(gankit.train(_cfg(tmp_path, "c", steps=20, seed=1)).out)[0]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["G/net.0.weight"] if "G/net.0.weight" in a else next(iter(a.values())),
                           c["G/net.0.weight"] if "G/net.0.weight" in c else next(iter(c.values())))


def test_resume_extends_run_bit_identically(tmp_path):
    """20 steps + resume to 40 == 40 steps straight (no schedule here depends on the total)."""
    kw = dict(label_smoothing=0.1, loss="nonsaturating", d_steps=2)
    full = _weights(gankit.train(_cfg(tmp_path, "full", steps=40, **kw)).out)[0]
    gankit.train(_cfg(tmp_path, "part", steps=20, **kw))
    res = gankit.resume(tmp_path / "part", steps=40)
    assert res.step == 40
    part = _weights(res.out)[0]
    assert set(full) == set(part)
    for k in full:
        assert torch.equal(full[k], part[k]), k


def test_conditional_toy_run(tmp_path):
    res = gankit.train(_cfg(tmp_path, steps=20, conditional=True))
    G = gankit.load(res.out)
    assert G.num_classes == 8 and G.sample(16, labels=3).shape == (16, 2)


def test_mode_seeking_pairs_share_labels_and_is_logged(tmp_path, monkeypatch):
    """With --mode-seeking, G's update draws labels in pairs (rows 2i and 2i+1 alike) and logs the term."""
    from gankit.models.mlp import MLPGenerator

    seen = []
    forward = MLPGenerator.forward

    def spy(self, z, y=None):
        if torch.is_grad_enabled():  # G's own update; the D phase runs G under no_grad
            seen.append(y.clone())
        return forward(self, z, y)

    monkeypatch.setattr(MLPGenerator, "forward", spy)
    res = gankit.train(_cfg(tmp_path, steps=10, conditional=True, mode_seeking=1.0))
    assert len(seen) == 10
    for y in seen:
        assert torch.equal(y[0::2], y[1::2]) and len(set(y.tolist())) > 1
    row = json.loads((Path(res.out) / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["Loss/MS"] > 0


def test_mode_seeking_refusals():
    with pytest.raises(ConfigError, match="reuse_fake"):
        TrainConfig(mode_seeking=1.0, reuse_fake=True)
    with pytest.raises(ConfigError, match="even"):
        TrainConfig(mode_seeking=1.0, batch_size=33)
    with pytest.raises(ConfigError, match="mode_seeking"):
        TrainConfig(mode_seeking=-1.0)


def test_fresh_run_refuses_existing_run_dir(tmp_path):
    gankit.train(_cfg(tmp_path, steps=20))
    with pytest.raises(ConfigError, match="--resume"):
        gankit.train(_cfg(tmp_path, steps=20))


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    from gankit.losses import get_loss
    from gankit.methods import gan as gan_method
    from gankit.training import TrainingDiverged

    real = get_loss("nonsaturating")
    calls = {"n": 0}

    def g_loss(fake_logits):
        calls["n"] += 1
        out = real.g_loss(fake_logits)
        return out * float("nan") if calls["n"] > 25 else out

    monkeypatch.setattr(gan_method, "get_loss", lambda *a, **k: real.__class__(**{**real.__dict__, "g_loss": g_loss}))
    with pytest.raises(TrainingDiverged, match="non-finite.*step 30.*step_0000020") as e:
        gankit.train(_cfg(tmp_path, steps=60))
    assert "Loss/G" in str(e.value)
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "run")] == [20]
    tensors, meta = _weights(tmp_path / "run")
    assert meta["step"] == 20 and all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())


def _train_cmd(out, steps, extra=()):
    return [sys.executable, "-m", "gankit", "train", "--dataset", "mnist5k", "--model", "dcgan", "--width", "16",
            "--batch-size", "32", "--steps", str(steps), "--ckpt-every", "25", "--log-every", "25",
            "--sample-every", "1000", "--seed", "3", "--no-progress", "--out", str(out), *extra]


# the flags of each resumed method or model, beside the default DCGAN; the in-process resume tests of each
# method (tests/test_<method>.py) run by default, these subprocess kills beside dcgan's in the slow suite
RESUME_VARIANTS = {
    "dcgan": (),
    "spectral-norm": ("--spectral-norm", "--conditional", "--cond-d", "projection"),  # power-iteration buffers
    "sagan": ("--model", "sagan", "--loss", "hinge", "--beta1", "0"),  # and attention, SN in G and its EMA
    "infogan": ("--method", "infogan"),
    "acgan": ("--method", "acgan", "--conditional"),
    "sgan": ("--method", "sgan", "--labels-per-class", "5"),
    "bigan": ("--method", "bigan"),
    "cyclegan": ("--method", "cyclegan", "--loss", "lsgan"),  # its own unpaired batches from the training stream
    "pix2pix": ("--task", "inpaint"),  # its holes are drawn from the checkpointed stream
    "rgan": ("--method", "rgan", "--dataset", "sines", "--conditional"),  # recurrent G and D on 1-D series
    # spectrograms of speech, 64x64: narrower nets keep its four runs near the others' cost
    "specgan": ("--method", "specgan", "--dataset", "spoken-digits", "--conditional", "--width", "8"),
    # its stage (level, alpha) in buffers, set from the step; resumed from step 50, mid fade-in (8x8: 30-60)
    "progressive": ("--method", "progressive", "--resolution", "16", "--phase-steps", "30"),
    # noise maps and style mixing from the checkpointed stream, the tracked mean of w in a buffer
    "stylegan": ("--method", "stylegan", "--resolution", "16", "--z-dim", "16"),
}


def _spoken_digits(tmp_path):
    """A data folder of its own with a few espeak-ng renderings of each digit (skips without espeak-ng)."""
    from gankit.data import speech

    if speech.espeak_path() is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): it renders the spoken digits")
    speech.make_split("train", tmp_path / "data", per_digit=4)
    return ("--data-dir", str(tmp_path / "data"))


# variants whose data are made for the test: a function of tmp_path returning more flags
RESUME_DATA = {"specgan": _spoken_digits}


@pytest.mark.parametrize("variant", [v if v == "dcgan" else pytest.param(v, marks=pytest.mark.slow)
                                     for v in RESUME_VARIANTS])
def test_sigkill_then_resume_is_bit_identical(tmp_path, variant):
    """A run killed with SIGKILL mid-training and resumed ends with the same bits as an uninterrupted run."""
    steps = 150
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    extra = RESUME_VARIANTS[variant] + (RESUME_DATA[variant](tmp_path) if variant in RESUME_DATA else ())
    subprocess.run(_train_cmd(tmp_path / "ref", steps, extra), check=True, env=env, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(killed, steps, extra), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 600  # a guard against a hung run, wide enough for a busy shared machine
        while not (killed / "checkpoints" / ckpt.checkpoint_name(50)).exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = [s for s, _ in ckpt.list_checkpoints(killed)]
    assert steps not in done, "the run finished before it was killed; the test proved nothing"

    r = subprocess.run([sys.executable, "-m", "gankit", "train", "--resume", str(killed), "--no-progress"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ref, ref_meta = _weights(tmp_path / "ref")
    got, got_meta = _weights(killed)
    assert ref_meta["step"] == got_meta["step"] == steps
    assert set(ref) == set(got)
    for k in ref:
        assert torch.equal(ref[k], got[k]), k
    steps_logged = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert steps_logged == sorted(set(steps_logged))  # no duplicated rows from the killed stretch


def test_training_on_compact_pixels_matches_training_on_floats(tmp_path, monkeypatch):
    # gankit.train holds MNIST-family images as uint8 and converts each batch; the weights must be exactly those
    # of a run on the float32 data set (same values, same random stream)
    from gankit.data.base import Dataset
    from gankit.training import data as training

    cfg = dict(dataset="mnist5k", model="dcgan", steps=4, batch_size=8, width=8, d_width=8, progress=False)
    gankit.train(TrainConfig(**cfg, out=str(tmp_path / "compact")))
    load = training.load_training_data

    def as_floats(c, data=None):
        d = load(c, data)
        assert d.x.dtype == torch.uint8  # what train uses by default
        return Dataset(d.name, d.x.to(torch.float32) / 127.5 - 1.0, d.y, d.num_classes, d.class_names)

    monkeypatch.setattr(training, "load_training_data", as_floats)
    gankit.train(TrainConfig(**cfg, out=str(tmp_path / "float")))
    a, b = gankit.load(tmp_path / "compact", ema=False), gankit.load(tmp_path / "float", ema=False)
    for p, q in zip(a.net.state_dict().values(), b.net.state_dict().values()):
        assert torch.equal(p, q)
