"""The notebook's training loop: `run_a_gan`. Read it; you won't need to change it.

It follows PyTorch's DCGAN example (pytorch/examples, dcgan/main.py): each iteration takes one
discriminator step and one generator step on a batch of real digits and a batch of fakes. Speed
settings that depend on the hardware (fused Adam, bfloat16, memory layouts) sit in one context,
nndl2.speed.platform_speedups; none of them changes the algorithm. The bookkeeping sits below
run_a_gan: `full_batches` counts the iterations, `frozen` keeps the generator step's gradients out of
D, and `Progress` keeps the progress bar, the printed losses, the sample grids and the history.
"""

import sys
import time
from contextlib import contextmanager

import torch
from tqdm.auto import tqdm

from nndl2.speed import bfloat16_is_fast, platform_speedups

HISTORY_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")


def run_a_gan(D, G, D_solver, G_solver, discriminator_loss, generator_loss, loader_train, show_every=250,
              batch_size=128, noise_size=96, num_epochs=10, max_iters=None, history=None, bfloat16=None,
              on_show=None, sample_noise=None, keep_weights=()):  # fmt: skip
    """
    Train a GAN by alternating one discriminator step and one generator step per batch.

    Inputs:
    - D, G: PyTorch models for the discriminator and generator (already on their device).
    - D_solver, G_solver: torch.optim Optimizers for training the discriminator and generator.
    - discriminator_loss, generator_loss: functions computing the losses; each returns one number (shape () or (1,)).
    - loader_train: (images, labels) batches, images in [0, 1] of shape (N, 1, 28, 28); partial batches are skipped.
    - show_every: print losses and keep 16 samples every show_every iterations (always from the same 16 noise
      vectors, so the grids show how G's answer to them improves).
    - batch_size, noise_size, num_epochs: the batch size, the dimension of G's noise, the epochs over loader_train.
    - max_iters: if not None, stop after this many iterations (a shorter run).
    - history: if a dict, filled with per-iteration lists "d_loss", "g_loss", "d_real" and "d_fake" (the mean of
      sigmoid(D(x)) and of sigmoid(D(G(z))): D's belief that real and fake images are real).
    - bfloat16: None: bfloat16 autocast where the hardware is fast at it; True / False: always / never (nndl2.speed).
    - on_show: if given, called as on_show(iteration, G) every show_every iterations, after the samples are kept.
    - sample_noise: draws each batch's noise, sample_noise(batch_size, noise_size) (the notebook passes your
      gan.sample_noise); None: uniform noise on [-1, 1).
    - keep_weights: iterations after which a CPU copy of G's weights is kept: history (a dict) gets
      history["kept_weights"] = {"after": {iterations: G.state_dict()}, "bfloat16": ..., "started": time.time()}.
      The notebook keeps those at which the grader checks its own run of your GAN, so that
      nndl2.submit.preview_grading can judge them without training again.

    Returns:
    - images: list of numpy arrays (16, 784), the samples kept every show_every iterations.
    """
    device = next(G.parameters()).device
    if keep_weights and not isinstance(history, dict):
        raise ValueError("keep_weights needs a history dict to keep the weights in")
    if bfloat16 is None:  # decided here, so that the weights kept can say how they were trained
        bfloat16 = bfloat16_is_fast(device)
    progress = Progress(G, noise_size, loader_train, num_epochs, max_iters, show_every, on_show, keep_weights)
    examples = {D: torch.zeros(2, 1, 28, 28, device=device), G: progress.fixed_noise[:2]}  # see platform_speedups
    with platform_speedups(device, examples, (D_solver, G_solver), bfloat16) as autocast:
        for iteration, epoch, x in full_batches(loader_train, batch_size, num_epochs, max_iters):
            real_data = 2 * x.to(device, non_blocking=True) - 1  # [0, 1] -> [-1, 1], the range of G's tanh
            noise = training_noise(sample_noise, batch_size, noise_size).to(device, non_blocking=True)

            # (1) Discriminator step: real digits should score "real", fakes "fake". The fakes are made once
            # and reused for the generator step, as in PyTorch's DCGAN example; detach() keeps G out of D's loss.
            with autocast:
                fake_images = G(noise)
                logits_real = D(real_data)
                logits_fake = D(fake_images.detach().view(batch_size, 1, 28, 28))
            logits_real, logits_fake = logits_real.float(), logits_fake.float()  # float32 logits, even in bfloat16
            d_total_error = one_number(discriminator_loss(logits_real, logits_fake), "discriminator")
            D_solver.zero_grad(set_to_none=True)
            d_total_error.backward()
            D_solver.step()

            # (2) Generator step: the same fakes, scored by the updated D, should score "real" (D frozen: no
            # gradient for its weights).
            with frozen(D), autocast:
                gen_logits_fake = D(fake_images.view(batch_size, 1, 28, 28))
            g_error = one_number(generator_loss(gen_logits_fake.float()), "generator")
            G_solver.zero_grad(set_to_none=True)
            g_error.backward()
            G_solver.step()

            progress.log(iteration, epoch, d_total_error, g_error, logits_real, logits_fake, autocast)
    return progress.close(history, bfloat16)


