"""The judge: scores a submission from the plain data its sandboxed runs exported (nndl2/agent/export.py).

It runs in the grader's own process and never imports or runs student code: it reads numeric arrays
(.npz, no pickles) and JSON with size limits, and compares them with the reference solution
(grading/course/solution/gan.py), which it does run. Forging an export is as hard as solving the item:

- sample_noise: its output on the grader's sizes must be uniform on [-1, 1].
- discriminator, generator, build_dc_classifier, build_dc_generator: the student's own parameters are
  loaded into the reference architecture; with them, the reference network must reproduce the outputs
  the student's network gave on the grader's fresh inputs (so any module style, nn.Flatten or the
  provided Flatten, functional or in-place activations pass; a wrong layer, activation or order fails).
- the four losses: value and input gradients on fresh logits (float64 and float32), against the
  reference computed in float64, at float32 tolerances; shape () or (1,) both fine.
- get_optimizer: three steps with given gradients must follow Adam(lr=1e-3, betas=(0.5, 0.999)).
- Inline Questions 1-3: the grader's own training run of the submission exported each generator's
  parameters; they are loaded into the reference generator and 1,000 samples are measured here
  (nndl2/quality.py thresholds).
- Inline Questions 4-6: the exported JSON answers against the source notebook's solution cells (answers.py,
  which the course's nbgrader pass runs: judged_grades.py).

Each graded item gets a Verdict: passed or not, and one sentence saying why.
"""

import itertools
import json
import math
import secrets
import zipfile
from pathlib import Path

import numpy as np
import torch

from grading.course.items import FUNCTION_ITEMS  # grade id of each graded function's check cell -> its name
from grading.instructor.judging.verdict import ExportError, Verdict, clean
from grading.kit import load_solution
from nndl2 import quality
from nndl2.agent.replay import handed_on  # the words the notebook's replay uses too
from nndl2.checks import GRADIENT_TOLERANCE, LOSS_TOLERANCE, relative_error
from nndl2.items import GANS, LOSSES, function_item, of_kind

MAX_EXPORT_BYTES = 64 * 2**20  # the DCGAN generator's parameters are 26 MB as float32
MAX_ASSIGNMENTS = 5040  # parameter assignments tried per architecture (equal-shaped tensors permuted)
OUTPUT_TOLERANCE = 1e-4  # |student - reference| / (1 + max |reference|): float32 networks vs float64

QUALITY_ITEMS = {item.grade_id: item.gan for item in of_kind("quality")}  # Inline Questions 1-3 -> their GAN


# ---------------------------------------------------------------------------
# Inputs and exports
# ---------------------------------------------------------------------------


def draw_inputs(seed=None):
    """The inputs the graded functions are called on, drawn fresh for one submission (numpy arrays)."""
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)

    def images(n):
        return rng.uniform(-1, 1, size=(n, 1, 28, 28)).astype(np.float32)

    n_d, n_g, n_dc, n_dcg = (int(rng.integers(9, 25)) for _ in range(4))
    g_dim, dcg_dim = int(rng.integers(4, 17)), int(rng.integers(4, 17))
    inputs = {
        "torch_seed": np.array(int(rng.integers(2**31))),
        "noise_n": np.array(int(rng.integers(9000, 11000))),
        "noise_d": np.array(int(rng.integers(24, 40))),
        "d_images": images(n_d),
        "g_dim": np.array(g_dim),
        "g_noise": rng.uniform(-1, 1, size=(n_g, g_dim)).astype(np.float32),
        "dc_images": images(n_dc),
        "dcg_dim": np.array(dcg_dim),
        "dcg_noise": rng.uniform(-1, 1, size=(n_dcg, dcg_dim)).astype(np.float32),
    }
    for dtype in ("float64", "float32"):
        n = int(rng.integers(20, 60))
        inputs[f"loss_{dtype}_0"] = rng.normal(0.5, 2.5, size=(n, 1)).astype(dtype)  # real scores
        inputs[f"loss_{dtype}_1"] = rng.normal(-0.5, 2.5, size=(n, 1)).astype(dtype)  # fake scores
    shapes = [(4, 5), (4,), (2, 4), (2,)]  # nn.Sequential(Linear(5, 4), Tanh(), Linear(4, 2))
    for index, shape in enumerate(shapes):
        inputs[f"opt_init{index}"] = rng.normal(0, 0.5, size=shape)
        # Small gradients (1e-3), so that weight decay (1e-4 * weights) changes them by about 5%; a second
        # gradient 100x smaller lowers Adam's second moment, so AMSGrad would show; betas show from step 2.
        first = rng.normal(0, 1e-3, size=shape)
        steps = [first, first * 0.01 * rng.choice([-1, 1], size=shape), rng.normal(0, 1e-3, size=shape)]
        for step, gradient in enumerate(steps):
            inputs[f"opt_grad{step}_{index}"] = gradient
    return inputs


