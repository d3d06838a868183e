"""Stacked MNIST (the 1,000-mode benchmark of Unrolled GAN / VEEGAN / PacGAN): the data set, the mode counter with
known answers, real data scoring ~1,000 modes, a one-digit generator scoring ~100, and `gankit evaluate` on a run.

Cost: the shipped classifier is the slow part (~0.5 ms per 28x28 channel on two CPU cores), so the 25,600-stack
checks classify each of the 10,000 MNIST test digits once and read a stack's digits from its source images; a test
below checks on 500 stacks that this gives exactly what classifying the stacked images does.
"""

import json
import math

import numpy as np
import pytest
import torch
from helpers import gk

import gankit
from gankit.data import load_dataset
from gankit.data.mnist import load_idx_dataset
from gankit.data.stacked import DEFAULT_N, TEST_SEED_OFFSET, make_stacked, stacked_labels
from gankit.errors import ConfigError
from gankit.evaluation import evaluate as ev
from gankit.evaluation import metrics
from gankit.evaluation.classifier import load_classifier

N_REAL = 25600  # the protocol's sample count


@pytest.fixture(scope="module")
def net():
    return load_classifier("mnist")


@pytest.fixture(scope="module")
def mnist_test(shared_data):
    """uint8 images [10000, 28, 28] and labels of the MNIST test split: the source digits of the test stacks."""
    return load_idx_dataset("mnist", "test", data_dir=shared_data)


@pytest.fixture(scope="module")
def source_digits(mnist_test, net):
    """What the shipped classifier reads in each MNIST test digit.  # [10000] int64"""
    images, _ = mnist_test
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    return net.embed(x)[1].argmax(1)


@pytest.fixture(scope="module")
def real(shared_data, mnist_test):
    """The real Stacked MNIST test split at its default size (25,600 stacks), with each channel's source index."""
    data = load_dataset("stacked-mnist", split="test", data_dir=shared_data, seed=0)
    images, labels = mnist_test
    x, y, index = make_stacked(images, labels, n=len(data), seed=TEST_SEED_OFFSET)
    assert torch.equal(x, data.x) and torch.equal(y, data.y)  # the loader is make_stacked on the test stream
    return data, index


def _digits_of(labels: torch.Tensor) -> torch.Tensor:
    return torch.stack([labels // 100, labels // 10 % 10, labels % 10], 1)  # [N, 3]


# ----------------------------------------------------------------------------------------------------- data set


def test_stacked_dataset_shape_range_and_determinism(shared_data, real):
    data, _ = real
    assert len(data) == N_REAL == DEFAULT_N["test"] and DEFAULT_N["train"] == 128_000
    assert data.name == "stacked-mnist" and data.sample_shape == (3, 28, 28) and data.x.dtype == torch.float32
    assert data.num_classes == 1000 and len(data.class_names) == 1000 and data.class_names[42] == "042"
    assert float(data.x.min()) == -1.0 and float(data.x.max()) == 1.0
    assert int(data.y.min()) >= 0 and int(data.y.max()) <= 999
    assert len(data.y.unique()) == 1000  # 25,600 stacks hit every mode (the rarest, 5-5-5, ~18 times on average)

    a = load_dataset("stacked-mnist", data_dir=shared_data, n=3000, seed=7)
    b = load_dataset("stacked_mnist", data_dir=shared_data, n=3000, seed=7)  # alias, same seed: the same stacks
    c = load_dataset("stacked-mnist", data_dir=shared_data, n=3000, seed=8)
    assert a.x.shape == (3000, 3, 28, 28)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.y, c.y)
    assert not torch.equal(a.y, data.y[:3000])  # train and test splits come from different digits and streams


def test_each_channel_is_the_source_digit_of_its_label(real, mnist_test):
    data, index = real
    images, labels = mnist_test
    src = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0)  # [10000, 28, 28]
    assert torch.equal(data.x, src[index])  # channel c of stack i is test image index[i, c], unchanged
    digits = torch.from_numpy(labels.astype(np.int64))[index]  # [N, 3]
    assert torch.equal(_digits_of(data.y), digits)
    assert torch.equal(stacked_labels(digits), data.y)
    # every channel draws uniformly over the 10,000 test images: each channel's digit shares follow MNIST's
    share = torch.stack([torch.bincount(digits[:, c], minlength=10) for c in range(3)]).double() / len(data)
    mnist_share = torch.from_numpy(np.bincount(labels, minlength=10) / len(labels))
    assert float((share - mnist_share).abs().max()) < 0.01


