"""The mode-collapse options of the GAN method: packing (PacGAN), unrolled D and minibatch discrimination, tested
for what each changes: shapes, grouping, gradients, and D's weights left alone by G's unrolled update."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import gankit
from gankit.config import TrainConfig
from gankit.errors import ConfigError
from gankit.methods.unroll import lookahead_step, unrolled_forward
from gankit.models import build_models
from gankit.models.minibatch import MinibatchDiscrimination, minibatch_features
from gankit.models.packing import PackedDiscriminator, pack_samples
from helpers import refused

TINY = ["--dataset", "ring8", "--model", "mlp", "--steps", "2", "--no-progress"]


# ------------------------------------------------------------------------------------------------ packing
def test_pack_samples_groups_consecutive_rows_along_channels() -> None:
    x = torch.arange(6 * 2 * 2 * 2, dtype=torch.float32).view(6, 2, 2, 2)  # [N=6, C=2, H, W]
    p = pack_samples(x, 3)
    assert p.shape == (2, 6, 2, 2)
    assert torch.equal(p[0], torch.cat([x[0], x[1], x[2]])) and torch.equal(p[1], torch.cat([x[3], x[4], x[5]]))
    with pytest.raises(ConfigError, match="divisible by 4"):
        pack_samples(x, 4)


@pytest.mark.parametrize("model,shape", [("mlp", (2,)), ("dcgan", (1, 28, 28)), ("mlp", (1, 28, 28))])
def test_packed_d_takes_m_times_the_width_and_scores_each_pack(model: str, shape: tuple[int, ...]) -> None:
    _, D = build_models(model, data_shape=shape, z_dim=4, pack=4)
    assert isinstance(D, PackedDiscriminator) and D.data_shape == shape
    first = next(m for m in D.inner.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    fan_in = first.in_features if isinstance(first, nn.Linear) else first.in_channels
    assert fan_in == 4 * (shape[0] if len(shape) == 3 and model != "mlp" else int(torch.tensor(shape).prod()))
    assert D(torch.randn(8, *shape)).shape == (2,)


def test_packs_hold_only_real_or_only_fake_samples(tmp_path: Path) -> None:
    """Through a whole training run: every input the (caller's) packed D sees is all real or all fake."""
    seen: list[torch.Tensor] = []

    class Spy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3 * 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N / 3, 3 * 2]
            seen.append(x.detach().clone())
            return self.lin(x).squeeze(1)

    real = torch.full((300, 2), 7.0)  # no generated point is exactly 7
    gankit.train(TrainConfig(steps=3, batch_size=12, pack=3, out=str(tmp_path / "run"), progress=False, r1=0.0,
                             health=False, model="mlp"), data=real, discriminator=Spy())
    rows = torch.cat([s for s in seen if s.shape == (4, 6)])
    assert len(rows) >= 3 * 2 * 4
    is_real = rows == 7.0
    assert (is_real.all(1) | ~is_real.any(1)).all(), "a pack mixed real and generated samples"
    assert is_real.all(1).any() and (~is_real.any(1)).any()


# ------------------------------------------------------------------------------------------- minibatch disc
def test_minibatch_features_measure_closeness_within_the_batch() -> None:
    T = torch.randn(4, 3, 5)  # [A, B, C]
    same = minibatch_features(torch.ones(6, 4), T)
    assert same.shape == (6, 3) and torch.allclose(same, torch.ones(6, 3))  # all alike: exp(0) from every other
    apart = minibatch_features(torch.eye(6, 4) * 100 + torch.arange(6.0)[:, None] * 50, T)
    assert apart.max() < 1e-3


def test_minibatch_d_scores_a_sample_by_its_batch() -> None:
    torch.manual_seed(0)
    for model, shape in (("mlp", (2,)), ("dcgan", (1, 28, 28))):
        _, D = build_models(model, data_shape=shape, z_dim=4, minibatch_disc=6)
        assert isinstance(D.mbd, MinibatchDiscrimination) and D.mbd.T.shape[1:] == (6, 5)
        nn.init.normal_(D.mbd.out.weight)  # starts at zero (D as without the layer); give it a say
        D.eval()  # no BatchNorm batch statistics: only minibatch features tie the samples together
        x = torch.randn(5, *shape)
        other = x.clone()
        other[1:] = x[0]  # the same first sample in a batch of its copies
        assert not torch.allclose(D(x)[0], D(other)[0])
        _, plain = build_models(model, data_shape=shape, z_dim=4)
        plain.eval()
        assert torch.allclose(plain(x)[0], plain(other)[0])


