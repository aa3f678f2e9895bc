"""Check the corpus the way a judge of behaviour would, against the reference solution.

    python -m tests.corpus.verify [--train] [NAME ...]      (from the repository root)

For every correct style and mutant, each graded function is compared with grading/course/solution/gan.py:

- sample_noise: shape, float dtype, range [-1, 1], uniform statistics on 300,000 values, a second call
  differs, the same seed gives the same noise;
- the four networks: same parameter count; the student's parameters loaded into the reference network by
  order (what the judge does) must give the student's outputs on random inputs (train mode). When the
  order does not fit, the parameters are matched in the order the student's forward pass uses them (the
  report says so: a judge that loads by order alone would fail that style);
- the four losses: value and input gradients on random (N, 1) float64 and float32 logits, against the
  reference in float64, relative error at float32 precision;
- get_optimizer: three steps of a small float64 model with given gradients, against Adam(lr=1e-3,
  betas=(0.5, 0.999)).

With --train, also the notebook's visible checks (the test cells of the release notebook, run against the
module) and three iterations of each GAN with nndl2.training.run_a_gan on synthetic digits.
"""

import argparse
import contextlib
import copy
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import nbformat
import numpy as np
import torch

from grading.kit import KIT_DATA, NOTEBOOK, import_file, load_solution
from grading.ta.examples import grade_id
from nndl2.items import FUNCTIONS, LOSSES  # the graded functions; each loss's arguments

from . import ENTRIES, gan_text
from . import entry as entry_named
from .index import FUNCTION_IDS

# The relative error allowed in a loss value and its gradients: float32 arithmetic on float64 inputs
# (CS231n's dtype habit) is correct, so the tolerance sits at float32 precision.
LOSS_RTOL = 1e-5
# Network outputs: float32 networks, compared with the reference network run on the same weights.
OUTPUT_ATOL = 1e-5
# Adam on a float64 model: the same algorithm gives the same numbers to rounding.
OPTIMIZER_ATOL = 1e-12
_FOLDER = tempfile.TemporaryDirectory(prefix="corpus-verify-")  # removed when the process ends


def import_text(text, name):
    """Import gan.py text as a fresh module named `name` (from a temporary file, so tracebacks show lines)."""
    path = Path(_FOLDER.name) / f"{name}.py"
    path.write_text(text)
    return import_file(path, name)


class Verdict:
    """Whether a function behaves like the reference, with what differed and by how much."""

    def __init__(self, ok, detail, note=""):
        self.ok, self.detail, self.note = ok, detail, note

    def __repr__(self):
        return f"{'OK ' if self.ok else 'BAD'} {self.detail}{' [' + self.note + ']' if self.note else ''}"


def same(a, b):
    """Whether two tensors hold the same numbers (without torch.equal or ==, which a forgery may patch)."""
    return tuple(a.shape) == tuple(b.shape) and (a.double() - b.double()).abs().max().item() == 0


def call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs), None
    except Exception as error:  # a student function may raise anything
        return None, f"raised {type(error).__name__}: {error}"


# ---------------------------------------------------------------------------
# sample_noise
# ---------------------------------------------------------------------------


def check_sample_noise(student):
    z, error = call(student.sample_noise, 1000, 300)
    if error:
        return Verdict(False, error)
    if not torch.is_tensor(z) or tuple(z.shape) != (1000, 300) or not z.is_floating_point():
        return Verdict(False, f"got {type(z).__name__} {getattr(z, 'shape', '')} {getattr(z, 'dtype', '')}")
    values = z.double().numpy()
    problems = []
    if values.min() < -1 or values.max() > 1:
        problems.append(f"range [{values.min():.3f}, {values.max():.3f}]")
    if math.fabs(values.mean()) > 0.01 or math.fabs(values.std() - 1 / math.sqrt(3)) > 0.01:
        problems.append(f"mean {values.mean():.3f} std {values.std():.3f}")
    histogram = np.histogram(values, bins=10, range=(-1, 1))[0] / values.size
    if np.abs(histogram - 0.1).max() > 0.01:
        problems.append(f"histogram off by {np.abs(histogram - 0.1).max():.3f}")
    again, _ = call(student.sample_noise, 1000, 300)
    if again is not None and same(again, z):
        problems.append("two calls return the same noise")
    a, _ = call(student.sample_noise, 50, 7, seed=5)
    b, _ = call(student.sample_noise, 50, 7, seed=5)
    if a is None or b is None or not same(a, b):
        problems.append("the same seed gives different noise")
    return Verdict(not problems, "; ".join(problems) or f"uniform on [-1, 1], {z.dtype}")