def test_classifier_reads_the_label_digits(real, net, source_digits):
    data, index = real
    x, truth = data.x[:500], _digits_of(data.y[:500])
    read = ev.stacked_digits(x, net)
    assert read.shape == (500, 3) and read.dtype == torch.int64
    # classifying stacked channels is exactly classifying their source digits (what the 25,600-stack checks use)
    assert torch.equal(read, source_digits[index[:500]])
    for n in (2000, len(data)):
        read, truth = source_digits[index[:n]], _digits_of(data.y[:n])
        per_channel = (read == truth).double().mean(0)
        assert bool((per_channel > 0.97).all()), per_channel
        assert float((read == truth).all(1).double().mean()) > 0.97


def test_channels_and_image_size(shared_data, net):
    with pytest.raises(ConfigError, match="3 channels by construction"):
        load_dataset("stacked-mnist", data_dir=shared_data, n=10, channels=1)
    with pytest.raises(ConfigError, match="channels must be 1 or 3"):
        load_dataset("stacked-mnist", data_dir=shared_data, n=10, channels=2)
    d = load_dataset("stacked-mnist", data_dir=shared_data, n=400, channels=3, image_size=32, seed=3)
    native = load_dataset("stacked-mnist", data_dir=shared_data, n=400, seed=3)
    assert d.x.shape == (400, 3, 32, 32) and float(d.x.min()) >= -1.0 and float(d.x.max()) <= 1.0
    assert torch.equal(d.y, native.y)  # resizing does not change which digits are drawn
    # a 32x32 stack is resized back to 28x28 per channel before classification and still reads right
    assert float((ev.stacked_digits(d.x, net) == _digits_of(d.y)).all(1).double().mean()) > 0.95
    with pytest.raises(ConfigError):
        ev.stacked_digits(native.x[:, :1], net)


# ----------------------------------------------------------------------------------------------------- counter


def test_stacked_modes_known_answers():
    every = torch.cartesian_prod(torch.arange(10), torch.arange(10), torch.arange(10))  # all 1000 triples, once
    s = metrics.stacked_modes(every)
    assert s == {"modes": 1000, "kl": pytest.approx(0.0, abs=1e-12), "n": 1000}
    s = metrics.stacked_modes(torch.tensor([[3, 1, 4]]).repeat(500, 1))
    assert s["modes"] == 1 and s["kl"] == pytest.approx(math.log(1000), abs=1e-12) and s["n"] == 500
    half = every[every[:, 0] < 5].repeat(3, 1)  # 500 modes, 3 samples each: KL = log 2
    s = metrics.stacked_modes(half)
    assert s["modes"] == 500 and s["kl"] == pytest.approx(math.log(2), abs=1e-12)
    assert metrics.stacked_modes(every.to(torch.uint8))["modes"] == 1000  # any integer dtype

    for bad, msg in [(torch.zeros(5, 2, dtype=torch.long), r"\[N, 3\]"),
                     (torch.zeros(5, dtype=torch.long), r"\[N, 3\]"), (torch.zeros(5, 3), "integer"),
                     (torch.zeros(0, 3, dtype=torch.long), "empty"),
                     (torch.tensor([[1, 2, 10]]), "0..9"), (torch.tensor([[1, -1, 3]]), "0..9"),
                     ([[1, 2, 3]], "torch.Tensor")]:
        with pytest.raises(ValueError, match=msg):
            metrics.stacked_modes(bad)