def full_batches(loader_train, batch_size, num_epochs, max_iters):
    """run_a_gan's iterations: (iteration, epoch, images) for every full batch of `loader_train`, epoch after
    epoch, until num_epochs epochs or max_iters iterations (None: no limit) are done."""
    iteration = 0
    for epoch in range(num_epochs):
        for x, _ in loader_train:
            if len(x) != batch_size:  # a partial last batch is skipped
                continue
            if max_iters is not None and iteration >= max_iters:
                break
            yield iteration, epoch, x
            iteration += 1


@contextmanager
def frozen(network):
    """`network`'s weights need no gradient inside the block: the forward passes run there record no
    gradient path into them, so a backward pass later skips them. They need one again after the block."""
    network.requires_grad_(False)
    try:
        yield
    finally:
        network.requires_grad_(True)


class Progress:
    """run_a_gan's bookkeeping: the progress bar, each iteration's losses and D's beliefs (read back into
    `history` at the end), and every show_every iterations a printed line, 16 samples (from fixed_noise)
    and on_show; after each iteration in keep_weights, a CPU copy of G's weights."""

    def __init__(self, G, noise_size, loader_train, num_epochs, max_iters, show_every, on_show, keep_weights=()):
        self.G = G
        self.keep_weights, self.kept = set(keep_weights), {}
        self.started = time.time()  # when this run started (the preview compares gan.py's modification time)
        self.fixed_noise = fixed_noise(noise_size, next(G.parameters()).device)
        self.num_epochs = num_epochs
        self.show_every = show_every
        self.on_show = on_show
        self.images = []
        self.stats = []  # per-iteration tensors, read back once at the end: the GPU never waits for Python
        total = num_epochs * len(loader_train)  # an upper bound: partial batches are skipped
        if max_iters is not None:
            total = min(total, max_iters)
        self.bar = tqdm(total=total, desc="training", file=sys.stdout, mininterval=2.0)

    def log(self, iteration, epoch, d_total_error, g_error, logits_real, logits_fake, autocast):
        d_real, d_fake = torch.sigmoid(logits_real.detach()).mean(), torch.sigmoid(logits_fake.detach()).mean()
        self.stats.append(torch.stack([d_total_error.detach(), g_error.detach(), d_real, d_fake]))
        if iteration % self.show_every == 0:
            d_loss, g_loss, d_real, d_fake = self.stats[-1].tolist()
            self.bar.write(
                f"Iter: {iteration}, D: {d_loss:.4}, G: {g_loss:.4}, D(x): {d_real:.3f}, D(G(z)): {d_fake:.3f}"
                f" (epoch {epoch + 1}/{self.num_epochs})"
            )
            with torch.no_grad(), autocast:  # G's samples, in the precision it trains in
                self.images.append(self.G(self.fixed_noise).detach().float().reshape(16, -1).cpu().numpy())
            if self.on_show is not None:
                self.on_show(iteration, self.G)
        if iteration + 1 in self.keep_weights:  # iteration + 1 iterations are done
            self.kept[iteration + 1] = {
                name: t.detach().to("cpu", copy=True) for name, t in self.G.state_dict().items()
            }
        self.bar.update(1)

    def close(self, history, bfloat16=False):
        """Closes the bar, fills `history` (if a dict), with the weights kept if any, and returns the kept samples."""
        self.bar.close()
        fill_history(history, self.stats)
        if self.keep_weights:  # {"after": {iterations: G's state_dict}}, in which precision, when training started
            history["kept_weights"] = {"after": self.kept, "bfloat16": bool(bfloat16), "started": self.started}
        return self.images


def fixed_noise(noise_size, device):
    """The progress grids' 16 noise vectors, uniform on [-1, 1), on `device`. They come from a random generator of
    their own: training draws the same numbers from torch's global one with or without the grids."""
    return (2 * torch.rand(16, noise_size, generator=torch.Generator().manual_seed(0)) - 1).to(device)


def fill_history(history, stats):
    """Extend `history`'s lists (if it is a dict) with `stats`, per-iteration tensors whose first columns are
    HISTORY_KEYS, read back from the device once."""
    if history is not None and stats:
        values = torch.stack(stats).cpu().numpy()
        for column, key in enumerate(HISTORY_KEYS):
            history.setdefault(key, []).extend(values[:, column].tolist())


def training_noise(sample_noise, batch_size, noise_size):
    """One batch of training noise from `sample_noise` (None: uniform on [-1, 1)) as float32; anything but a
    (batch_size, noise_size) tensor of real numbers is a mistake, said as such (float64 or bfloat16 noise is
    converted: it is still noise)."""
    if sample_noise is None:
        return 2 * torch.rand(batch_size, noise_size) - 1
    noise = sample_noise(batch_size, noise_size)
    if not torch.is_tensor(noise) or tuple(noise.shape) != (batch_size, noise_size) or not noise.is_floating_point():
        got = f"shape {tuple(noise.shape)}, dtype {noise.dtype}" if torch.is_tensor(noise) else type(noise).__name__
        raise ValueError(
            f"sample_noise({batch_size}, {noise_size}) must return a floating-point tensor of shape "
            f"({batch_size}, {noise_size}), got {got}"
        )
    return noise.float()


def one_number(loss, which):
    """A loss as a 0-d tensor: the losses may return shape () or (1,); anything else is a mistake."""
    if not torch.is_tensor(loss) or loss.numel() != 1:
        shape = tuple(loss.shape) if torch.is_tensor(loss) else type(loss).__name__
        raise ValueError(f"the {which} loss must be one number (a tensor of shape () or (1,)), got {shape}")
    return loss.reshape(())
