"""Spectral normalisation (`--spectral-norm`, and built into `--model sagan`): each normalised weight's largest
singular value is 1 after a few power iterations, D loses its BatchNorm and G keeps it, the default models are
untouched, a loaded generator samples exactly as training's eval-mode one did, and the verbs work on such runs."""

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

import gankit
from gankit.cli import main
from gankit.config import TrainConfig
from gankit.errors import ConfigError
from gankit.models import build_models
from gankit.models.spectral import bake_spectral_norm, has_spectral_norm

IMAGE = (1, 28, 28)


def _matrix(m: nn.Module, w: torch.Tensor) -> torch.Tensor:
    """The weight as the matrix spectral norm normalises: [out, everything else]."""
    if isinstance(m, nn.ConvTranspose2d):  # [in, out, k, k]: out is dim 1
        w = w.transpose(0, 1)
    return w.reshape(w.shape[0], -1)


def _normalised(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if parametrize.is_parametrized(m, "weight")]


def _warm_up(G: nn.Module, D: nn.Module, k: int, iterations: int = 100) -> None:
    """`iterations` training-mode forwards of both nets: one power iteration each per forward. The estimate's
    error shrinks by (s2 / s1)^2 per iteration; a random 16 x 128 matrix at init has s2 / s1 ~ 0.95, so a few
    dozen are needed from scratch (in training, one per step tracks the slowly moving weights)."""
    G.train(), D.train()
    with torch.no_grad():
        for _ in range(iterations):
            z = torch.randn(2, G.z_dim)
            y = torch.randint(0, k, (2,)) if k else None
            D(G(z, y), y)


@pytest.mark.parametrize("name,k,cond_d", [("dcgan", 0, "concat"), ("dcgan", 10, "projection"),
                                           ("classic", 10, "concat"), ("mlp", 10, "projection"),
                                           ("sagan", 10, "projection")])
def test_each_normalised_weight_has_largest_singular_value_one(name, k, cond_d):
    torch.manual_seed(0)
    shape = (2,) if name == "mlp" else IMAGE
    G, D = build_models(name, data_shape=shape, z_dim=16, num_classes=k, cond_d=cond_d, width=8,
                        spectral_norm=True)
    _warm_up(G, D, k)
    layers = _normalised(D) + _normalised(G)
    kinds = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)
    assert {m for m in D.modules() if isinstance(m, kinds)} == set(_normalised(D))  # every weight layer of D
    for m in layers:
        original = m.parametrizations.weight.original.detach()
        effective = m.weight.detach()
        sigma = torch.linalg.matrix_norm(_matrix(m, original), 2)
        assert float(torch.linalg.matrix_norm(_matrix(m, effective), 2)) == pytest.approx(1.0, abs=0.02), m
        # W / sigma(W) exactly up to the power iteration's estimate of sigma
        torch.testing.assert_close(effective, original / sigma, rtol=0.02, atol=1e-6)


def test_spectral_norm_strips_d_batchnorm_and_leaves_g_and_default_alone():
    torch.manual_seed(0)
    G, D = build_models("dcgan", data_shape=IMAGE, z_dim=16, width=8, spectral_norm=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in G.modules()) and not has_spectral_norm(G)
    G0, D0 = build_models("dcgan", data_shape=IMAGE, z_dim=16, width=8)
    assert not has_spectral_norm(G0) and not has_spectral_norm(D0)
    assert any(isinstance(m, nn.BatchNorm2d) for m in D0.modules())


