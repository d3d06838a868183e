import pytest
import torch
from torch import nn

from gankit.regularizers import (add_instance_noise, ema_update, gradient_penalty, instance_noise_std, mode_seeking_loss,
                                 r1_penalty)


class LinearD(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)
        self.seen = None

    def forward(self, x):
        self.seen = x.detach().clone()
        return (x.flatten(1) * self.w).sum(1)


def test_penalty_zero_for_unit_norm_linear_d():
    w = torch.randn(12)
    D = LinearD(w / w.norm())
    real, fake = torch.randn(8, 3, 2, 2), torch.randn(8, 3, 2, 2)
    assert gradient_penalty(D, real, fake).item() == pytest.approx(0.0, abs=1e-6)


def test_penalty_value_for_other_norm_and_backprop():
    w = torch.randn(12)
    D = LinearD(3.0 * w / w.norm())
    gp = gradient_penalty(D, torch.randn(5, 12), torch.randn(5, 12), weight=10.0)
    assert gp.item() == pytest.approx(10.0 * (3.0 - 1.0) ** 2, rel=1e-5)
    gp.backward()
    assert D.w.grad is not None and D.w.grad.abs().sum() > 0


def test_one_alpha_per_sample():
    D = LinearD(torch.ones(12))
    real, fake = torch.randn(6, 3, 2, 2), torch.randn(6, 3, 2, 2)
    gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(0))
    xhat = D.seen
    ratio = (xhat - fake) / (real - fake)  # = alpha, the same for every pixel of a sample
    assert torch.allclose(ratio, ratio[:, :1, :1, :1].expand_as(ratio), atol=1e-4)
    assert ratio[:, 0, 0, 0].std() > 0  # and different across samples


def test_instance_noise_schedule():
    assert instance_noise_std(0, 100, 0.2) == 0.2
    assert instance_noise_std(50, 100, 0.2) == pytest.approx(0.1)
    assert instance_noise_std(100, 100, 0.2) == 0.0 and instance_noise_std(150, 100, 0.2) == 0.0
    x = torch.zeros(4, 3)
    assert add_instance_noise(x, 0.0) is x
    assert add_instance_noise(x, 1.0, torch.Generator().manual_seed(0)).abs().sum() > 0


def test_ema_update_math_and_buffers():
    a, b = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    with torch.no_grad():
        a.weight.fill_(1.0)
        b.weight.fill_(3.0)
        b.running_mean.fill_(7.0)
    ema_update(a, b, decay=0.9)
    assert torch.allclose(a.weight, torch.full((3,), 0.9 * 1.0 + 0.1 * 3.0))
    assert torch.equal(a.running_mean, b.running_mean)


def test_r1_penalty_hand_computed():
    """D(x) = sum(x^2) has gradient 2x, so R1 = gamma/2 * mean_i 4 ||x_i||^2; and the penalty must carry
    gradient to D's weights (it is minimised by D)."""
    x = torch.tensor([[1.0, 2.0], [0.0, -3.0]])
    r1 = r1_penalty(lambda v: (v * v).sum(dim=1), x, gamma=0.5)
    assert r1.item() == pytest.approx(0.25 * (4 * 5 + 4 * 9) / 2)
    lin = torch.nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 4.0]]))
    r1 = r1_penalty(lambda v: lin(v).squeeze(1), x, gamma=2.0)  # grad = w for every sample: gamma/2 * 25
    assert r1.item() == pytest.approx(25.0)
    r1.backward()
    assert torch.allclose(lin.weight.grad, 2.0 * lin.weight.detach())  # d/dw (||w||^2) = 2w


def test_mode_seeking_loss_hand_computed():
    """Pairs are rows (2i, 2i+1): the ratio is mean |image difference| over mean |z difference|."""
    z = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [2.0, 4.0]])  # |dz| means: 1 and 1 -> 1
    fake = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])  # 0.5 and 0 -> 0.25
    assert mode_seeking_loss(fake, z, weight=2.0, eps=0.0).item() == pytest.approx(2.0 / 0.25)
    # images that ignore z (collapse within a class) make the term huge; that is what G is pushed away from
    same = torch.ones(4, 3)
    assert mode_seeking_loss(same, z, weight=1.0).item() == pytest.approx(1e5)
    # the term carries gradient to the images: pulling a pair apart lowers it
    f = fake.clone().requires_grad_(True)
    mode_seeking_loss(f, z, weight=1.0).backward()
    assert f.grad[0].sum() > 0 and f.grad[1].sum() < 0  # row 0 moves down, row 1 up: further apart


def test_mode_seeking_loss_needs_pairs():
    with pytest.raises(ValueError, match="pairs"):
        mode_seeking_loss(torch.zeros(3, 2), torch.zeros(3, 2), weight=1.0)