def save_inputs(path, inputs):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **inputs)


def load_inputs(path):
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def load_export(path, limit=MAX_EXPORT_BYTES):
    """(meta, arrays) of one exported .npz; ExportError when it is missing, too large or malformed."""
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        raise ExportError("missing")
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(member.file_size for member in archive.infolist())
        if size > limit:
            raise ExportError(f"{size / 2**20:.0f} MB of data, over the {limit / 2**20:.0f} MB limit")
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        meta = json.loads(str(arrays.pop("__meta__")))
    except ExportError:
        raise
    except Exception as error:  # a zip, npy or JSON error: whatever the file holds, it is not an export
        raise ExportError(f"unreadable ({type(error).__name__})") from None
    if not isinstance(meta, dict):
        raise ExportError("unreadable (no description)")
    return meta, arrays


def described_error(meta, function=None):
    """'raised ValueError: ... (gan.py line 12)' for an export that records an exception, else None; the line's
    function too where it is not `function` (the graded one): '(gan.py line 330, in Unflatten.forward)'."""
    if "error" not in meta:
        return None
    message = clean(meta.get("message", ""))
    line = f" (gan.py {where(meta, function)})" if isinstance(meta.get("line"), int) else ""
    if meta["error"] == "NotImplementedError":
        return "is not implemented yet (it raises NotImplementedError)"
    return f"raised {clean(meta['error'], 60)}{': ' + message if message else ''}{line}"


def where(meta, function=None):
    """'line 12', or 'line 330, in Unflatten.forward' where the export names the line's function (its qualified name,
    meta["in"]) and it is neither `function` nor the file's top level (Part 2's judge says it of faces.py). Names
    defined inside a function lose Python's '<locals>' ('generator.<locals>.Net.forward': 'Net.forward'); a lambda or
    comprehension is the function it is in ('generator.<locals>.<listcomp>': generator); long names keep their end."""
    inside = meta.get("in")
    line = f"line {meta['line']}"
    if not isinstance(inside, str):
        return line
    parts = clean(inside, 4000).split(".<locals>.")
    name = parts[-1] if not parts[-1].startswith("<") else parts[-2] if len(parts) > 1 else ""
    if name in ("", function) or name.startswith("<"):
        return line
    return f"{line}, in {name if len(name) <= 80 else '...' + name[-77:]}"


# ---------------------------------------------------------------------------
# Architectures: the student's parameters in the reference network
# ---------------------------------------------------------------------------


def assignments(reference_shapes, student_shapes):
    """Ways to give each reference parameter one student tensor of its shape, in-order first."""
    positions = {}
    for index, shape in enumerate(student_shapes):
        positions.setdefault(shape, []).append(index)
    slots = {}
    for index, shape in enumerate(reference_shapes):
        slots.setdefault(shape, []).append(index)
    shapes = list(slots)
    choices = [itertools.permutations(positions[shape]) for shape in shapes]
    for count, combination in enumerate(itertools.product(*choices)):
        if count >= MAX_ASSIGNMENTS:
            return
        order = [None] * len(reference_shapes)
        for shape, chosen in zip(shapes, combination, strict=True):
            for slot, student_index in zip(slots[shape], chosen, strict=True):
                order[slot] = student_index
        yield order


