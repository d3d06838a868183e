"""InfoGAN: the information term against hand-computed values, the coded latent's distributions, Q sharing D's
body, the phases' losses recomputed by hand, the best code -> class assignment, and the run through the CLI
(sample / interpolate --code, evaluate, export, doctor) with its refusals."""

from __future__ import annotations

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
from gankit.distributed import BatchShard
from gankit.errors import ConfigError
from gankit.evaluation.clustering import best_assignment, cluster_accuracy, confusion, exact_assignment
from gankit.methods import Draws, Phase, StepContext, build_method
from gankit.methods.infogan import build_info_networks, info_loss, info_terms
from gankit.models.heads import CodedGenerator, HeadedDiscriminator
from gankit.stats import Stats
from gankit.training.data import load_training_data

TINY = dict(dataset="mnist5k", method="infogan", width=8, batch_size=16, log_every=5, sample_every=1000,
            ckpt_every=1000, progress=False, health=False)


def _cfg(tmp_path: Path, **kw) -> TrainConfig:
    return TrainConfig(**{**TINY, "steps": 10, "out": str(tmp_path / "run"), **kw})


@pytest.fixture(scope="module")
def info_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("infogan") / "run"
    gankit.train(TrainConfig(**{**TINY, "steps": 30, "out": str(out)}))
    return out



# ---------------------------------------------------------------------------------------------------- the term
def test_info_terms_hand_computed():
    # softmax([0, ln 3]) = [1/4, 3/4]: category 1 costs ln(4/3); softmax([2, 0])[1] = 1 / (1 + e^2)
    logits = torch.tensor([[0.0, math.log(3.0)], [2.0, 0.0]])
    cat = torch.tensor([1, 1])
    # N(mean, 1): NLL = 0.5 (c - mean)^2 + 0.5 ln(2 pi), summed over the two codes, averaged over the two rows
    mean = torch.tensor([[0.5, 0.0], [0.0, 0.0]])
    cont = torch.tensor([[-0.5, 0.0], [0.0, 1.0]])
    ce, nll = info_terms(logits, cat, mean, cont)
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    want_ce = (math.log(4 / 3) + math.log(1 + math.e ** 2)) / 2
    want_nll = ((0.5 * 1.0 + 2 * half_log_2pi) + (0.5 * 1.0 + 2 * half_log_2pi)) / 2
    assert ce.item() == pytest.approx(want_ce, rel=1e-6)
    assert nll.item() == pytest.approx(want_nll, rel=1e-6)
    assert info_loss(logits, cat, mean, cont, 1.0, 0.1).item() == pytest.approx(want_ce + 0.1 * want_nll, rel=1e-6)
    assert info_loss(logits, cat, None, None, 2.0, 0.1).item() == pytest.approx(2 * want_ce, rel=1e-6)
    assert info_loss(None, None, mean, cont, 1.0, 0.5).item() == pytest.approx(0.5 * want_nll, rel=1e-6)


def test_perfect_q_bound_reaches_the_code_entropy():
    """With Q certain of the right category the cross-entropy is ~0, so H(c) - CE = ln K, the most I(c; x) can be."""
    cat = torch.arange(10)
    logits = 50.0 * F.one_hot(cat, 10).float()
    ce, _ = info_terms(logits, cat, None, None)
    assert math.log(10) - ce.item() == pytest.approx(math.log(10), abs=1e-6)


# ---------------------------------------------------------------------------------------------------- the latent
def _coded(prior: str) -> CodedGenerator:
    from gankit.models import build_models

    base = build_models("mlp", data_shape=(2,), z_dim=5 + 4 + 2, width=8)[0]
    return CodedGenerator(base, noise=5, cat=4, cont=2, prior=prior)


@pytest.mark.parametrize("prior", ["gaussian", "uniform"])
def test_codes_read_off_prior_draws_have_the_papers_distributions(prior):
    from gankit.models.prior import sample_prior

    G = _coded(prior)
    z = sample_prior(prior, 40000, G.z_dim, torch.Generator().manual_seed(0), "cpu")
    cat, cont = G.codes(z)
    freq = torch.bincount(cat, minlength=4).double() / len(cat)
    assert torch.allclose(freq, torch.full((4,), 0.25, dtype=torch.double), atol=0.01)  # uniform categories
    assert cont.min() > -1 and cont.max() < 1
    assert cont.mean().abs() < 0.02 and (cont.var() - 1 / 3).abs() < 0.01  # U(-1, 1): mean 0, variance 1/3
    # quartiles of U(-1, 1) are -0.5, 0, 0.5
    q = torch.quantile(cont[:, 0], torch.tensor([0.25, 0.5, 0.75]))
    assert torch.allclose(q, torch.tensor([-0.5, 0.0, 0.5]), atol=0.02)


