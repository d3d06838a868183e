"""Convolutions as one matrix multiply on channels-last (NHWC) tensors, for the layers oneDNN runs slowly on CPU.

A strided convolution is im2col (gather every k x k window into a row) followed by a GEMM; a transposed
convolution is a GEMM followed by col2im (scatter-add every row back into its window). On NHWC memory a window
row is k*k runs of C contiguous floats, so im2col is one strided copy and col2im is k*k strided adds. Measured on
a 2-core AVX2 CPU (bench/run.py), oneDNN is near the matmul roof on the wide middle layers of a DCGAN but wastes
most of its time on the thin ones: D's first convolution (1 input channel), D's head (a 7x7 kernel to one
logit), G's projection from a 1x1 z and G's last layer (1 output channel). Those go through here.

The result is an NHWC view of the GEMM's output. Follow it with an out-of-place op: an in-place one on the view
(LeakyReLU(inplace=True)) makes autograd hand that op's backward an NCHW gradient beside NHWC values, a path
that ran 7x slower (6.5 against 0.9 ms per call on D's first activation at batch 128).

im2col and col2im are each other's adjoints, written as two autograd Functions whose backward is the other's
forward, so gradients of gradients (R1, WGAN-GP) work through them like through any other op.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class _Im2Col(torch.autograd.Function):
    """xp [B, Hp, Wp, C] (NHWC, padded) -> rows [B * Ho * Wo, k * k * C], one per k x k window at stride s."""

    @staticmethod
    def forward(ctx: Any, xp: Tensor, k: int, s: int, ho: int, wo: int) -> Tensor:
        ctx.geometry = (tuple(xp.shape), k, s, ho, wo)
        b, _, _, c = xp.shape
        xp = xp.contiguous()
        sb, sh, sw, _ = xp.stride()
        windows = xp.as_strided((b, ho, wo, k, k, c), (sb, s * sh, s * sw, sh, sw, 1))
        return windows.reshape(b * ho * wo, k * k * c)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, None, None, None, None]:
        shape, k, s, ho, wo = ctx.geometry
        return _Col2Im.apply(g, shape, k, s, ho, wo), None, None, None, None


class _Col2Im(torch.autograd.Function):
    """rows [B * Ho * Wo, k * k * C] -> [B, Hp, Wp, C]: every row added back into its k x k window (the adjoint)."""

    @staticmethod
    def forward(ctx: Any, rows: Tensor, shape: tuple[int, int, int, int], k: int, s: int, ho: int,
                wo: int) -> Tensor:
        ctx.geometry = (k, s, ho, wo)
        b, hp, wp, c = shape
        v = rows.contiguous().view(b, ho, wo, k, k, c)
        if ho == 1 and wo == 1 and (hp, wp) == (k, k):  # one window covering everything: no overlap to add
            return v.view(b, k, k, c).clone()
        out = rows.new_zeros(shape)
        for i in range(k):
            for j in range(k):
                out[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s, :] += v[:, :, :, i, j, :]
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, None, None, None, None, None]:
        k, s, ho, wo = ctx.geometry
        return _Im2Col.apply(g, k, s, ho, wo), None, None, None, None, None


def _nhwc(x: Tensor) -> Tensor:
    return x.permute(0, 2, 3, 1)  # [B, C, H, W] logical -> [B, H, W, C]; a view when x is channels-last


def _nchw(x: Tensor) -> Tensor:
    return x.permute(0, 3, 1, 2)  # back to the logical [B, C, H, W] order, channels-last in memory


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, stride: int, padding: int) -> Tensor:
    """F.conv2d(x, weight, bias, stride, padding) as im2col + GEMM.  x [B, C, H, W] -> [B, O, Ho, Wo] (NHWC)"""
    b, c, h, w = x.shape
    o, _, k, _ = weight.shape
    ho, wo = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    xp = _nhwc(x)
    if padding:
        xp = F.pad(xp, (0, 0, padding, padding, padding, padding))
    rows = _Im2Col.apply(xp, k, stride, ho, wo)  # [B*Ho*Wo, k*k*C]
    wm = weight.permute(0, 2, 3, 1).reshape(o, k * k * c)  # rows' (ky, kx, c) order
    out = rows @ wm.t() if bias is None else torch.addmm(bias, rows, wm.t())  # [B*Ho*Wo, O]
    return _nchw(out.view(b, ho, wo, o))


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None, stride: int, padding: int) -> Tensor:
    """F.conv_transpose2d(x, weight, bias, stride, padding) as GEMM + col2im.  [B, C, H, W] -> [B, O, Ho, Wo]"""
    b, c, h, w = x.shape
    _, o, k, _ = weight.shape
    ho, wo = (h - 1) * stride - 2 * padding + k, (w - 1) * stride - 2 * padding + k
    wm = weight.permute(0, 2, 3, 1).reshape(c, k * k * o)  # [C, (ky, kx, o)]
    rows = _nhwc(x).reshape(b * h * w, c) @ wm  # [B*H*W, k*k*O]: each input pixel's contribution to its window
    out = _Col2Im.apply(rows, (b, ho + 2 * padding, wo + 2 * padding, o), k, stride, h, w)
    if padding:
        out = out[:, padding:padding + ho, padding:padding + wo, :].contiguous()
    if bias is not None:
        out = out + bias
    return _nchw(out)


def converted_to_channels_last(weight: Tensor) -> bool:
    """Whether a 4-d weight was moved to channels-last (model.to(memory_format=channels_last)), read off its strides.
    is_contiguous() cannot tell for a one-channel weight ([O, 1, k, k] is both layouts at once), but the
    conversion still sets the channel stride to 1 where a plain weight has k * k, so compare the strides."""
    _, c, kh, kw = weight.shape
    nhwc, nchw = (c * kh * kw, 1, kw * c, c), (c * kh * kw, kh * kw, kw, 1)
    return weight.stride() == nhwc and nhwc != nchw


def _eligible(m: nn.Conv2d | nn.ConvTranspose2d, x: Tensor) -> bool:
    """The GEMM path: a module converted to channels-last (see converted_to_channels_last), an NHWC input, a square
    kernel, equal strides and paddings, zero padding, no dilation or groups."""
    k, s, p = m.kernel_size, m.stride, m.padding
    cl = torch.channels_last  # the switch is the module's own layout: model.to(memory_format=channels_last)
    return (x.dim() == 4 and x.is_contiguous(memory_format=cl) and converted_to_channels_last(m.weight)
            and k[0] == k[1]
            and s[0] == s[1] and isinstance(p, tuple) and p[0] == p[1] and m.dilation == (1, 1) and m.groups == 1
            and m.padding_mode == "zeros" and getattr(m, "output_padding", (0, 0)) == (0, 0))


class GemmConv2d(nn.Conv2d):
    """nn.Conv2d (same parameters and state_dict) that runs as im2col + GEMM on channels-last input."""

    def forward(self, x: Tensor) -> Tensor:
        if not _eligible(self, x):
            return super().forward(x)
        return conv2d(x, self.weight, self.bias, self.stride[0], self.padding[0])  # type: ignore[index]


class GemmConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d (same parameters and state_dict) that runs as GEMM + col2im on channels-last input."""

    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:
        if output_size is not None or not _eligible(self, x):
            return super().forward(x, output_size)
        return conv_transpose2d(x, self.weight, self.bias, self.stride[0], self.padding[0])  # type: ignore[index]
