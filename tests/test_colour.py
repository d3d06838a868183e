"""Colour images at 32x32 and 64x64: the coloured MNIST / Fashion-MNIST sets, compact colour folders, the colour
recipes, the coloured sets' shipped feature networks and `gankit evaluate` on a colour run (with the Inception
path skipped when its weights are absent)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import gk
from PIL import Image

import gankit
from gankit.config import TrainConfig
from gankit.data import load_dataset
from gankit.errors import ConfigError
from gankit.evaluation.classifier import COLOUR, DomainClassifier, load_classifier, shipped_path
from gankit.evaluation.evaluate import to_feature_size
from gankit.recipes import recipe
from gankit.training.data import load_training_data


@pytest.mark.parametrize("name, grey", [("coloured-mnist", "mnist"), ("coloured-fashion", "fashion-mnist")])
def test_coloured_sets_are_fixed_labelled_and_padded_to_32(shared_data, name, grey):
    a28 = load_dataset(name, split="test", data_dir=shared_data, n=100, seed=2)
    a32 = load_dataset(name, split="test", data_dir=shared_data, n=100, seed=2, image_size=32)
    again = load_dataset(name, split="test", data_dir=shared_data, n=100, seed=2, image_size=32, compact=True)
    labels = load_dataset(grey, split="test", data_dir=shared_data, n=100, seed=2).y
    assert a32.x.shape == (100, 3, 32, 32) and again.x.dtype == torch.uint8
    assert torch.equal(again.x.float() / 127.5 - 1, a32.x)  # the same pixels each time: seeded colours
    assert torch.equal(a32.y, labels) and a32.num_classes == 10
    assert torch.equal(a32.x[:, :, 2:30, 2:30], a28.x)  # the 28x28 image on a canvas...
    border = a32.x[:, :, 0, :]  # ...of its own background colour
    assert torch.allclose(border, a32.x[:, :, 0, :1].expand_as(border))
    assert len(a32.x[:, :, 0, 0].unique(dim=0)) > 90  # a colour per image
    a64 = load_dataset(name, split="test", data_dir=shared_data, n=10, seed=2, image_size=64)
    assert a64.x.shape == (10, 3, 64, 64) and float(a64.x.abs().max()) <= 1.0
    with pytest.raises(ConfigError, match="48"):
        load_dataset(name, split="test", data_dir=shared_data, n=10, image_size=48)


def test_the_two_coloured_sets_have_their_own_colours(shared_data):
    m = load_dataset("coloured-mnist", split="test", data_dir=shared_data, n=50, seed=0)
    f = load_dataset("coloured-fashion", split="test", data_dir=shared_data, n=50, seed=0)
    assert not torch.equal(m.x[:, :, 0, 0], f.x[:, :, 0, 0])


def test_colour_folder_images_stay_uint8_in_memory(tmp_path):
    rng = np.random.default_rng(0)
    for k in ("a", "b"):
        (tmp_path / k).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(tmp_path / k / f"{i}.png")
    data = load_dataset(f"folder:{tmp_path}", compact=True)
    assert data.x.dtype == torch.uint8 and tuple(data.x.shape) == (6, 3, 64, 64) and data.num_classes == 2
    cfg = TrainConfig(dataset=f"folder:{tmp_path}", image_size=32, batch_size=2).resolved()
    train = load_training_data(cfg)  # what gankit.train holds
    assert train.x.dtype == torch.uint8 and tuple(train.x.shape) == (6, 3, 32, 32)


def test_colour_recipes():
    base = recipe("mnist5k", "dcgan", "nonsaturating")
    assert recipe("coloured-mnist", "dcgan", "nonsaturating", image_size=64)["width"] == 32
    assert recipe("coloured-fashion", "dcgan", "nonsaturating", image_size=32)["width"] == base["width"]
    # what existed before keeps its recipe: folders at 64x64, coloured-mnist at 28x28
    assert recipe("folder:x", "dcgan", "nonsaturating", image_size=64) == base
    assert recipe("coloured-mnist", "dcgan", "nonsaturating") == base


def test_dcgan_trains_on_colour_at_32(shared_data, tmp_path):
    run = gankit.train(TrainConfig(dataset="coloured-fashion", image_size=32, channels=3, data_dir=str(shared_data),
                                   steps=2, batch_size=8, width=8, d_width=8, progress=False, health=False,
                                   out=str(tmp_path / "run")))
    assert gankit.load(run.out).sample(3, seed=0).shape == (3, 3, 32, 32)


def test_feature_size_pads_28_and_resizes_64():
    x = torch.rand(2, 3, 28, 28) * 2 - 1
    p = to_feature_size(x, 32)
    assert p.shape == (2, 3, 32, 32) and torch.equal(p[:, :, 2:30, 2:30], x) and torch.equal(p[:, :, 0, 2], x[:, :, 0, 0])
    assert to_feature_size(torch.zeros(2, 3, 64, 64), 32).shape == (2, 3, 32, 32)
    assert to_feature_size(torch.zeros(2, 1, 32, 32), 28).shape == (2, 1, 28, 28)


@pytest.mark.parametrize("name", ["coloured-mnist", "coloured-fashion"])
def test_shipped_colour_feature_networks(shared_data, name):
    path = shipped_path(name)
    assert path.stat().st_size < 1_000_000  # small enough to ship
    net = load_classifier(name)
    assert net.model.input_shape == COLOUR and net.test_accuracy > 0.85
    test = load_dataset(name, split="test", data_dir=shared_data, n=500, seed=0, image_size=32)
    _, probs = net.embed(test.x)
    assert float((probs.argmax(1) == test.y).double().mean()) > 0.85
    with pytest.raises(ConfigError, match="3, 32, 32"):
        net.embed(torch.zeros(2, 1, 28, 28))
    assert sum(p.numel() for p in DomainClassifier(10, COLOUR).parameters()) < 250_000


@pytest.mark.slow
def test_evaluate_a_colour_run_and_skip_inception_without_weights(shared_data, tmp_path, monkeypatch):
    out = tmp_path / "run"
    gankit.train(TrainConfig(dataset="coloured-mnist", image_size=32, data_dir=str(shared_data), steps=2,
                             batch_size=8, width=8, d_width=8, progress=False, health=False, out=str(out)))
    monkeypatch.setenv("GANKIT_INCEPTION_WEIGHTS", str(tmp_path / "absent.pth"))
    js = tmp_path / "s.json"
    r = gk("evaluate", out, "--n", 300, "--inception", "--json", js, "--data-dir", shared_data)
    s = json.loads(js.read_text())
    for key in ("fid", "kid", "precision", "recall"):
        assert key in s
    assert s["protocol"]["feature_net"] == "gankit DomainClassifier (coloured-mnist)"
    assert s["fid"] > 1.0  # two steps of training are far from the data
    assert s["inception"]["skipped"] and "Inception metrics skipped" in r.stderr