@pytest.mark.parametrize("prior", ["gaussian", "uniform"])
def test_with_codes_writes_the_codes_it_is_given(prior):
    G = _coded(prior)
    z = torch.randn(6, G.z_dim, generator=torch.Generator().manual_seed(1))
    cont = torch.tensor([[-0.9, 0.3]] * 6)
    z2 = G.with_codes(z, cat=torch.tensor([0, 1, 2, 3, 2, 1]), cont=cont)
    cat, got = G.codes(z2)
    assert cat.tolist() == [0, 1, 2, 3, 2, 1]
    assert torch.allclose(got, cont, atol=1e-5)
    assert torch.equal(z2[:, :5], z[:, :5])  # the noise is left as it was
    assert G.codes(G.with_codes(z, cat=3))[0].tolist() == [3] * 6


def test_generator_input_is_noise_one_hot_and_codes():
    G = _coded("uniform")
    seen = {}
    G.base.register_forward_pre_hook(lambda m, args: seen.setdefault("h", args[0]))
    z = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.5, -0.3, 0.7, 0.1, -0.9, 0.25, -0.75]])
    G(z)
    assert seen["h"][0].tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.0, 1.0, 0.0, 0.0, 0.25, -0.75])
    with pytest.raises(ConfigError, match="no class labels"):
        G(z, torch.tensor([1]))


def test_q_shares_the_discriminators_body():
    cfg = TrainConfig(dataset="mnist5k", method="infogan", width=8).resolved()
    G, D = build_info_networks(cfg, (1, 28, 28))
    assert G.z_dim == 62 + 10 + 2 and D.extra_dim == 12
    assert isinstance(D, HeadedDiscriminator)
    D.eval()
    x = torch.randn(3, 1, 28, 28)
    logits, q = D(x, heads=True)
    assert torch.equal(logits, D(x)) and q.shape == (3, 12)
    # a gradient of Q's output reaches the convolutions of D's body: the layers are shared, not copied
    q.sum().backward()
    body = [p for p in D.base.features.parameters()]
    assert body and all(p.grad is not None and p.grad.abs().sum() > 0 for p in body)
    assert D.base.head.weight.grad is None  # the real/fake head is not on Q's path


def test_on_mnist_sized_images_the_networks_are_the_papers():
    """G: FC 1024 -> FC 7x7x128 -> upconv 64 -> upconv 1; D: conv 64 -> conv 128 -> FC 1024 shared with Q's
    FC 128 head (Chen et al. 2016, table 1); other image sizes keep the DCGAN model."""
    from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
    from gankit.models.dense import DenseDiscriminator as InfoGANDiscriminator
    from gankit.models.dense import DenseGenerator as InfoGANGenerator

    cfg = TrainConfig(dataset="mnist", method="infogan").resolved()
    G, D = build_info_networks(cfg, (1, 28, 28))
    assert isinstance(G.base, InfoGANGenerator) and isinstance(D.base, InfoGANDiscriminator)
    dense = [m for m in G.base.dense if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in dense] == [(74, 1024), (1024, 128 * 7 * 7)]
    convs = [m for m in G.base.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in convs] == [
        (128, 64, (4, 4), (2, 2)), (64, 1, (4, 4), (2, 2))]
    convs = [m for m in D.base.features if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in convs] == [
        (1, 64, (4, 4), (2, 2)), (64, 128, (4, 4), (2, 2))]
    assert D.base.head.in_features == 1024 and D.extra[0].in_features == 1024 and D.extra[0].out_features == 128
    G.eval(), D.eval()
    z = torch.rand(5, G.z_dim) * 2 - 1
    x = G(z)
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1
    logits, q = D(x, heads=True)
    assert logits.shape == (5,) and q.shape == (5, 12)
    G32, D32 = build_info_networks(TrainConfig(dataset="mnist", method="infogan", image_size=32).resolved(),
                                   (1, 32, 32))
    assert isinstance(G32.base, DCGANGenerator) and isinstance(D32.base, DCGANDiscriminator)


