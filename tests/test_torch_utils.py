"""The shared torch and figure helpers: each restores what it changes, and measures what it says."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gankit.torch_utils import eval_mode, grad_norm, seeded, single_thread
from gankit.viz.figures import figure_to_array, new_figure, save_figure


@pytest.mark.parametrize("training", [True, False])
def test_eval_mode_restores_the_mode_even_on_exception(training):
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).train(training)
    with eval_mode(net) as m:
        assert m is net and not net.training and not net[1].training
    assert net.training is training and net[1].training is training
    with pytest.raises(RuntimeError), eval_mode(net):
        raise RuntimeError("inside")
    assert net.training is training and net[1].training is training


def test_eval_mode_updates_no_batchnorm_statistics():
    net = nn.BatchNorm1d(3).train()
    with eval_mode(net):
        net(torch.randn(8, 3) + 5)
    assert torch.equal(net.running_mean, torch.zeros(3)) and int(net.num_batches_tracked) == 0


def _with_grads() -> nn.Module:
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    net(torch.randn(16, 4, generator=torch.Generator().manual_seed(0))).pow(2).sum().backward()
    return net


def test_grad_norm_equals_clip_grad_norms_total_norm():
    net = _with_grads()
    got = grad_norm(net)
    assert isinstance(got, torch.Tensor) and got.ndim == 0
    want = nn.utils.clip_grad_norm_(net.parameters(), max_norm=float("inf"))
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(grad_norm(list(net.parameters())), want)  # parameters, as clip_grad_norm_ takes
    torch.testing.assert_close(grad_norm(net[0].weight), net[0].weight.grad.norm())
    assert grad_norm(net, dtype=torch.float64).dtype == torch.float64
    torch.testing.assert_close(grad_norm(net, dtype=torch.float64).float(), want)


def test_grad_norm_skips_parameters_without_grad_and_is_none_without_any():
    net = _with_grads()
    want = float(torch.cat([p.grad.reshape(-1) for p in net[2].parameters()]).norm())
    for p in net[0].parameters():
        p.grad = None
    assert float(grad_norm(net)) == pytest.approx(want, rel=1e-6)
    assert grad_norm(nn.Linear(2, 2)) is None


def test_grad_norm_in_float64_keeps_tiny_gradients():
    p = nn.Parameter(torch.zeros(4))
    p.grad = torch.full((4,), 1e-30)
    assert float(grad_norm(p, dtype=torch.float64)) == pytest.approx(2e-30, rel=1e-6)


def test_single_thread_restores_the_thread_count_even_on_exception():
    before = torch.get_num_threads()
    outer = 2 if before != 2 else 3
    torch.set_num_threads(outer)
    try:
        with single_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == outer
        with pytest.raises(ValueError), single_thread():
            raise ValueError("inside")
        assert torch.get_num_threads() == outer

        @single_thread()
        def threads() -> int:
            return torch.get_num_threads()

        assert threads() == 1 and threads() == 1 and torch.get_num_threads() == outer
    finally:
        torch.set_num_threads(before)


def test_seeded_draws_from_the_seed_and_leaves_the_callers_rng():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with seeded(7):
        a = torch.rand(3)
    with seeded(7):
        b = torch.rand(3)
    assert torch.equal(a, b) and torch.equal(a, torch.rand(3, generator=torch.Generator().manual_seed(7)))
    assert torch.equal(torch.rand(3), expected_next)


def test_save_figure_writes_a_png_in_new_folders(tmp_path):
    fig = new_figure(3, 2)
    fig.subplots().plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "a" / "b" / "f.png", dpi=50)
    assert path == tmp_path / "a" / "b" / "f.png"
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (150, 100)


def test_figure_to_array_is_an_rgb_frame():
    fig = new_figure(2, 1)
    fig.subplots().plot([0, 1], [0, 1])
    arr = figure_to_array(fig, dpi=40)
    assert arr.shape == (40, 80, 3) and arr.dtype == np.uint8 and arr.min() < 255
