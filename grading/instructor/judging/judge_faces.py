"""The judge of Part 2 (faces.py): scores the functions from the plain data nndl2/agent/export_faces.py wrote.

Like Part 1's judge (grading/instructor/judging/judge.py, whose readers and architecture check it reuses), it runs
in the grader's process and never imports or runs student code: it reads .npz files without pickles and
compares them with the reference solution (grading/course/solution/faces.py), which it does run.

- get_data_loader: the grader's folder holds solid-colour images of a size that is not square, in two
  class folders, and a number of them that the batch size divides (so drop_last does not matter). Every
  batch must be (batch_size, 3, size, size) in [0, 1]; each image one of the folder's colours / 255
  (ToTensor; any resize or crop of a solid colour keeps it); each epoch every image once; the order
  shuffled (not the folder's, and another in the second epoch).
- scale: its values with the default range and with the grader's range.
- Discriminator, Generator: the student's parameters loaded into the reference network must reproduce
  the student's outputs on the grader's inputs (any module style passes; a wrong layer, activation or
  order fails).
- weights_init_normal: a network of every layer type, filled with marker values, after model.apply:
  convolution, transposed convolution and linear weights N(0, 0.02) (mean, standard deviation and
  kurtosis of tens of thousands of values), batch-norm weights N(1, 0.02), every bias 0.
- real_loss (smooth False, the default, and True), fake_loss: value and gradient on the grader's logits
  in float64 and float32 against the reference in float64, at float32 tolerances.
- get_optimizers: three steps of each optimizer on two small float64 networks, with gradients on both:
  D's must follow Adam(lr=2e-4, betas=(0.5, 0.999)) over D's parameters only, G's over G's only.

Each item gets a Verdict; the points are grading/course/part2.py's FACES_POINTS (0 by default).
"""

import math
import secrets
from pathlib import Path

import numpy as np
import torch

from grading.course.part2 import FUNCTION_ITEMS
from grading.instructor.judging.judge import (
    adam_trajectory,
    arrow,
    judge_architecture,
    load_module,
    load_result,
    where,
)
from grading.instructor.judging.verdict import Verdict, clean
from grading.kit import load_faces_solution
from nndl2.agent.export_faces import init_probe  # the kit's own code (never the student's)
from nndl2.checks import GRADIENT_TOLERANCE, LOSS_TOLERANCE, relative_error

LR, BETAS = 2e-4, (0.5, 0.999)
COLOUR_TOLERANCE = 1.5 / 255  # an image's pixels against its colour / 255: ToTensor is exact; interpolation rounds
SCALE_TOLERANCE = 1e-5  # scale's values, relative to the range (float32 arithmetic)
INIT_STATS = {  # (layer kind, mean, std): what weights_init_normal must give, and the allowed deviations below
    "conv": (0.0, 0.02),
    "batchnorm": (1.0, 0.02),
}
PROBE_LAYERS = tuple(type(layer).__name__ for layer in init_probe())  # the network the export initializes