# ---------------------------------------------------------------------------
# networks
# ---------------------------------------------------------------------------


def forward_order(model, x):
    """The parameters of `model` in the order its forward pass first uses their modules."""
    used, hooks = [], []
    for module in model.modules():
        if list(module.parameters(recurse=False)):
            hooks.append(module.register_forward_pre_hook(lambda m, _: used.append(m) if m not in used else None))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return [p for m in used for p in m.parameters(recurse=False)]


def load_into(reference, params):
    shapes = [tuple(p.shape) for p in params]
    wanted = [tuple(p.shape) for p in reference.parameters()]
    if shapes != wanted:
        return False
    with torch.no_grad():
        for target, source in zip(reference.parameters(), params, strict=True):
            target.copy_(source)
    return True


def check_network(student_model, reference_model, x, out_shapes):
    """Load the student's weights into the reference (by order, else by forward order) and compare outputs."""
    if not isinstance(student_model, torch.nn.Module):
        return Verdict(False, f"returned {type(student_model).__name__}, not an nn.Module")
    count = sum(p.numel() for p in student_model.parameters())
    expected = sum(p.numel() for p in reference_model.parameters())
    if count != expected:
        return Verdict(False, f"{count} parameters, expected {expected}")
    note = ""
    if not load_into(reference_model, list(student_model.parameters())):
        if not load_into(reference_model, forward_order(copy.deepcopy(student_model), x)):
            return Verdict(False, "parameter shapes fit the reference in no order")
        note = "parameter order differs from the forward order: loaded by forward order, not by declaration order"
    student_model.train()
    reference_model.train()
    with torch.no_grad():
        out, error = call(student_model, x.clone())
        if error:
            return Verdict(False, error, note)
        expected_out = reference_model(x.clone())
    if tuple(out.shape) not in out_shapes:
        return Verdict(False, f"output shape {tuple(out.shape)}", note)
    difference = (out.reshape(len(x), -1).double() - expected_out.reshape(len(x), -1).double()).abs().max().item()
    return Verdict(difference <= OUTPUT_ATOL, f"max output difference {difference:.3g}", note)


def check_networks(student, reference):
    torch.manual_seed(0)
    images = torch.rand(16, 1, 28, 28) * 2 - 1
    verdicts = {}
    cases = {
        "discriminator": (lambda m: m.discriminator(), images, [(16, 1)]),
        "generator": (lambda m: m.generator(noise_dim=13), torch.rand(16, 13) * 2 - 1, [(16, 784)]),
        "build_dc_classifier": (lambda m: m.build_dc_classifier(16), images, [(16, 1)]),
        "build_dc_generator": (lambda m: m.build_dc_generator(noise_dim=11), torch.rand(16, 11) * 2 - 1, [(16, 784)]),
    }
    for name, (make, x, shapes) in cases.items():
        model, error = call(make, student)
        verdicts[name] = Verdict(False, error) if error else check_network(model, make(reference), x, shapes)
    return verdicts


# ---------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------


