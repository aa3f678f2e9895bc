"""What the autograder reads from your gan.py: plain data, written only while autograding.

The autograder never scores anything inside your Python process. It runs your code in a sandbox,
and this module writes what your code produced as plain files (numpy .npz without pickles, JSON); a
separate grader process, which never runs your code, compares them with the reference:

    python -m nndl2.agent.export functions --inputs IN.npz --out DIR
        each graded function of gan.py called on inputs the grader drew for this submission:
        outputs, input gradients, a model's parameters, or the exception it raised;
    python -m nndl2.agent.export train --gans vanilla lsgan dcgan --out DIR
        the notebook's GANs named, built with your gan.py (nndl2.agent.training) and trained by
        nndl2.training.run_a_gan at the grader's budget, on noise drawn by your sample_noise, one after the
        other in this process as the notebook trains them in one kernel, each until its samples meet the
        thresholds of Inline Questions 1-3 (or the whole budget, as the grader's settings say): into
        DIR/<gan>/<gan>.npz as soon as that GAN is trained, the generator's parameters, the losses and the
        progress grids, or the error that stopped it.
    python -m nndl2.agent.export train ... --probe vanilla=30 lsgan=30 dcgan=10 [--probe-only]
        also DIR/<gan>/<gan>.probe.npz: G's weights after that many iterations of the same run (--probe-only: train
        only those iterations); the grader compares them with the reference solution's own run.

The grader's settings (budget, device, precision, whole budget or not) come from the one file GAN_KIT_SETTINGS names
(nndl2.budget.grader_settings); `train` refuses to run without it.

Your answers to Inline Questions 4-6 are written by the notebook's answer cells (nndl2/answers.py).
"""

import argparse
import importlib
import json
import os
import sys
import traceback
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from nndl2.agent import STOPPED_AFTER_ERROR  # the exit status of a run a GAN after the first ended by raising
from nndl2.answers import MAX_TEXT  # characters kept of an exception message
from nndl2.budget import SETTINGS, grader_settings
from nndl2.items import FUNCTIONS, GANS, LOSSES  # the graded functions of gan.py; the GANs; each loss's arguments

# ---------------------------------------------------------------------------
# Writing plain data
# ---------------------------------------------------------------------------


def save_npz(path, meta, arrays):
    """One .npz of numeric arrays plus a JSON `meta` string; written to a temporary name, then renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as f:
        np.savez(f, __meta__=np.array(json.dumps(meta)), **arrays)
    os.replace(partial, path)


def as_array(value):
    """(numpy array or None, description) of a value a graded function returned."""
    if torch.is_tensor(value):
        info = {"type": "Tensor", "dtype": str(value.dtype).removeprefix("torch."), "shape": list(value.shape)}
        if value.is_complex() or value.dtype == torch.bool:
            return None, info
        return value.detach().cpu().to(torch.float64 if value.is_floating_point() else torch.int64).numpy(), info
    return None, {"type": type(value).__name__}


def parameters(model):
    """(arrays, names) of a model's named parameters, in registration order ("p0", "p1", ...)."""
    names, arrays = [], {}
    for index, (name, p) in enumerate(model.named_parameters()):
        names.append(name)
        arrays[f"p{index}"] = p.detach().cpu().float().numpy()
    return arrays, names


def error_meta(error, source="gan.py"):
    """What the grader is told about an exception: its type, message, and the line of `source` it came from with the
    function that line is in ("in": e.g. Unflatten.forward, where a network a graded function built raised)."""
    meta = {"error": type(error).__name__, "message": str(error)[:MAX_TEXT]}
    frames = [(f, n) for f, n in traceback.walk_tb(error.__traceback__) if Path(f.f_code.co_filename).name == source]
    if frames:
        frame, meta["line"] = frames[-1]
        meta["in"] = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)[-MAX_TEXT:]  # its end names it
    return meta


# ---------------------------------------------------------------------------
# The graded functions, called on the grader's inputs
# ---------------------------------------------------------------------------


def export_sample_noise(gan, inputs):
    """Two calls with the same sizes: the noise must be uniform, and new each time."""
    n, d = int(inputs["noise_n"]), int(inputs["noise_d"])
    z, info = as_array(gan.sample_noise(n, d))
    again, _ = as_array(gan.sample_noise(n, d))
    arrays = {} if z is None else {"z": z}
    if again is not None:
        arrays["again"] = again
    return info, arrays


def run_model(model, x, train=True):
    """The model's output on x (no gradients), and its parameters."""
    if not isinstance(model, nn.Module):
        return {"type": type(model).__name__, "module": False}, {}
    model.train(train)
    arrays, names = parameters(model)
    with torch.no_grad():
        out, info = as_array(model(torch.from_numpy(x)))
    meta = {"module": True, "class": type(model).__name__, "names": names, "output": info}
    if out is not None:
        arrays["out"] = out
    return meta, arrays


