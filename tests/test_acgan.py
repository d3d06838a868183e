"""AC-GAN: the auxiliary class loss against hand-computed values, D's two heads on one body, the phases' losses
recomputed by hand, and a run through the CLI with its refusals."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit.cli import main
from helpers import refused
from gankit.config import TrainConfig
from gankit.data.transforms import as_float
from gankit.distributed import BatchShard
from gankit.methods import Batch, Draws, Phase, StepContext, build_method
from gankit.methods.acgan import aux_class_loss
from gankit.models.base import GeneratorBase
from gankit.models.heads import HeadedDiscriminator
from gankit.stats import Stats
from gankit.training.data import load_training_data

TINY = dict(dataset="mnist5k", method="acgan", conditional=True, width=8, batch_size=16, log_every=5,
            sample_every=1000, ckpt_every=1000, progress=False, health=False)


def _cfg(tmp_path: Path, **kw) -> TrainConfig:
    return TrainConfig(**{**TINY, "steps": 10, "out": str(tmp_path / "run"), **kw})


@pytest.fixture(scope="module")
def ac_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("acgan") / "run"
    gankit.train(TrainConfig(**{**TINY, "steps": 20, "out": str(out)}))
    return out



def test_aux_class_loss_hand_computed():
    # softmax([ln 1, ln 2, ln 7]) = [0.1, 0.2, 0.7]; softmax([0, 0, 0]) = 1/3 each
    logits = torch.tensor([[0.0, math.log(2.0), math.log(7.0)], [0.0, 0.0, 0.0]])
    labels = torch.tensor([2, 0])
    assert aux_class_loss(logits, labels).item() == pytest.approx((-math.log(0.7) + math.log(3.0)) / 2, rel=1e-6)
    # a confident right answer costs ~0, a confident wrong one ~ its margin
    sure = torch.tensor([[20.0, 0.0, 0.0]])
    assert aux_class_loss(sure, torch.tensor([0])).item() == pytest.approx(0.0, abs=1e-7)
    assert aux_class_loss(sure, torch.tensor([1])).item() == pytest.approx(20.0, abs=1e-6)


def test_networks_conditional_g_and_a_d_that_names_the_class(tmp_path):
    cfg = _cfg(tmp_path).resolved()
    method = build_method(cfg, load_training_data(cfg, None))
    torch.manual_seed(0)
    nets = method.build()
    G, D = nets["G"], nets["D"]
    assert isinstance(G, GeneratorBase) and G.num_classes == 10
    assert isinstance(D, HeadedDiscriminator) and D.extra_dim == 10 and D.num_classes == 0
    D.eval()
    x = torch.randn(4, 1, 28, 28)
    logits, cls = D(x, heads=True)
    assert logits.shape == (4,) and cls.shape == (4, 10)
    assert torch.equal(D(x), logits) and torch.equal(D(x, torch.tensor([1, 2, 3, 4])), logits)  # no label input


def _ctx(method, nets, seed):
    draws = Draws(torch.Generator().manual_seed(seed), BatchShard(method.cfg.batch_size, 0, 1), torch.device("cpu"),
                  method.cfg.prior)
    return StepContext(0, 0, nets, dict(nets), dict(nets), draws, Stats())


@pytest.mark.parametrize("aux_on_fake", [False, True])
def test_phase_losses_add_the_weighted_class_terms(tmp_path, aux_on_fake):
    cfg = _cfg(tmp_path, aux_weight=0.4, aux_on_fake=aux_on_fake, mode_seeking=0.0).resolved()
    method = build_method(cfg, load_training_data(cfg, None))
    torch.manual_seed(0)
    nets = method.build()
    G, D = nets["G"], nets["D"]
    G.eval(), D.eval()
    x, y = as_float(method.data.x[:16]), method.data.y[:16]
    got_d = method.loss(Phase("D", "D"), Batch(x, y), _ctx(method, nets, 5))
    got_g = method.loss(Phase("G", "G", takes_batch=False), None, _ctx(method, nets, 6))

    g = torch.Generator().manual_seed(5)
    fake = G(torch.randn(16, G.z_dim, generator=g), y)  # D's fakes carry the real batch's labels
    (rl, rc), (fl, fc) = D(x, heads=True), D(fake, heads=True)
    ce = F.cross_entropy(rc, y) + (F.cross_entropy(fc, y) if aux_on_fake else 0.0)  # real only by default
    want_d = F.softplus(-rl).mean() + F.softplus(fl).mean() + 0.4 * ce
    assert got_d.item() == pytest.approx(want_d.item(), rel=1e-5)

    g = torch.Generator().manual_seed(6)
    yg = torch.randint(0, 10, (16,), generator=g)  # G's labels are drawn first, then z
    fl, fc = D(G(torch.randn(16, G.z_dim, generator=g), yg), heads=True)
    want_g = F.softplus(-fl).mean() + 0.4 * F.cross_entropy(fc, yg)
    assert got_g.item() == pytest.approx(want_g.item(), rel=1e-5)


def test_g_loss_adds_the_mode_seeking_term_on_pairs_of_one_label(tmp_path):
    cfg = _cfg(tmp_path, aux_weight=0.4, mode_seeking=0.3).resolved()
    method = build_method(cfg, load_training_data(cfg, None))
    torch.manual_seed(0)
    nets = method.build()
    G, D = nets["G"], nets["D"]
    G.eval(), D.eval()
    got = method.loss(Phase("G", "G", takes_batch=False), None, _ctx(method, nets, 6))
    g = torch.Generator().manual_seed(6)
    yg = torch.randint(0, 10, (8,), generator=g).repeat_interleave(2)  # rows (2i, 2i+1) share a label
    z = torch.randn(16, G.z_dim, generator=g)
    fake = G(z, yg)
    fl, fc = D(fake, heads=True)
    f, zz = fake.reshape(8, 2, -1), z.reshape(8, 2, -1)
    ratio = (f[:, 0] - f[:, 1]).abs().mean() / (zz[:, 0] - zz[:, 1]).abs().mean()
    want = F.softplus(-fl).mean() + 0.4 * F.cross_entropy(fc, yg) + 0.3 / (ratio + 1e-5)
    assert got.item() == pytest.approx(want.item(), rel=1e-5)


def test_run_logs_class_terms_and_samples_by_class(ac_run):
    row = json.loads((ac_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"Loss/D", "Loss/AC_real", "Loss/AC_fake", "Loss/AC_G", "AC/acc_real", "AC/acc_fake"} <= set(row)
    G = gankit.load(ac_run)
    assert G.num_classes == 10 and G.num_codes == 0
    assert G.sample(6, labels=3, seed=0).shape == (6, 1, 28, 28)
    cfg = json.loads((ac_run / "config.json").read_text())
    # the conditional images' mode-seeking weight; D's class term on real images only
    assert cfg["method"] == "acgan" and cfg["conditional"] is True and cfg["mode_seeking"] == 0.3
    assert cfg["aux_on_fake"] is False


@pytest.mark.slow
def test_cli_sample_interpolate_evaluate_export_doctor(ac_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(ac_run, run)
    assert main(["sample", str(run), "--n", "10", "--class", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["interpolate", str(run), "--class", "2", "--steps", "4", "--out", str(tmp_path / "i.png")]) == 0
    assert main(["evaluate", str(run), "--n", "200", "--json", str(tmp_path / "e.json")]) == 0
    assert "label_accuracy" in json.loads((tmp_path / "e.json").read_text())
    assert main(["export", str(run), "--format", "safetensors", "--out", str(tmp_path / "g.safetensors")]) == 0
    assert main(["doctor", str(run)]) == 0
    capsys.readouterr()
    refused(capsys, ["sample", str(run), "--code", "1"], "no categorical code")
    refused(capsys, ["interpolate", str(run), "--code", "1"], "no categorical code")


@pytest.mark.parametrize("flags,words", [
    ([], "add --conditional"),
    (["--conditional", "--dataset", "folder:/nonexistent-folder-for-gankit"], "nonexistent"),
    (["--conditional", "--aux-weight", "nan"], "'aux_weight'"),
    (["--conditional", "--aux-weight", "-1"], "'aux_weight'"),
    (["--conditional", "--reuse-fake"], "--reuse-fake"),
    (["--conditional", "--model", "classic"], "--model dcgan or mlp"),
])
def test_bad_acgan_flags_are_refused_and_write_nothing(flags, words, tmp_path, capsys):
    out = tmp_path / "new"
    refused(capsys, ["train", "--method", "acgan", "--width", "8", "--steps", "2", "--no-progress", "--out", str(out),
                     *flags], words)
    assert not out.exists()


def test_unlabelled_data_is_refused(tmp_path):
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="labelled"):
        gankit.train(TrainConfig(method="acgan", conditional=True, steps=2, progress=False, out=str(tmp_path / "r")),
                     data=torch.rand(64, 1, 28, 28) * 2 - 1)


def test_per_class_diversity_hand_computed():
    from gankit.evaluation.diversity import mean_pairwise_l2, per_class_diversity

    # class 0: two fakes 3 apart in one pixel and 4 in another (distance 5), real ones 10 apart; class 1: three
    # fakes, all identical (distance 0), real ones 2 apart
    fake = torch.zeros(5, 1, 2, 2)
    fake[1, 0, 0, 0], fake[1, 0, 1, 1] = 3.0, 4.0
    fake_y = torch.tensor([0, 0, 1, 1, 1])
    real = torch.zeros(4, 1, 2, 2)
    real[1, 0, 0, 1] = 10.0
    real[3, 0, 1, 0] = 2.0
    real_y = torch.tensor([0, 0, 1, 1])
    assert mean_pairwise_l2(fake[:2]) == pytest.approx(5.0)
    d = per_class_diversity(fake, fake_y, real, real_y, 2)
    assert d["ratios"] == pytest.approx([0.5, 0.0]) and d["ratio_mean"] == pytest.approx(0.25)
    assert d["ratio_min"] == 0.0
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="class 1"):
        per_class_diversity(fake[:3], fake_y[:3], real, real_y, 2)


def test_resume_continues_bit_identically(tmp_path):
    """6 steps straight == 3 steps, then resumed to 6: every network, EMA copy, optimizer state and RNG."""
    from gankit import checkpoint as ckpt

    full = gankit.train(_cfg(tmp_path / "a", steps=6, ckpt_every=3))
    gankit.train(_cfg(tmp_path / "b", steps=3, ckpt_every=3))
    part = gankit.resume(tmp_path / "b" / "run", steps=6)
    a, b = ckpt.load(ckpt.resolve(full.out))[0], ckpt.load(ckpt.resolve(part.out))[0]
    assert set(a) == set(b) and any(k.startswith("D/extra.") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k
