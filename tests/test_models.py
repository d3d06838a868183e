import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.models import MODEL_NAMES, build_models

IMAGE_SHAPES = [(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32), (1, 64, 64), (3, 64, 64)]
ONLY_SHAPE = {"dcgan-dense": (1, 28, 28)}  # models built for one image shape
CASES = ([(m, s) for m in MODEL_NAMES for s in IMAGE_SHAPES if ONLY_SHAPE.get(m, s) == s]
         + [("mlp", (1,)), ("mlp", (2,))])


@pytest.mark.parametrize("name,shape", CASES)
@pytest.mark.parametrize("cond", [None, "projection", "concat"])
def test_shapes_range_and_gradients(name, shape, cond):
    K = 10 if cond else 0
    G, D = build_models(name, data_shape=shape, z_dim=16, num_classes=K, cond_d=cond or "projection", width=8)
    y = torch.arange(4) % 10 if K else None
    x = G(torch.randn(4, 16), y)
    assert x.shape == (4, *shape)
    if len(shape) == 3:
        assert x.min() >= -1 and x.max() <= 1
    out = D(x, y)
    assert out.shape == (4,) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)
    assert G.z_dim == 16 and G.num_classes == K and G.data_shape == shape and G.model_name == name


def _types(m):
    return [type(x) for x in m.modules()]


def test_dcgan_follows_the_guidelines():
    G, D = build_models("dcgan", data_shape=(1, 64, 64), z_dim=100)
    for net in (G, D):
        t = _types(net)
        assert nn.Linear not in t and nn.MaxPool2d not in t and nn.AvgPool2d not in t
        assert nn.BatchNorm2d in t
    assert nn.ConvTranspose2d in _types(G) and nn.ReLU in _types(G) and nn.LeakyReLU not in _types(G)
    assert isinstance(list(G.modules())[-1], nn.Tanh)
    assert all(m.negative_slope == 0.2 for m in D.modules() if isinstance(m, nn.LeakyReLU))
    assert nn.ReLU not in _types(D)
    # BatchNorm neither on G's output nor on D's input layer
    first_d = [m for m in D.features][:2]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in first_d)
    convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.stride for c in convs[1:]] == [(2, 2)] * 4


def test_dcgan_init_std():
    G, _ = build_models("dcgan", data_shape=(1, 64, 64), z_dim=100)
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert w.std().item() == pytest.approx(0.02, rel=0.05)


def test_classic_layer_sequence():
    G, D = build_models("classic", data_shape=(1, 28, 28), z_dim=100)
    g = [type(m).__name__ for m in G.modules() if not isinstance(m, (nn.Sequential, type(G)))]
    assert g == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Upsample", "Conv2d",
                 "BatchNorm2d", "ReLU", "Upsample", "Conv2d", "Tanh"]
    assert G.fc[3].out_features == 128 * 7 * 7 and G.conv[1].out_channels == 64
    d = [type(m).__name__ for m in D.modules() if not isinstance(m, (nn.Sequential, type(D)))]
    assert d == ["Conv2d", "LeakyReLU", "MaxPool2d", "Conv2d", "LeakyReLU", "MaxPool2d", "Linear", "LeakyReLU",
                 "Linear"]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_conditioning_matters(name):
    torch.manual_seed(0)
    G, D = build_models(name, data_shape=(1, 28, 28), z_dim=8, num_classes=10, cond_d="projection")
    G.eval()
    D.eval()
    z = torch.randn(2, 8).repeat(1, 1)
    a, b = G(z, torch.tensor([1, 1])), G(z, torch.tensor([7, 7]))
    assert not torch.allclose(a, b)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        D.proj_embed.weight.normal_()
    assert not torch.allclose(D(x, torch.tensor([1, 1])), D(x, torch.tensor([7, 7])))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_conditional_d_starts_unsaturated(name):
    """A projection D must start near the unconditional one's scale: an N(0, 1) class embedding times sum-pooled
    features gave initial logits of ~30, a saturated D and one image per class."""
    torch.manual_seed(0)
    shape = (2,) if name == "mlp" else (1, 28, 28)
    _, D_cond = build_models(name, data_shape=shape, z_dim=8, num_classes=10, cond_d="projection")
    torch.manual_seed(0)
    _, D_plain = build_models(name, data_shape=shape, z_dim=8)
    x = torch.rand(64, *shape) * 2 - 1
    y = torch.arange(64) % 10
    with torch.no_grad():
        cond, plain = D_cond(x, y), D_plain(x)
    if name == "sagan":  # spectral norm shrinks the plain D's logits to ~0.07; unsaturated means sigmoid < 0.9
        assert cond.abs().mean() < 2.0
    else:
        assert cond.abs().mean() < 3 * plain.abs().mean() + 0.5


def test_errors():
    with pytest.raises(ConfigError, match="'resnet'"):
        build_models("resnet", data_shape=(1, 28, 28), z_dim=8)
    with pytest.raises(ConfigError, match=r"\(1, 48, 48\)"):
        build_models("dcgan", data_shape=(1, 48, 48), z_dim=8)
    with pytest.raises(ConfigError, match=r"\(2,\)"):
        build_models("classic", data_shape=(2,), z_dim=8)
    with pytest.raises(ConfigError, match="'dot'"):
        build_models("dcgan", data_shape=(1, 28, 28), z_dim=8, num_classes=10, cond_d="dot")
    G, D = build_models("mlp", data_shape=(2,), z_dim=8, num_classes=3)
    with pytest.raises(ConfigError, match="conditional"):
        G(torch.randn(2, 8))
    G, D = build_models("mlp", data_shape=(2,), z_dim=8)
    with pytest.raises(ConfigError, match="unconditional"):
        D(torch.randn(2, 2), torch.tensor([0, 1]))
    with pytest.raises(ConfigError, match="depth.*'dcgan'"):
        build_models("dcgan", data_shape=(1, 28, 28), z_dim=8, depth=3)
    with pytest.raises(ConfigError, match="depth must be > 0"):
        build_models("mlp", data_shape=(2,), z_dim=8, depth=0)


@pytest.mark.parametrize("shape, depth, widths", [((2,), None, [16, 16]), ((2,), 4, [16] * 4),
                                                  ((1, 28, 28), None, [16, 32, 64]), ((1, 28, 28), 2, [16, 32])])
def test_mlp_depth_sets_the_hidden_layers_of_both_nets(shape, depth, widths):
    G, D = build_models("mlp", data_shape=shape, z_dim=8, width=16, depth=depth)
    g = [m.out_features for m in G.net if isinstance(m, nn.Linear)][:-1]
    d = [m.out_features for m in D.features if isinstance(m, nn.Linear)]
    assert g == widths and d == widths[::-1]  # D mirrors G


@pytest.mark.parametrize("name", ["dcgan", "classic"])
def test_conv_d_sees_the_label_as_one_hot_maps(name):
    """Concat conditioning appends K fixed one-hot maps to the image: no learned label weights in D (a learned
    N(0, 1) embedding left D at chance on Fashion-MNIST), and the first layer sees exactly those maps."""
    _, D = build_models(name, data_shape=(1, 28, 28), z_dim=8, num_classes=10, cond_d="concat", width=8)
    assert not any("label" in k for k, _ in D.named_parameters())
    x, y = torch.zeros(3, 1, 28, 28), torch.tensor([0, 4, 9])
    maps = D.with_label_maps(x, y)
    assert maps.shape == (3, 11, 28, 28)
    assert torch.equal(maps[:, 1:, 5, 7], nn.functional.one_hot(y, 10).float())
    assert torch.equal(maps[:, :1], x)
