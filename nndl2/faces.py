"""Part 2 (optional): the DCGAN-on-faces training loop, its budgets, the image folder and the plots.

Read `train_faces`; you won't need to change it. It is PyTorch's DCGAN example (pytorch/examples,
dcgan/main.py) with your functions from faces.py: each iteration takes one discriminator step and
one generator step and prints the classic log line

    [epoch/epochs][i/n] Loss_D: ... Loss_G: ... D(x): ... D(G(z)): before / after

where D(x) is the discriminator's mean belief (sigmoid of its logits) that the real batch is real
and D(G(z)) its belief in the fakes, before and after its own step.

The face images come from any folder in torchvision's ImageFolder layout,
root/<any class folder>/<image>.jpg: CelebA (img_align_celeba/), LFW (one folder per person), or a
course's own set. `check_image_folder` says exactly what is wrong when it is missing or empty.
"""

import math
import os
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.utils import make_grid
from tqdm.auto import tqdm

from nndl2.budget import budget_name
from nndl2.speed import platform_speedups
from nndl2.training import fill_history, fixed_noise, frozen

FACES_ROOT = "FACES_ROOT"  # environment variable: the image folder, when the notebook's default is not it
DEFAULT_ROOT = "faces"  # the notebook's default: faces/<class folder>/<image>.jpg beside the notebook

# How long Part 2 trains: the one place these numbers live. An "epoch" here is images_per_epoch
# images drawn afresh (the loader shuffles) from the folder, so a large set such as CelebA (202,599
# images) trains for a bounded time; None uses every image once per epoch.
BUDGETS = {
    # The lab's 5 epochs, of 20,000 images each, at 32x32 (not timed on a GPU: none was available to the kit).
    "full": {"num_epochs": 5, "images_per_epoch": 20000, "batch_size": 128},
    # Never trained by the grader: under nbgrader (if Part 2 is ever autograded) only the plumbing runs.
    "autograde": {"num_epochs": 1, "images_per_epoch": 256, "batch_size": 64},
    "smoke": {"num_epochs": 1, "images_per_epoch": 64, "batch_size": 16},
}
BUDGET = budget_name()
TRAINING = BUDGETS[BUDGET]
IMAGE_SIZE = 32  # the networks of faces.py are built for 32x32 images
SEED = 0  # torch.manual_seed before building the networks, so a run can be repeated


class ImageFolderError(FileNotFoundError):
    """The face folder is missing or holds no image in ImageFolder's layout (the message says what to do)."""


LAYOUT = (
    "torchvision's ImageFolder layout is expected: ROOT/<any folder>/<image>.jpg, one folder level down "
    "(for example faces/celeba/000001.jpg); the folder names are class labels, which this GAN ignores"
)


def face_root(root=None):
    """The image folder: `root`, else $FACES_ROOT, else faces/ (beside the notebook)."""
    return Path(root or os.environ.get(FACES_ROOT) or DEFAULT_ROOT)


def is_image(path):
    return path.suffix.lower() in IMG_EXTENSIONS


def check_image_folder(root=None):
    """The number of images in `root` (ImageFolder layout); if none, ImageFolderError naming the folder and layout."""
    root = face_root(root)
    where = f"{root} (absolute: {root.resolve()})"
    if not root.exists():
        raise ImageFolderError(f"No face image folder at {where}. {LAYOUT}. Get one as the notebook's first cells say.")
    if not root.is_dir():
        raise ImageFolderError(f"{where} is a file, not a folder. {LAYOUT}.")
    count = sum(1 for folder in root.iterdir() if folder.is_dir() for path in folder.rglob("*") if is_image(path))
    if count == 0:
        loose = sum(1 for path in root.iterdir() if path.is_file() and is_image(path))
        hint = (
            f" It has {loose} images directly inside it: move them into a subfolder, e.g. {root}/all/."
            if loose
            else f" Image files end in one of {', '.join(IMG_EXTENSIONS)}."
        )
        raise ImageFolderError(f"No images in {where}. {LAYOUT}.{hint}")
    return count