def describe_shapes(shapes):
    return ", ".join("x".join(map(str, shape)) or "()" for shape in shapes)


def load_into(reference, tensors, loaded=None):
    """The reference network (float64) with `tensors` (torch tensors or numpy arrays, reference order) as its
    parameters.

    loaded: the tensors it holds now (the previous assignment), whose slots are not copied again: the
    assignments of a network differ in a few small tensors (biases, batch norms), its large weights stay.
    """
    model = reference.double()
    with torch.no_grad():
        for index, (p, value) in enumerate(zip(model.parameters(), tensors, strict=True)):
            if loaded is None or loaded[index] is not value:
                p.copy_(value if torch.is_tensor(value) else float64(value))
    return model


def float64(array):
    """A numpy array as a float64 torch tensor."""
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


def fit(reference_factory, tensors, check):
    """Find the assignment of the student's tensors under which check(model) holds; (order or None, problem)."""
    reference_shapes = [tuple(p.shape) for p in reference_factory().parameters()]
    student_shapes = [tuple(t.shape) for t in tensors]
    expected_count = sum(math.prod(s) for s in reference_shapes)
    got_count = sum(math.prod(s) for s in student_shapes)
    if sorted(reference_shapes) != sorted(student_shapes):
        return None, (
            f"has {got_count:,} parameters in {len(student_shapes)} tensors ({describe_shapes(student_shapes)}); "
            f"the architecture has {expected_count:,} in {len(reference_shapes)} "
            f"({describe_shapes(reference_shapes)})"
        )
    worst, loaded = None, None
    model = reference_factory()  # built once: each assignment only copies the tensors in (a DC generator has 6.5M)
    tensors = [float64(t) for t in tensors]  # converted once, not per try
    for order in assignments(reference_shapes, student_shapes):
        chosen = [tensors[i] for i in order]
        ok, difference = check(load_into(model, chosen, loaded))
        loaded = chosen
        if ok:
            return order, None
        worst = difference if worst is None else min(worst, difference)
    return None, worst


def judge_architecture(name, meta, arrays, reference_factory, x, shapes, layers, called=None):
    """The student's network against the reference architecture (see the module docstring). `called`: how the export
    called `name` and ran its network, said where either raised ("generator(11), or its network on noise of shape
    (19, 11),"; not for a stub, which is simply not implemented yet)."""
    error = described_error(meta, name)
    if error:
        stub = meta.get("error") == "NotImplementedError"
        return Verdict(False, f"{name if stub else called or name} {error}.")
    if not meta.get("module"):
        return Verdict(False, f"{name} must return an nn.Module (a network), got {clean(meta.get('type'), 40)}.")
    output = meta.get("output", {})
    if "out" not in arrays:
        return Verdict(False, f"{name}'s network did not return a tensor (got {clean(output.get('type'), 40)}).")
    out = arrays["out"]
    if tuple(out.shape) not in shapes:
        expected = " or ".join(str(s) for s in shapes)
        return Verdict(
            False, f"{name}'s network gave output shape {tuple(out.shape)} for {x.shape}; expected {expected}."
        )
    names = meta.get("names") or []
    tensors = [arrays.get(f"p{i}") for i in range(len(names))]
    if any(t is None for t in tensors):
        return Verdict(False, f"{name}: the exported parameters are incomplete.")
    inputs = torch.from_numpy(np.asarray(x, dtype=np.float64))
    target = np.asarray(out, dtype=np.float64).reshape(len(x), -1)

    def check(model):
        model.train()
        with torch.no_grad():
            reference_out = model(inputs).reshape(len(x), -1).numpy()
        if reference_out.shape != target.shape:
            return False, math.inf
        difference = float(np.max(np.abs(reference_out - target)) / (1 + np.max(np.abs(reference_out))))
        return difference <= OUTPUT_TOLERANCE and bool(np.isfinite(target).all()), difference

    order, problem = fit(reference_factory, tensors, check)
    if order is None and isinstance(problem, str):
        return Verdict(False, f"{name} {problem}.")
    if order is None:
        return Verdict(
            False,
            f"{name}: with your own weights, the architecture ({layers}) gives other outputs than your network "
            f"(largest difference {problem:.3g}): check the layers, activations and their order.",
        )
    return Verdict(
        True,
        f"{name}: your network computes the architecture ({layers}) on fresh inputs.",
        {"names": [names[i] for i in order]},
    )