def test_sagan_normalises_both_networks_keeps_bn_in_g_only():
    G, D = build_models("sagan", data_shape=IMAGE, z_dim=16, num_classes=10, width=8)
    kinds = (nn.Conv2d, nn.ConvTranspose2d)
    assert {m for m in G.modules() if isinstance(m, kinds)} == set(_normalised(G))
    assert not parametrize.is_parametrized(G.label_embed, "weight")  # an input, like z
    assert any(isinstance(m, nn.BatchNorm2d) for m in G.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


def test_baked_generator_samples_as_the_eval_mode_parametrised_one():
    torch.manual_seed(0)
    G, D = build_models("sagan", data_shape=IMAGE, z_dim=16, width=8)
    _warm_up(G, D, 0)
    with torch.no_grad():
        G.attention.gamma.fill_(0.5)  # so the attention path counts
        z = torch.randn(6, 16)
        want = G.eval()(z)
        got = bake_spectral_norm(G)(z)
    assert not has_spectral_norm(G)
    assert not any("original" in k or k.endswith("_u") for k in G.state_dict())  # plain names, effective values
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_config_refuses_spectral_norm_on_a_discriminator_of_ones_own():
    with pytest.raises(ConfigError, match="spectral_norm"):
        TrainConfig(spectral_norm=True, discriminator="python")
    assert TrainConfig.from_dict({}).spectral_norm is False  # configs saved before the key load as before


HOSTILE = [
    (["--spectral-norm", "--discriminator", "json:loads"], "spectral_norm"),
    (["--model", "sagan", "--dataset", "ring8"], "sagan"),
    (["--model", "sagan", "--image-size", "16"], "sagan"),
]


@pytest.mark.parametrize("flags,words", HOSTILE, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_input_is_one_line(flags, words, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--steps", "2", "--no-progress", "--out", str(out), *flags])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1 and words in err, err
    assert not out.exists()


def test_bad_config_value_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"spectral_norm": "yes"}')
    code = main(["train", "--config", str(cfg), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "'spectral_norm'" in err, err


# ---------------------------------------------------------------------------------------------------- the verbs
RUNS = {"sn": ["--model", "dcgan", "--spectral-norm", "--conditional", "--cond-d", "projection"],
        "sagan": ["--model", "sagan", "--loss", "hinge", "--beta1", "0"]}


@pytest.fixture(scope="module", params=sorted(RUNS))
def run(request, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sn") / request.param
    assert main(["train", *RUNS[request.param], "--width", "8", "--z-dim", "16", "--batch-size", "16",
                 "--steps", "6", "--ema", "0.5", "--ckpt-every", "3", "--sample-every", "6", "--log-every", "2",
                 "--no-progress", "--out", str(out)]) == 0
    return out


def test_load_rebuilds_the_trained_generator(run):
    from gankit import checkpoint as ckpt
    from gankit.models import build_networks

    G = gankit.load(run)
    cfg = TrainConfig.from_json_file(run / "config.json")
    tensors, meta = ckpt.load(ckpt.latest_checkpoint(run))
    net = build_networks(cfg, tuple(meta["data_shape"]), meta["num_classes"])[0]
    ckpt.unpack_module("G_ema", net, tensors, run)
    z = G.sample_z(5, seed=1)
    y = G.labels(5)
    with torch.no_grad():
        torch.testing.assert_close(G(z, y), net.eval()(z, y), rtol=0, atol=1e-6)


def test_verbs_work_on_the_run(run, tmp_path, capsys):
    for argv in (["sample", run, "--n", "8", "--out", tmp_path / "s.png"],
                 ["interpolate", run, "--steps", "4", "--out", tmp_path / "i.png"],
                 ["export", run, "--format", "safetensors", "--out", tmp_path / "g.safetensors"],
                 ["evaluate", run, "--n", "100", "--json", tmp_path / "e.json"],
                 ["doctor", run]):
        assert main([str(a) for a in argv]) == 0, capsys.readouterr().err
    assert (tmp_path / "s.png").stat().st_size and (tmp_path / "i.png").stat().st_size
    assert (tmp_path / "e.json").stat().st_size
    exported = gankit.load(tmp_path / "g.safetensors")
    torch.testing.assert_close(exported.sample(6, seed=2), gankit.load(run).sample(6, seed=2), rtol=0, atol=0)


def test_onnx_export_matches_torch(run, tmp_path):
    pytest.importorskip("onnxscript", reason="ONNX export needs onnx and onnxscript (pip install 'gankit[onnx]')")
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed")
    from gankit.export import export_generator, onnx_max_difference

    path = export_generator(run, format="onnx", out=tmp_path / "g.onnx", check=False)
    assert onnx_max_difference(path, gankit.load(run).net) <= 1e-4


@pytest.mark.parametrize("variant", ["sn", pytest.param("sagan", marks=pytest.mark.slow)])  # sagan: ~30 s
def test_resume_extends_run_bit_identically(variant, tmp_path):
    """3 steps + resume to 6 == 6 steps straight: the power iteration's vectors (buffers of G, D and G's EMA copy)
    and gamma travel in the checkpoint. The SIGKILL variant of this is in test_training.py."""
    from gankit import checkpoint as ckpt

    def train(name, steps):
        assert main(["train", *RUNS[variant], "--width", "4", "--z-dim", "8", "--batch-size", "8", "--steps",
                     str(steps), "--ema", "0.9", "--ckpt-every", "3", "--sample-every", "100", "--no-progress",
                     "--out", str(tmp_path / name)]) == 0

    train("full", 6)
    train("part", 3)
    assert main(["train", "--resume", str(tmp_path / "part"), "--steps", "6", "--no-progress"]) == 0
    full = ckpt.load(ckpt.latest_checkpoint(tmp_path / "full"))[0]
    part = ckpt.load(ckpt.latest_checkpoint(tmp_path / "part"))[0]
    assert set(full) == set(part) and any(k.endswith("_u") for k in full)
    for k in full:
        assert torch.equal(full[k], part[k]), k
