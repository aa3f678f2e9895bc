"""Plots for the notebook: sample grids and training curves (matplotlib)."""

import matplotlib.pyplot as plt
import numpy as np
import torch
from torchvision.utils import make_grid


def show_images(images):
    """Show images (N, 784), (N, 28, 28) or (N, 1, 28, 28), values in [-1, 1] or [0, 1], in a square grid."""
    images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    side = int(np.ceil(np.sqrt(images[0].numel())))
    images = images.reshape(len(images), 1, side, side)
    sqrtn = int(np.ceil(np.sqrt(len(images))))
    # One picture of the whole grid (torchvision), drawn with a single imshow: fast even for 128 images.
    value_range = (-1.0, 1.0) if images.min() < 0 else (0.0, 1.0)  # generator output or MNIST pixels
    grid = make_grid(images, nrow=sqrtn, padding=1, normalize=True, value_range=value_range, pad_value=1.0)
    fig = plt.figure(figsize=(sqrtn, sqrtn))
    plt.imshow(grid[0].numpy(), cmap="gray", vmin=0, vmax=1)
    plt.axis("off")
    return fig


def plot_history(history, title="", smooth=25):
    """Loss curves of D and G, and D(x) / D(G(z)), from run_a_gan(..., history=history)."""

    def smoothed(values):
        values = np.asarray(values, dtype=float)
        if len(values) < smooth:
            return values
        return np.convolve(values, np.ones(smooth) / smooth, mode="valid")

    fig, (losses, beliefs) = plt.subplots(1, 2, figsize=(12, 3.5))
    losses.plot(smoothed(history["d_loss"]), label="D loss")
    losses.plot(smoothed(history["g_loss"]), label="G loss")
    losses.set_xlabel("iteration")
    losses.set_title(f"{title} losses (moving average of {smooth})")
    losses.legend()
    beliefs.plot(smoothed(history["d_real"]), label="D(x): real judged real")
    beliefs.plot(smoothed(history["d_fake"]), label="D(G(z)): fake judged real")
    beliefs.axhline(0.5, color="gray", linewidth=0.5)
    beliefs.set_ylim(0, 1)
    beliefs.set_xlabel("iteration")
    beliefs.set_title(f"{title} sigmoid of the discriminator's output")
    beliefs.legend()
    fig.tight_layout()
    return fig