def draw_inputs(seed=None):
    """The inputs faces.py's functions are called on, drawn fresh for one submission (numpy arrays)."""
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    batch = int(rng.integers(3, 7))
    count = batch * int(rng.integers(4, 7))
    colours = set()
    while len(colours) < count:  # distinct colours, far enough apart to tell every image from the others
        colour = tuple(int(v) for v in rng.integers(0, 32, size=3) * 8 + 4)
        colours.add(colour)
    size = int(rng.integers(12, 25))
    width = size + int(rng.integers(2, 12))
    height = width + int(rng.integers(3, 9)) * int(rng.choice([-1, 1]))
    height = max(height, size + 1)
    inputs = {
        "torch_seed": np.array(int(rng.integers(2**31))),
        "loader_colours": np.array(sorted(colours), dtype=np.uint8)[rng.permutation(count)],
        "loader_batch": np.array(batch),
        "loader_size": np.array(size),
        "loader_width": np.array(width),
        "loader_height": np.array(height),
        "scale_x": rng.uniform(0, 1, size=(int(rng.integers(2, 6)), 3, 5, 7)).astype(np.float32),
        # at least 1 wide: the tolerance is relative to the width, and a float32 scale onto a narrow range
        # (two close draws) missed it while right
        "scale_range": np.array([rng.uniform(-3, -0.5), rng.uniform(0.5, 3)]),
        "d_conv_dim": np.array(int(rng.integers(3, 9))),
        "d_images": rng.uniform(-1, 1, size=(int(rng.integers(5, 12)), 3, 32, 32)).astype(np.float32),
        "g_z_size": np.array(int(rng.integers(8, 40))),
        "g_conv_dim": np.array(int(rng.integers(3, 9))),
    }
    inputs["g_noise"] = rng.uniform(-1, 1, size=(int(rng.integers(5, 12)), int(inputs["g_z_size"]))).astype(np.float32)
    for dtype in ("float64", "float32"):
        inputs[f"loss_{dtype}"] = rng.normal(0, 2.5, size=(int(rng.integers(20, 60)), 1)).astype(dtype)
    for prefix, (n_in, n_hidden, n_out) in (("d", (5, 4, 2)), ("g", (3, 6, 5))):
        shapes = [(n_hidden, n_in), (n_hidden,), (n_out, n_hidden), (n_out,)]
        for index, shape in enumerate(shapes):
            inputs[f"{prefix}_init{index}"] = rng.normal(0, 0.5, size=shape)
            first = rng.normal(0, 1e-3, size=shape)  # as Part 1: weight decay, AMSGrad and betas all show
            steps = [first, first * 0.01 * rng.choice([-1, 1], size=shape), rng.normal(0, 1e-3, size=shape)]
            for step, gradient in enumerate(steps):
                inputs[f"{prefix}_grad{step}_{index}"] = gradient
    return inputs


def described_error(meta, name):
    """'name raised ValueError: ... (faces.py line 12)' for an export that records an exception, else None."""
    if "error" not in meta:
        return None
    if meta["error"] == "NotImplementedError":
        return f"{name} is not implemented yet (it raises NotImplementedError)."
    message = clean(meta.get("message", ""))
    line = f" (faces.py {where(meta, name.split('(')[0])})" if isinstance(meta.get("line"), int) else ""
    return f"{name} raised {clean(meta['error'], 60)}{': ' + message if message else ''}{line}."


# ---------------------------------------------------------------------------
# The functions
# ---------------------------------------------------------------------------


def judge_get_data_loader(meta, arrays, inputs):
    colours = inputs["loader_colours"].astype(np.float64) / 255
    count, batch, size = len(colours), int(inputs["loader_batch"]), int(inputs["loader_size"])
    width, height = int(inputs["loader_width"]), int(inputs["loader_height"])
    shape = (batch, 3, size, size)
    epochs = meta.get("epochs")
    if not (isinstance(epochs, list) and len(epochs) == 2 and all(isinstance(e, list) for e in epochs)):
        return Verdict(False, "get_data_loader: the grader could not read two epochs of the loader.")
    orders = []
    for epoch, infos in enumerate(epochs):
        batches = []
        for number, info in enumerate(infos):
            images = arrays.get(f"epoch{epoch}_batch{number}")
            if images is None:
                kind = clean(info.get("type") if isinstance(info, dict) else "?", 40)
                return Verdict(False, f"get_data_loader: a batch's images must be a torch tensor, got {kind}.")
            batches.append(images)
        if not batches:
            return Verdict(False, "get_data_loader: the loader gave no batch.")
        for images in batches:
            if tuple(images.shape) != shape:
                return Verdict(
                    False,
                    f"get_data_loader: on {count} images of {width}x{height} pixels with batch_size={batch} and "
                    f"image_size={size}, a batch had shape {tuple(images.shape)}; expected {shape} (resize, then "
                    "crop the centre square).",
                )
        every = np.concatenate(batches)
        if not np.isfinite(every).all() or every.min() < 0 or every.max() > 1:
            return Verdict(
                False,
                f"get_data_loader: the images must lie in [0, 1] (ToTensor, no Normalize: scale() maps them to "
                f"[-1, 1] in the training loop); got [{every.min():.3g}, {every.max():.3g}].",
            )
        means = every.reshape(len(every), 3, -1).mean(axis=2)
        found = np.argmin(np.abs(means[:, None, :] - colours[None, :, :]).max(axis=2), axis=1)
        if np.abs(every - colours[found][:, :, None, None]).max() > COLOUR_TOLERANCE:
            return Verdict(
                False,
                "get_data_loader: the images' values are not their pixels / 255 (a solid-colour image must stay that "
                "colour): use transforms.ToTensor on the resized images.",
            )
        if sorted(found.tolist()) != list(range(count)):
            return Verdict(
                False,
                f"get_data_loader: an epoch must give every image of the folder once; it gave {len(found)} images, "
                f"{len(set(found.tolist()))} of the {count} different ones.",
            )
        orders.append(found.tolist())
    folder_order = list(range(count))  # ImageFolder's order: a/ then b/, each sorted by file name
    if orders[0] == folder_order or orders[0] == orders[1]:
        return Verdict(
            False, "get_data_loader: the images come in the same order every epoch: the loader must shuffle them."
        )
    return Verdict(
        True,
        f"get_data_loader: {count} images of {width}x{height} in batches of {shape}, values in [0, 1], every image "
        "once per epoch, shuffled.",
    )