def loss_and_gradients(function, arrays, dtype):
    tensors = [torch.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    loss, error = call(function, *tensors)
    if error:
        return None, None, error
    if not torch.is_tensor(loss) or loss.numel() != 1:
        return None, None, f"returned {type(loss).__name__} of shape {tuple(getattr(loss, 'shape', ()))}"
    try:
        loss.sum().backward()
    except RuntimeError as problem:
        return float(loss.detach()), None, f"backward failed: {problem}"
    grads = [t.grad.double().numpy() if t.grad is not None else np.zeros(t.shape) for t in tensors]
    return float(loss.detach()), grads, None


def relative(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(1e-12, float(np.max(np.abs(b)))))


def check_loss(student_function, reference_function, inputs):
    worst, shapes = 0.0, []
    for arrays in inputs:
        expected, expected_grads, _ = loss_and_gradients(reference_function, arrays, torch.float64)
        for dtype in (torch.float64, torch.float32):
            value, grads, error = loss_and_gradients(student_function, arrays, dtype)
            if error and value is None:
                return Verdict(False, error)
            if error:
                return Verdict(False, f"value {value:.6g} (expected {expected:.6g}); {error}")
            worst = max(
                worst, relative(value, expected), *(relative(g, e) for g, e in zip(grads, expected_grads, strict=True))
            )
        tensors = [torch.tensor(a) for a in arrays]
        shapes.append(tuple(student_function(*tensors).shape))
    note = f"loss shape {shapes[0]}" if shapes[0] != () else ""
    return Verdict(worst <= LOSS_RTOL, f"max relative error (value, gradients) {worst:.3g}", note)


def loss_inputs(arity, seed):
    rng = np.random.default_rng(seed)
    cases = [[rng.normal(0.5 - i, 3, (50, 1)) for i in range(arity)]]
    cases.append([rng.normal(0, 1, (7, 1)) for _ in range(arity)])
    cases.append([np.full((4, 1), 60.0 * (-1) ** i) for i in range(arity)])  # large logits: stable?
    return cases


def check_losses(student, reference):
    return {
        name: check_loss(getattr(student, name), getattr(reference, name), loss_inputs(loss.arity, seed))
        for seed, (name, loss) in enumerate(LOSSES.items())
    }


# ---------------------------------------------------------------------------
# get_optimizer
# ---------------------------------------------------------------------------


def adam_run(make_optimizer, gradients):
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    optimizer, error = call(make_optimizer, model)
    if error:
        return None, error
    states = []
    for step in gradients:
        for p, g in zip(model.parameters(), step, strict=True):
            p.grad = g.clone()
        optimizer.step()
        states.append([p.detach().clone() for p in model.parameters()])
    return states, None


def check_optimizer(student, reference):
    worst = 0.0
    for scale in (1.0, 1e-3):
        generator = torch.Generator().manual_seed(4)
        shapes = [(4, 5), (4,), (2, 4), (2,)]
        gradients = [
            [torch.randn(s, generator=generator, dtype=torch.float64) * scale for s in shapes] for _ in range(3)
        ]
        got, error = adam_run(student.get_optimizer, gradients)
        if error:
            return Verdict(False, error)
        expected, _ = adam_run(reference.get_optimizer, gradients)
        for step_got, step_expected in zip(got, expected, strict=True):
            for a, b in zip(step_got, step_expected, strict=True):
                worst = max(worst, (a - b).abs().max().item())
    return Verdict(worst <= OPTIMIZER_ATOL, f"max parameter difference after 3 steps {worst:.3g}")


def check_functions(student, reference=None):
    """{function: Verdict} for the ten graded functions."""
    reference = reference or load_solution()
    verdicts = {"sample_noise": check_sample_noise(student)}
    verdicts.update(check_networks(student, reference))
    verdicts.update(check_losses(student, reference))
    verdicts["get_optimizer"] = check_optimizer(student, reference)
    return {name: verdicts[name] for name in FUNCTIONS}


# ---------------------------------------------------------------------------
# the notebook's visible checks and a few training iterations
# ---------------------------------------------------------------------------

FUNCTION_CELLS = (
    "test_sample_noise",
    "test_discriminator",
    "test_generator",
    "test_discriminator_loss",
    "test_generator_loss",
    "test_get_optimizer",
    "test_ls_discriminator_loss",
    "test_ls_generator_loss",
    "test_dc_classifier",
    "test_dc_generator",
)


def synthetic_batches(count=3, batch_size=128, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.rand(batch_size, 1, 28, 28, generator=generator), torch.zeros(batch_size)) for _ in range(count)]


@contextlib.contextmanager
def as_gan(module):
    """Make `from gan import ...` import `module`."""
    saved = sys.modules.get("gan")
    sys.modules["gan"] = module
    try:
        yield
    finally:
        if saved is None:
            sys.modules.pop("gan", None)
        else:
            sys.modules["gan"] = saved


def visible_checks(module):
    """{test cell grade id: None if the release notebook's visible check passes, else the error}."""
    from nndl2.checks import check_loss as nb_check_loss
    from nndl2.checks import check_output, check_param_count

    cells = {grade_id(c): c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"}
    namespace = {
        "torch": torch,
        "np": np,
        "check_loss": nb_check_loss,
        "check_output": check_output,
        "check_param_count": check_param_count,
        "answers": dict(np.load(KIT_DATA / "gan-checks.npz")),
        "batch_size": 128,
        "NOISE_DIM": 96,
        "device": torch.device("cpu"),
        "loader_train": synthetic_batches(1),
        "initialize_weights": module.initialize_weights,
    }
    results = {}
    with as_gan(module):
        for gid in FUNCTION_CELLS:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(cells[gid], gid, "exec"), namespace)
                results[gid] = None
            except Exception as error:
                results[gid] = f"{type(error).__name__}: {error}"
    return results