def test_the_papers_networks_scale_with_width_and_refuse_other_shapes():
    from gankit.models.dense import DenseDiscriminator as InfoGANDiscriminator
    from gankit.models.dense import DenseGenerator as InfoGANGenerator

    G = InfoGANGenerator((1, 28, 28), 20, width=8)  # dense 1024 * 8 / 64 = 128 units, 16 and 8 channels
    assert G.dense[0].out_features == 128 and G.dense[3].out_features == 16 * 7 * 7
    assert InfoGANDiscriminator((1, 28, 28), width=8).head.in_features == 128
    for make in (lambda: InfoGANGenerator((3, 28, 28), 20), lambda: InfoGANDiscriminator((1, 32, 32))):
        with pytest.raises(ConfigError, match="1x28x28"):
            make()


# ---------------------------------------------------------------------------------------------------- the phases
def _ctx(method, nets, seed=5):
    gen = torch.Generator().manual_seed(seed)
    draws = Draws(gen, BatchShard(method.cfg.batch_size, 0, 1), torch.device("cpu"), method.cfg.prior)
    return StepContext(0, 0, nets, dict(nets), dict(nets), draws, Stats())


def test_phase_losses_are_the_gan_objective_plus_the_weighted_information_term(tmp_path):
    cfg = _cfg(tmp_path, info_weight=0.7, info_cont_weight=0.3).resolved()
    data = load_training_data(cfg, None)
    method = build_method(cfg, data)
    torch.manual_seed(0)
    nets = method.build()
    G, D = nets["G"], nets["D"]
    G.eval(), D.eval()  # no BatchNorm batch statistics: the recomputation below sees the same numbers
    from gankit.data.transforms import as_float
    from gankit.methods import Batch

    b = Batch(as_float(method.data.x[:16]), None)
    got_d = method.loss(Phase("D", "D"), b, _ctx(method, nets, seed=5))
    got_g = method.loss(Phase("G", "G", takes_batch=False), None, _ctx(method, nets, seed=6))

    from gankit.models.prior import sample_prior

    def by_hand(seed, phase):
        z = sample_prior(cfg.prior, 16, G.z_dim, torch.Generator().manual_seed(seed), "cpu")
        cat, cont = G.codes(z)
        fake = G(z)
        logits, q = D(fake, heads=True)
        ce = F.cross_entropy(q[:, :10], cat)
        nll = (0.5 * (cont - q[:, 10:]) ** 2 + 0.5 * math.log(2 * math.pi)).sum(1).mean()
        info = 0.7 * ce + 0.3 * nll
        if phase == "G":
            return F.softplus(-logits).mean() + info  # the non-saturating G loss
        real = D(b.x)
        return F.softplus(-real).mean() + F.softplus(logits).mean() + info

    assert got_d.item() == pytest.approx(by_hand(5, "D").item(), rel=1e-5)
    assert got_g.item() == pytest.approx(by_hand(6, "G").item(), rel=1e-5)


def test_training_logs_the_information_terms_and_they_fall(tmp_path):
    res = gankit.train(_cfg(tmp_path, steps=40, log_every=10))
    import json

    rows = [json.loads(line) for line in (res.out / "metrics.jsonl").read_text().splitlines()]
    assert {"Info/D_cat_ce", "Info/D_cont_nll", "Info/G_cat_ce", "Loss/Info_D", "Loss/Info_G"} <= set(rows[-1])
    # Q learns to read the categorical code off G's samples: the cross-entropy starts near ln 10 = 2.30 and falls
    first, last = rows[0]["Info/D_cat_ce"], rows[-1]["Info/D_cat_ce"]
    assert abs(first - math.log(10)) < 0.1 and last < first - 0.05, (first, last)


