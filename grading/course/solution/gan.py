"""GANs in PyTorch: the functions you implement for GANs-PyTorch.ipynb.

Fill in every region between the START / END OF YOUR CODE lines; leave everything else
as it is. Each function's docstring gives the exact shapes and the architecture. The
notebook imports this module with autoreload, so saving this file is enough: no kernel
restart needed.

Provided for you (read them, don't change them): NOISE_DIM, bce_loss, Flatten, Unflatten and
initialize_weights. The training loop, run_a_gan, is provided in nndl2/training.py: read it.

Optional, not graded (the notebook's "Going further" uses them when you write them):
init_weights_normal and smoothed_discriminator_loss, at the end of this file.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

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

    ### BEGIN SOLUTION
    return 2 * torch.rand(batch_size, dim) - 1
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    model = nn.Sequential(
        Flatten(),
        nn.Linear(784, 256),
        nn.LeakyReLU(0.01),
        nn.Linear(256, 256),
        nn.LeakyReLU(0.01),
        nn.Linear(256, 1),
    )
    ### END SOLUTION
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
    ### BEGIN SOLUTION
    model = nn.Sequential(
        nn.Linear(noise_dim, 1024),
        nn.ReLU(),
        nn.Linear(1024, 1024),
        nn.ReLU(),
        nn.Linear(1024, 784),
        nn.Tanh(),
    )
    ### END SOLUTION
    return model


def bce_loss(input, target):
    """
    Numerically stable binary cross-entropy, averaged over all elements (provided).

    Inputs:
    - input: PyTorch Tensor of shape (N, 1) (or (N,)) giving logits.
    - target: PyTorch Tensor of 0/1 labels, shape (N, 1) or (N,), or one number for every
      logit (bce_loss(logits, 1)). It is cast to the dtype and device of `input`, so
      torch.ones(N) works as well as torch.ones_like(input).

    Returns:
    - A PyTorch scalar Tensor: the mean binary cross-entropy loss over the minibatch.
    """
    target = torch.as_tensor(target, dtype=input.dtype, device=input.device)
    if target.numel() == 1:  # one label for every logit
        target = target.reshape(()).expand(input.shape)
    if target.numel() != input.numel():
        raise ValueError(
            f"bce_loss: target has {target.numel()} elements but input has {input.numel()}; "
            "make one label per logit, e.g. torch.ones_like(logits)."
        )
    # (N,) targets next to (N, 1) logits would broadcast to (N, N): match the shapes instead.
    return F.binary_cross_entropy_with_logits(input, target.reshape(input.shape))


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
    ### BEGIN SOLUTION
    loss = bce_loss(logits_real, torch.ones_like(logits_real)) + bce_loss(logits_fake, torch.zeros_like(logits_fake))
    ### END SOLUTION
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
    ### BEGIN SOLUTION
    loss = bce_loss(logits_fake, torch.ones_like(logits_fake))
    ### END SOLUTION
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
    ### BEGIN SOLUTION
    optimizer = optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))
    ### END SOLUTION
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
    ### BEGIN SOLUTION
    loss = 0.5 * torch.mean((scores_real - 1) ** 2) + 0.5 * torch.mean(scores_fake**2)
    ### END SOLUTION
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
    ### BEGIN SOLUTION
    loss = 0.5 * torch.mean((scores_fake - 1) ** 2)
    ### END SOLUTION
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
    model = None
    ### BEGIN SOLUTION
    model = nn.Sequential(
        Unflatten(batch_size, 1, 28, 28),
        nn.Conv2d(1, 32, kernel_size=5, stride=1),
        nn.LeakyReLU(0.01),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(32, 64, kernel_size=5, stride=1),
        nn.LeakyReLU(0.01),
        nn.MaxPool2d(kernel_size=2, stride=2),
        Flatten(),
        nn.Linear(4 * 4 * 64, 4 * 4 * 64),
        nn.LeakyReLU(0.01),
        nn.Linear(4 * 4 * 64, 1),
    )
    ### END SOLUTION
    return model


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
    model = None
    ### BEGIN SOLUTION
    model = nn.Sequential(
        nn.Linear(noise_dim, 1024),
        nn.ReLU(),
        nn.BatchNorm1d(1024),
        nn.Linear(1024, 7 * 7 * 128),
        nn.ReLU(),
        nn.BatchNorm1d(7 * 7 * 128),
        Unflatten(-1, 128, 7, 7),
        nn.ConvTranspose2d(128, 64, kernel_size=4, stride=2, padding=1),
        nn.ReLU(),
        nn.BatchNorm2d(64),
        nn.ConvTranspose2d(64, 1, kernel_size=4, stride=2, padding=1),
        nn.Tanh(),
        Flatten(),
    )
    ### END SOLUTION
    return model


# ---------------------------------------------------------------------------
# Provided helpers: use them, don't change them. The training loop, run_a_gan, is in
# nndl2/training.py (read it).
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Optional, not graded: two tricks for the notebook's "Going further" (Experiment 1). Leave the stubs
# as they are if you skip them: the experiment then says so and leaves them out.
# ---------------------------------------------------------------------------


def init_weights_normal(m):
    """
    DCGAN initialization (Radford et al.), for use with model.apply(init_weights_normal).

    If m is a convolution (nn.Conv2d), a transposed convolution (nn.ConvTranspose2d) or a linear layer
    (nn.Linear), draw its weight, a tensor of any shape, from a normal distribution with mean 0 and
    standard deviation 0.02, in place (nn.init.normal_). Leave its bias, and every other kind of layer
    (BatchNorm, activations, Flatten...), as it is.

    Input:
    - m: an nn.Module (model.apply calls this once for every layer of the model).

    Returns nothing.
    """
    ### BEGIN SOLUTION
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, mean=0.0, std=0.02)
    ### END SOLUTION


def smoothed_discriminator_loss(logits_real, logits_fake, real_label=0.9):
    """
    The discriminator loss with one-sided label smoothing (Salimans et al., 2016): real images are
    labelled real_label (e.g. 0.9) instead of 1; fake images keep the label 0 (use bce_loss).

    Inputs:
    - logits_real: PyTorch Tensor of shape (N, 1) giving scores for the real data.
    - logits_fake: PyTorch Tensor of shape (N, 1) giving scores for the fake data.
    - real_label: the target of the real images, a float in (0, 1].

    Returns:
    - loss: PyTorch scalar Tensor: mean BCE of the real logits against real_label plus mean BCE of
      the fake logits against 0. With real_label=1 it equals discriminator_loss.
    """
    loss = None
    ### BEGIN SOLUTION
    real_targets = torch.full_like(logits_real, real_label)
    loss = bce_loss(logits_real, real_targets) + bce_loss(logits_fake, torch.zeros_like(logits_fake))
    ### END SOLUTION
    return loss