def test_real_stacked_mnist_scores_about_1000_modes(real, source_digits):
    data, index = real
    s = metrics.stacked_modes(source_digits[index])
    assert s["n"] == N_REAL
    assert s["modes"] >= 990
    # sampling noise alone is ~999 / (2 * 25,600) = 0.02 nats; MNIST's class shares add ~0.005
    assert s["kl"] < 0.1


def test_one_digit_generator_scores_about_100_modes(real, mnist_test, source_digits):
    """Channel 0 always shows a real '1', channels 1 and 2 real random digits: 100 of the 1,000 modes."""
    data, index = real
    _, labels = mnist_test
    read = source_digits[index].clone()
    ones = torch.from_numpy(np.flatnonzero(labels == 1))
    one = int(ones[source_digits[ones] == 1][0])  # one particular '1' (the classifier reads it as 1)
    read[:, 0] = source_digits[one]
    s = metrics.stacked_modes(read)
    assert 90 <= s["modes"] <= 100
    assert s["modes"] == 100  # 256 samples per mode on average: every 1xy is hit
    assert s["kl"] == pytest.approx(math.log(10), abs=0.1)  # 100 of 1000 modes, about evenly: ~log 10

    # '1's drawn at random instead: each '1' the classifier misreads opens a spurious mode, so the count is
    # 100 plus at most the number of samples whose channel 0 was misread (a property of the protocol)
    picks = ones[torch.randint(0, len(ones), (len(read),), generator=torch.Generator().manual_seed(0))]
    read[:, 0] = source_digits[picks]
    s = metrics.stacked_modes(read)
    misread = int((read[:, 0] != 1).sum())
    assert 100 <= s["modes"] <= 100 + misread


# -------------------------------------------------------------------------------------------------- evaluation


def test_evaluate_real_stacked(shared_data, monkeypatch):
    monkeypatch.setattr(ev, "STACKED_SAMPLES", 1000)  # the protocol's 25,600 stacks cost ~40 s to classify here
    s = ev.evaluate_real("stacked-mnist", data_dir=str(shared_data))
    assert s["n"] == 1000 and 560 < s["modes"] < 700  # 1,000 draws of ~uniform 1,000 modes cover 1 - 1/e = 63%
    assert 0.3 < s["kl"] < 0.7  # mostly the sampling noise of 1,000 draws over 1,000 cells
    assert s["protocol"]["dataset"] == "stacked-mnist" and len(s["protocol"]["feature_net_sha256"]) == 64


def test_evaluate_run_and_cli(shared_data, tmp_path):
    out = tmp_path / "run"
    gankit.train(gankit.TrainConfig(dataset="stacked-mnist", data_dir=str(shared_data), model="dcgan", steps=3,
                                    batch_size=16, width=8, out=str(out), progress=False))
    s = ev.evaluate_run(out, n=2000)
    assert {"modes", "kl", "n", "protocol"} <= s.keys()
    assert 1 <= s["modes"] <= 1000 and 0.0 <= s["kl"] <= math.log(1000) + 1e-9 and s["n"] == 2000
    p = s["protocol"]
    assert p["dataset"] == "stacked-mnist" and p["n_generated"] == 2000 and p["seed"] == 0 and p["step"] == 3
    assert p["ema"] is True and "MNIST domain classifier" in p["method"] and len(p["feature_net_sha256"]) == 64
    assert str(out) in p["run"]

    js = tmp_path / "scores.json"
    r = gk("evaluate", out, "--n", 2000, "--json", js)
    assert "modes=" in r.stdout and "kl=" in r.stdout
    written = json.loads(js.read_text())
    # same run, n and seed in another process: the same numbers (sampling is seeded chunk by chunk)
    assert written["modes"] == s["modes"] and written["kl"] == pytest.approx(s["kl"], abs=1e-12)
    assert written["protocol"]["n_generated"] == 2000 and written["protocol"]["dataset"] == "stacked-mnist"
