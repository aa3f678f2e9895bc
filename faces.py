# Write your code only between the START / END OF YOUR CODE lines; leave the rest as it is.
"""Part 2 (optional): a DCGAN on faces. The functions you implement for Faces-PyTorch.ipynb.

Fill in every region between the START / END OF YOUR CODE lines; leave everything else
as it is. Each docstring gives the exact shapes, layers and parameter counts. The notebook
imports this module with autoreload, so saving this file is enough.

The networks follow the DCGAN paper (Radford et al., 2016) for 32x32 colour images: strided
convolutions instead of pooling, batch normalization, LeakyReLU(0.2) in the discriminator,
ReLU and a tanh output in the generator, weights drawn from N(0, 0.02), Adam with lr 2e-4 and
beta1 0.5. The training loop is provided in nndl2/faces.py (train_faces): read it.
"""

import torch
import torch.nn as nn
import torch.optim as optim
import torchvision.datasets as datasets
import torchvision.transforms as transforms
from torch.utils.data import DataLoader

Z_SIZE = 100  # length of the generator's input noise vector z
CONV_DIM = 32  # channels of the discriminator's first layer and of the generator's last hidden one


def get_data_loader(root, batch_size, image_size=32):
    """
    A DataLoader over a folder of images in torchvision's ImageFolder layout
    (root/<any class folder>/<image>.jpg or .png; class labels are not used).

    Each image is resized so that its shorter side is image_size (transforms.Resize),
    cropped to image_size x image_size at its centre (transforms.CenterCrop) and converted
    to a float32 tensor in [0, 1] (transforms.ToTensor). Do not rescale to [-1, 1] here:
    that is `scale`'s job, in the training loop.

    Inputs:
    - root: path of the image folder.
    - batch_size: number of images per batch.
    - image_size: side of the square images, in pixels.

    Returns:
    - A torch.utils.data.DataLoader that yields (images, labels) batches, images of shape
      (batch_size, 3, image_size, image_size) with values in [0, 1]; every image once per
      epoch, in a new random order each epoch (shuffle=True).
    """
    loader = None
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("get_data_loader: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    return loader


def scale(x, feature_range=(-1, 1)):
    """
    Scale images from [0, 1] (what ToTensor gives) to feature_range, linearly:
    0 goes to feature_range[0] and 1 to feature_range[1]. The generator's tanh output lies
    in [-1, 1], so the real images the discriminator sees must lie there too.

    Inputs:
    - x: a tensor of any shape, values in [0, 1].
    - feature_range: (min, max) of the result.

    Returns:
    - A tensor of x's shape and dtype, values in [min, max].
    """
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("scale: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****


class Discriminator(nn.Module):
    """
    The DCGAN discriminator for 32x32 colour images. In order (convolutions without bias,
    kernel 4, stride 2, padding 1 unless said otherwise; no pooling):

    - Conv2d 3 -> conv_dim                            (N, 3, 32, 32) -> (N, conv_dim, 16, 16)
    - LeakyReLU(0.2)                                  (no batch norm on the first layer)
    - Conv2d conv_dim -> 2*conv_dim                   -> (N, 2*conv_dim, 8, 8)
    - BatchNorm2d(2*conv_dim)
    - LeakyReLU(0.2)
    - Conv2d 2*conv_dim -> 4*conv_dim                 -> (N, 4*conv_dim, 4, 4)
    - BatchNorm2d(4*conv_dim)
    - LeakyReLU(0.2)
    - Conv2d 4*conv_dim -> 1, kernel 4, stride 1, padding 0   -> (N, 1, 1, 1)
    - reshaped to (N, 1)                              output: one real-valued score (logit) per image

    No sigmoid at the end: the losses take logits (BCEWithLogitsLoss).
    Expected parameter count for Discriminator(32): 167808.
    """

    def __init__(self, conv_dim=CONV_DIM):
        super().__init__()
        self.conv_dim = conv_dim
        # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
        raise NotImplementedError("Discriminator: write your code here (see the docstring)")
        # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****

    def forward(self, x):
        """x: (N, 3, 32, 32) images in [-1, 1]. Returns (N, 1) logits."""
        # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
        raise NotImplementedError("Discriminator.forward: write your code here (see the docstring)")
        # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****


class Generator(nn.Module):
    """
    The DCGAN generator: noise (N, z_size) to 32x32 colour images. In order (transposed
    convolutions without bias, kernel 4, stride 2, padding 1 unless said otherwise):

    - reshape the noise to (N, z_size, 1, 1)
    - ConvTranspose2d z_size -> 4*conv_dim, kernel 4, stride 1, padding 0   -> (N, 4*conv_dim, 4, 4)
    - BatchNorm2d(4*conv_dim)
    - ReLU
    - ConvTranspose2d 4*conv_dim -> 2*conv_dim        -> (N, 2*conv_dim, 8, 8)
    - BatchNorm2d(2*conv_dim)
    - ReLU
    - ConvTranspose2d 2*conv_dim -> conv_dim          -> (N, conv_dim, 16, 16)
    - BatchNorm2d(conv_dim)
    - ReLU
    - ConvTranspose2d conv_dim -> 3                   -> (N, 3, 32, 32)
    - Tanh                                            output: images in [-1, 1]

    Expected parameter count for Generator(100, 32): 370624.
    """

    def __init__(self, z_size=Z_SIZE, conv_dim=CONV_DIM):
        super().__init__()
        self.z_size = z_size
        self.conv_dim = conv_dim
        # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
        raise NotImplementedError("Generator: write your code here (see the docstring)")
        # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****

    def forward(self, z):
        """z: (N, z_size) noise. Returns (N, 3, 32, 32) images in [-1, 1]."""
        # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
        raise NotImplementedError("Generator.forward: write your code here (see the docstring)")
        # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****


def weights_init_normal(m):
    """
    Initialize one module's weights as the DCGAN paper does (use it as model.apply(weights_init_normal)):

    - Conv2d, ConvTranspose2d and Linear layers: weights from a normal distribution with
      mean 0 and standard deviation 0.02; their biases (if they have any) set to 0.
    - BatchNorm layers (BatchNorm1d / 2d): weights from a normal distribution with mean 1 and
      standard deviation 0.02; biases set to 0.
    - Any other module: left as it is.

    Input:
    - m: one nn.Module (model.apply calls this on every module of the model).
    """
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("weights_init_normal: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****


def real_loss(D_out, smooth=False):
    """
    The loss of the discriminator's scores on real images: the mean binary cross-entropy of
    the logits against the label "real", 1. With smooth=True, use 0.9 instead of 1
    (one-sided label smoothing: the discriminator is never asked to be fully sure).

    Inputs:
    - D_out: (N, 1) tensor of logits (the discriminator's output).
    - smooth: whether to smooth the labels to 0.9.

    Returns:
    - A scalar tensor (shape ()), differentiable with respect to D_out. Make the labels with
      D_out's dtype and device (torch.full_like / torch.ones_like) so the loss works on a GPU.
    """
    loss = None
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("real_loss: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    return loss


def fake_loss(D_out):
    """
    The loss of the discriminator's scores on fake images: the mean binary cross-entropy of
    the logits against the label "fake", 0.

    Inputs:
    - D_out: (N, 1) tensor of logits.

    Returns:
    - A scalar tensor (shape ()), differentiable with respect to D_out.
    """
    loss = None
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("fake_loss: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    return loss


def get_optimizers(D, G):
    """
    The two optimizers of DCGAN training: Adam with learning rate 0.0002 and
    betas (0.5, 0.999), one over the discriminator's parameters and one over the generator's.

    Inputs:
    - D, G: the discriminator and the generator (nn.Module).

    Returns:
    - (d_optimizer, g_optimizer): torch.optim.Adam over D.parameters() and over G.parameters().
    """
    d_optimizer, g_optimizer = None, None
    # ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    raise NotImplementedError("get_optimizers: write your code here (see the docstring)")
    # ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****
    return d_optimizer, g_optimizer