def test_minibatch_d_has_second_derivatives_for_r1() -> None:
    _, D = build_models("mlp", data_shape=(2,), z_dim=4, minibatch_disc=3)
    nn.init.normal_(D.mbd.out.weight)
    x = torch.randn(8, 2, requires_grad=True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    g.pow(2).sum().backward()
    assert D.mbd.T.grad is not None and D.mbd.T.grad.abs().sum() > 0


def test_minibatch_is_refused_for_models_without_it() -> None:
    with pytest.raises(ConfigError, match="mlp and dcgan"):
        build_models("classic", data_shape=(1, 28, 28), z_dim=4, minibatch_disc=4)


# -------------------------------------------------------------------------------------------------- unrolled
def _tiny() -> tuple[nn.Linear, nn.Linear, torch.Tensor, torch.Tensor]:
    torch.manual_seed(3)
    G, D = nn.Linear(3, 2), nn.Linear(2, 1)
    return G, D, torch.randn(16, 3), torch.randn(16, 2) + 2.0


def _d_loss(D, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:  # non-saturating D loss
    return F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()


def _g_grad(G: nn.Linear, D: nn.Linear, z: torch.Tensor, real: torch.Tensor, k: int, lr: float) -> torch.Tensor:
    G.zero_grad()
    fake = G(z)
    Dk = unrolled_forward(D, lambda d: _d_loss(d, real, fake), k, lr)
    F.softplus(-Dk(fake)).mean().backward()
    return G.weight.grad.clone()


def test_unrolled_g_gradient_matches_a_hand_built_lookahead_step() -> None:
    G, D, z, real = _tiny()
    lr = 0.5
    g0, g1 = _g_grad(G, D, z, real, 0, lr), _g_grad(G, D, z, real, 1, lr)
    assert not torch.allclose(g0, g1, atol=1e-6)  # the look-ahead changes G's gradient
    # by hand: D(x) = x w + b; dL/dw and dL/db in closed form, one normalised step, then G's loss at (w1, b1)
    G.zero_grad()
    fake = G(z)
    w, b = D.weight.detach().t(), D.bias.detach()  # [2, 1], [1]
    s_real = torch.sigmoid(-(real @ w + b))  # [16, 1]: -dsoftplus(-t)/dt
    s_fake = torch.sigmoid(fake @ w + b)  # [16, 1]
    gw = (-(s_real * real).mean(0) + (s_fake * fake).mean(0))[:, None]  # [2, 1]
    gb = -s_real.mean(0) + s_fake.mean(0)  # [1]
    w1 = w - lr * gw / gw.detach().pow(2).mean().sqrt()
    b1 = b - lr * gb / gb.detach().abs()
    F.softplus(-(fake @ w1 + b1)).mean().backward()
    assert torch.allclose(G.weight.grad, g1, atol=1e-6)


def test_unrolling_leaves_d_and_its_statistics_unchanged() -> None:
    torch.manual_seed(0)
    G, D = build_models("dcgan", data_shape=(1, 28, 28), z_dim=8, width=8)
    before = {k: v.clone() for k, v in D.state_dict().items()}
    for p in D.parameters():
        p.requires_grad_(False)  # as the loop freezes D in G's phase
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    fake = G(torch.randn(4, 8))
    Dk = unrolled_forward(D, lambda d: _d_loss(d, real, fake), 3, 1e-2)
    F.softplus(-Dk(fake)).mean().backward()
    assert all(torch.equal(before[k], v) for k, v in D.state_dict().items())
    assert all(p.grad is None for p in D.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())


def test_lookahead_step_moves_about_lr_per_entry() -> None:
    p, g = torch.zeros(100), torch.randn(100) * 1e-3
    assert torch.isclose((lookahead_step(p, g, 0.1) - p).pow(2).mean().sqrt(), torch.tensor(0.1), rtol=1e-4)


def test_an_unrolled_step_changes_g_and_leaves_d_as_its_own_update_left_it(tmp_path: Path) -> None:
    """One training step with and without --unrolled: D's update comes first and is the same, so D's weights
    after the step are bit-identical (G's look-ahead did not touch them); G's differ (its gradient went through
    D's look-ahead)."""
    from gankit import checkpoint as ckpt

    weights = {}
    for k in (0, 2):
        r = gankit.train(TrainConfig(dataset="ring8", model="mlp", steps=1, unrolled=k, out=str(tmp_path / f"u{k}"),
                                     progress=False, health=False))
        weights[k] = ckpt.load(r.checkpoint)[0]
    d_keys = [k for k in weights[0] if k.startswith("D/")]
    g_keys = [k for k in weights[0] if k.startswith("G/")]
    assert d_keys and g_keys
    assert all(torch.equal(weights[0][k], weights[2][k]) for k in d_keys)
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in g_keys)


# ---------------------------------------------------------------------------------------------------- config
def test_options_are_checked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'pack'"):
        TrainConfig(method="bigan", pack=2)
    with pytest.raises(ConfigError, match="divide batch_size"):
        TrainConfig(pack=3, batch_size=64)
    with pytest.raises(ConfigError, match="conditional"):
        TrainConfig(pack=2, conditional=True)
    refused(capsys, ["train", *TINY, "--out", str(tmp_path / "a"), "--pack", "0"], "'pack'")
    refused(capsys, ["train", *TINY, "--out", str(tmp_path / "b"), "--unrolled", "-1"], "'unrolled'")
    refused(capsys, ["train", *TINY, "--out", str(tmp_path / "c"), "--pack", "3"], "'pack' 3")
    refused(capsys, ["train", "--model", "classic", "--steps", "1", "--out", str(tmp_path / "d"),
                     "--minibatch-disc", "4"], "minibatch")
    assert not any((tmp_path / n).exists() for n in "abcd")
