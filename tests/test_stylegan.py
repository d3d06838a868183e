"""The small StyleGAN (--method stylegan): modulated convolutions, the mapping network and styles, noise, style
mixing, the truncation trick, perceptual path length, resume, and the refusals on runs without styles."""

from __future__ import annotations

import pytest
import torch

import gankit
from gankit.config import TrainConfig
from gankit.errors import ConfigError
from gankit.evaluation.ppl import path_distances, perceptual_path_length, trimmed_mean
from gankit.models.stylegan import ModulatedConv2d, StyleGenerator
from helpers import refused

TINY = dict(dataset="mnist5k", method="stylegan", resolution=16, width=4, d_width=4, z_dim=8, mapping_layers=2,
            steps=6, batch_size=8, log_every=2, sample_every=3, ckpt_every=3, progress=False, health=False)


def test_modulated_conv_equals_a_per_sample_demodulated_weight():
    torch.manual_seed(0)
    conv = ModulatedConv2d(3, 5, 3, 4)
    x, w = torch.randn(2, 3, 6, 6), torch.randn(2, 4)
    got = conv(x, w)
    s = conv.affine(w)  # [2, 3]
    for i in range(2):  # the paper's form: the weight scaled by the style, then normalised per output channel
        wi = conv.weight * conv.scale * s[i][None, :, None, None]
        wi = wi / wi.pow(2).sum(dim=(1, 2, 3), keepdim=True).add(1e-8).sqrt()
        want = torch.nn.functional.conv2d(x[i:i + 1], wi, padding=1) + conv.bias[None, :, None, None]
        assert torch.allclose(got[i:i + 1], want, atol=1e-5)


def test_styles_mixing_truncation_and_fixed_noise():
    torch.manual_seed(0)
    G = StyleGenerator((1, 16, 16), 8, 0, 4, 2).eval()
    assert G.num_ws == 5 and len(G.noise_shapes()) == 5
    z, z2 = torch.randn(3, 8), torch.randn(3, 8)
    ws = G.styles(z, mix_z=z2, mix_cut=torch.tensor([1, 3, 5]))
    assert torch.equal(ws[0, 1:], G.map(z2)[0, None].expand(4, -1)) and torch.equal(ws[0, 0], G.map(z)[0])
    assert torch.equal(ws[1, :3], G.map(z)[1, None].expand(3, -1)) and torch.equal(ws[1, 3:], G.map(z2)[1, None].expand(2, -1))
    assert torch.equal(ws[2], G.map(z)[2, None].expand(5, -1))  # cut at num_ws: no switch
    G.w_avg.copy_(torch.randn(8))
    assert torch.allclose(G.styles(z, psi=0.0), G.w_avg.expand(3, 5, -1))
    assert torch.allclose(G.styles(z, psi=0.5), 0.5 * (G.styles(z) + G.w_avg))
    with torch.no_grad():
        assert torch.equal(G(z), G(z))  # eval mode: fixed noise, a function of z alone
        for layer in G.layers:
            layer.noise_strength.fill_(1.0)
        noise = [torch.randn(3, *s) for s in G.noise_shapes()]
        assert not torch.allclose(G(z, noise=noise), G(z))
    before = G.w_avg.clone()
    G.track_w(torch.zeros(4, 8))
    assert torch.allclose(G.w_avg, 0.995 * before)


def test_path_length_pieces():
    d = torch.arange(1, 101, dtype=torch.float64)
    assert trimmed_mean(d) == pytest.approx(float(d[1:99].mean()), rel=0.02)
    w0, w1, t = torch.zeros(4, 2), torch.ones(4, 2), torch.rand(4)
    # an identity "generator" and features: the normalised point moves by about eps * its tangent each step
    dist = path_distances(lambda w: w + torch.tensor([1.0, -1.0]), lambda x: x, w0, w1, t, eps=1e-3)
    assert dist.shape == (4,) and bool((dist > 0).all())
    G = StyleGenerator((1, 8, 8), 4, 0, 4, 1).eval()
    flat = perceptual_path_length(G, lambda x: x, n=8, batch_size=4)
    assert flat["ppl"] > 0 and flat["ppl_protocol"]["n_pairs"] == 8
    assert perceptual_path_length(G, lambda x: x, n=8, seed=3)["ppl"] == perceptual_path_length(
        G, lambda x: x, n=8, seed=3)["ppl"]


