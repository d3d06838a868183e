"""The recurrent GAN (--method rgan): the built-in series, the sequence distance and its validation, the recurrent
networks, training on series and on image rows, sampling (plot, --npy, --length), evaluate and resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import gankit
from gankit.cli import main
from gankit.config import TrainConfig
from gankit.data import load_dataset
from gankit.errors import ConfigError
from gankit.evaluation.sequences import (acf, band_agreement, dominant_frequency, sequence_distance, shuffle_time,
                                         tstr, validate_distance, wasserstein_1d)
from gankit.models.recurrent import RecurrentDiscriminator, RecurrentGenerator
from helpers import refused

TINY = dict(method="rgan", width=8, d_width=8, z_dim=2, steps=6, batch_size=16, log_every=3, sample_every=6,
            ckpt_every=3, progress=False, health=False)


# ----------------------------------------------------------------------------------------------- data


@pytest.mark.parametrize("name", ["sines", "ar"])
def test_series_are_seeded_in_range_and_split(name):
    a, b = load_dataset(name, n=300, seed=4), load_dataset(name, n=300, seed=4)
    test = load_dataset(name, n=300, seed=4, split="test")
    assert a.x.shape == (300, 64) and a.x.dtype == torch.float32
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, test.x)
    assert float(a.x.abs().max()) <= 1.0
    assert load_dataset(name, n=10, toy_options={"length": 32}).x.shape == (10, 32)


def test_sines_labels_are_the_band_of_the_dominant_frequency():
    d = load_dataset("sines", n=2000, seed=0)
    assert d.num_classes == 4 and set(d.y.tolist()) == {0, 1, 2, 3}
    # the weaker second sinusoid and the band edges move some argmax bins across a boundary, not many
    assert band_agreement(d.x, d.y) > 0.7
    assert band_agreement(d.x, d.y.roll(1)) < 0.4  # labels of other series agree about by chance


def test_series_options_are_checked():
    with pytest.raises(ConfigError, match="length"):
        load_dataset("sines", n=4, toy_options={"length": 3})
    with pytest.raises(ConfigError, match="unknown option 'mu'"):
        load_dataset("ar", n=4, toy_options={"mu": 1.0})


# ----------------------------------------------------------------------------------------------- the distance


def test_dominant_frequency_and_acf_by_hand():
    t = torch.arange(64, dtype=torch.float64)
    x = torch.stack([torch.sin(2 * math.pi * 5 * t / 64), torch.cos(2 * math.pi * 11 * t / 64)])
    assert dominant_frequency(x).tolist() == [5, 11]
    alt = torch.tensor([[1.0, -1.0] * 8])  # mean 0; lag-1 products all -1: -15/16; lag 2: +14/16
    r = acf(alt, 2)[0]
    assert r[0].item() == pytest.approx(-15 / 16) and r[1].item() == pytest.approx(14 / 16)
    assert acf(torch.ones(1, 8), 3).abs().sum() == 0  # a constant series has no correlation to report


def test_wasserstein_1d_by_hand():
    assert wasserstein_1d(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0])) == pytest.approx(1.0)
    assert wasserstein_1d(torch.tensor([0.0]), torch.tensor([0.0, 0.0, 3.0])) == pytest.approx(1.0)
    assert wasserstein_1d(torch.tensor([2.0, 5.0]), torch.tensor([5.0, 2.0])) == 0.0


def test_distance_is_zero_for_identical_sets_and_shuffling_keeps_values():
    x = load_dataset("ar", n=200).x
    assert sequence_distance(x, x) == {"freq_w1": 0.0, "acf_l2": 0.0, "acf_w1": 0.0}
    s = shuffle_time(x, seed=1)
    assert torch.equal(s.sort(dim=1).values, x.sort(dim=1).values) and not torch.equal(s, x)


@pytest.mark.parametrize("name", ["sines", "ar"])
def test_distance_validation_real_vs_real_small_real_vs_shuffled_large(name):
    a = load_dataset(name, n=1500, seed=0, split="test").x
    b = load_dataset(name, n=1500, seed=1).x  # another seed's train stream: a disjoint draw
    v = validate_distance(a, b)
    rr, rs = v["real_vs_real"], v["real_vs_shuffled"]
    for key in ("freq_w1", "acf_l2", "acf_w1"):
        assert rs[key] > 8 * rr[key], (key, rr, rs)
    assert rr["freq_w1"] < 0.3 and rs["freq_w1"] > 5  # cycles per sequence
    assert rr["acf_l2"] < 0.05 and rs["acf_l2"] > 0.2


def test_tstr_beats_chance_on_real_series_and_fails_on_wrong_labels():
    d, test = load_dataset("sines", n=1500, seed=0), load_dataset("sines", n=500, seed=0, split="test")
    out = tstr((d.x, d.y), (d.x, d.y), (test.x, test.y), 4, steps=150)
    assert out["trtr_accuracy"] == out["tstr_accuracy"] > 0.6  # same data and seed: the same classifier
    scrambled = tstr((d.x, d.y.roll(1)), (d.x, d.y), (test.x, test.y), 4, steps=150)
    assert scrambled["tstr_accuracy"] < 0.45


# ----------------------------------------------------------------------------------------------- networks


def test_recurrent_networks_shapes_for_series_and_rows():
    G = RecurrentGenerator((64,), 3, 0, cell="lstm", hidden=8, layers=2)
    assert G.z_dim == 64 * 3 and G(torch.randn(5, 192)).shape == (5, 64)
    Gi = RecurrentGenerator((1, 28, 28), 2, 10, cell="gru", hidden=8, layers=1)
    x = Gi(torch.randn(5, 56), torch.arange(5))
    assert x.shape == (5, 1, 28, 28) and float(x.detach().abs().max()) <= 1.0
    D = RecurrentDiscriminator((1, 28, 28), 10, hidden=8)
    assert D.per_step(x, torch.arange(5)).shape == (5, 28) and D(x, torch.arange(5)).shape == (5,)
    with pytest.raises(ConfigError, match="64 steps"):
        G(torch.randn(5, 100))
    with pytest.raises(ConfigError, match="grey images"):
        RecurrentGenerator((3, 8, 8), 2)


def test_generator_output_at_step_t_depends_only_on_noise_up_to_t():
    G = RecurrentGenerator((16,), 2, 0, hidden=8, layers=1)
    z = torch.randn(1, 32)
    z2 = z.clone()
    z2[0, 20:] += 1.0  # steps 10.. change
    a, b = G(z), G(z2)
    assert torch.equal(a[0, :10], b[0, :10]) and not torch.equal(a[0, 10:], b[0, 10:])


# ----------------------------------------------------------------------------------------------- runs


def test_sines_run_trains_samples_plots_and_evaluates(tmp_path, capsys):
    out = tmp_path / "sines"
    res = gankit.train(TrainConfig(**TINY, dataset="sines", conditional=True, out=str(out)))
    assert res.step == 6 and (out / "samples" / "step_0000006.png").stat().st_size > 0
    G = gankit.load(out)
    assert G.sample(5, labels=2, seed=0).shape == (5, 64)
    assert main(["sample", str(out), "--n", "8", "--npy", str(tmp_path / "s.npy"), "--length", "64",
                 "--out", str(tmp_path / "s.png")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (8, 64) and (tmp_path / "s.png").stat().st_size > 0
    line = refused(capsys, ["sample", str(out), "--length", "100"], "64 steps", "100")
    assert "length=100" in line
    from gankit.evaluation.evaluate import evaluate_run

    s = evaluate_run(out, n=200)
    assert {"freq_w1", "acf_l2", "acf_w1", "reference", "band_agreement", "band_agreement_real"} <= set(s)
    assert s["reference"]["real_vs_shuffled"]["freq_w1"] > s["reference"]["real_vs_real"]["freq_w1"]


def test_image_rows_run_draws_a_grid_and_is_scored_by_the_classifier(tmp_path):
    out = tmp_path / "rows"
    gankit.train(TrainConfig(**TINY, dataset="mnist5k", out=str(out)))
    G = gankit.load(out)
    assert G.data_shape == (1, 28, 28) and G.z_dim == 28 * 2
    assert main(["sample", str(out), "--n", "16", "--out", str(tmp_path / "g.png")]) == 0
    from gankit.evaluation.evaluate import evaluate_run

    s = evaluate_run(out, n=100)
    assert 0.1 <= s["confidence"] <= 1.0 and "fid" in s


def test_resume_is_bit_identical(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    gankit.train(TrainConfig(**TINY, dataset="ar", out=str(full)))
    gankit.train(TrainConfig(**{**TINY, "steps": 3}, dataset="ar", out=str(part)))
    gankit.resume(part, steps=6)
    a, b = gankit.load(full, ema=False), gankit.load(part, ema=False)
    for p, q in zip(a.net.state_dict().values(), b.net.state_dict().values()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("flags, words", [
    (["--dataset", "ring8"], ["rgan", "ring8"]),
    (["--dataset", "sines", "--toy-option", "length=2"], ["length"]),
])
def test_refusals_are_one_line(tmp_path, capsys, flags, words):
    refused(capsys, ["train", "--method", "rgan", "--steps", "2", "--out", str(tmp_path / "x"), *flags], *words)


def test_unknown_cell_is_refused_by_name():
    with pytest.raises(ConfigError, match="'rnn_cell'"):
        TrainConfig(method="rgan", rnn_cell="transformer")