def judge_scale(meta, arrays, inputs):
    x = inputs["scale_x"].astype(np.float64)
    low, high = (float(v) for v in inputs["scale_range"])
    for key, (a, b) in (("default", (-1.0, 1.0)), ("range", (low, high))):
        info = meta.get(key) or {}
        call = "scale(x)" if key == "default" else f"scale(x, feature_range=({low:.3g}, {high:.3g}))"
        if key not in arrays:
            return Verdict(False, f"scale: {call} must return a torch tensor, got {clean(info.get('type'), 40)}.")
        got = arrays[key]
        if got.shape != x.shape:
            return Verdict(False, f"scale: {call} gave shape {tuple(got.shape)} for x of shape {x.shape}.")
        want = x * (b - a) + a
        error = float(np.max(np.abs(got - want))) / (b - a)
        if not np.isfinite(got).all() or error > SCALE_TOLERANCE:
            return Verdict(
                False,
                f"scale: {call} should map [0, 1] linearly onto [{a:.3g}, {b:.3g}] (0 to {a:.3g}, 1 to {b:.3g}); "
                f"its values are off by up to {error:.3g} of the range.",
            )
    return Verdict(True, "scale: maps [0, 1] onto (-1, 1) by default and onto the grader's range.")


def kurtosis(values):
    centred = values - values.mean()
    return float(np.mean(centred**4) / np.mean(centred**2) ** 2)


def judge_weights_init_normal(meta, arrays, inputs):
    names = meta.get("names") or []
    expected = [f"{i}.{kind}" for i in range(len(PROBE_LAYERS)) for kind in ("weight", "bias")]
    if names != expected or any(f"p{i}" not in arrays for i in range(len(names))):
        return Verdict(False, "weights_init_normal: the grader's network did not come back whole.")
    for index, layer in enumerate(PROBE_LAYERS):
        weight, bias = arrays[f"p{2 * index}"].astype(np.float64).ravel(), arrays[f"p{2 * index + 1}"].ravel()
        mean, std = INIT_STATS["batchnorm" if layer.startswith("BatchNorm") else "conv"]
        if np.all(weight == 5.0):
            return Verdict(False, f"weights_init_normal left the weights of a {layer} layer as they were.")
        m, s = float(weight.mean()), float(weight.std())
        # Six standard errors of the mean and of the standard deviation of len(weight) normal draws.
        mean_ok = abs(m - mean) <= 6 * std / math.sqrt(len(weight))
        std_ok = abs(s - std) <= 6 * std / math.sqrt(2 * len(weight))
        normal = abs(kurtosis(weight) - 3) <= 6 * math.sqrt(24 / len(weight))
        if not (mean_ok and std_ok and normal):
            shape = "" if normal else f", kurtosis {kurtosis(weight):.2f} where a normal distribution has 3"
            return Verdict(
                False,
                f"weights_init_normal: the weights of a {layer} layer have mean {m:.4f} and standard deviation "
                f"{s:.4f}{shape}; expected a normal distribution with mean {mean:g} and standard deviation {std:g}.",
            )
        if not np.all(bias == 0):
            return Verdict(False, f"weights_init_normal: the biases of a {layer} layer must be set to 0.")
    return Verdict(
        True,
        "weights_init_normal: convolution, transposed convolution and linear weights N(0, 0.02), batch-norm weights "
        "N(1, 0.02), every bias 0.",
    )


