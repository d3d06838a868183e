"""Every objective against values computed by hand (math.log / math.exp, never the function under test)."""

import math

import pytest
import torch

from gankit.errors import ConfigError
from gankit.losses import LOSS_NAMES, get_loss

R = torch.tensor([2.0, -1.0])
F = torch.tensor([0.5, -3.0])


def sig(x):
    return 1 / (1 + math.exp(-x))


def mean(*v):
    return sum(v) / len(v)


# D's cross-entropy: -mean(log D(r)) - mean(log(1 - D(f)))
BCE_D = -mean(math.log(sig(2.0)), math.log(sig(-1.0))) - mean(math.log(1 - sig(0.5)), math.log(1 - sig(-3.0)))


@pytest.mark.parametrize("name,d,g", [
    ("minimax", BCE_D, mean(math.log(1 - sig(0.5)), math.log(1 - sig(-3.0)))),
    ("nonsaturating", BCE_D, -mean(math.log(sig(0.5)), math.log(sig(-3.0)))),
    ("wgan-gp", mean(0.5, -3.0) - mean(2.0, -1.0), -mean(0.5, -3.0)),
    ("hinge", mean(max(0, 1 - 2.0), max(0, 1 + 1.0)) + mean(max(0, 1 + 0.5), max(0, 1 - 3.0)), -mean(0.5, -3.0)),
])
def test_hand_computed(name, d, g):
    loss = get_loss(name)
    assert loss.d_loss(R, F).item() == pytest.approx(d, rel=1e-6)
    assert loss.g_loss(F).item() == pytest.approx(g, rel=1e-6)


@pytest.mark.parametrize("a,b,c", [(-1.0, 1.0, 0.0), (0.0, 1.0, 1.0)])
def test_lsgan_presets(a, b, c):
    loss = get_loss("lsgan", lsgan_abc=(a, b, c))
    d = 0.5 * mean((2.0 - b) ** 2, (-1.0 - b) ** 2) + 0.5 * mean((0.5 - a) ** 2, (-3.0 - a) ** 2)
    g = 0.5 * mean((0.5 - c) ** 2, (-3.0 - c) ** 2)
    assert loss.d_loss(R, F).item() == pytest.approx(d)
    assert loss.g_loss(F).item() == pytest.approx(g)
    assert not loss.probabilistic


def test_one_sided_label_smoothing():
    s = 0.1
    loss = get_loss("nonsaturating", label_smoothing=s)
    real = -mean(*[(1 - s) * math.log(sig(r)) + s * math.log(1 - sig(r)) for r in (2.0, -1.0)])
    fake = -mean(math.log(1 - sig(0.5)), math.log(1 - sig(-3.0)))  # fakes keep target 0
    assert loss.d_loss(R, F).item() == pytest.approx(real + fake, rel=1e-6)
    ls = get_loss("lsgan", label_smoothing=s, lsgan_abc=(-1.0, 1.0, 0.0))
    b = 1.0 - s * 2.0
    d = 0.5 * mean((2.0 - b) ** 2, (-1.0 - b) ** 2) + 0.5 * mean(1.5 ** 2, 2.0 ** 2)
    assert ls.d_loss(R, F).item() == pytest.approx(d)


def test_saturation_of_minimax_gradient():
    """When D rejects a fake (logit -8), minimax's gradient ~ sigmoid(f) is tiny; non-saturating's ~ -1."""
    f = torch.tensor([-8.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(get_loss("minimax").g_loss(f), f)
    (g_ns,) = torch.autograd.grad(get_loss("nonsaturating").g_loss(f), f)
    assert g_mm.item() == pytest.approx(-sig(-8.0), rel=1e-5)
    assert g_ns.item() == pytest.approx(-(1 - sig(-8.0)), rel=1e-5)
    assert abs(g_ns.item()) > 1000 * abs(g_mm.item())


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_stable_at_extreme_logits(name):
    big = torch.tensor([100.0, -100.0])
    loss = get_loss(name)
    assert torch.isfinite(loss.d_loss(big, -big)) and torch.isfinite(loss.g_loss(-big))
    x = big.clone().requires_grad_(True)
    loss.g_loss(x).backward()
    assert torch.isfinite(x.grad).all()


def test_errors_name_the_problem():
    with pytest.raises(ConfigError, match="'wgan'"):
        get_loss("wgan")
    with pytest.raises(ConfigError, match="hinge"):
        get_loss("hinge", label_smoothing=0.1)
    with pytest.raises(ConfigError, match="0.7"):
        get_loss("nonsaturating", label_smoothing=0.7)
    with pytest.raises(ConfigError, match="must differ"):
        get_loss("lsgan", lsgan_abc=(1.0, 1.0, 0.0))
