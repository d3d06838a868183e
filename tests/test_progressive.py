"""Progressive growing (--method progressive): the schedule, the fade-in of G, D and the real images, the shared
layers, resume, sampling through gankit.load, and the refusals."""

from __future__ import annotations

import json

import pytest
import torch

import gankit
from gankit.config import TrainConfig
from gankit.errors import ConfigError
from gankit.methods.progressive import fade_real
from gankit.models.layers import EqualConv2d, EqualLinear, MinibatchStd, downsample, pixel_norm, upsample
from gankit.models.progressive import ProgressiveDiscriminator, ProgressiveGenerator, levels_for, stage_at
from helpers import refused

TINY = dict(dataset="mnist5k", method="progressive", resolution=16, width=4, d_width=4, z_dim=8, steps=10,
            phase_steps=2, batch_size=8, log_every=1, sample_every=2, ckpt_every=5, progress=False, health=False)


def test_schedule_fades_each_level_in_then_holds_it():
    got = [stage_at(s, 4, 3) for s in range(24)]
    assert got[:4] == [(0, 1.0)] * 4  # 4x4 alone
    assert got[4:8] == [(1, 0.0), (1, 0.25), (1, 0.5), (1, 0.75)]  # 8x8 fades in
    assert got[8:12] == [(1, 1.0)] * 4  # and holds
    assert got[12:16] == [(2, 0.0), (2, 0.25), (2, 0.5), (2, 0.75)]
    assert got[16:] == [(2, 1.0)] * 8  # the last level keeps going
    assert levels_for(32) == 4 and levels_for(8) == 2
    for bad in (4, 28, 33):
        with pytest.raises(ConfigError, match="power of two"):
            levels_for(bad)


def test_equalised_layers_scale_at_runtime_and_pixel_norm_and_mbstd():
    torch.manual_seed(0)
    lin = EqualLinear(64, 8)
    assert abs(float(lin.weight.detach().std()) - 1.0) < 0.1  # stored at N(0, 1)
    x = torch.randn(256, 64)
    assert abs(float(lin(x).detach().std()) - 2 ** 0.5) < 0.15  # He's gain applied in forward
    conv = EqualConv2d(4, 4, 3)
    assert conv(torch.randn(2, 4, 5, 5)).shape == (2, 4, 5, 5)
    h = torch.randn(3, 7, 2, 2) * 5
    assert torch.allclose(pixel_norm(h).pow(2).mean(1), torch.ones(3, 2, 2), atol=1e-4)
    same = torch.ones(8, 3, 2, 2)
    varied = torch.randn(8, 3, 2, 2)
    mb = MinibatchStd(4)
    assert mb(same).shape == (8, 4, 2, 2)
    assert float(mb(same)[:, 3].abs().max()) < 1e-3  # identical samples: no spread
    assert float(mb(varied)[:, 3].min()) > 0.1
    assert mb(torch.randn(6, 3, 2, 2)).shape == (6, 4, 2, 2)  # a batch not divisible by 4: groups of 3


def test_generator_fades_between_levels_and_speaks_at_full_size():
    torch.manual_seed(0)
    G = ProgressiveGenerator((1, 16, 16), 8, 0, 4).eval()
    z = torch.randn(5, 8)
    with torch.no_grad():
        G.set_stage(0, 1.0)
        x4 = G(z)
        assert x4.shape == (5, 1, 16, 16)
        assert torch.allclose(x4, upsample(downsample(x4, 4), 4), atol=1e-6)  # a 4x4 image, upsampled
        G.set_stage(1, 0.0)
        assert torch.allclose(G(z), x4, atol=1e-6)  # alpha 0: still the previous level's image
        G.set_stage(1, 1.0)
        x8 = G(z)
        assert torch.allclose(x8, upsample(downsample(x8, 2), 2), atol=1e-6) and not torch.allclose(x8, x4)
        G.train()  # unclamped, so the blend is exact
        G.set_stage(1, 0.0)
        a = G(z)
        G.set_stage(1, 1.0)
        b = G(z)
        G.set_stage(1, 0.25)
        assert torch.allclose(G(z), 0.75 * a + 0.25 * b, atol=1e-5)


