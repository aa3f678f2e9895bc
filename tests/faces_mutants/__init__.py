"""Part 2's corpus: single-bug versions of the reference faces.py, and a correct one in another style.

MUTANTS: {name: (the function whose item it must lose, old, new)}: the reference solution
(grading/course/solution/faces.py) with `old` replaced by `new`, which must occur exactly once. Each mutant
has one bug, in one function: the judge must fail exactly that item and pass the seven others.
STYLES: files of correct faces.py modules written differently (every item must pass).
"""

from pathlib import Path

from grading.kit import SOLUTION_FACES

HERE = Path(__file__).resolve().parent
STYLES = {"udacity": HERE / "style_udacity.py.txt"}

MUTANTS = {
    "loader_no_crop": (
        "get_data_loader",
        "[transforms.Resize(image_size), transforms.CenterCrop(image_size), transforms.ToTensor()]",
        "[transforms.Resize(image_size), transforms.ToTensor()]",
    ),
    "loader_normalized": (
        "get_data_loader",
        "transforms.ToTensor()]",
        "transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]",
    ),
    "loader_not_shuffled": (
        "get_data_loader",
        "DataLoader(dataset, batch_size=batch_size, shuffle=True)",
        "DataLoader(dataset, batch_size=batch_size, shuffle=False)",
    ),
    "scale_ignores_range": ("scale", "return x * (high - low) + low", "return x * 2 - 1"),
    "discriminator_relu": (
        "Discriminator",
        "nn.LeakyReLU(0.2),\n            nn.Conv2d(conv_dim * 2, conv_dim * 4",
        "nn.ReLU(),\n            nn.Conv2d(conv_dim * 2, conv_dim * 4",
    ),
    "discriminator_sigmoid": (
        "Discriminator",
        "return self.main(x).reshape(len(x), 1)",
        "return torch.sigmoid(self.main(x)).reshape(len(x), 1)",
    ),
    "generator_no_tanh": ("Generator", "            nn.Tanh(),\n", ""),
    "init_std_0_2": (
        "weights_init_normal",
        "nn.init.normal_(m.weight, 0.0, 0.02)",
        "nn.init.normal_(m.weight, 0.0, 0.2)",
    ),
    "init_skips_batchnorm": (
        "weights_init_normal",
        "nn.init.normal_(m.weight, 1.0, 0.02)\n        nn.init.zeros_(m.bias)",
        "pass",
    ),
    "init_uniform": (
        "weights_init_normal",
        "nn.init.normal_(m.weight, 0.0, 0.02)",
        "nn.init.uniform_(m.weight, -0.02 * 3**0.5, 0.02 * 3**0.5)",
    ),
    "real_loss_no_smoothing": ("real_loss", "0.9 if smooth else 1.0", "1.0"),
    "real_loss_smooths_by_default": (
        "real_loss",
        "def real_loss(D_out, smooth=False):",
        "def real_loss(D_out, smooth=True):",
    ),
    "fake_loss_detached": (
        "fake_loss",
        "binary_cross_entropy_with_logits(D_out, torch.zeros_like(D_out))",
        "binary_cross_entropy_with_logits(D_out.detach(), torch.zeros_like(D_out))",
    ),
    "fake_loss_label_one": ("fake_loss", "torch.zeros_like(D_out))", "torch.ones_like(D_out))"),
    "optimizers_beta1_0_9": (
        "get_optimizers",
        "d_optimizer = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))",
        "d_optimizer = optim.Adam(D.parameters(), lr=2e-4, betas=(0.9, 0.999))",
    ),
    "optimizers_swapped": ("get_optimizers", "return d_optimizer, g_optimizer", "return g_optimizer, d_optimizer"),
    "optimizers_lr_1e_3": (
        "get_optimizers",
        "g_optimizer = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))",
        "g_optimizer = optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))",
    ),
}


def mutant_text(name):
    """The text of mutant `name`'s faces.py."""
    _, old, new = MUTANTS[name]
    text = SOLUTION_FACES.read_text()
    if text.count(old) != 1:
        raise ValueError(f"mutant {name}: {old!r} occurs {text.count(old)} times in the reference, not once")
    return text.replace(old, new)
