"""Plots for the notebook: sample grids and training curves (matplotlib)."""

import matplotlib.gridspec as gridspec
import matplotlib.pyplot as plt
import numpy as np


def show_images(images):
    """Show images (N, 784), (N, 28, 28) or (N, 1, 28, 28), values in [-1, 1] or [0, 1], in a square grid."""
    images = np.reshape(np.asarray(images), [images.shape[0], -1])  # (N, D)
    sqrtn = int(np.ceil(np.sqrt(images.shape[0])))
    sqrtimg = int(np.ceil(np.sqrt(images.shape[1])))

    fig = plt.figure(figsize=(sqrtn, sqrtn))
    gs = gridspec.GridSpec(sqrtn, sqrtn)
    gs.update(wspace=0.05, hspace=0.05)
    for i, img in enumerate(images):
        ax = plt.subplot(gs[i])
        plt.axis("off")
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.set_aspect("equal")
        plt.imshow(img.reshape([sqrtimg, sqrtimg]), cmap="gray")
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