def download_lfw(root="lfw"):
    """Labeled Faces in the Wild (13,233 images, about 180 MB) via torchvision; returns its ImageFolder root.

    Its folder has one subfolder per person, which is ImageFolder's layout already.
    """
    import torchvision.datasets as datasets

    datasets.LFWPeople(str(root), split="10fold", image_set="deepfunneled", download=True)
    return Path(root) / "lfw-py" / "lfw-deepfunneled"


def download_celeba(root="celeba"):
    """CelebA (202,599 aligned faces, 1.4 GB) via torchvision; returns its ImageFolder root.

    torchvision downloads it from Google Drive, which often refuses ("quota exceeded"): then use LFW,
    or a copy of img_align_celeba/ in your own Drive.
    """
    import torchvision.datasets as datasets

    datasets.CelebA(str(root), split="train", download=True)
    return Path(root) / "celeba"  # celeba/img_align_celeba/*.jpg: one class folder


def train_faces(D, G, d_optimizer, g_optimizer, real_loss, fake_loss, scale, loader, num_epochs=1,
                images_per_epoch=None, z_size=100, smooth=False, print_every=50, sample_every=None, history=None,
                bfloat16=None):  # fmt: skip
    """
    Train the DCGAN: one discriminator step and one generator step per batch of real faces.

    Inputs:
    - D, G: the discriminator and the generator (already on their device).
    - d_optimizer, g_optimizer: their optimizers (faces.get_optimizers).
    - real_loss, fake_loss, scale: your functions from faces.py.
    - loader: batches (images, labels), images (N, 3, 32, 32) in [0, 1] (faces.get_data_loader).
    - num_epochs: passes over the loader; images_per_epoch: if not None, an epoch stops after this many
      images (the loader shuffles, so each epoch sees another random part of a large folder).
    - z_size: length of the noise vectors, uniform on [-1, 1] as in the DCGAN paper.
    - smooth: one-sided label smoothing of the real labels in D's loss (real_loss(..., smooth=True)).
    - print_every: print the log line every print_every iterations (and at each epoch's last one).
    - sample_every: keep a grid of 16 samples from the same fixed noise every sample_every iterations
      (default: once per epoch, at its end).
    - history: if a dict is given, filled with per-iteration lists "d_loss", "g_loss", "d_real" and
      "d_fake" (D(x) and D(G(z)) before D's step).
    - bfloat16: None (default) where the hardware is fast at it, True / False: always / never (nndl2.speed).

    Returns:
    - samples: list of (iteration, tensor (16, 3, 32, 32) in [-1, 1]) from the fixed noise.
    """
    device = next(G.parameters()).device
    progress = Progress(G, z_size, loader, num_epochs, images_per_epoch, print_every, sample_every)
    examples = {D: torch.zeros(2, 3, IMAGE_SIZE, IMAGE_SIZE, device=device), G: progress.fixed_noise[:2]}
    with platform_speedups(device, examples, (d_optimizer, g_optimizer), bfloat16) as autocast:
        for epoch in range(num_epochs):
            for i, (real_images, _) in enumerate(loader):
                if i >= progress.per_epoch:
                    break
                real_images = scale(real_images.to(device, non_blocking=True))  # [0, 1] -> [-1, 1]
                z = (2 * torch.rand(len(real_images), z_size) - 1).to(device, non_blocking=True)

                # (1) Discriminator step: real faces should score "real", fakes "fake". detach() keeps
                # this loss from sending gradients into G; the fakes are reused for G's step.
                with autocast:
                    fake_images = G(z)
                    d_real_logits = D(real_images)
                    d_fake_logits = D(fake_images.detach())
                d_real_logits, d_fake_logits = d_real_logits.float(), d_fake_logits.float()
                d_loss = real_loss(d_real_logits, smooth=smooth) + fake_loss(d_fake_logits)
                d_optimizer.zero_grad(set_to_none=True)
                d_loss.backward()
                d_optimizer.step()

                # (2) Generator step: the updated D should now call the same fakes real (flipped labels);
                # scored with D frozen, autograd skips D's weights.
                with frozen(D), autocast:
                    g_logits = D(fake_images)
                g_logits = g_logits.float()
                g_loss = real_loss(g_logits)
                g_optimizer.zero_grad(set_to_none=True)
                g_loss.backward()
                g_optimizer.step()

                progress.log(epoch, i, d_loss, g_loss, (d_real_logits, d_fake_logits, g_logits), autocast)
    return progress.close(history)


