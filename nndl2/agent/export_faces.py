"""Part 2: what the autograder reads from your faces.py: plain data, written only while grading.

As for Part 1 (nndl2/agent/export.py), the grader never scores anything inside your Python process: this
module runs in the sandbox, calls each graded function of faces.py on inputs the grader drew for this
submission, and writes what they returned as numpy files without pickles; a separate grader process
(the grader's judge), which never imports your code, compares them with the reference:

    python -m nndl2.agent.export_faces --inputs IN.npz --out DIR [--work TMP]

- get_data_loader: on a folder of solid-colour images the grader chose (written here under TMP):
  the batches of two epochs;
- scale: its output on the grader's values, with the default range and another one;
- Discriminator, Generator: your network's output on the grader's inputs and its parameters;
- weights_init_normal: the parameters of a network of every layer type after model.apply(it);
- real_loss (smooth False and True), fake_loss: values and input gradients on the grader's logits;
- get_optimizers: the parameters of two small networks after three steps of each optimizer.
"""

import argparse
import importlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from nndl2.agent.export import as_array, run_model, save_npz
from nndl2.agent.export import error_meta as gan_error_meta

FUNCTIONS = (
    "get_data_loader",
    "scale",
    "Discriminator",
    "Generator",
    "weights_init_normal",
    "real_loss",
    "fake_loss",
    "get_optimizers",
)
MAX_EPOCH_BATCHES = 4  # batches read past the expected count of an epoch, before giving up on it


def error_meta(error):
    """What the grader is told about an exception: its type, message and the line of faces.py it came from."""
    return gan_error_meta(error, source="faces.py")