LOSS_VARIANTS = {  # item: [(variant, call shown, label of the reference)]
    "real_loss": [("plain", "real_loss(D_out)", 1.0), ("smooth", "real_loss(D_out, smooth=True)", 0.9)],
    "fake_loss": [("plain", "fake_loss(D_out)", 0.0)],
}


def reference_loss(function, logits, kwargs):
    """The reference loss's value and gradient on float64 `logits` (the trusted solution, run here)."""
    x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    loss = function(x, **kwargs)
    (gradient,) = torch.autograd.grad(loss, x)
    return float(loss.detach()), gradient.numpy()


def judge_loss(name, meta, arrays, inputs, solution):
    for variant, call, label in LOSS_VARIANTS[name]:
        for dtype in ("float64", "float32"):
            info = meta.get(f"{variant}_{dtype}") or {}
            error = described_error(info, call)
            if error:
                return Verdict(False, error)
            value = arrays.get(f"{variant}_{dtype}_value")
            if info.get("type") != "Tensor" or value is None:
                return Verdict(False, f"{call} must return a torch tensor, got {clean(info.get('type'), 40)}.")
            if value.size != 1:
                return Verdict(False, f"{call} must return one number (the mean), got shape {info.get('shape')}.")
            kwargs = {"smooth": True} if variant == "smooth" else {}
            want, gradient = reference_loss(getattr(solution, name), inputs[f"loss_{dtype}"], kwargs)
            error = relative_error(float(value[0]), want)
            if not error <= LOSS_TOLERANCE:
                return Verdict(
                    False,
                    f"{call} gave {float(value[0]):.6g} on {dtype} logits where the mean binary cross-entropy against "
                    f"the label {label:g} is {want:.6g} (relative error {error:.2g}).",
                )
            got = arrays.get(f"{variant}_{dtype}_grad")
            if got is None:
                return Verdict(
                    False, f"{call}: no gradient reaches D_out (is it detached, or computed outside torch?)."
                )
            scale = float(np.max(np.abs(gradient))) or 1.0
            if got.shape != gradient.shape or not float(np.max(np.abs(got - gradient))) <= GRADIENT_TOLERANCE * scale:
                return Verdict(False, f"{call}: the gradient with respect to D_out is wrong (the value is right).")
    calls = " and ".join(call for _, call, _ in LOSS_VARIANTS[name])
    return Verdict(True, f"{calls}: the right value and gradient on fresh float64 and float32 logits.")


def judge_get_optimizers(meta, arrays, inputs):
    if "classes" not in meta:
        got = meta.get("type", "?")
        return Verdict(
            False, f"get_optimizers must return two optimizers (d_optimizer, g_optimizer), got {clean(got, 40)}."
        )
    names = {"d": "d_optimizer (the first)", "g": "g_optimizer (the second)"}
    initial = {p: [inputs[f"{p}_init{i}"] for i in range(4)] for p in ("d", "g")}
    trajectories = {}
    for p in ("d", "g"):
        keyed = {f"opt_init{i}": inputs[f"{p}_init{i}"] for i in range(4)}
        keyed |= {f"opt_grad{s}_{i}": inputs[f"{p}_grad{s}_{i}"] for s in range(3) for i in range(4)}
        trajectories[p] = adam_trajectory(keyed, lr=LR, betas=BETAS)
    for which in ("d", "g"):
        other = "g" if which == "d" else "d"
        kind = clean(str(meta["classes"][0 if which == "d" else 1]).rsplit(".", 1)[-1], 40)
        for step in range(3):
            own = [arrays.get(f"{which}step{step}_{which}{i}") for i in range(4)]
            theirs = [arrays.get(f"{which}step{step}_{other}{i}") for i in range(4)]
            if any(a is None for a in own + theirs):
                return Verdict(False, f"get_optimizers: {names[which]} ({kind}) could not take step {step + 1}.")
            # The other network: untouched by this optimizer (at its start, or where its own 3 steps left it in this
            # export: exactly, PyTorch against PyTorch; its own steps are checked against Adam with a tolerance)
            resting = initial[other] if which == "d" else [arrays.get(f"dstep2_d{i}") for i in range(4)]
            if not all(b is not None and np.array_equal(a, b) for a, b in zip(theirs, resting, strict=True)):
                network = "generator" if other == "g" else "discriminator"
                return Verdict(False, f"get_optimizers: {names[which]} changes the {network}'s parameters.")
            close = [
                a.shape == e.shape and np.allclose(a, e, rtol=1e-9, atol=1e-12)
                for a, e in zip(own, trajectories[which][step], strict=True)
            ]
            if not all(close):
                network = "discriminator" if which == "d" else "generator"
                return Verdict(
                    False,
                    f"get_optimizers: {names[which]} ({kind}) does not update the {network} as Adam with lr=0.0002, "
                    f"betas=(0.5, 0.999) does over all its parameters (first difference at step {step + 1}).",
                )
    return Verdict(True, "get_optimizers: Adam(lr=0.0002, betas=(0.5, 0.999)) over D's parameters, then over G's.")


