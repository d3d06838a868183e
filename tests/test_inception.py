"""The optional Inception-v3 extra: found weights or a clear message, never a download; the plumbing to
torch-fidelity checked with a stand-in module (the real torch-fidelity needs torchvision, absent here)."""

import json
import math
import sys
import types

import numpy as np
import pytest
import torch
from helpers import gk
from PIL import Image

import gankit
from gankit.evaluation import inception
from gankit.evaluation.inception import InceptionUnavailable, Uint8Images, find_weights, inception_scores


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))


@pytest.fixture
def fake_fidelity(monkeypatch):
    """A stand-in torch_fidelity that records what it was given and returns fixed numbers."""
    calls = []

    def calculate_metrics(**kw):
        calls.append(kw)
        return {"frechet_inception_distance": 12.5, "inception_score_mean": 3.25, "inception_score_std": 0.5}

    mod = types.ModuleType("torch_fidelity")
    mod.calculate_metrics = calculate_metrics
    mod.__version__ = "stand-in"
    monkeypatch.setitem(sys.modules, "torch_fidelity", mod)
    return calls


def test_weights_are_looked_up_never_downloaded(no_weights, tmp_path, monkeypatch):
    with pytest.raises(InceptionUnavailable) as e:
        find_weights()
    msg = str(e.value)
    assert inception.WEIGHTS_URL in msg and str(tmp_path / "hub" / "checkpoints") in msg and "never" in msg
    with pytest.raises(InceptionUnavailable, match="does not exist"):
        find_weights(tmp_path / "nope.pth")
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(tmp_path / "missing.pth"))
    with pytest.raises(InceptionUnavailable, match=inception.WEIGHTS_ENV):
        find_weights()
    w = tmp_path / "w.pth"
    w.write_bytes(b"x")
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(w))
    assert find_weights() == w
    cached = tmp_path / "hub" / "checkpoints" / inception.WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    monkeypatch.delenv(inception.WEIGHTS_ENV)
    assert find_weights() == cached


def test_missing_package_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # import fails as if not installed
    with pytest.raises(InceptionUnavailable, match=r"gankit\[inception\]"):
        inception_scores(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8), weights=tmp_path)


def test_images_reach_torch_fidelity_as_uint8_rgb(fake_fidelity, tmp_path):
    w = tmp_path / "w.pth"
    w.write_bytes(b"x")
    grey = torch.tensor([-1.0, 0.0, 1.0, 0.5]).view(1, 1, 2, 2).repeat(3, 1, 1, 1)
    out = inception_scores(grey, torch.zeros(5, 3, 2, 2), weights=w)
    assert out["inception_fid"] == 12.5 and out["inception_is"] == 3.25 and out["inception_is_std"] == 0.5
    assert out["inception_protocol"]["n_generated"] == 3 and out["inception_protocol"]["n_real"] == 5
    kw = fake_fidelity[0]
    assert kw["fid"] and kw["isc"] and kw["feature_extractor_weights_path"] == str(w) and kw["cache"] is False
    item = kw["input1"][0]
    assert item.dtype == torch.uint8 and item.shape == (3, 2, 2)
    assert item[0].flatten().tolist() == [0, 128, 255, 191] and torch.equal(item[0], item[2])
    assert len(kw["input2"]) == 5
    with pytest.raises(gankit.ConfigError, match=r"\[N, 1 or 3, H, W\]"):
        Uint8Images(torch.zeros(2, 4, 2, 2))


@pytest.fixture(scope="module")
def colour_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pics")
    rng = np.random.default_rng(0)
    for i in range(16):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path_factory.mktemp("runs") / "colour"
    gankit.train(gankit.TrainConfig(dataset=f"folder:{folder}", image_size=32, steps=2, batch_size=8, width=8,
                                    out=str(out), progress=False))
    return out


def test_colour_run_evaluation(colour_run, no_weights, tmp_path, monkeypatch):
    r = gk("evaluate", colour_run, check=False)
    assert r.returncode == 2 and "--inception" in r.stderr
    r = gk("evaluate", colour_run, "--inception", check=False)  # here: no torch-fidelity, or no weights
    assert r.returncode == 2 and ("gankit[inception]" in r.stderr or "weights" in r.stderr), r.stderr
    assert r.stderr.count("\n") == 1


def test_colour_run_scores_with_the_extra(colour_run, fake_fidelity, tmp_path):
    w = tmp_path / "w.pth"
    w.write_bytes(b"x")
    scores = gankit.evaluate(colour_run, n=10, inception=True, inception_weights=w)
    assert scores["inception_fid"] == 12.5 and scores["protocol"]["n_generated"] == 10
    assert scores["protocol"]["n_real"] == 16 and scores["protocol"]["weights"] == "w.pth"
    assert fake_fidelity[0]["input1"][0].shape == (3, 32, 32)


def test_mnist_run_reports_inception_as_skipped(tmp_path, no_weights):
    out = tmp_path / "run"
    gankit.train(gankit.TrainConfig(steps=2, batch_size=16, width=8, out=str(out), progress=False))
    js = tmp_path / "s.json"
    r = gk("evaluate", out, "--n", 200, "--inception", "--json", js)
    s = json.loads(js.read_text())
    assert "fid" in s and "inception_fid" not in s and s["inception"]["skipped"]
    assert "Inception metrics skipped" in r.stderr


def _stand_in_weights(path):
    """A weights file with Inception-v3's exact tensors, seeded at random (the real file is a download gankit never
    makes): enough to run the real torch-fidelity end to end, not to give meaningful scores."""
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    cls = fe.FeatureExtractorInceptionV3
    load, keep = torch.load, cls.load_state_dict
    torch.manual_seed(0)
    try:  # build the network without reading a file: its own random initialisation becomes the stand-in
        torch.load = lambda *a, **k: {}
        cls.load_state_dict = lambda self, state, *a, **k: None
        net = cls("inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path="unused")
    finally:
        torch.load, cls.load_state_dict = load, keep
    torch.save(net.state_dict(), path)
    return path


def test_the_real_torch_fidelity_end_to_end(colour_run, tmp_path):
    """Where torch-fidelity and a matching torchvision load (torch 2.14.1 with torchvision 0.29.1, for one), the
    `--inception` path runs the real library on a run's samples: FID and IS come back finite and the FID of an image
    set against itself is 0 (random stand-in weights give near-constant features, so no other value is checked)."""
    pytest.importorskip("torch_fidelity", reason="the inception extra is not installed")
    w = _stand_in_weights(tmp_path / "stand-in.pth")
    js = tmp_path / "s.json"
    gk("evaluate", colour_run, "--n", 20, "--inception", "--inception-weights", w, "--json", js)
    s = json.loads(js.read_text())
    assert math.isfinite(s["inception_fid"]) and s["inception_is"] >= 1.0
    assert s["protocol"]["library"].startswith("torch-fidelity") and s["protocol"]["weights"] == "stand-in.pth"
    a = torch.rand(20, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    same = inception_scores(a, a, weights=w, batch_size=10)
    assert abs(same["inception_fid"]) < 1e-6 and same["inception_protocol"]["n_generated"] == 20