def write_image_folder(root, inputs):
    """The grader's image folder: solid-colour PNGs in two class folders (ImageFolder layout); returns root."""
    from PIL import Image

    root = Path(root)
    colours = inputs["loader_colours"]
    width, height = int(inputs["loader_width"]), int(inputs["loader_height"])
    for index, colour in enumerate(colours):
        folder = root / ("a" if index < len(colours) // 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (width, height), tuple(int(c) for c in colour)).save(folder / f"img-{index:03d}.png")
    return root


def export_get_data_loader(faces, inputs, work):
    """Two epochs of the student's loader over the grader's folder: every batch's images (float32)."""
    root = write_image_folder(Path(tempfile.mkdtemp(dir=work)) / "images", inputs)
    batch_size, image_size = int(inputs["loader_batch"]), int(inputs["loader_size"])
    loader = faces.get_data_loader(str(root), batch_size, image_size)
    expected = -(-len(inputs["loader_colours"]) // batch_size)
    meta, arrays = {"epochs": []}, {}
    for epoch in range(2):
        batches = []
        for number, batch in enumerate(loader):
            if number >= expected + MAX_EPOCH_BATCHES:
                break
            images = batch[0] if isinstance(batch, (list, tuple)) else batch
            value, info = as_array(images)
            batches.append(info)
            if value is None:
                break
            arrays[f"epoch{epoch}_batch{number}"] = value.astype(np.float32)
        meta["epochs"].append(batches)
    return meta, arrays


def export_scale(faces, inputs, work):
    x = torch.from_numpy(inputs["scale_x"])
    low, high = (float(v) for v in inputs["scale_range"])
    meta, arrays = {}, {}
    for key, result in (
        ("default", faces.scale(x.clone())),
        ("range", faces.scale(x.clone(), feature_range=(low, high))),
    ):
        value, meta[key] = as_array(result)
        if value is not None:
            arrays[key] = value
    return meta, arrays


def export_Discriminator(faces, inputs, work):
    return run_model(faces.Discriminator(int(inputs["d_conv_dim"])), inputs["d_images"])


def export_Generator(faces, inputs, work):
    return run_model(faces.Generator(int(inputs["g_z_size"]), int(inputs["g_conv_dim"])), inputs["g_noise"])


def init_probe():
    """A network with every layer type weights_init_normal must handle, filled with marker values first."""
    probe = nn.Sequential(
        nn.Conv2d(32, 64, 4),
        nn.ConvTranspose2d(64, 32, 4),
        nn.Linear(256, 128),
        nn.BatchNorm2d(1024),
        nn.BatchNorm1d(1024),
    )
    with torch.no_grad():
        for name, p in probe.named_parameters():
            p.fill_(5.0 if name.endswith("weight") else 3.0)  # neither N(0, 0.02) nor 0: an untouched layer shows
    return probe


def export_weights_init_normal(faces, inputs, work):
    probe = init_probe()
    probe.apply(faces.weights_init_normal)
    names, arrays = [], {}
    for index, (name, p) in enumerate(probe.named_parameters()):
        names.append(name)
        arrays[f"p{index}"] = p.detach().float().numpy()
    return {"names": names}, arrays


def export_loss(function, inputs, variants):
    """`function` on the grader's logits (float64 and float32) for each (name, kwargs): values and gradients."""
    meta, arrays = {}, {}
    for variant, kwargs in variants:
        for dtype in ("float64", "float32"):
            logits = torch.tensor(inputs[f"loss_{dtype}"], dtype=getattr(torch, dtype), requires_grad=True)
            try:
                loss = function(logits, **kwargs)
            except BaseException as error:  # noqa: BLE001 (one variant may fail alone)
                meta[f"{variant}_{dtype}"] = error_meta(error)
                continue
            value, info = as_array(loss)
            meta[f"{variant}_{dtype}"] = info
            if value is None:
                continue
            arrays[f"{variant}_{dtype}_value"] = value.reshape(-1)
            if loss.requires_grad and loss.numel() == 1:
                loss.sum().backward()
            if logits.grad is not None:
                arrays[f"{variant}_{dtype}_grad"] = logits.grad.detach().double().numpy()
    return meta, arrays


def export_real_loss(faces, inputs, work):
    return export_loss(faces.real_loss, inputs, [("plain", {}), ("smooth", {"smooth": True})])


def export_fake_loss(faces, inputs, work):
    return export_loss(faces.fake_loss, inputs, [("plain", {})])


def small_network(inputs, prefix):
    """A float64 Linear-Tanh-Linear network with the grader's initial parameters (4 tensors)."""
    shapes = [inputs[f"{prefix}_init{i}"].shape for i in range(4)]
    model = nn.Sequential(nn.Linear(shapes[0][1], shapes[0][0]), nn.Tanh(), nn.Linear(shapes[2][1], shapes[2][0]))
    model = model.double()
    with torch.no_grad():
        for index, p in enumerate(model.parameters()):
            p.copy_(torch.from_numpy(inputs[f"{prefix}_init{index}"]))
    return model


def export_get_optimizers(faces, inputs, work):
    """Three steps of D's optimizer, then three of G's, each with gradients on both networks; all parameters."""
    D, G = small_network(inputs, "d"), small_network(inputs, "g")
    result = faces.get_optimizers(D, G)
    meta = {"type": type(result).__name__, "steps": {}}
    arrays = {}
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        meta["length"] = len(result) if isinstance(result, (tuple, list)) else None
        return meta, arrays
    meta["classes"] = [f"{type(o).__module__}.{type(o).__qualname__}" for o in result]
    for which, optimizer in zip(("d", "g"), result, strict=True):
        for step in range(3):
            for prefix, model in (("d", D), ("g", G)):
                for index, p in enumerate(model.parameters()):
                    p.grad = torch.from_numpy(inputs[f"{prefix}_grad{step}_{index}"]).clone()
            optimizer.step()
            for prefix, model in (("d", D), ("g", G)):
                for index, p in enumerate(model.parameters()):
                    arrays[f"{which}step{step}_{prefix}{index}"] = p.detach().double().numpy().copy()
            meta["steps"][which] = step + 1
    return meta, arrays


def export_module(faces, inputs, out, work):
    """Export every graded function of the imported module `faces`, called on `inputs`, into folder `out`."""
    out = Path(out)
    save_npz(out / "module.npz", {"import": "ok"}, {})
    for name in FUNCTIONS:
        torch.manual_seed(int(inputs["torch_seed"]))
        try:
            meta, arrays = globals()[f"export_{name}"](faces, inputs, work)
        except BaseException as error:  # noqa: BLE001 (SystemExit from student code too: record it, go on)
            meta, arrays = error_meta(error), {}
        save_npz(out / f"{name}.npz", meta, arrays)


def export_functions(inputs_path, out, work=None):
    """Import faces.py (from the working directory) and export every graded function into `out`."""
    out = Path(out)
    with np.load(inputs_path, allow_pickle=False) as data:
        inputs = {key: data[key] for key in data.files}
    sys.path.insert(0, os.getcwd())
    try:
        faces = importlib.import_module("faces")
    except BaseException as error:  # a faces.py that raises, exits or does not parse: every function says so
        save_npz(out / "module.npz", {"import": error_meta(error)}, {})
        return 1
    export_module(faces, inputs, out, work or tempfile.gettempdir())
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nndl2.agent.export_faces", description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--work", type=Path, help="where to write the grader's image folder (default: the temp dir)")
    args = parser.parse_args(argv)
    return export_functions(args.inputs, args.out, args.work)


if __name__ == "__main__":
    sys.exit(main())