def test_discriminator_judges_at_the_stage_resolution():
    torch.manual_seed(0)
    D = ProgressiveDiscriminator((1, 16, 16), 0, 4)
    x = torch.randn(4, 1, 16, 16)
    D.set_stage(1, 1.0)
    # an 8x8 D sees the input pooled to 8x8: detail finer than that does not change its answer
    assert torch.allclose(D(x), D(upsample(downsample(x))), atol=1e-5)
    D.set_stage(2, 1.0)
    assert not torch.allclose(D(x), D(upsample(downsample(x))), atol=1e-4)


def test_real_images_follow_the_stage():
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    assert torch.equal(fade_real(x, 2, 1.0, 3), x)
    at8 = upsample(downsample(x, 2), 2)
    at4 = upsample(downsample(x, 4), 4)
    assert torch.allclose(fade_real(x, 1, 1.0, 3), at8)
    assert torch.allclose(fade_real(x, 1, 0.25, 3), 0.75 * at4 + 0.25 * at8, atol=1e-6)


def test_trains_logs_the_stage_resumes_bit_identically_and_samples(tmp_path):
    ref = gankit.train(TrainConfig(**TINY, out=str(tmp_path / "ref")))
    rows = [json.loads(line) for line in (ref.out / "metrics.jsonl").read_text().splitlines()]
    assert [r["resolution"] for r in rows] == [4, 4, 8, 8, 8, 8, 16, 16, 16, 16]
    assert [r["alpha"] for r in rows[:4]] == [1.0, 1.0, 0.0, 0.5]
    half = gankit.train(TrainConfig(**{**TINY, "steps": 5}, out=str(tmp_path / "resumed")))
    assert half.step == 5
    gankit.resume(tmp_path / "resumed", steps=10)
    a, b = gankit.load(ref.out), gankit.load(tmp_path / "resumed")
    for (k, p), q in zip(a.net.state_dict().items(), b.net.state_dict().values()):
        assert torch.equal(p, q), k
    assert a.net.stage == (2, 1.0)  # the final stage travels with the weights
    x = a.sample(6, seed=1)
    assert x.shape == (6, 1, 16, 16) and float(x.abs().max()) <= 1.0
    assert (ref.out / "progress.gif").stat().st_size > 0


def test_a_run_mid_growth_samples_interpolates_exports_and_is_diagnosed(tmp_path):
    from gankit.cli import main

    run = gankit.train(TrainConfig(**{**TINY, "steps": 3}, out=str(tmp_path / "run")))  # 8x8 fading in
    G = gankit.load(run.out)
    assert G.net.stage == (1, 0.0)
    assert G.sample(2, seed=0).shape == (2, 1, 16, 16) and G.interpolate(3).shape == (3, 1, 16, 16)
    assert main(["doctor", str(run.out), "--no-plot"]) in (0, 1)
    if _has("onnx") and _has("onnxruntime"):  # the exported graph holds the stage the weights were saved at
        assert main(["export", str(run.out), "--out", str(tmp_path / "g.onnx")]) == 0


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_refusals(capsys, tmp_path):
    refused(capsys, ["train", "--method", "progressive", "--resolution", "33", "--out", str(tmp_path / "a")],
            "resolution", "33")
    refused(capsys, ["train", "--method", "progressive", "--dataset", "mnist5k", "--steps", "3",
                     "--out", str(tmp_path / "b"), "--no-progress"], "power-of-two", "--resolution")
    refused(capsys, ["train", "--method", "progressive", "--resolution", "16", "--conditional",
                     "--out", str(tmp_path / "c"), "--no-progress"], "conditional")
    with pytest.raises(ConfigError, match="disagree"):
        TrainConfig(resolution=32, image_size=64)
