"""SAGAN's self-attention block against a hand-written attention, its identity start (gamma = 0), the kept
attention maps, and the model around it."""

import math

import pytest
import torch

from gankit.models import build_models
from gankit.models.attention import SelfAttention


def test_gamma_zero_is_exactly_the_identity():
    torch.manual_seed(0)
    block = SelfAttention(16)
    x = torch.randn(3, 16, 5, 4)
    assert float(block.gamma.detach()) == 0.0  # the paper's initialisation
    assert torch.equal(block(x), x)


def _by_hand(block: SelfAttention, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """y_j = gamma * sum_i beta_ji h(x_i) + x_j, with beta_ji = exp(s_ij) / sum_i exp(s_ij) and s_ij = f(x_i).g(x_j),
    position by position in plain Python loops; returns (y, beta [N, j, i])."""
    n, c, hh, ww = x.shape
    wf, wg, wh = (m.weight[:, :, 0, 0].tolist() for m in (block.f, block.g, block.h))
    gamma = float(block.gamma.detach())
    pos = [(r, q) for r in range(hh) for q in range(ww)]
    y = torch.zeros_like(x)
    beta = torch.zeros(n, len(pos), len(pos), dtype=x.dtype)

    def proj(w, b, p):  # a 1x1 convolution at one position
        return [sum(w[o][ci] * float(x[b, ci, p[0], p[1]]) for ci in range(c)) for o in range(len(w))]

    for b in range(n):
        f = [proj(wf, b, p) for p in pos]
        g = [proj(wg, b, p) for p in pos]
        h = [proj(wh, b, p) for p in pos]
        for j, pj in enumerate(pos):
            s = [sum(fi * gj for fi, gj in zip(f[i], g[j])) for i in range(len(pos))]
            top = max(s)
            e = [math.exp(v - top) for v in s]
            weights = [v / sum(e) for v in e]
            for i in range(len(pos)):
                beta[b, j, i] = weights[i]
            for ci in range(c):
                o = sum(weights[i] * h[i][ci] for i in range(len(pos)))
                y[b, ci, pj[0], pj[1]] = gamma * o + float(x[b, ci, pj[0], pj[1]])
    return y, beta


def test_matches_hand_written_attention_and_keeps_its_map():
    torch.manual_seed(1)
    block = SelfAttention(8).double()  # f and g project to 8 / 8 = 1 channel
    with torch.no_grad():
        for m in (block.f, block.g, block.h):
            m.weight.normal_(0.0, 0.7)
        block.gamma.fill_(0.8)
    block.keep_map = True
    x = torch.randn(2, 8, 2, 3, dtype=torch.float64)
    want, beta = _by_hand(block, x)
    got = block(x)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    assert block.last_map.shape == (2, 6, 6)
    torch.testing.assert_close(block.last_map, beta, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(block.last_map.sum(-1), torch.ones(2, 6, dtype=torch.float64))


def test_no_map_is_kept_unless_asked():
    block = SelfAttention(8)
    block(torch.randn(1, 8, 3, 3))
    assert block.last_map is None


def test_gamma_learns():
    torch.manual_seed(0)
    block = SelfAttention(8)
    block(torch.randn(2, 8, 3, 3)).square().sum().backward()
    assert block.gamma.grad is not None and float(block.gamma.grad) != 0.0


@pytest.mark.parametrize("size,side", [(28, 14), (32, 16), (64, 32)])
def test_sagan_attends_on_the_largest_hidden_map(size, side):
    torch.manual_seed(0)
    G, D = build_models("sagan", data_shape=(1, size, size), z_dim=8, width=4)
    G.attention.keep_map = D.attention.keep_map = True
    x = G(torch.randn(2, 8))
    assert x.shape == (2, 1, size, size)
    assert D(x).shape == (2,)
    assert G.attention.last_map.shape == D.attention.last_map.shape == (2, side * side, side * side)
