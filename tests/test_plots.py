"""The notebook's plots accept what the notebook gives them."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from nndl2.plots import plot_history, show_images  # noqa: E402


@pytest.mark.parametrize("shape", [(16, 784), (16, 28, 28), (16, 1, 28, 28), (128, 784), (7, 784)])
def test_show_images_draws_one_grid(shape):
    figure = show_images(np.random.default_rng(0).uniform(-1, 1, size=shape))
    (axes,) = figure.axes
    columns = int(np.ceil(np.sqrt(shape[0])))
    rows = int(np.ceil(shape[0] / columns))
    assert axes.images[0].get_array().shape[:2] == (rows * 29 + 1, columns * 29 + 1)  # 28 pixels + 1 padding
    plt.close(figure)


def test_show_images_maps_minus_one_to_black_and_one_to_white():
    figure = show_images(torch.cat([-torch.ones(1, 784), torch.ones(1, 784)]))
    grid = figure.axes[0].images[0].get_array()
    assert grid[1:29, 1:29].max() == 0 and grid[1:29, 30:58].min() == 1
    plt.close(figure)


def test_plot_history_draws_losses_and_beliefs():
    n = 100
    history = {key: list(np.linspace(0, 1, n)) for key in ["d_loss", "g_loss", "d_real", "d_fake"]}
    figure = plot_history(history, "test")
    assert len(figure.axes) == 2 and all(len(ax.lines) >= 2 for ax in figure.axes)
    plt.close(figure)
