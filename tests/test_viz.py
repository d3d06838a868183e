import numpy as np
import torch
from PIL import Image

from gankit.viz import make_grid, plot_density_1d, plot_losses, plot_points_2d, save_gif, save_grid, to_uint8


def test_to_uint8_endpoints():
    assert to_uint8(torch.tensor([-1.0, 0.0, 1.0, 5.0])).tolist() == [0, 128, 255, 255]


def test_make_grid_layout():
    imgs = torch.full((6, 1, 4, 5), -1.0)
    imgs[4] = 1.0  # image 4: row 1, column 1 (3 per row)
    g = make_grid(imgs, nrow=3, padding=2)
    assert g.shape == (2 * (4 + 2) + 2, 3 * (5 + 2) + 2, 1)
    assert g[0, 0, 0] == 255  # padding
    assert g[2, 2, 0] == 0  # first pixel of image 0
    assert g[2 + 6, 2 + 7, 0] == 255 and g[2 + 6, 2, 0] == 0  # image 4 white, image 3 black
    assert make_grid(imgs, nrow=3, scale=2).shape == (2 * g.shape[0], 2 * g.shape[1], 1)


def test_save_grid_modes(tmp_path):
    p1 = save_grid(torch.rand(5, 1, 8, 8) * 2 - 1, tmp_path / "g.png")
    p3 = save_grid(torch.rand(4, 3, 8, 8) * 2 - 1, tmp_path / "c.png", nrow=4)
    assert Image.open(p1).mode == "L" and Image.open(p3).mode == "RGB"
    assert Image.open(p3).size == (4 * 10 + 2, 12)


def test_gif_from_pngs(tmp_path):
    paths = [save_grid(torch.full((1, 1, 8, 8), v), tmp_path / f"{i}.png") for i, v in enumerate((-1.0, 0.0, 1.0))]
    gif = Image.open(save_gif(paths, tmp_path / "a.gif"))
    assert gif.n_frames == 3
    frames = [np.asarray(save_gif([np.zeros((4, 4, 3), np.uint8)], tmp_path / "b.gif"))]
    assert frames


def test_plots_write_pngs(tmp_path):
    rows = [{"step": i, "Loss/D": 1.0 / (i + 1), "Loss/G": 1.0, "D/real": 0.6, "D/fake": 0.4} for i in range(5)]
    for p in (plot_losses(rows, tmp_path / "l.png"),
              plot_points_2d(torch.randn(100, 2), torch.randn(100, 2), tmp_path / "p.png", title="t"),
              plot_density_1d(torch.randn(100, 1), torch.randn(100, 1), tmp_path / "d.png",
                              d_curve=(np.linspace(-2, 2, 5), np.full(5, 0.5)))):
        assert Image.open(p).size[0] > 100