def export_discriminator(gan, inputs):
    return run_model(gan.discriminator(), inputs["d_images"])


def export_generator(gan, inputs):
    return run_model(gan.generator(int(inputs["g_dim"])), inputs["g_noise"])


def export_build_dc_classifier(gan, inputs):
    x = inputs["dc_images"]
    return run_model(gan.build_dc_classifier(len(x)), x)


def export_build_dc_generator(gan, inputs):
    return run_model(gan.build_dc_generator(int(inputs["dcg_dim"])), inputs["dcg_noise"])


def export_losses(function, inputs, arity):
    """A loss on the grader's logits in float64 and float32: its value and the gradients of the inputs."""
    meta, arrays = {}, {}
    for dtype in ("float64", "float32"):
        tensors = [
            torch.tensor(inputs[f"loss_{dtype}_{i}"], dtype=getattr(torch, dtype), requires_grad=True)
            for i in range(arity)
        ]
        loss = function(*tensors)
        value, info = as_array(loss)
        meta[dtype] = info
        if value is None:
            continue
        arrays[f"{dtype}_value"] = value.reshape(-1)
        if loss.requires_grad and loss.numel() == 1:
            loss.sum().backward()
        for i, t in enumerate(tensors):
            if t.grad is not None:
                arrays[f"{dtype}_grad{i}"] = t.grad.detach().double().numpy()
    return meta, arrays


def export_get_optimizer(gan, inputs):
    """get_optimizer on a small float64 model, stepped three times with the grader's gradients."""
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    with torch.no_grad():
        for index, p in enumerate(model.parameters()):
            p.copy_(torch.from_numpy(inputs[f"opt_init{index}"]))
    optimizer = gan.get_optimizer(model)
    meta = {"class": f"{type(optimizer).__module__}.{type(optimizer).__qualname__}", "steps": 0}
    arrays = {}
    if not hasattr(optimizer, "step"):
        return meta, arrays
    for step in range(3):
        for index, p in enumerate(model.parameters()):
            p.grad = torch.from_numpy(inputs[f"opt_grad{step}_{index}"]).clone()
        optimizer.step()
        for index, p in enumerate(model.parameters()):
            arrays[f"step{step}_p{index}"] = p.detach().double().numpy().copy()
        meta["steps"] = step + 1
    return meta, arrays


def exporter(name):
    """The function that exports graded function `name`: (gan module, inputs) -> (meta, arrays)."""
    if name in LOSSES:
        return lambda gan, inputs: export_losses(getattr(gan, name), inputs, LOSSES[name].arity)
    return globals()[f"export_{name}"]


def export_functions(inputs_path, out):
    """Import gan.py (from the working directory) and export every graded function into `out`."""
    out = Path(out)
    with np.load(inputs_path, allow_pickle=False) as data:
        inputs = {key: data[key] for key in data.files}
    sys.path.insert(0, os.getcwd())
    try:
        gan = importlib.import_module("gan")
    except BaseException as error:  # a gan.py that raises, exits or does not parse: every function says so
        save_npz(out / "module.npz", {"import": error_meta(error)}, {})
        return 1
    export_module(gan, inputs, out)
    return 0


def export_module(gan, inputs, out):
    """Export every graded function of the imported module `gan`, called on `inputs`, into folder `out`."""
    out = Path(out)
    save_npz(out / "module.npz", {"import": "ok"}, {})
    for name in FUNCTIONS:
        torch.manual_seed(int(inputs["torch_seed"]))
        try:
            meta, arrays = exporter(name)(gan, inputs)
        except BaseException as error:  # noqa: BLE001 (SystemExit from student code too: record it, go on)
            meta, arrays = error_meta(error), {}
        save_npz(out / f"{name}.npz", meta, arrays)


# ---------------------------------------------------------------------------
# The grader's training run of the notebook's three GANs
# ---------------------------------------------------------------------------


