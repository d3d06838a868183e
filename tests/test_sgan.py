"""The semi-supervised GAN (--method sgan): its objectives against hand-computed values, the seeded labelled
subset, the classifier through gankit.load and gankit evaluate, and its refusals."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch

import gankit
from gankit.cli import main
from gankit.config import TrainConfig
from gankit.data import load_dataset
from gankit.distributed import BatchShard
from gankit.errors import ConfigError
from gankit.methods import Batch, Draws, StepContext, build_method
from gankit.methods.sgan import (SGANDiscriminator, WNLinear, feature_matching_loss, labelled_subset,
                                 real_probability, sgan_d_losses)
from gankit.stats import Stats

TINY = dict(dataset="mnist5k", method="sgan", model="mlp", labels_per_class=3, width=16, d_width=8, steps=6,
            batch_size=16, log_every=3, sample_every=100, ckpt_every=3, progress=False, health=False)


# ---------------------------------------------------------------------------------------------- objectives
def test_d_losses_match_hand_computed_values():
    ln = math.log
    # labelled: logits (0, ln 3), class 1 -> p = 3/4, CE = ln(4/3)
    # unlabelled: logits (0, 0) -> Z = 2, D = 2/3, -log D = ln(3/2)
    # fake: logits (0, ln 2) -> Z = 3, D = 3/4, -log(1 - D) = ln 4
    sup, unsup = sgan_d_losses(torch.tensor([[0.0, ln(3)]]), torch.tensor([1]), torch.tensor([[0.0, 0.0]]),
                               torch.tensor([[0.0, ln(2)]]))
    assert sup.item() == pytest.approx(ln(4 / 3), abs=1e-6)
    assert unsup.item() == pytest.approx(ln(3 / 2) + ln(4), abs=1e-6)


def test_d_losses_average_over_the_batch_and_stay_finite_for_large_logits():
    ln = math.log
    lab = torch.tensor([[0.0, ln(3)], [0.0, ln(3)]])
    sup, unsup = sgan_d_losses(lab, torch.tensor([1, 0]), torch.tensor([[0.0, 0.0], [ln(0.5), ln(0.5)]]),
                               torch.tensor([[0.0, ln(2)], [-1e4, -1e4]]))
    assert sup.item() == pytest.approx((ln(4 / 3) + ln(4)) / 2, abs=1e-6)
    # second unlabelled row: Z = 1, D = 1/2; second fake row: Z ~ 0, -log(1 - D) ~ 0
    assert unsup.item() == pytest.approx((ln(3 / 2) + ln(2)) / 2 + ln(4) / 2, abs=1e-6)
    big = torch.full((1, 3), 200.0)
    _, u = sgan_d_losses(big, torch.tensor([0]), big, -big)
    assert torch.isfinite(u)


def test_real_probability_is_z_over_z_plus_one():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), -50.0]])
    assert real_probability(logits).tolist() == pytest.approx([2 / 3, 3 / 4], abs=1e-6)


def test_feature_matching_is_the_mean_squared_difference_of_batch_means():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean (2, 3)
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # mean (1, 1)
    assert feature_matching_loss(real, fake).item() == pytest.approx((1 + 4) / 2)
    assert feature_matching_loss(real, real).item() == 0.0


def test_weight_norm_rows_have_the_norm_g():
    layer = WNLinear(5, 3)
    with torch.no_grad():
        layer.g.copy_(torch.tensor([1.0, 2.0, 0.5]))
    x = torch.eye(5)
    w = (layer(x) - layer.b).T  # [3, 5]: the effective weight
    assert w.norm(dim=1).tolist() == pytest.approx([1.0, 2.0, 0.5], abs=1e-6)


def test_discriminator_noise_only_while_training():
    D = SGANDiscriminator((1, 28, 28), 10, width=4)
    x = torch.zeros(2, 1, 28, 28)
    D.eval()
    assert torch.equal(D(x), D(x))
    D.train()
    assert not torch.equal(D(x), D(x))
    h, logits = D.features_and_logits(x)
    assert h.shape == (2, 4) and logits.shape == (2, 10)


# ---------------------------------------------------------------------------------------------- labelled subset
def test_labelled_subset_is_n_per_class_and_seeded():
    y = torch.arange(10).repeat(20)  # 20 of each class
    a = labelled_subset(y, 10, 3, seed=0)
    assert len(a) == 30 and len(set(a.tolist())) == 30
    assert torch.bincount(y[a], minlength=10).tolist() == [3] * 10
    assert torch.equal(a, labelled_subset(y, 10, 3, seed=0))
    assert not torch.equal(a, labelled_subset(y, 10, 3, seed=1))
    with pytest.raises(ConfigError, match="class 0 has only 20"):
        labelled_subset(y, 10, 21, seed=0)


def test_supervised_batches_come_from_the_labelled_subset_only():
    cfg = TrainConfig(**TINY, out="unused").resolved()
    data = load_dataset("mnist5k")
    method = build_method(cfg, data)
    nets = method.build()
    draws = Draws(torch.Generator().manual_seed(0), BatchShard(16, 0, 1), torch.device("cpu"), "gaussian")
    ctx = StepContext(0, 0, nets, nets, nets, draws, Stats())
    subset = data.x[method.labelled].flatten(1)  # [30, 784]
    for _ in range(5):
        x, y = method._labelled_batch(ctx, torch.device("cpu"))
        assert x.shape == (16, 1, 28, 28)
        match = (x.flatten(1)[:, None] == subset[None]).all(2)  # [16, 30]: row i is labelled example j
        assert match.any(1).all()
        assert torch.equal(y, data.y[method.labelled][match.float().argmax(1)])
    # the unlabelled batch's labels are never read: a batch without labels trains the same
    batch = Batch(torch.zeros(16, 1, 28, 28).uniform_(-1, 1), None)
    phase = method.phases()[0]
    assert torch.isfinite(method.loss(phase, batch, ctx))


# ---------------------------------------------------------------------------------------------- a trained run
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sgan") / "run"
    gankit.train(TrainConfig(**TINY, out=str(out)))
    return out


def test_run_logs_both_d_terms_and_classifies(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    last = rows[-1]
    for key in ("Loss/D_supervised", "Loss/D_unsupervised", "Loss/G", "D/real", "D/fake", "Accuracy/labelled"):
        assert math.isfinite(last[key]), key
    assert last["Loss/D"] == pytest.approx(last["Loss/D_supervised"] + last["Loss/D_unsupervised"], rel=1e-5)
    G = gankit.load(run)
    x = torch.zeros(3, 1, 28, 28)
    logits = G.classify(x)
    assert logits.shape == (3, 10)
    assert torch.equal(logits, G.classify(x))  # eval mode: no noise
    assert G.sample(4).shape == (4, 1, 28, 28)
    with pytest.raises(ConfigError, match="no network to encode with; train one with --method bigan"):
        G.encode(x)
    with pytest.raises(ConfigError, match=r"classify takes a batch of images \[N, 1, 28, 28\]"):
        G.classify(torch.zeros(3, 784))


@pytest.mark.skipif(not os.environ.get("GANKIT_DATA"), reason="needs the MNIST test split ($GANKIT_DATA)")
def test_evaluate_reports_the_test_error(run, tmp_path):
    out = tmp_path / "scores.json"
    assert main(["evaluate", str(run), "--n", "200", "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    test = load_dataset("mnist", split="test")
    G = gankit.load(run)
    wrong = int((G.classify(test.x).argmax(1) != test.y).sum())
    assert scores["test_n"] == 10000 and scores["test_errors"] == wrong
    assert scores["test_error"] == pytest.approx(wrong / 10000)


# ---------------------------------------------------------------------------------------------- refusals
def _refused(capsys, argv, *names):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and err.startswith("gankit: error: "), err
    for name in names:
        assert name in err, err
    return err


@pytest.mark.parametrize("extra, names", [
    ([], ("--labels-per-class",)),
    (["--labels-per-class", "10", "--dataset", "ring8"], ("ring8", "toy data")),
    (["--labels-per-class", "100000"], ("--labels-per-class 100000", "class 0 has only")),
    (["--labels-per-class", "-1"], ("labels_per_class",)),
    (["--labels-per-class", "3", "--conditional"], ("--conditional",)),
])
def test_bad_sgan_settings_are_one_line(capsys, tmp_path, extra, names):
    _refused(capsys, ["train", "--method", "sgan", "--model", "mlp", "--steps", "2", "--no-progress", "--out",
                      str(tmp_path / "r"), *extra], *names)
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_sgan_on_an_unlabelled_data_set_is_one_line(capsys, tmp_path):
    import numpy as np

    images = tmp_path / "digits.npy"
    np.save(images, np.zeros((200, 28, 28), dtype=np.uint8))
    _refused(capsys, ["train", "--method", "sgan", "--labels-per-class", "2", "--dataset", f"npy:{images}",
                      "--steps", "2", "--no-progress", "--out", str(tmp_path / "r")], "needs a labelled data set")


def test_the_method_recipe_fills_only_unset_fields():
    cfg = TrainConfig(method="sgan", labels_per_class=10, out="unused").resolved()
    assert (cfg.batch_size, cfg.lr_d, cfg.d_width) == (100, 1e-3, 250)
    assert TrainConfig(method="sgan", batch_size=50, out="unused").resolved().batch_size == 50
    assert TrainConfig(method="sgan", width=32, out="unused").resolved().d_width == 32  # --width sizes both
    assert TrainConfig(method="gan", model="dcgan", out="unused").resolved().batch_size == 32  # the image recipe