# ---------------------------------------------------------------------------
# The functions
# ---------------------------------------------------------------------------


def judge_sample_noise(meta, arrays, inputs):
    error = described_error(meta, "sample_noise")
    if error:
        return Verdict(False, f"sample_noise {error}.")
    n, d = int(inputs["noise_n"]), int(inputs["noise_d"])
    if meta.get("type") != "Tensor" or "z" not in arrays:
        return Verdict(False, f"sample_noise must return a torch tensor, got {clean(meta.get('type'), 40)}.")
    if not meta.get("dtype", "").startswith(("float", "bfloat")):
        return Verdict(False, f"sample_noise must return floating-point noise, got dtype {clean(meta.get('dtype'))}.")
    z = arrays["z"]
    if z.shape != (n, d):
        return Verdict(False, f"sample_noise({n}, {d}) gave shape {tuple(z.shape)}; expected ({n}, {d}).")
    if not np.isfinite(z).all() or z.min() < -1 or z.max() > 1:
        return Verdict(False, "sample_noise must stay in [-1, 1].")
    again = arrays.get("again")
    if again is None or again.shape != z.shape or np.array_equal(again, z):
        return Verdict(False, f"sample_noise({n}, {d}) gave the same noise twice: each call must draw new noise.")
    histogram = np.histogram(z, bins=10, range=(-1, 1))[0] / z.size
    uniform = (
        z.min() < -0.99
        and z.max() > 0.99
        and abs(z.mean()) < 0.01
        and abs(z.std() - 1 / math.sqrt(3)) < 0.01
        and np.all(np.abs(histogram - 0.1) < 0.01)
        and len(np.unique(z)) > 0.9 * z.size
    )
    if not uniform:
        return Verdict(
            False, f"sample_noise({n}, {d}) is not uniform on [-1, 1] (mean {z.mean():.3f}, std {z.std():.3f})."
        )
    return Verdict(True, f"sample_noise({n}, {d}): uniform on [-1, 1], the right shape.")


def judge_loss(name, meta, arrays, inputs, solution):
    error = described_error(meta, name)
    if error:
        return Verdict(False, f"{name} {error}.")
    arguments = LOSSES[name].arguments
    for dtype in ("float64", "float32"):
        info = meta.get(dtype, {})
        if info.get("type") != "Tensor" or f"{dtype}_value" not in arrays:
            return Verdict(False, f"{name} must return a torch tensor, got {clean(info.get('type'), 40)}.")
        value = arrays[f"{dtype}_value"]
        if value.size != 1:
            return Verdict(
                False, f"{name} must return one number (the mean over the batch), got shape {info.get('shape')}."
            )
        tensors = [
            torch.tensor(inputs[f"loss_{dtype}_{i}"], dtype=torch.float64, requires_grad=True)
            for i in range(len(arguments))
        ]
        expected = getattr(solution, name)(*tensors)
        gradients = torch.autograd.grad(expected, tensors)
        error = relative_error(float(value[0]), float(expected.detach()))
        if not error <= LOSS_TOLERANCE:
            return Verdict(
                False,
                f"{name} gave {float(value[0]):.6g} on {dtype} inputs where {LOSSES[name].formula} is "
                f"{float(expected.detach()):.6g} (relative error {error:.2g}).",
            )
        for i, argument in enumerate(arguments):
            got = arrays.get(f"{dtype}_grad{i}")
            if got is None:
                return Verdict(
                    False, f"{name}: no gradient reaches {argument} (is it detached, or computed outside torch?)."
                )
            want = gradients[i].numpy()
            if got.shape != want.shape or not gradient_close(got, want):
                return Verdict(
                    False, f"{name}: the gradient with respect to {argument} is wrong (value right: check detach())."
                )
    return Verdict(True, f"{name}: the right value and gradients on fresh float64 and float32 scores.")