def export_training(
    out, budget, gans=None, device=None, until_passing=True, precision="float32", probe=None, probe_only=False
):
    """Train the notebook's GANs with gan.py as the notebook does, one after the other, and export each one
    (`out`/<gan>/<gan>.npz) as soon as it is trained: the grader learns from which exports are there how far a run
    that was stopped got. A GAN after the first whose training raises ends the run there (exit status
    STOPPED_AFTER_ERROR, its export recording the error): sharing the process may have caused it, so the grader
    trains it again, and the GANs after it, in a run of their own with the time they would have had.

    until_passing: each GAN trains until its samples meet the thresholds (nndl2.agent.training.UntilPassing),
    at most the budget; False: the whole budget.
    precision: "float32", or "bfloat16" (autocast): the grader's choice for this machine.
    probe: {gan: iterations}: also export G's weights after that many iterations of the run (<gan>.probe.npz);
    probe_only: train the GANs of `probe` only that far and export nothing else.
    """
    from nndl2.agent.training import train_gan, training_batches
    from nndl2.budget import BUDGETS, SEED

    out = Path(out)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sys.path.insert(0, os.getcwd())
    try:
        gan = importlib.import_module("gan")
    except BaseException as error:
        save_npz(out / "module.npz", {"import": error_meta(error)}, {})
        return 1
    loader = training_batches(download=False, device=device)
    bfloat16 = precision == "bfloat16"
    probe = probe or {}
    if probe_only:  # the first iterations of each probed GAN's run: G's weights there, and nothing else
        for name in (name for name in gans or GANS if name in probe):
            try:
                history = train_probe(gan, name, loader, budget, probe[name], device, bfloat16)
            except BaseException:  # noqa: BLE001 (no probe: the grader trains this GAN, and its run says why)
                continue
            save_probe(out / name / f"{name}.probe.npz", history, probe[name])
        return 0
    for index, name in enumerate(gans or GANS):
        meta, arrays = {"budget": budget, "device": str(device), "precision": precision}, {}
        training = dict(BUDGETS[budget][name])
        if name in probe:
            training["keep_weights"] = (probe[name],)
        try:
            _, G, images, history = train_gan(
                name, gan, loader, training, SEED, device, until_passing=until_passing, bfloat16=bfloat16
            )
            if name in probe:
                save_probe(out / name / f"{name}.probe.npz", history, probe[name])
            meta["iterations"] = len(history.get("d_loss", []))
            g_arrays, meta["g_names"] = parameters(G)
            arrays.update({f"g_{key}": value for key, value in g_arrays.items()})
            arrays["images"] = np.asarray(images, dtype=np.float32).reshape(len(images), 16, -1)
            for key in ("d_loss", "g_loss", "d_real", "d_fake"):
                arrays[f"history_{key}"] = np.asarray(history.get(key, []), dtype=np.float64)
        except BaseException as error:  # noqa: BLE001
            meta.update(error_meta(error))
        save_npz(out / name / f"{name}.npz", meta, arrays)
        if index > 0 and "error" in meta:
            return STOPPED_AFTER_ERROR
    return 0


def train_probe(gan, name, loader, budget, iterations, device="cpu", bfloat16=False):
    """The first `iterations` iterations of the grader's run of GAN `name` with module `gan` (the same seed, data and
    settings; nothing evaluated on the way): its history, G's weights there kept (save_probe writes them)."""
    from nndl2.agent.training import train_gan
    from nndl2.budget import BUDGETS, SEED

    training = {**BUDGETS[budget][name], "max_iters": iterations, "keep_weights": (iterations,)}
    return train_gan(name, gan, loader, training, SEED, device, bfloat16=bfloat16)[3]


def save_probe(path, history, iterations):
    """G's weights (its state_dict, in order: parameters and buffers) after `iterations` iterations of the run, as
    run_a_gan kept them (keep_weights); nothing if the run ended before."""
    kept = history.get("kept_weights", {}).get("after", {}).get(iterations)
    if kept is None:
        return
    arrays = {f"w{index}": tensor.contiguous().numpy() for index, tensor in enumerate(kept.values())}
    save_npz(path, {"iterations": iterations, "names": list(kept)}, arrays)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nndl2.agent.export", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    functions = commands.add_parser("functions", help="export every graded function of ./gan.py")
    functions.add_argument("--inputs", required=True, type=Path)
    functions.add_argument("--out", required=True, type=Path)
    train = commands.add_parser("train", help="train the notebook's GANs with ./gan.py and export them")
    train.add_argument("--out", required=True, type=Path)
    train.add_argument("--gans", nargs="+", choices=tuple(GANS), help="the GANs to train, in this order (default: all)")
    train.add_argument("--probe", nargs="+", default=[], metavar="GAN=ITERATIONS",
                       help="also export G's weights after that many iterations of the GAN's run")  # fmt: skip
    train.add_argument("--probe-only", action="store_true", help="train the --probe GANs that far only")
    args = parser.parse_args(argv)
    if args.command == "functions":
        return export_functions(args.inputs, args.out)
    settings = grader_settings()
    if settings is None:
        parser.error(f"train: {SETTINGS} names no settings file (the autograder writes it for each run)")
    probe = {}
    for given in args.probe:
        name, _, iterations = given.partition("=")
        if name not in GANS or not iterations.isdigit() or int(iterations) < 1:
            parser.error(f"--probe {given}: GAN=ITERATIONS, GAN one of {', '.join(GANS)}")
        probe[name] = int(iterations)
    return export_training(
        args.out,
        settings["budget"],
        args.gans,
        settings["device"],
        until_passing=not settings["whole_budget"],
        precision=settings["precision"],
        probe=probe,
        probe_only=args.probe_only,
    )


if __name__ == "__main__":
    sys.exit(main())
