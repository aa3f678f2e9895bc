# GENERATED FILE: made by `python -m grading.make_student` from the course's reference;
# students: write your code only between the START / END OF YOUR CODE lines.
"""GANs in PyTorch: the functions you implement for GANs-PyTorch.ipynb.

Fill in every region between the START / END OF YOUR CODE lines; leave everything else
as it is. Each function's docstring gives the exact shapes and the architecture. The
notebook imports this module with autoreload, so saving this file is enough: no kernel
restart needed.

Provided for you (read them, don't change them): NOISE_DIM, bce_loss, run_a_gan,
ChunkSampler, Flatten, Unflatten, initialize_weights, preprocess_img, deprocess_img,
rel_error, count_params.
"""

import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import sampler
from tqdm.auto import tqdm

NOISE_DIM = 96


def sample_noise(batch_size, dim, seed=None):
    """
    Generate a PyTorch Tensor of uniform random noise.

    Inputs:
    - batch_size: Integer giving the batch size of noise to generate.
    - dim: Integer giving the dimension of noise to generate.
    - seed: if not None, call torch.manual_seed(seed) first (makes the noise reproducible).

    Output:
    - A float32 PyTorch Tensor of shape (batch_size, dim) containing uniform
      random noise in the range (-1, 1).

    Hint: torch.rand draws from [0, 1).
    """
    if seed is not None:
        torch.manual_seed(seed)

    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("sample_noise: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****


def discriminator(seed=None):
    """
    Build and return a PyTorch nn.Sequential model implementing the architecture
    in the notebook. In order, with bias terms in every Linear layer:

    - Flatten()                      (N, 1, 28, 28) or (N, 784) -> (N, 784)
    - Linear 784 -> 256
    - LeakyReLU(0.01)
    - Linear 256 -> 256
    - LeakyReLU(0.01)
    - Linear 256 -> 1                output: (N, 1) real-valued scores (logits)

    Expected parameter count: 267009.
    """
    if seed is not None:
        torch.manual_seed(seed)

    model = None
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("discriminator: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    return model


def generator(noise_dim=NOISE_DIM, seed=None):
    """
    Build and return a PyTorch nn.Sequential model implementing the architecture
    in the notebook. In order, with bias terms in every Linear layer:

    - Linear noise_dim -> 1024       input: (N, noise_dim) noise
    - ReLU
    - Linear 1024 -> 1024
    - ReLU
    - Linear 1024 -> 784
    - Tanh                           output: (N, 784) images in [-1, 1]

    Expected parameter count for generator(4): 1858320.
    """
    if seed is not None:
        torch.manual_seed(seed)

    model = None
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("generator: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    return model


def bce_loss(input, target):
    """
    Numerically stable binary cross-entropy, averaged over all elements (provided).

    Inputs:
    - input: PyTorch Tensor of shape (N, 1) (or (N,)) giving logits.
    - target: PyTorch Tensor of 0/1 labels, shape (N, 1) or (N,). It is cast to the
      dtype and device of `input`, so torch.ones(N) works as well as torch.ones_like(input).

    Returns:
    - A PyTorch scalar Tensor: the mean binary cross-entropy loss over the minibatch.
    """
    if target.numel() != input.numel():
        raise ValueError(
            f"bce_loss: target has {target.numel()} elements but input has {input.numel()}; "
            "make one label per logit, e.g. torch.ones_like(logits)."
        )
    # (N,) targets next to (N, 1) logits would broadcast to (N, N): match the shapes instead.
    target = target.reshape(input.shape).to(dtype=input.dtype, device=input.device)
    return F.binary_cross_entropy_with_logits(input, target)


def discriminator_loss(logits_real, logits_fake):
    """
    Computes the discriminator loss described in the notebook (use bce_loss).

    Inputs:
    - logits_real: PyTorch Tensor of shape (N, 1) giving scores for the real data.
    - logits_fake: PyTorch Tensor of shape (N, 1) giving scores for the fake data.

    Returns:
    - loss: PyTorch scalar Tensor: mean BCE of the real logits against label 1 plus
      mean BCE of the fake logits against label 0.
    """
    loss = None
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("discriminator_loss: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    return loss


def generator_loss(logits_fake):
    """
    Computes the generator loss described in the notebook (use bce_loss).

    Inputs:
    - logits_fake: PyTorch Tensor of shape (N, 1) giving scores for the fake data.

    Returns:
    - loss: PyTorch scalar Tensor: mean BCE of the fake logits against label 1.
    """
    loss = None
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("generator_loss: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    return loss


def get_optimizer(model):
    """
    Construct and return an Adam optimizer for the model with learning rate 1e-3,
    beta1=0.5, and beta2=0.999.

    Input:
    - model: A PyTorch model that we want to optimize.

    Returns:
    - A torch.optim.Adam optimizer over model.parameters().
    """
    optimizer = None
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("get_optimizer: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    return optimizer


def ls_discriminator_loss(scores_real, scores_fake):
    """
    Compute the Least-Squares GAN loss for the discriminator.

    Inputs:
    - scores_real: PyTorch Tensor of shape (N, 1) giving scores for the real data.
    - scores_fake: PyTorch Tensor of shape (N, 1) giving scores for the fake data.

    Outputs:
    - loss: PyTorch scalar Tensor: 0.5 * mean((scores_real - 1)^2) + 0.5 * mean(scores_fake^2).
    """
    loss = None
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("ls_discriminator_loss: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    return loss


def ls_generator_loss(scores_fake):
    """
    Computes the Least-Squares GAN loss for the generator.

    Inputs:
    - scores_fake: PyTorch Tensor of shape (N, 1) giving scores for the fake data.

    Outputs:
    - loss: PyTorch scalar Tensor: 0.5 * mean((scores_fake - 1)^2).
    """
    loss = None
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("ls_generator_loss: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    return loss


def build_dc_classifier(batch_size):
    """
    Build and return a PyTorch nn.Sequential model for the DCGAN discriminator.
    In order (all layers with bias):

    - Unflatten(batch_size, 1, 28, 28)   (N, 784) or (N, 1, 28, 28) -> (N, 1, 28, 28)
    - Conv2d 1 -> 32, kernel 5, stride 1       -> (N, 32, 24, 24)
    - LeakyReLU(0.01)
    - MaxPool2d kernel 2, stride 2              -> (N, 32, 12, 12)
    - Conv2d 32 -> 64, kernel 5, stride 1      -> (N, 64, 8, 8)
    - LeakyReLU(0.01)
    - MaxPool2d kernel 2, stride 2              -> (N, 64, 4, 4)
    - Flatten()                                 -> (N, 1024)
    - Linear 1024 -> 1024 (4 x 4 x 64)
    - LeakyReLU(0.01)
    - Linear 1024 -> 1                          output: (N, 1) logits

    Expected parameter count: 1102721.
    """
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("build_dc_classifier: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****


def build_dc_generator(noise_dim=NOISE_DIM):
    """
    Build and return a PyTorch nn.Sequential model implementing the DCGAN generator
    (InfoGAN paper, appendix C.1 MNIST). In order (all layers with bias):

    - Linear noise_dim -> 1024                  input: (N, noise_dim) noise
    - ReLU
    - BatchNorm1d(1024)
    - Linear 1024 -> 7 * 7 * 128
    - ReLU
    - BatchNorm1d(7 * 7 * 128)
    - Unflatten(-1, 128, 7, 7)                  -> (N, 128, 7, 7)
    - ConvTranspose2d 128 -> 64, kernel 4, stride 2, padding 1   -> (N, 64, 14, 14)
    - ReLU
    - BatchNorm2d(64)
    - ConvTranspose2d 64 -> 1, kernel 4, stride 2, padding 1     -> (N, 1, 28, 28)
    - Tanh
    - Flatten()                                  output: (N, 784) images in [-1, 1]

    Expected parameter count for build_dc_generator(4): 6580801.
    """
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("build_dc_generator: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****


# ---------------------------------------------------------------------------
# Everything below is provided. You won't need to change it, but do read run_a_gan.
# ---------------------------------------------------------------------------


def run_a_gan(
    D,
    G,
    D_solver,
    G_solver,
    discriminator_loss,
    generator_loss,
    loader_train,
    show_every=250,
    batch_size=128,
    noise_size=96,
    num_epochs=10,
    max_iters=None,
    history=None,
    bfloat16=None,
):
    """
    Train a GAN by alternating one discriminator step and one generator step per batch.

    Inputs:
    - D, G: PyTorch models for the discriminator and generator (already on their device).
    - D_solver, G_solver: torch.optim Optimizers for training the discriminator and generator.
    - discriminator_loss, generator_loss: functions to use for computing the losses.
    - loader_train: iterable of (images, labels) batches, images in [0, 1] of shape
      (N, 1, 28, 28); a partial last batch (N != batch_size) is skipped.
    - show_every: print losses and keep 16 samples every show_every iterations.
    - batch_size: batch size to use for training.
    - noise_size: dimension of the noise to use as input to the generator.
    - num_epochs: number of epochs over the training dataset to use for training.
    - max_iters: if not None, stop after this many iterations (a shorter run).
    - history: if a dict is given, it is filled with per-iteration lists "d_loss", "g_loss",
      "d_real" and "d_fake" (the mean of sigmoid(D(x)) and sigmoid(D(G(z))): the
      discriminator's belief that real and fake images are real).
    - bfloat16: run the networks' forward passes under bfloat16 autocast (weights, gradients,
      Adam and the losses stay float32). None (default): where the hardware has fast bfloat16
      arithmetic, see _use_platform_speedups; True / False: always / never.

    Returns:
    - images: list of numpy arrays, 16 generated images every show_every iterations.

    Speed: only the losses and samples of every show_every-th iteration are copied to the
    host, so a GPU never waits for Python in between; see _use_platform_speedups for the
    device-specific settings (none of them changes the algorithm).
    """
    device = next(G.parameters()).device
    total = num_epochs * len(loader_train)  # an upper bound: partial batches are skipped
    if max_iters is not None:
        total = min(total, max_iters)

    images = []
    stats = []  # per-iteration tensors; read back once at the end (no per-step sync)
    iter_count = 0
    progress = tqdm(total=total, desc="training", file=sys.stdout, mininterval=2.0, leave=False)
    autocast, restore = _use_platform_speedups(device, D, G, (D_solver, G_solver), bfloat16)
    try:
        for _ in range(num_epochs):
            for x, _ in loader_train:
                if len(x) != batch_size:
                    continue
                if max_iters is not None and iter_count >= max_iters:
                    break
                real_data = preprocess_img(x.to(device, non_blocking=True))

                # Discriminator step. The fake batch is generated once and reused for the
                # generator step below (as in the PyTorch DCGAN example); detach() keeps the
                # discriminator's loss from sending gradients into G.
                g_fake_seed = sample_noise(batch_size, noise_size).to(device, non_blocking=True)
                with autocast:
                    fake_images = G(g_fake_seed)
                    logits_real = D(real_data)
                    logits_fake = D(fake_images.detach().view(batch_size, 1, 28, 28))
                # The losses see float32 logits, also when the networks ran in bfloat16.
                logits_real, logits_fake = logits_real.float(), logits_fake.float()
                d_total_error = discriminator_loss(logits_real, logits_fake)
                D_solver.zero_grad(set_to_none=True)
                d_total_error.backward()
                D_solver.step()

                # Generator step: score the same fake batch with the updated discriminator.
                # D's weights need no gradient here, so autograd skips computing them.
                D.requires_grad_(False)
                with autocast:
                    gen_logits_fake = D(fake_images.view(batch_size, 1, 28, 28))
                g_error = generator_loss(gen_logits_fake.float())
                G_solver.zero_grad(set_to_none=True)
                g_error.backward()
                G_solver.step()
                D.requires_grad_(True)

                stats.append(
                    torch.stack(
                        [
                            d_total_error.detach(),
                            g_error.detach(),
                            torch.sigmoid(logits_real.detach()).mean(),
                            torch.sigmoid(logits_fake.detach()).mean(),
                        ]
                    )
                )
                if iter_count % show_every == 0:
                    d_loss, g_loss, d_real, d_fake = stats[-1].tolist()
                    progress.write(
                        f"Iter: {iter_count}, D: {d_loss:.4}, G: {g_loss:.4}, D(x): {d_real:.3f}, D(G(z)): {d_fake:.3f}"
                    )
                    images.append(fake_images[:16].detach().float().cpu().numpy())
                iter_count += 1
                progress.update(1)
    finally:
        D.requires_grad_(True)  # also after an interrupted generator step
        restore()
        progress.close()

    if history is not None and stats:
        values = torch.stack(stats).cpu().numpy()
        for column, key in enumerate(["d_loss", "g_loss", "d_real", "d_fake"]):
            history.setdefault(key, []).extend(values[:, column].tolist())
    return images


def _use_platform_speedups(device, D, G, optimizers=(), bfloat16=None):
    """
    Faster settings for training D and G on `device`; returns (autocast, restore): the context
    to run the networks in, and a function that puts every setting back as it was. None of them
    changes the algorithm.

    - Any device: plain Adam optimizers (as get_optimizer makes them) run PyTorch's fused Adam
      kernel, see _use_fused_adam. The update rule is the same.
    - Where the hardware has fast bfloat16 arithmetic (`bfloat16=None`), the forward passes run
      under bfloat16 autocast (and so do their backward passes), which about halves the cost of
      the matrix products and convolutions; weights, Adam and the losses stay float32. That is
      GPUs of compute capability 8.0+ (A100, L4, H100...) and CPUs with AVX512-BF16 or AMX (AMD
      Zen 4 on, Intel Xeon Cooper Lake and Sapphire Rapids on). Other CPUs, such as Colab's, and
      the T4 compute in float32.
    - CUDA: float32 matmuls and convolutions on TF32 tensor cores, and cuDNN autotuning (the
      shapes never change, so the search pays off after the first steps).
    - CPU: convolution weights are stored channels-last, the layout oneDNN's convolutions and
      max-pooling are fastest in (about 10% faster DCGAN steps on a 2-core CPU).
    """
    if bfloat16 is None:  # decided first: nothing below may fail half-way
        bfloat16 = _bfloat16_is_fast(device)
    if device.type == "cuda":
        restore_adam = _use_fused_adam(device, *optimizers)
        saved = (
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32,
            torch.backends.cudnn.benchmark,
        )
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True

        def restore():
            (
                torch.backends.cuda.matmul.allow_tf32,
                torch.backends.cudnn.allow_tf32,
                torch.backends.cudnn.benchmark,
            ) = saved
            restore_adam()

        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=bfloat16), restore

    if device.type == "cpu":
        D.to(memory_format=torch.channels_last)  # only 4-D (convolution) weights change layout
        G.to(memory_format=torch.channels_last)
        restore_adam = _use_fused_adam(device, *optimizers)  # after the layout change: see there

        def restore():
            D.to(memory_format=torch.contiguous_format)
            G.to(memory_format=torch.contiguous_format)
            restore_adam()

        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16), restore

    return torch.autocast("cpu", enabled=False), lambda: None  # other devices: as they come


def _bfloat16_is_fast(device):
    """Whether run_a_gan trains under bfloat16 autocast on `device` by default (see _use_platform_speedups)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    return device.type == "cpu" and _cpu_has_fast_bfloat16()


def _cpu_has_fast_bfloat16():
    """Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX instructions)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # older PyTorch lacks them: float32
    return any(getattr(torch.cpu, check, lambda: False)() for check in checks)


def _use_fused_adam(device, *optimizers):
    """
    Switch plain torch.optim.Adam optimizers to PyTorch's fused Adam kernel (one pass over all
    parameters, instead of a dozen small operations per parameter tensor); returns a function
    that switches them back. The update rule is the same, only the floating-point rounding
    differs. On a CPU, Adam's default implementation is the slowest part of a step: the fused
    kernel makes whole training steps about 1.5x faster here (vanilla GAN and DCGAN alike).

    A parameter group is left alone when its owner chose an implementation (foreach=, fused=,
    capturable= or differentiable= given) or when its state does not suit the fused kernel (see
    _fused_adam_can_step), and so is any optimizer that is not exactly torch.optim.Adam. Fused
    Adam exists for CUDA and, from PyTorch 2.4 on, for CPUs (the only devices this is called
    for). Call it after any change of the weights' memory layout.
    """
    if device.type == "cpu" and torch.__version__ < "2.4":
        return lambda: None
    switched = []
    for optimizer in optimizers:
        if type(optimizer) is not optim.Adam:
            continue
        for group in optimizer.param_groups:
            chose = group.get("foreach") is not None or group.get("fused") is not None
            if chose or group.get("capturable") or group.get("differentiable"):
                continue
            if all(_fused_adam_can_step(optimizer, p, device) for p in group["params"]):
                group["fused"] = True
                switched.append(group)

    def restore():
        for group in switched:
            group["fused"] = None

    return restore


def _fused_adam_can_step(optimizer, p, device):
    """
    Whether fused Adam can update parameter p: a float tensor on `device` with no Adam state yet,
    or with state the fused kernel can use (made by an earlier fused run). The kernel needs the
    step counter on p's device and assumes every state tensor has p's memory layout: state made
    for other layouts (such as contiguous weights, before run_a_gan stored the DCGAN's
    convolutions channels-last) would be paired with the wrong elements.
    """
    if p.device != device or not p.is_floating_point():
        return False
    state = optimizer.state.get(p)
    if not state:
        return True
    tensors = [value for value in state.values() if torch.is_tensor(value)]
    return state["step"].device == p.device and all(t.dim() == 0 or t.stride() == p.stride() for t in tensors)


class ChunkSampler(sampler.Sampler):
    """Samples elements sequentially from some offset.
    Arguments:
        num_samples: # of desired datapoints
        start: offset where we should start selecting from
    """

    def __init__(self, num_samples, start=0):
        self.num_samples = num_samples
        self.start = start

    def __iter__(self):
        return iter(range(self.start, self.start + self.num_samples))

    def __len__(self):
        return self.num_samples


class Flatten(nn.Module):
    """(N, ...) -> (N, D): flattens every dimension but the first (any rank >= 2)."""

    def forward(self, x):
        return x.reshape(x.shape[0], -1)


class Unflatten(nn.Module):
    """
    An Unflatten module receives an input of shape (N, C*H*W) and reshapes it
    to produce an output of shape (N, C, H, W). N=-1 infers the batch size.
    """

    def __init__(self, N=-1, C=128, H=7, W=7):
        super().__init__()
        self.N = N
        self.C = C
        self.H = H
        self.W = W

    def forward(self, x):
        return x.reshape(self.N, self.C, self.H, self.W)


def initialize_weights(m):
    """Xavier-uniform weights for Linear and ConvTranspose2d layers (use with model.apply)."""
    if isinstance(m, (nn.Linear, nn.ConvTranspose2d)):
        nn.init.xavier_uniform_(m.weight)


def preprocess_img(x):
    """Map images from [0, 1] to [-1, 1], the range of the generator's Tanh."""
    return 2 * x - 1.0


def deprocess_img(x):
    """Map images from [-1, 1] back to [0, 1]."""
    return (x + 1.0) / 2.0


def rel_error(x, y):
    """Maximum relative error between two arrays (or scalars)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y)))))


def count_params(model):
    """Count the number of parameters in the model."""
    return sum(p.numel() for p in model.parameters())