def train_briefly(module, iterations=3):
    """{gan: None if run_a_gan trains `iterations` iterations with the module's functions (its sample_noise
    included, as in the notebook), else the error}."""
    from nndl2.training import run_a_gan

    loader = synthetic_batches(iterations)
    setups = {
        "vanilla": (module.discriminator, module.generator, module.discriminator_loss, module.generator_loss, False),
        "lsgan": (
            module.discriminator,
            module.generator,
            module.ls_discriminator_loss,
            module.ls_generator_loss,
            False,
        ),
        "dcgan": (
            lambda: module.build_dc_classifier(128),
            module.build_dc_generator,
            module.discriminator_loss,
            module.generator_loss,
            True,
        ),
    }
    results = {}
    for gan, (make_d, make_g, d_loss, g_loss, init) in setups.items():
        try:
            torch.manual_seed(0)
            D, G = make_d(), make_g()
            if init:
                D.apply(module.initialize_weights)
                G.apply(module.initialize_weights)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                images = run_a_gan(
                    D,
                    G,
                    module.get_optimizer(D),
                    module.get_optimizer(G),
                    d_loss,
                    g_loss,
                    loader,
                    num_epochs=1,
                    max_iters=iterations,
                    history={},
                    sample_noise=module.sample_noise,
                )
            results[gan] = None if len(images) == 1 else f"{len(images)} progress images"
        except Exception as error:
            results[gan] = f"{type(error).__name__}: {error}"
    return results


def check_forgery_in_child(name, out):
    """(Run in a fresh process) import a forgery's gan.py outside any kernel and write its verdicts as JSON."""
    torch.set_num_threads(1)
    reference = load_solution()
    module = import_text(gan_text(name), f"corpus_{name}")
    verdicts = check_functions(module, reference)
    Path(out).write_text(json.dumps({f: [v.ok, v.detail] for f, v in verdicts.items()}))


def check_forgery(entry):
    """{function: (ok, detail)} of a forgery's functions, imported in a fresh process (its patches stay there)."""
    with tempfile.TemporaryDirectory() as folder:
        out, log = Path(folder) / "verdicts.json", Path(folder) / "stdout.txt"
        with open(log, "w") as stdout:
            subprocess.run(
                [sys.executable, "-m", "tests.corpus.verify", "--forgery-child", entry["name"], str(out)],
                stdout=stdout,
                stderr=subprocess.STDOUT,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
                timeout=600,
                check=False,
            )
        head = log.read_text(errors="replace")[:2000]
        if not out.exists():
            raise RuntimeError(f"{entry['name']}: the child process wrote no verdicts:\n{head}")
        return {f: tuple(v) for f, v in json.loads(out.read_text()).items()}, head


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="entries to check (default: every correct style and mutant)")
    parser.add_argument("--train", action="store_true", help="also the visible checks and 3 training iterations")
    parser.add_argument("--forgeries", action="store_true", help="check the forgeries' functions (one process each)")
    parser.add_argument("--forgery-child", nargs=2, metavar=("NAME", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.forgery_child:
        check_forgery_in_child(*args.forgery_child)
        return 0
    torch.set_num_threads(1)
    reference = load_solution()
    if args.names:
        entries = [entry_named(n) for n in args.names]
    else:
        kinds = ("forgery",) if args.forgeries else ("correct", "mutant")
        entries = [e for e in ENTRIES if e["kind"] in kinds]
    failures = 0
    for entry in entries:
        print(f"== {entry['name']} ({entry['kind']})")
        if entry["kind"] == "forgery":
            verdicts, head = check_forgery(entry)
            outside = entry["name"] == "forge_reads_grader_files"  # unconfined, it finds the solution here
            for function, (ok, detail) in verdicts.items():
                should = True if outside else entry["scores"][FUNCTION_IDS[function]] == 1
                flag = "" if ok == should else "   <-- UNEXPECTED"
                failures += bool(flag)
                print(f"  {function:22s} {'OK ' if ok else 'BAD'} {detail}{flag}")
            if outside:
                print("  (outside a sandbox; it printed:)\n    " + "\n    ".join(head.splitlines()[:6]))
            continue
        module = import_text(gan_text(entry), f"corpus_{entry['name']}")
        verdicts = check_functions(module, reference)
        for function, verdict in verdicts.items():
            should = entry["kind"] == "correct" or function != entry.get("function")
            flag = "" if verdict.ok == should else "   <-- UNEXPECTED"
            failures += bool(flag)
            print(f"  {function:22s} {verdict}{flag}")
        if args.train:
            try:
                checks, training = visible_checks(module), train_briefly(module)
            except Exception:
                traceback.print_exc()
                failures += 1
                continue
            for gid, error in checks.items():
                if error:
                    print(f"  visible {gid:26s} FAILS: {error}")
            for gan, error in training.items():
                if error:
                    print(f"  training {gan:25s} FAILS: {error}")
            if entry["kind"] == "correct":
                failures += sum(bool(e) for e in checks.values()) + sum(bool(e) for e in training.values())
    print(f"{failures} unexpected results")
    return int(failures > 0)


if __name__ == "__main__":
    sys.exit(main())
