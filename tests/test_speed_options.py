"""The speed options of `gankit train` (--channels-last, --reuse-fake, --compile) change how a step is computed,
not what it computes (channels-last, compile) or change it exactly as documented (reuse-fake)."""

import pytest
import torch

import gankit
from gankit import checkpoint as ckpt
from gankit.config import TrainConfig
from gankit.models.base import GeneratorBase

IMG = dict(dataset="mnist5k", model="dcgan", width=8, d_width=8, batch_size=16, log_every=4, sample_every=100,
           ckpt_every=4, progress=False, health=False)


def _cfg(tmp_path, name, **kw):
    return TrainConfig(**{**IMG, "steps": 8, "out": str(tmp_path / name), **kw})


def _weights(run):
    return ckpt.load(ckpt.resolve(run))[0]


def test_channels_last_matches_the_default_layout(tmp_path):
    """NHWC and NCHW convolutions differ only in float rounding: after 8 steps the weights agree closely."""
    a = _weights(gankit.train(_cfg(tmp_path, "nchw")).out)
    b = _weights(gankit.train(_cfg(tmp_path, "nhwc", channels_last=True)).out)
    assert set(a) == set(b)
    for k in a:
        if a[k].is_floating_point():
            assert torch.allclose(a[k], b[k], rtol=1e-3, atol=1e-4), k
    assert all(t.is_contiguous() for t in b.values())  # stored dense, loadable by any layout


def test_channels_last_resumes_bit_identically(tmp_path):
    full = _weights(gankit.train(_cfg(tmp_path, "full", channels_last=True)).out)
    gankit.train(_cfg(tmp_path, "part", channels_last=True, steps=4))
    part = _weights(gankit.resume(tmp_path / "part", steps=8).out)
    assert all(torch.equal(full[k], part[k]) for k in full)


def _count_generator_calls(monkeypatch):
    calls = {"n": 0}
    real = GeneratorBase.__call__

    def counting(self, *a, **kw):
        calls["n"] += 1
        return real(self, *a, **kw)

    monkeypatch.setattr(GeneratorBase, "__call__", counting)
    return calls


@pytest.mark.parametrize("d_steps", [1, 2])
def test_reuse_fake_saves_one_generator_forward_per_step(tmp_path, monkeypatch, d_steps):
    calls = _count_generator_calls(monkeypatch)
    steps = 6
    kw = dict(steps=steps, d_steps=d_steps, ckpt_every=100, ema=0.0)
    gankit.train(_cfg(tmp_path, "fresh", **kw))
    fresh, calls["n"] = calls["n"], 0
    gankit.train(_cfg(tmp_path, "reuse", reuse_fake=True, **kw))
    # the final sample grid calls G once in both runs
    assert fresh == steps * (d_steps + 1) + 1
    assert calls["n"] == steps * d_steps + 1


def test_reuse_fake_conditional_trains_and_resumes(tmp_path):
    kw = dict(conditional=True, reuse_fake=True)
    full = _weights(gankit.train(_cfg(tmp_path, "full", **kw)).out)
    gankit.train(_cfg(tmp_path, "part", steps=4, **kw))
    res = gankit.resume(tmp_path / "part", steps=8)
    part = _weights(res.out)
    assert all(torch.equal(full[k], part[k]) for k in full)
    assert all(v == v for v in res.last_metrics.values() if isinstance(v, float))
    assert not torch.equal(full["G/net.0.weight"],
                           _weights(gankit.train(_cfg(tmp_path, "fresh", conditional=True)).out)["G/net.0.weight"])


@pytest.mark.slow
def test_compile_matches_eager(tmp_path):
    """torch.compile fuses the same arithmetic: a few compiled steps agree with eager ones to float rounding."""
    a = _weights(gankit.train(_cfg(tmp_path, "eager", steps=3)).out)
    b = _weights(gankit.train(_cfg(tmp_path, "compiled", steps=3, compile=True)).out)
    for k in a:
        if a[k].is_floating_point():
            assert torch.allclose(a[k], b[k], rtol=1e-3, atol=1e-4), k


@pytest.mark.parametrize("kw", [dict(loss="wgan-gp", d_steps=2), dict(r1=1.0)])
def test_channels_last_with_penalties_that_differentiate_twice(tmp_path, kw):
    """R1 and the gradient penalty backpropagate through D's gradient: through the GEMM head as well."""
    a = gankit.train(_cfg(tmp_path, "nchw", steps=3, **kw))
    b = gankit.train(_cfg(tmp_path, "nhwc", steps=3, channels_last=True, **kw))
    for key in ("Loss/D", "Loss/G"):
        assert a.last_metrics[key] == pytest.approx(b.last_metrics[key], rel=1e-3, abs=1e-4), key


def test_load_channels_last_samples_like_the_default(tmp_path):
    # three channels: NHWC and NCHW memory differ only when C > 1
    run = gankit.train(_cfg(tmp_path, "run", steps=2, channels=3)).out
    a, b = gankit.load(run), gankit.load(run, channels_last=True)
    x, y = a.sample(20, seed=3), b.sample(20, seed=3, batch_size=8)  # in batches, and in one forward below
    assert y.is_contiguous() and y.shape == x.shape
    assert torch.allclose(x, y, atol=1e-5)
    one = b.sample(20, seed=3)
    assert one.is_contiguous() and torch.allclose(x, one, atol=1e-5)
    assert torch.allclose(a.interpolate(4, seed=1), b.interpolate(4, seed=1), atol=1e-5)


def test_sample_batch_size_must_be_positive(tmp_path):
    G = gankit.load(gankit.train(_cfg(tmp_path, "run", steps=1)).out)
    with pytest.raises(gankit.ConfigError, match="batch_size must be > 0, got 0"):
        G.sample(4, batch_size=0)