def test_trains_resumes_bit_identically_and_samples_with_truncation_and_mixing(tmp_path, capsys):
    ref = gankit.train(TrainConfig(**TINY, out=str(tmp_path / "ref")))
    gankit.train(TrainConfig(**{**TINY, "steps": 3}, out=str(tmp_path / "resumed")))
    gankit.resume(tmp_path / "resumed", steps=6)
    a, b = gankit.load(ref.out), gankit.load(tmp_path / "resumed")
    for (k, p), q in zip(a.net.state_dict().items(), b.net.state_dict().values()):
        assert torch.equal(p, q), k
    assert float(a.net.w_avg.abs().sum()) > 0  # the mean of w was tracked
    x1, x07 = a.sample(4, seed=2), a.sample(4, seed=2, truncation=0.7)
    assert x1.shape == x07.shape == (4, 1, 16, 16) and not torch.equal(x1, x07)
    assert torch.equal(a.sample(4, seed=2, truncation=1.0), x1)
    grid = a.mix(2, 3, cut=2, seed=0)
    assert grid.shape == (12, 1, 16, 16)
    assert torch.allclose(grid[4], a.net(a.sample_z(5, 0)[:1])[0], atol=1e-5)  # left column: the row sources
    from gankit.cli import main

    out = tmp_path / "mix.png"
    assert main(["sample", str(ref.out), "--mix", "3", "--out", str(out)]) == 0 and out.stat().st_size > 0
    assert main(["sample", str(ref.out), "--n", "4", "--truncation", "0.7", "--out", str(tmp_path / "t.png")]) == 0
    for psi in ("0", "1.5", "-0.2"):
        refused(capsys, ["sample", str(ref.out), "--truncation", psi, "--out", str(tmp_path / "t.png")],
                "truncation", "(0, 1]")
    refused(capsys, ["sample", str(ref.out), "--mix", "2", "--mix-cut", "9", "--out", str(out)], "crossover")


@pytest.mark.slow
def test_a_run_is_evaluated_with_path_length_and_exported(tmp_path):
    from gankit.cli import main

    run = gankit.train(TrainConfig(**{**TINY, "steps": 2}, out=str(tmp_path / "run")))
    scores = gankit.evaluate(run.out, n=200)  # 16x16 samples resized to 28 for the MNIST network, and PPL
    assert scores["fid"] > 0 and scores["ppl"] > 0 and "resized" in scores["protocol"]
    assert scores["ppl_protocol"]["feature_net"].startswith("gankit DomainClassifier")
    import importlib.util

    if importlib.util.find_spec("onnx") and importlib.util.find_spec("onnxruntime"):
        assert main(["export", str(run.out), "--out", str(tmp_path / "g.onnx")]) == 0


def test_runs_without_styles_refuse_truncation_and_mixing(tmp_path, capsys):
    run = gankit.train(TrainConfig(dataset="mnist5k", width=4, d_width=4, z_dim=4, steps=2, batch_size=4,
                                   progress=False, health=False, out=str(tmp_path / "gan")))
    refused(capsys, ["sample", str(run.out), "--truncation", "0.7", "--out", str(tmp_path / "a.png")],
            "--truncation", "stylegan", "'gan'")
    refused(capsys, ["sample", str(run.out), "--mix", "--out", str(tmp_path / "b.png")], "mixing", "stylegan")
    refused(capsys, ["interpolate", str(run.out), "--truncation", "0.5", "--out", str(tmp_path / "c.png")],
            "--truncation")
    with pytest.raises(ConfigError, match="style_mixing"):
        TrainConfig(method="stylegan", style_mixing=1.5)
