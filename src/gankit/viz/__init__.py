"""Pictures: image grids, GIFs, loss curves and 1-D / 2-D sample plots, and the headless figure helpers."""

from .figures import figure_to_array, new_figure, save_figure
from .gif import save_gif
from .grid import array_to_image, make_grid, save_grid, to_uint8
from .plots import plot_density_1d, plot_losses, plot_points_2d

__all__ = ["array_to_image", "figure_to_array", "make_grid", "new_figure", "plot_density_1d", "plot_losses",
           "plot_points_2d", "save_figure", "save_gif", "save_grid", "to_uint8"]