class Progress:
    """train_faces' bookkeeping: the progress bar, each iteration's losses and D's beliefs (read back into `history`
    at the end), the log line every print_every iterations and at each epoch's end, and the samples' grids (from
    16 fixed noise vectors: nndl2.training.fixed_noise). `history` gets the first four of its five columns."""

    def __init__(self, G, z_size, loader, num_epochs, images_per_epoch, print_every, sample_every):
        self.G, self.num_epochs, self.print_every, self.sample_every = G, num_epochs, print_every, sample_every
        self.per_epoch = len(loader)  # iterations per epoch
        if images_per_epoch is not None:
            batch_size = getattr(loader, "batch_size", None) or 1
            self.per_epoch = min(self.per_epoch, max(1, math.ceil(images_per_epoch / batch_size)))
        self.fixed_noise = fixed_noise(z_size, next(G.parameters()).device)
        self.samples, self.stats, self.iteration = [], [], 0
        self.bar = tqdm(total=num_epochs * self.per_epoch, desc="training", file=sys.stdout, mininterval=2.0)

    def log(self, epoch, i, d_loss, g_loss, logits, autocast):
        """Iteration `i` of `epoch` done; `logits`: D's on the real batch and the fakes before and after its step."""
        with torch.no_grad():
            d_x, d_g_z1, d_g_z2 = (torch.sigmoid(t.detach()).mean() for t in logits)
        self.stats.append(torch.stack([d_loss.detach().reshape(()), g_loss.detach().reshape(()), d_x, d_g_z1, d_g_z2]))
        last = i == self.per_epoch - 1
        if i % self.print_every == 0 or last:
            values = self.stats[-1].tolist()
            self.bar.write(
                f"[{epoch}/{self.num_epochs}][{i}/{self.per_epoch}] Loss_D: {values[0]:.4f} Loss_G: {values[1]:.4f} "
                f"D(x): {values[2]:.4f} D(G(z)): {values[3]:.4f} / {values[4]:.4f}"
            )
        if (self.sample_every and self.iteration % self.sample_every == 0) or (not self.sample_every and last):
            with torch.no_grad(), autocast:  # in training mode, as PyTorch's DCGAN example samples
                self.samples.append((self.iteration, self.G(self.fixed_noise).detach().float().cpu()))
        self.iteration += 1
        self.bar.update(1)

    def close(self, history):
        """Closes the bar, fills `history` (if a dict) and returns the kept samples."""
        self.bar.close()
        fill_history(history, self.stats)
        return self.samples


def face_grid(images, nrow=4):
    """One image (H, W, 3) in [0, 1] of a batch (N, 3, H, W) in [-1, 1] (torchvision's make_grid)."""
    grid = make_grid(torch.as_tensor(images).float(), nrow=nrow, padding=2, normalize=True, value_range=(-1, 1))
    return grid.permute(1, 2, 0).numpy()


def show_faces(images, nrow=4, title=None):
    """Show a batch (N, 3, H, W) of images in [-1, 1] (generated, or scaled real ones) as one grid."""
    fig = plt.figure(figsize=(nrow * 1.2, math.ceil(len(images) / nrow) * 1.2))
    plt.imshow(face_grid(images, nrow))
    plt.axis("off")
    if title:
        plt.title(title)
    return fig


def show_progress(samples, columns=4):
    """The fixed-noise grids kept by train_faces, side by side, each titled with its iteration."""
    count = len(samples)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, min(count, columns), figsize=(3 * min(count, columns), 3 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, (iteration, images) in zip(axes.flat, samples, strict=False):
        axis.imshow(face_grid(images))
        axis.set_title(f"iteration {iteration}")
    fig.tight_layout()
    return fig


def save_grid(images, path, nrow=4):
    """Write a grid of images (N, 3, H, W) in [-1, 1] as a PNG."""
    plt.imsave(path, np.clip(face_grid(images, nrow), 0, 1))