# ---------------------------------------------------------------------------------------------------- assignment
def test_best_assignment_hand_computed():
    counts = torch.tensor([[0, 5, 1], [3, 1, 0], [0, 4, 6]])
    # greedy (largest first: 6 at (2, 2), then 5 at (0, 1), then 3 at (1, 0)) is optimal here: 14
    assert best_assignment(counts) == {0: 1, 1: 0, 2: 2}
    # a table where greedy is wrong: taking 9 at (0, 0) forces 1 at (1, 1); the best is 8 + 8 = 16
    tricky = torch.tensor([[9, 8], [8, 1]])
    assert best_assignment(tricky) == exact_assignment(tricky) == {0: 1, 1: 0}
    # more clusters than classes: one cluster stays unmatched
    assert exact_assignment(torch.tensor([[1, 0], [5, 0], [0, 2]])) == {1: 0, 2: 1}


def test_exact_assignment_agrees_with_scipy_on_random_tables():
    g = torch.Generator().manual_seed(0)
    for _ in range(100):
        r, c = (int(v) for v in torch.randint(1, 7, (2,), generator=g))
        w = torch.randint(0, 30, (r, c), generator=g)
        a, b = exact_assignment(w), best_assignment(w)
        assert sum(int(w[i, j]) for i, j in a.items()) == sum(int(w[i, j]) for i, j in b.items())
        assert len(a) == min(r, c) and len(set(a.values())) == len(a)


def test_cluster_accuracy_of_a_permuted_labelling():
    true = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    pred = torch.tensor([2, 2, 0, 0, 1, 1, 0])  # clusters are the classes renamed, one sample astray
    s = cluster_accuracy(pred, true, 3, 3)
    assert s["accuracy"] == pytest.approx(6 / 7) and s["assignment"] == {2: 0, 0: 1, 1: 2}
    assert confusion(pred, true, 3, 3).sum() == 7
    with pytest.raises(ConfigError, match="cluster ids"):
        confusion(torch.tensor([3]), torch.tensor([0]), 3, 3)


# ---------------------------------------------------------------------------------------------------- a run
def test_load_sample_with_code(info_run):
    G = gankit.load(info_run)
    assert G.num_codes == 10 and G.num_classes == 0 and G.z_dim == 74
    x = G.sample(8, code=3, seed=1)
    assert x.shape == (8, 1, 28, 28) and torch.isfinite(x).all()
    z = G.with_code(G.sample_z(8, seed=1), 3)
    assert G.net.codes(z)[0].tolist() == [3] * 8
    assert torch.equal(x, G.net(z))  # the code is the only change to the drawn latent
    assert not torch.equal(x, G.sample(8, code=4, seed=1))
    assert G.interpolate(5, code=2, rows=2, seed=0).shape == (10, 1, 28, 28)
    for bad in (10, -1, True, 2.0):
        with pytest.raises(ConfigError, match="code must be an integer in 0..9"):
            G.sample(2, code=bad)


def test_code_accuracy_of_a_run(info_run):
    from gankit.evaluation.codes import code_accuracy

    x = torch.rand(50, 1, 28, 28) * 2 - 1
    y = torch.arange(50) % 10
    s = code_accuracy(info_run, x, y)
    assert 0.0 <= s["accuracy"] <= 1.0 and s["error"] == pytest.approx(1 - s["accuracy"])
    assert sum(map(sum, s["confusion"])) == 50 and len(s["assignment"]) == 10


def test_snapshot_grid_has_one_row_per_code(tmp_path):
    cfg = _cfg(tmp_path, n_samples=30).resolved()
    method = build_method(cfg, load_training_data(cfg, None))
    torch.manual_seed(0)
    nets = method.build()
    (z, y), nrow = method.fixed_inputs(nets, torch.device("cpu"))
    assert y is None and nrow == 3 and z.shape == (30, 74)
    assert nets["G"].codes(z)[0].tolist() == [k for k in range(10) for _ in range(3)]
    assert torch.equal(z[0, :62], z[3, :62])  # the same noise down each column