def gradient_close(got, want):
    scale = float(np.max(np.abs(want))) or 1.0
    return bool(np.all(np.isfinite(got))) and float(np.max(np.abs(got - want))) <= GRADIENT_TOLERANCE * scale


def adam_trajectory(inputs, lr=1e-3, betas=(0.5, 0.999), eps=1e-8, steps=3):
    """Parameters after each of `steps` Adam steps, computed here in float64 (PyTorch's update rule)."""
    params = [inputs[f"opt_init{i}"].astype(np.float64) for i in range(4)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    trajectory = []
    for t in range(1, steps + 1):
        for i in range(4):
            g = inputs[f"opt_grad{t - 1}_{i}"]
            m[i] = betas[0] * m[i] + (1 - betas[0]) * g
            v[i] = betas[1] * v[i] + (1 - betas[1]) * g * g
            denominator = np.sqrt(v[i]) / math.sqrt(1 - betas[1] ** t) + eps
            params[i] = params[i] - lr / (1 - betas[0] ** t) * m[i] / denominator
        trajectory.append([p.copy() for p in params])
    return trajectory


def judge_get_optimizer(meta, arrays, inputs):
    error = described_error(meta, "get_optimizer")
    if error:
        return Verdict(False, f"get_optimizer {error}.")
    kind = clean(str(meta.get("class", "?")).rsplit(".", 1)[-1], 40)
    for step, expected in enumerate(adam_trajectory(inputs)):
        got = [arrays.get(f"step{step}_p{i}") for i in range(4)]
        if any(g is None for g in got):
            return Verdict(False, f"get_optimizer: the optimizer ({kind}) could not take step {step + 1}.")
        close = [
            g.shape == e.shape and np.allclose(g, e, rtol=1e-9, atol=1e-12) for g, e in zip(got, expected, strict=True)
        ]
        if not all(close):
            return Verdict(
                False,
                f"get_optimizer: the optimizer ({kind}) does not update the weights as Adam with lr=1e-3, "
                f"betas=(0.5, 0.999) does over all parameters (first difference at step {step + 1}).",
            )
    return Verdict(True, "get_optimizer: three steps exactly as Adam(lr=1e-3, betas=(0.5, 0.999)) over all parameters.")


def arrow(*layers):
    return " -> ".join(layers)


def load_module(folder, items, script):
    """(the function export's record of importing `script`, None), or (None, {grade id: Verdict}) losing every one
    of `items` ({grade id: function name}) when the grader's run wrote none (Part 1's and Part 2's exports)."""
    try:
        module, _ = load_export(Path(folder) / "module.npz")
    except ExportError as error:
        why = "" if str(error) == "missing" else f" ({error})"
        reason = f"the grader's run of {script} stopped before it exported anything{why}"
        return None, {item: Verdict(False, f"{name}: {reason}.") for item, name in items.items()}
    return module, None


def load_result(folder, name, script):
    """(meta, arrays) of function `name`'s export in `folder`, or the Verdict that loses its item when there is none."""
    try:
        return load_export(Path(folder) / f"{name}.npz")
    except ExportError as error:
        why = f"the grader's run of {script} stopped before reaching it" if str(error) == "missing" else str(error)
        return Verdict(False, f"{name}: no result ({why}).")


def judge_functions(folder, inputs, solution=None):
    """{grade id: Verdict} of the ten graded functions from the function export in `folder`."""
    s = solution or load_solution()
    folder = Path(folder)
    module, lost = load_module(folder, FUNCTION_ITEMS, "gan.py")
    if lost:
        return lost
    if module.get("import") != "ok":
        problem = described_error(module.get("import") if isinstance(module.get("import"), dict) else {}) or "failed"
        return {item: Verdict(False, f"importing gan.py {problem}.") for item in FUNCTION_ITEMS}
    n_dc = len(inputs["dc_images"])
    g_dim, dcg_dim = int(inputs["g_dim"]), int(inputs["dcg_dim"])
    n_g, n_dcg = len(inputs["g_noise"]), len(inputs["dcg_noise"])
    architectures = {
        "discriminator": (
            s.discriminator, inputs["d_images"], [(len(inputs["d_images"]), 1)],
            arrow("Flatten", "Linear(784, 256)", "LeakyReLU(0.01)", "Linear(256, 256)", "LeakyReLU(0.01)",
                  "Linear(256, 1)"),
        ),
        "generator": (
            lambda: s.generator(g_dim), inputs["g_noise"], [(n_g, 784), (n_g, 1, 28, 28)],
            arrow(f"Linear({g_dim}, 1024)", "ReLU", "Linear(1024, 1024)", "ReLU", "Linear(1024, 784)", "Tanh"),
        ),
        "build_dc_classifier": (
            lambda: s.build_dc_classifier(n_dc), inputs["dc_images"], [(n_dc, 1)],
            arrow("Conv2d(1, 32, 5)", "LeakyReLU(0.01)", "MaxPool2d(2)", "Conv2d(32, 64, 5)", "LeakyReLU(0.01)",
                  "MaxPool2d(2)", "Flatten", "Linear(1024, 1024)", "LeakyReLU(0.01)", "Linear(1024, 1)"),
        ),
        "build_dc_generator": (
            lambda: s.build_dc_generator(dcg_dim), inputs["dcg_noise"], [(n_dcg, 784), (n_dcg, 1, 28, 28)],
            arrow(f"Linear({dcg_dim}, 1024)", "ReLU", "BatchNorm1d", "Linear(1024, 6272)", "ReLU", "BatchNorm1d",
                  "Unflatten", "ConvTranspose2d(128, 64, 4, 2, 1)", "ReLU", "BatchNorm2d",
                  "ConvTranspose2d(64, 1, 4, 2, 1)", "Tanh"),
        ),
    }  # fmt: skip
    shape = {key: tuple(inputs[key].shape) for key in ("d_images", "g_noise", "dc_images", "dcg_noise")}
    called = {  # as nndl2/agent/export.py calls each and runs its network: torch's shape errors name these sizes
        "discriminator": f"discriminator(), or its network on images of shape {shape['d_images']},",
        "generator": f"generator({g_dim}), or its network on noise of shape {shape['g_noise']},",
        "build_dc_classifier": f"build_dc_classifier({n_dc}), or its network on images of shape {shape['dc_images']},",
        "build_dc_generator": f"build_dc_generator({dcg_dim}), or its network on noise of shape {shape['dcg_noise']},",
    }
    verdicts = {}
    for item, name in FUNCTION_ITEMS.items():
        found = load_result(folder, name, "gan.py")
        if isinstance(found, Verdict):
            verdicts[item] = found
            continue
        meta, arrays = found
        try:
            if name == "sample_noise":
                verdicts[item] = judge_sample_noise(meta, arrays, inputs)
            elif name in LOSSES:
                verdicts[item] = judge_loss(name, meta, arrays, inputs, s)
            elif name == "get_optimizer":
                verdicts[item] = judge_get_optimizer(meta, arrays, inputs)
            else:
                factory, x, shapes, layers = architectures[name]
                verdicts[item] = judge_architecture(name, meta, arrays, factory, x, shapes, layers, called[name])
        except Exception as error:  # malformed data in a well-formed file: the export's fault, not the grader's
            verdicts[item] = Verdict(False, f"{name}: the exported data is malformed ({type(error).__name__}).")
    return verdicts


# ---------------------------------------------------------------------------
# Inline Questions 1-3: the grader's training run
# ---------------------------------------------------------------------------


def unimplemented(function_verdicts, gan):
    """'<function> is not implemented yet' if a function GAN `gan` trains with is still the stub, else None."""
    for function in GANS[gan].functions:  # nndl2.agent.training.build_gan's functions, run_a_gan's noise, the solvers
        verdict = function_verdicts.get(function_item(function).grade_id)
        if verdict and not verdict.passed and "is not implemented yet" in verdict.message:
            return f"{function} is not implemented yet"
    return None


def trained_generator(gan, meta, arrays, names_hint, solution):
    """The reference generator holding the trained parameters of GAN `gan`, or raise ExportError."""
    names = meta.get("g_names") or []
    tensors = [arrays.get(f"g_p{i}") for i in range(len(names))]
    if not names or any(t is None for t in tensors):
        raise ExportError("no generator parameters were exported")
    factory = getattr(solution, GANS[gan].generator)
    reference_shapes = [tuple(p.shape) for p in factory().parameters()]
    if names_hint and set(names_hint) <= set(names):  # the assignment found for the architecture item
        order = [names.index(name) for name in names_hint]
    else:  # in order, when every shape fits
        order = list(range(len(tensors)))
    if [tuple(tensors[i].shape) for i in order] != reference_shapes:
        raise ExportError("the trained generator's parameters do not fit the generator architecture")
    return load_into(factory(), [tensors[i] for i in order]).float().train()


def judge_training(folder, function_verdicts, solution=None):
    """{grade id: Verdict} of Inline Questions 1-3 from the grader's training run in `folder`."""
    s = solution or load_solution()
    verdicts = {}
    for quality_item in of_kind("quality"):
        item, gan, number = quality_item.grade_id, quality_item.gan, quality_item.question
        title = GANS[gan].title
        try:
            meta, arrays = load_export(Path(folder) / gan / f"{gan}.npz")
        except ExportError as error:
            why = "the grader's training run stopped before it" if str(error) == "missing" else str(error)
            verdicts[item] = Verdict(False, f"Inline Question {number}: no trained {title} ({why}).")
            continue
        error = described_error(meta)
        if error:
            verdicts[item] = Verdict(False, f"Inline Question {number}: training your {title} {error}.")
            continue
        architecture = function_verdicts.get(function_item(GANS[gan].generator).grade_id)
        hint = architecture.details.get("names") if architecture else None
        try:
            G = trained_generator(gan, meta, arrays, hint, s)
            metrics = quality.evaluate(quality.sample_images(G, n=1000))
        except (ExportError, ValueError) as error:
            verdicts[item] = Verdict(False, f"Inline Question {number}: your trained {title}: {clean(error)}.")
            continue
        ok, reasons = quality.passes(metrics, gan)
        summary = (
            f"{metrics['recognizable']:.0%} recognizable, {metrics['coverage']}/10 digits, "
            f"inception score {metrics['inception_score']:.2f}, FID {metrics['fid']:.0f}"
        )
        shown = {key: metrics[key] for key in ("recognizable", "coverage", "class_distance", "inception_score", "fid")}
        trained = f" ({meta['iterations']:,} iterations)" if isinstance(meta.get("iterations"), int) else ""
        samples = f"Inline Question {number}: 1,000 samples of your trained {title}{trained}"
        if isinstance(meta.get("alike"), int):  # a trusted solution's run, which this gan.py's followed (trained.Alike)
            held, its = handed_on(meta)
            samples = (
                f"Inline Question {number}: after the first {meta['alike']} iterations, your {title}'s generator held "
                f"{held} bit for bit, so the grader went on with {its} "
                f"run{trained}: 1,000 samples"
            )
        if ok:
            verdicts[item] = Verdict(True, f"{samples}: {summary}: meets the thresholds.", {"metrics": shown})
        else:
            verdicts[item] = Verdict(False, f"{samples}: {summary}: {'; '.join(reasons)}.", {"metrics": shown})
    return verdicts