def judge_functions(folder, inputs, solution=None):
    """{grade id: Verdict} of faces.py's eight graded functions from the export in `folder`."""
    s = solution or load_faces_solution()
    folder = Path(folder)
    module, lost = load_module(folder, FUNCTION_ITEMS, "faces.py")
    if lost:
        return lost
    if module.get("import") != "ok":
        found = module.get("import") if isinstance(module.get("import"), dict) else {"error": "failed"}
        problem = described_error(found, "importing faces.py") or "importing faces.py failed."
        return {item: Verdict(False, problem) for item in FUNCTION_ITEMS}
    d_dim, g_dim, z_size = int(inputs["d_conv_dim"]), int(inputs["g_conv_dim"]), int(inputs["g_z_size"])
    n_d, n_g = len(inputs["d_images"]), len(inputs["g_noise"])
    architectures = {
        "Discriminator": (
            lambda: s.Discriminator(d_dim), inputs["d_images"], [(n_d, 1)],
            arrow(f"Conv2d(3, {d_dim})", "LeakyReLU(0.2)", f"Conv2d({d_dim}, {2 * d_dim})", "BatchNorm2d",
                  "LeakyReLU(0.2)", f"Conv2d({2 * d_dim}, {4 * d_dim})", "BatchNorm2d", "LeakyReLU(0.2)",
                  f"Conv2d({4 * d_dim}, 1, stride 1, padding 0)"),
        ),
        "Generator": (
            lambda: s.Generator(z_size, g_dim), inputs["g_noise"], [(n_g, 3, 32, 32)],
            arrow(f"ConvTranspose2d({z_size}, {4 * g_dim}, stride 1, padding 0)", "BatchNorm2d", "ReLU",
                  f"ConvTranspose2d({4 * g_dim}, {2 * g_dim})", "BatchNorm2d", "ReLU",
                  f"ConvTranspose2d({2 * g_dim}, {g_dim})", "BatchNorm2d", "ReLU", f"ConvTranspose2d({g_dim}, 3)",
                  "Tanh"),
        ),
    }  # fmt: skip
    verdicts = {}
    for item, name in FUNCTION_ITEMS.items():
        found = load_result(folder, name, "faces.py")
        if isinstance(found, Verdict):
            verdicts[item] = found
            continue
        meta, arrays = found
        try:
            error = described_error(meta, name)
            if error:
                verdicts[item] = Verdict(False, error)
            elif name in architectures:
                factory, x, shapes, layers = architectures[name]
                verdicts[item] = judge_architecture(name, meta, arrays, factory, x, shapes, layers)
            elif name in LOSS_VARIANTS:
                verdicts[item] = judge_loss(name, meta, arrays, inputs, s)
            else:
                verdicts[item] = globals()[f"judge_{name}"](meta, arrays, inputs)
        except Exception as error:  # malformed data in a well-formed file: the export's fault, not the grader's
            verdicts[item] = Verdict(False, f"{name}: the exported data is malformed ({type(error).__name__}).")
    return verdicts