@pytest.mark.slow
def test_cli_sample_interpolate_evaluate_export_doctor(info_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(info_run, run)
    assert main(["sample", str(run), "--n", "16", "--code", "7", "--seed", "0", "--out", str(tmp_path / "s.png"),
                 "--npy", str(tmp_path / "s.npy")]) == 0
    assert (tmp_path / "s.png").exists()
    assert main(["interpolate", str(run), "--code", "1", "--steps", "4", "--out", str(tmp_path / "i.png")]) == 0
    assert main(["evaluate", str(run), "--n", "200", "--json", str(tmp_path / "e.json")]) == 0
    assert main(["export", str(run), "--format", "safetensors", "--out", str(tmp_path / "g.safetensors")]) == 0
    G = gankit.load(tmp_path / "g.safetensors")
    assert G.num_codes == 10
    assert torch.equal(G.sample(4, code=5, seed=3), gankit.load(run).sample(4, code=5, seed=3))
    assert main(["doctor", str(run)]) == 0
    capsys.readouterr()
    refused(capsys, ["sample", str(run), "--code", "10"], "code", "0..9")
    refused(capsys, ["sample", str(run), "--class", "3"], "unconditional")


def test_code_on_a_run_without_codes_is_one_line(tmp_path, capsys):
    out = tmp_path / "gan"
    assert main(["train", "--dataset", "ring8", "--model", "mlp", "--steps", "4", "--batch-size", "16",
                 "--no-progress", "--out", str(out)]) == 0
    capsys.readouterr()
    refused(capsys, ["sample", str(out), "--code", "3"], "no categorical code", "--method infogan")


@pytest.mark.parametrize("flags,words", [
    (["--conditional"], "drop --conditional"),
    (["--info-cat", "0", "--info-cont", "0"], "at least one code"),
    (["--info-cat", "1"], "'info_cat'"),
    (["--info-cat", "5000"], "'info_cat'"),
    (["--info-cont", "-1"], "'info_cont'"),
    (["--info-weight", "nan"], "'info_weight'"),
    (["--info-cont-weight", "-0.5"], "'info_cont_weight'"),
    (["--reuse-fake"], "--reuse-fake"),
    (["--model", "classic"], "--model dcgan or mlp"),
])
def test_bad_infogan_flags_are_refused_and_write_nothing(flags, words, tmp_path, capsys):
    out = tmp_path / "new"
    refused(capsys, ["train", "--method", "infogan", "--width", "8", "--steps", "2", "--no-progress", "--out",
                     str(out), *flags], words)
    assert not out.exists()


def test_toy_infogan_trains(tmp_path):
    res = gankit.train(TrainConfig(dataset="ring8", model="mlp", method="infogan", info_cat=8, steps=20,
                                   batch_size=64, progress=False, out=str(tmp_path / "toy")))
    G = gankit.load(res.out)
    assert G.sample(100, code=2).shape == (100, 2)


def test_ink_moments_hand_computed():
    from gankit.evaluation.codes import ink_moments, pearson

    x = -torch.ones(3, 1, 5, 5)  # black
    x[0, 0, :, 2] = 1.0  # a vertical bar: no width across, no slant
    x[1, 0, 0, 2] = x[1, 0, 2, 0] = 1.0  # top right and bottom left: leans right, x spread +-1 about its mean
    x[2, 0, 0, 0] = x[2, 0, 2, 2] = 1.0  # top left and bottom right: leans left
    width, slant = ink_moments(x)
    assert width.tolist() == pytest.approx([0.0, 1.0, 1.0], abs=1e-6)
    assert slant.tolist() == pytest.approx([0.0, 1.0, -1.0], abs=1e-6)
    assert pearson(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 4.0, 6.0])) == pytest.approx(1.0)
    assert pearson(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([3.0, 2.0, 1.0])) == pytest.approx(-1.0)
    assert pearson(torch.tensor([1.0, 2.0]), torch.tensor([5.0, 5.0])) == 0.0


def test_recipes_of_the_two_methods():
    info = TrainConfig(dataset="mnist", method="infogan").resolved()
    assert (info.z_dim, info.lr_g, info.lr_d, info.batch_size, info.width, info.d_width) == (62, 1e-3, 2e-4, 64, 64,
                                                                                            64)
    ac = TrainConfig(dataset="mnist", method="acgan", conditional=True).resolved()
    cond = TrainConfig(dataset="mnist", conditional=True).resolved()
    assert ac.mode_seeking == cond.mode_seeking == 0.3  # AC-GAN takes the conditional images' mode-seeking term
    assert TrainConfig(dataset="mnist").resolved() == TrainConfig(dataset="mnist", method="gan").resolved()
    assert TrainConfig(dataset="mnist").resolved().z_dim == 100


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
