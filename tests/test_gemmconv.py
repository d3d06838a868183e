"""gemmconv: convolutions as im2col/col2im + GEMM on channels-last tensors agree with PyTorch's, values and
gradients of every order (R1 and WGAN-GP differentiate through D twice)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gankit.models.gemmconv import GemmConv2d, GemmConvTranspose2d, conv2d, conv_transpose2d

CL = torch.channels_last
# (batch, in channels, size, out channels, kernel, stride, padding): DCGAN's 4/2/1, a head's full kernel,
# a 1x1 projection, odd sizes and a stride without overlap
CASES = [(3, 2, 6, 4, 4, 2, 1), (2, 3, 7, 5, 7, 1, 0), (2, 3, 1, 4, 7, 1, 0), (2, 5, 5, 3, 3, 1, 1),
         (2, 4, 9, 3, 3, 2, 0), (2, 2, 4, 3, 2, 2, 0)]
# the same kinds for the transposed convolution, on smaller inputs (its outputs grow, and gradgradcheck with them)
T_CASES = [(2, 2, 3, 3, 4, 2, 1), (2, 3, 1, 4, 7, 1, 0), (2, 2, 3, 3, 3, 1, 1), (2, 2, 4, 3, 3, 2, 0),
           (2, 2, 3, 3, 2, 2, 0)]


def _x(b, c, h):
    return torch.randn(b, c, h, h, dtype=torch.double).contiguous(memory_format=CL).requires_grad_(True)


def _weight(kind, c, o, k):
    shape = (o, c, k, k) if kind == "conv" else (c, o, k, k)
    return torch.randn(*shape, dtype=torch.double, requires_grad=True)


OPS = {"conv": (conv2d, F.conv2d), "transposed": (conv_transpose2d, F.conv_transpose2d)}


@pytest.mark.parametrize("kind,case", [("conv", c) for c in CASES] + [("transposed", c) for c in T_CASES])
def test_matches_torch_with_gradients_of_gradients(kind, case):
    b, c, h, o, k, s, p = case
    if kind == "conv" and h + 2 * p < k:
        pytest.skip("kernel larger than the padded input")
    ours, theirs = OPS[kind]
    torch.manual_seed(0)
    x, w = _x(b, c, h), _weight(kind, c, o, k)
    bias = torch.randn(o, dtype=torch.double, requires_grad=True)
    got, want = ours(x, w, bias, s, p), theirs(x, w, bias, s, p)
    assert got.shape == want.shape and torch.allclose(got, want, atol=1e-12)
    assert got.is_contiguous(memory_format=CL)
    assert ours(x, w, None, s, p).is_contiguous(memory_format=CL)  # dense NHWC without a bias to add as well
    fn = lambda x, w, bias: ours(x, w, bias, s, p)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, w, bias))
    assert torch.autograd.gradgradcheck(fn, (x, w, bias))


def test_modules_switch_on_the_channels_last_layout_only():
    """Same parameters and state_dict as the nn classes; the GEMM path only for a module moved to channels-last
    (so default runs keep PyTorch's kernels bit for bit)."""
    torch.manual_seed(0)
    ref = nn.ConvTranspose2d(6, 4, 7, 1, 0, bias=False)
    m = GemmConvTranspose2d(6, 4, 7, 1, 0, bias=False)
    m.load_state_dict(ref.state_dict())
    assert m.state_dict().keys() == ref.state_dict().keys()
    z = torch.randn(5, 6, 1, 1)
    out = m(z)
    assert torch.equal(out, ref(z)) and out.is_contiguous()  # contiguous module: PyTorch's own kernel, NCHW out
    m = m.to(memory_format=CL)
    out = m(z)
    assert out.is_contiguous(memory_format=CL) and torch.allclose(out, ref(z), atol=1e-6)
    head = GemmConv2d(6, 1, 7, 1, 0).to(memory_format=CL)
    ref_head = nn.Conv2d(6, 1, 7, 1, 0)
    ref_head.load_state_dict(head.state_dict())
    h = torch.randn(3, 6, 7, 7).contiguous(memory_format=CL)
    assert torch.allclose(head(h), ref_head(h), atol=1e-6)


@pytest.mark.parametrize("shape", [(64, 1, 4, 4), (1, 64, 4, 4), (8, 3, 4, 4), (1, 128, 7, 7), (4, 6, 1, 1)])
def test_channels_last_is_read_off_the_strides_even_for_one_channel(shape):
    """A one-channel weight [O, 1, k, k] is contiguous in both layouts, so is_contiguous() cannot say whether the
    model was moved to channels-last; the strides can (DCGAN's thin first and last layers depend on it)."""
    from gankit.models.gemmconv import converted_to_channels_last

    w = torch.randn(*shape)
    assert not converted_to_channels_last(w)
    assert converted_to_channels_last(w.to(memory_format=CL))
    assert converted_to_channels_last(nn.Conv2d(shape[1], shape[0], shape[2]).to(memory_format=CL).weight)


@pytest.mark.parametrize("kind", ["conv", "transposed"])
def test_thin_one_channel_layers_take_the_gemm_path_on_channels_last_only(kind, monkeypatch):
    """D's first layer (1 -> 64) and G's last (64 -> 1) run as GEMMs on channels-last (oneDNN is slow on one
    channel) and keep PyTorch's kernel in the default layout; both agree with nn's modules."""
    import gankit.models.gemmconv as gc

    calls = []
    fn = "conv2d" if kind == "conv" else "conv_transpose2d"
    real = getattr(gc, fn)
    monkeypatch.setattr(gc, fn, lambda *a: calls.append(1) or real(*a))
    torch.manual_seed(0)
    if kind == "conv":
        ref, m, x = nn.Conv2d(1, 8, 4, 2, 1, bias=False), GemmConv2d(1, 8, 4, 2, 1, bias=False), torch.randn(3, 1, 8, 8)
    else:
        ref, m = nn.ConvTranspose2d(8, 1, 4, 2, 1, bias=False), GemmConvTranspose2d(8, 1, 4, 2, 1, bias=False)
        x = torch.randn(3, 8, 4, 4)
    m.load_state_dict(ref.state_dict())
    want = ref(x)
    assert torch.equal(m(x), want) and not calls  # default layout: PyTorch's own kernel
    m = m.to(memory_format=CL)
    got = m(x.contiguous(memory_format=CL))
    assert calls and torch.allclose(got, want, atol=1e-6)
