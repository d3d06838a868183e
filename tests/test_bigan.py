"""The bidirectional GAN (--method bigan): D's pairs (x, E(x)) and (G(z), z), the swapped objective of G and E,
the encoder through gankit.load and `gankit encode`, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import gankit
from gankit.cli import main
from gankit.config import TrainConfig
from gankit.data import load_dataset
from gankit.distributed import BatchShard
from gankit.errors import ConfigError
from gankit.losses import get_loss
from gankit.methods import Batch, Draws, StepContext, build_method
from gankit.methods.bigan import BiGANEncoder, JointDiscriminator
from gankit.stats import Stats

TINY = dict(dataset="mnist5k", method="bigan", model="mlp", width=16, d_width=8, z_dim=6, steps=6, batch_size=16,
            log_every=3, sample_every=100, ckpt_every=3, progress=False, health=False)


class PairSpy(nn.Module):
    """A D that records the pairs it is given and answers fixed logits: `answers[k]` for its k-th call."""

    def __init__(self, answers: list[float]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))  # so the loop's optimizer has something to hold
        self.answers, self.calls = answers, []

    def forward(self, x, z):
        self.calls.append((x.detach().clone(), z.detach().clone()))
        return torch.full((x.shape[0],), self.answers[len(self.calls) - 1]) + 0 * self.w + 0 * z.sum(1) + 0 * x.sum()


def _setup(answers):
    cfg = TrainConfig(**TINY, out="unused").resolved()
    method = build_method(cfg, load_dataset("mnist5k"))
    nets = method.build()
    nets["D"] = PairSpy(answers)
    nets["G"].eval(), nets["E"].eval()  # batch norm in eval mode: E(x) is a function of x alone, to compare
    gen = torch.Generator().manual_seed(5)
    draws = Draws(gen, BatchShard(4, 0, 1), torch.device("cpu"), "gaussian")
    ctx = StepContext(0, 0, nets, nets, nets, draws, Stats())
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    z = Draws(torch.Generator().manual_seed(5), BatchShard(4, 0, 1), torch.device("cpu"), "gaussian").z(6)
    return method, nets, ctx, x, z


def test_d_sees_the_real_pair_x_ex_and_the_fake_pair_gz_z():
    method, nets, ctx, x, z = _setup([0.5, -1.0])
    d_phase, _ = method.phases()
    loss = method.loss(d_phase, Batch(x, None), ctx)
    (x1, z1), (x2, z2) = nets["D"].calls
    with torch.no_grad():
        assert torch.equal(x1, x) and torch.equal(z1, nets["E"](x))  # real: (x, E(x))
        assert torch.equal(z2, z) and torch.equal(x2, nets["G"](z, None))  # fake: (G(z), z), z from the stream
    # non-saturating D loss: softplus(-real) + softplus(fake), by hand
    expected = np.log1p(np.exp(-0.5)) + np.log1p(np.exp(-1.0))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_g_and_e_minimise_the_objective_with_the_pairs_swapped():
    method, nets, ctx, x, z = _setup([2.0, 0.3])
    _, ge_phase = method.phases()
    loss = method.loss(ge_phase, Batch(x, None), ctx)
    (xf, zf), (xr, zr) = nets["D"].calls  # first the fake pair, then the real one
    with torch.no_grad():
        assert torch.equal(zf, z) and torch.equal(xf, nets["G"](z, None))
        assert torch.equal(xr, x) and torch.equal(zr, nets["E"](x))
    # (G(z), z) is scored as if it were real and (x, E(x)) as if it were fake: softplus(-2.0) + softplus(0.3)
    assert loss.item() == pytest.approx(np.log1p(np.exp(-2.0)) + np.log1p(np.exp(0.3)), abs=1e-6)
    assert loss.item() == pytest.approx(get_loss("nonsaturating").d_loss(torch.tensor([2.0]),
                                                                         torch.tensor([0.3])).item(), abs=1e-6)


def test_gradients_reach_g_and_e_through_the_pairs():
    cfg = TrainConfig(**TINY, out="unused").resolved()
    method = build_method(cfg, load_dataset("mnist5k"))
    nets = method.build()
    draws = Draws(torch.Generator().manual_seed(0), BatchShard(8, 0, 1), torch.device("cpu"), "gaussian")
    ctx = StepContext(0, 0, nets, nets, nets, draws, Stats())
    nets["D"].requires_grad_(False)
    method.loss(method.phases()[1], Batch(torch.rand(8, 1, 28, 28) * 2 - 1, None), ctx).backward()
    for name in ("G", "E"):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in nets[name].parameters()), name
    assert any(p.grad.abs().sum() > 0 for p in nets["E"].parameters())


def test_networks_shapes():
    E, D = BiGANEncoder((1, 28, 28), 6, width=4), JointDiscriminator((1, 28, 28), 6, width=4)
    x = torch.zeros(3, 1, 28, 28)
    assert E(x).shape == (3, 6) and D(x, E(x)).shape == (3,)


# ---------------------------------------------------------------------------------------------- a trained run
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bigan") / "run"
    gankit.train(TrainConfig(**TINY, out=str(out)))
    return out


def test_load_encodes_and_samples(run):
    G = gankit.load(run)
    x = load_dataset("mnist5k").x[:5]
    z = G.encode(x)
    assert z.shape == (5, 6) and torch.isfinite(z).all()
    assert torch.equal(z, G.encode(x))  # eval mode: batch norm's running statistics, no batch dependence
    assert torch.allclose(G.encode(x[:2]), z[:2], atol=1e-6)
    assert G.sample(3).shape == (3, 1, 28, 28)
    assert G(z).shape == (5, 1, 28, 28)  # reconstructions G(E(x))
    with pytest.raises(ConfigError, match="no network to classify with; train one with --method sgan"):
        G.classify(x)
    with pytest.raises(ConfigError, match="NaN or inf"):
        G.encode(torch.full((2, 1, 28, 28), float("nan")))


def test_encode_verb_writes_the_codes(run, tmp_path, capsys):
    x = load_dataset("mnist5k", compact=True).x[:7, 0].numpy()  # uint8 [7, 28, 28]
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "z.npy"
    assert main(["encode", str(run), "--images", str(tmp_path / "x.npy"), "--out", str(out)]) == 0
    z = np.load(out)
    assert z.shape == (7, 6) and z.dtype == np.float32
    expected = gankit.load(run).encode(torch.from_numpy(x).float()[:, None] / 127.5 - 1).numpy()
    np.testing.assert_allclose(z, expected, atol=1e-6)


def _refused(capsys, argv, *names):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and err.startswith("gankit: error: "), err
    for name in names:
        assert name in err, err


def test_encode_refusals(run, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((3, 28, 28), dtype=np.uint8))
    sgan = tmp_path / "sgan"
    gankit.train(TrainConfig(**{**TINY, "method": "sgan", "labels_per_class": 2, "steps": 1, "ckpt_every": 1},
                             out=str(sgan)))
    _refused(capsys, ["encode", str(sgan), "--images", str(tmp_path / "x.npy"), "--out", str(tmp_path / "z.npy")],
             "method 'sgan'", "no network to encode with", "--method bigan")
    _refused(capsys, ["encode", str(run), "--images", str(tmp_path / "none.npy"), "--out", str(tmp_path / "z.npy")],
             "none.npy")
    _refused(capsys, ["encode", str(run), "--images", str(tmp_path / "x.npy"), "--out", str(tmp_path)],
             "--out", "is a folder")
    assert not (tmp_path / "z.npy").exists()


@pytest.mark.parametrize("extra, names", [
    (["--loss", "wgan-gp"], ("wgan-gp", "gradient penalty")),
    (["--conditional"], ("--conditional",)),
    (["--dataset", "ring8"], ("ring8", "toy data")),
])
def test_bad_bigan_settings_are_one_line(capsys, tmp_path, extra, names):
    _refused(capsys, ["train", "--method", "bigan", "--model", "mlp", "--steps", "2", "--no-progress", "--out",
                      str(tmp_path / "r"), *extra], *names)


# ---------------------------------------------------------------------------------------------- the scores
def test_nearest_neighbour_accuracy_by_hand():
    from gankit.evaluation.representation import nearest_neighbour_accuracy

    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [10.0, 10.0]])
    train_y = torch.tensor([0, 1, 2])
    test = torch.tensor([[2.0, 0.1], [0.1, 3.0], [1.0, 1.1]])
    # cosine: nearest directions are rows 0, 1, 2 -> labels 0, 1, 2
    assert nearest_neighbour_accuracy(train, train_y, test, torch.tensor([0, 1, 2])) == 1.0
    # Euclidean: (2, .1) -> row 0; (.1, 3) -> row 1; (1, 1.1) -> row 1 (distance 1.0 against 1.1 to row 0)
    assert nearest_neighbour_accuracy(train, train_y, test, torch.tensor([0, 1, 1]), metric="euclidean") == 1.0
    assert nearest_neighbour_accuracy(train, train_y, test, torch.tensor([0, 1, 2]), metric="euclidean",
                                      chunk=2) == pytest.approx(2 / 3)


def test_reconstruction_scores_read_g_of_e_of_x(run):
    from gankit.evaluation.classifier import load_classifier
    from gankit.evaluation.representation import reconstruction_scores

    G = gankit.load(run)
    data = load_dataset("mnist5k")
    x, y = data.x[:20], data.y[:20]
    net = load_classifier("mnist")
    s = reconstruction_scores(G, x, y, net, batch_size=7)
    with torch.no_grad():
        rec = G(G.encode(x))
    assert s["reconstruction_accuracy"] == pytest.approx(float((net.embed(rec)[1].argmax(1) == y).float().mean()))
    assert s["original_accuracy"] >= 0.9  # the shipped classifier reads real digits
    assert s["reconstruction_l2"] == pytest.approx(float((rec - x).flatten(1).norm(dim=1).mean()), rel=1e-5)
