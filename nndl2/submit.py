"""Before you submit: see the grader's verdict on Inline Questions 1-3, and what is still missing.

    preview_grading(globals())        prints the grader's verdict on each of your three GANs: it judges the
                                      weights your training cells kept where the grader checks its own run
                                      (seconds), or trains the GAN again as the grader does (your gan.py, the
                                      autograde budget, float32, nndl2.agent.training: a minute or two on a
                                      2-core CPU) where it cannot; preview_grading() always trains again
    check_submission(globals())       lists what is left: stubs in gan.py, answers not set, justifications
                                      not written, a notebook without outputs, files the grader refuses; it
                                      reads the notebook you are looking at (in Colab the open notebook,
                                      elsewhere the saved file: nndl2.colab.live_notebook)
    download_submission(globals())    in Colab: downloads gan.py and the open notebook to your computer

The limits here are the grader's own (it imports them from this module).
"""

import ast
import contextlib
import functools
import importlib
import io
import json
import os
import re
import sys
import tempfile
from pathlib import Path

from nndl2.colab import NOTEBOOK, in_colab, live_notebook, read_notebook
from nndl2.items import GANS, of_kind, training_cell

# bytes: larger files are refused, not read (Part 2's faces.py has gan.py's limit, its notebook the notebook's)
LIMITS = {"notebook": 50 * 2**20, "gan": 1 * 2**20, "faces": 1 * 2**20, "faces_notebook": 50 * 2**20}
STUB = 'raise NotImplementedError("{function}: write your code here (see the docstring)")'  # gan.py's stubs
OPTIONAL = ("init_weights_normal", "smoothed_discriminator_loss")  # gan.py's ungraded "Going further" stubs
ANSWERS = {  # the variables Inline Questions 4-6 ask for, and what they must be
    "minmax_value": "a number",
    "xy_pairs": "six (x, y) pairs",
    "q5_reaches_optimum": "True or False",
    "q6_good_sign": "True or False",
}
TRAINING_CELLS = tuple(training_cell(gan) for gan in GANS)


def stubs_left(text, optional=False):
    """The functions of a gan.py text whose answer region still holds the stub (optional=True: OPTIONAL ones too)."""
    pattern = re.escape(STUB).replace(re.escape("{function}"), r"(\w+)")
    return [name for name in re.findall(pattern, text) if optional or name not in OPTIONAL]


def answer_problem(name, value):
    """Why an Inline Question answer is not what the question asks for (None if it is)."""
    if name == "minmax_value":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif name == "xy_pairs":
        ok = isinstance(value, (list, tuple)) and len(value) == 6 and all(len(pair) == 2 for pair in value)
    else:
        ok = isinstance(value, bool) or type(value).__name__ == "bool_"
    return None if ok else f"{name} should be {ANSWERS[name]}"


def grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def notebook_problems(notebook, where="the notebook"):
    """What the notebook (a dict, or the Path of a saved one) still lacks: written justifications, outputs, size."""
    saved = isinstance(notebook, Path)
    if saved:
        size = notebook.stat().st_size
        if size > LIMITS["notebook"]:
            return [f"{notebook.name} is {size / 2**20:.0f} MB: the grader refuses notebooks over 50 MB"]
        try:
            notebook = read_notebook(notebook)
        except ValueError:
            return [f"{where} is not a readable notebook: save it again from Jupyter or Colab"]
    elif len(json.dumps(notebook)) > LIMITS["notebook"]:
        return ["the notebook is over 50 MB: the grader refuses it (clear some outputs)"]
    cells = notebook.get("cells", [])
    cells = [cell for cell in cells if isinstance(cell, dict)] if isinstance(cells, list) else []
    by_id = {grade_id(cell): cell for cell in cells if grade_id(cell)}
    problems = []
    for item in of_kind("hand"):  # the written justifications
        cell = by_id.get(item.grade_id, {})
        source = cell.get("source", [])
        text = "".join(source) if isinstance(source, list) else str(source)
        if not cell or "YOUR ANSWER HERE" in text or not text.replace("**Your answer (why):**", "").strip():
            problems.append(f"the justification of Inline Question {item.question} is not written yet (in {where})")
    if not any(by_id.get(name, {}).get("outputs") for name in TRAINING_CELLS):
        if saved:
            problems.append(f"{where} has no outputs: run the notebook, save it (Ctrl+S), then check again")
        else:
            problems.append("the notebook has no training outputs: run it from the top (Runtime > Run all)")
    return problems


def check_submission(namespace=None, folder="."):
    """Print what is still missing before you submit; returns the list of problems (empty: ready).

    It reads gan.py in `folder` and the notebook you are looking at (nndl2.colab.live_notebook: in Colab
    the open notebook, elsewhere the saved file). Under nbgrader's autograde the check is skipped: the
    grader runs a notebook it rebuilt itself.
    """
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        print("Before you submit: skipped while the grader runs the notebook.")
        return []
    folder = Path(folder)
    namespace = namespace if namespace is not None else {}
    problems = []
    gan = folder / "gan.py"
    if not gan.exists():
        problems.append(f"gan.py is not in {folder.resolve()}: run the first cell, or put gan.py beside the notebook")
    elif gan.is_symlink():
        problems.append("gan.py is a link: the grader reads plain files only")
    elif gan.stat().st_size > LIMITS["gan"]:
        problems.append(f"gan.py is {gan.stat().st_size / 2**20:.1f} MB: the grader refuses gan.py over 1 MB")
    else:
        text = gan.read_text(encoding="utf-8", errors="replace")
        try:
            ast.parse(text)
            problems += [f"{function} in gan.py is still the stub" for function in stubs_left(text)]
        except SyntaxError as error:
            problems.append(f"gan.py does not parse (line {error.lineno}: {error.msg}): no function of it can score")
    for name in ANSWERS:
        if name not in namespace:
            problems.append(f"{name} is not defined (run its answer cell)")
        else:
            problem = answer_problem(name, namespace[name])
            if problem:
                problems.append(problem)
    notebook, where = live_notebook(namespace, folder)
    if notebook is None:
        problems.append(f"{where}: save this notebook there as {NOTEBOOK} (File > Save) and check again; "
                        "the check of its justifications and outputs was skipped")  # fmt: skip
    else:
        problems += notebook_problems(notebook, where)
    print(f"Before you submit: checked {gan.resolve()} and {where}.")
    if problems:
        print("Fix:")
        for problem in problems:
            print(f"  - {problem}")
    else:
        print("Ready to submit: gan.py has no stub left, every answer is set, and the notebook has its outputs.")
        print(how_to_submit(folder))
    return problems


def how_to_submit(folder="."):
    """One sentence: how to get gan.py and the notebook out, for this runtime."""
    if in_colab():
        return (
            f"Submit gan.py (from {Path(folder).resolve()}) and this notebook as {NOTEBOOK}:\n"
            "download both with download_submission(globals()) (the next cell), or the notebook by\n"
            "File > Download > Download .ipynb and gan.py from the Files panel (right-click > Download)."
        )
    return f"Submit gan.py and {NOTEBOOK} from {Path(folder).resolve()} (save the notebook first)."


def download_submission(namespace=None, folder="."):
    """In Colab: download gan.py and the open notebook (as GANs-PyTorch.ipynb) to your computer.

    Outside Colab, prints where the two files are. Returns nothing: the notebook's cell would show the value.
    """
    folder = Path(folder)
    notebook, where = live_notebook(namespace, folder)
    if not in_colab():
        path = notebook if isinstance(notebook, Path) else folder / NOTEBOOK
        print(f"Submit {(folder / 'gan.py').resolve()} and {Path(path).resolve()} (save the notebook first).")
        return
    from google.colab import files

    out = Path(tempfile.mkdtemp()) / NOTEBOOK
    if isinstance(notebook, Path):
        out.write_bytes(notebook.read_bytes())
    elif notebook is not None:
        out.write_text(json.dumps(notebook), encoding="utf-8")
    paths = [folder / "gan.py"] + ([out] if notebook is not None else [])
    for path in paths:
        files.download(str(path))
    print("Downloading " + " and ".join(Path(path).name for path in paths) + ": submit both.")


def grader_checks(gan, budget="autograde"):
    """The iterations after which the grader's run of GAN `gan` checks its generator, in order, the whole budget last.

    The grader stops training at the first check its samples pass with room (nndl2.agent.training.UntilPassing),
    else it judges the generator trained the whole budget.
    """
    from nndl2.agent.training import UntilPassing
    from nndl2.budget import iterations

    total = iterations(gan, budget)
    return UntilPassing.checked_after(total) + [total]


RETRAINED = 2  # the iterations the preview trains again to check a cell's run (Adam's betas act from the second)
BFLOAT16_KEPT = (
    "Judged under bfloat16: your training cells computed under bfloat16 autocast and the grader trains in float32 (by "
    "default), so its runs are not these: their results vary as another training seed's would. Trust only a clear "
    "pass (preview_grading() trains them again in float32: a minute or two)."
)


def kept_for_preview(gan, budget="autograde"):
    """The iterations after which the notebook's training cell of GAN `gan` keeps G's weights (run_a_gan's
    keep_weights) for preview_grading: RETRAINED, which the preview trains again to check that the cell's run is
    the grader's, then grader_checks(gan)."""
    return [RETRAINED] + grader_checks(gan, budget)


def preview_grading(namespace=None, device=None, budget="autograde"):
    """Print the grader's verdict on Inline Questions 1-3 for ./gan.py; returns {gan: (passed, metrics)}, metrics None
    where the generator's own samples cannot be scored (below).

    The grader trains each GAN with your gan.py (float32, the seed and budget below) and judges its generator at
    the first of grader_checks(gan) where the samples pass. Given the notebook's namespace (preview_grading(globals())),
    the preview makes those checks on the weights your training cells kept (history_<gan>["kept_weights"]): seconds.
    It trains a GAN again as the grader does (a minute or two on a 2-core CPU) where they cannot stand for the
    grader's run (judge_kept says why), and every GAN without the namespace (preview_grading()). Weights a cell trained
    under bfloat16 autocast (a CPU or GPU fast at it; the grader trains in float32 by default) are judged too, and the
    preview says so (BFLOAT16_KEPT): that run is not the grader's and varies as another seed's would.

    The grader trains on its own machine: on other hardware the same code trains a little differently, so a GAN
    right at a threshold may pass here and fail there. And the grader scores the samples of its reference generator
    holding your trained weights: where your generator's own samples cannot be scored (outside [-1, 1], as without a
    final Tanh, or NaN), the preview says FAIL and why, and the grader's verdict may differ.
    """
    import torch

    from nndl2.agent.training import GANS, train_gan, training_batches
    from nndl2.budget import BUDGETS, SEED
    from nndl2.quality import as_images, evaluate, margins, passes, sample_images

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sys.path.insert(0, os.getcwd())
    gan = importlib.reload(sys.modules["gan"]) if "gan" in sys.modules else importlib.import_module("gan")
    loader = training_batches(device=device)
    verdicts, in_bfloat16 = {}, False
    for number, name in enumerate(GANS, 1):
        checks = grader_checks(name, budget)
        judged, why = judge_kept(namespace, name, gan, checks, device, loader)
        if judged:  # the grader's checks, made on the weights the training cell kept
            done, G = judged
            how = f"{done:,} of {checks[-1]:,} iterations, judged from the weights your training cell kept"
            if namespace[f"history_{name}"]["kept_weights"]["bfloat16"]:
                how += " under bfloat16"
                in_bfloat16 = True
        else:  # trained again, as the grader trains (in float32 unless told otherwise), until it passes
            print(f"Inline Question {number} ({name}): training it again as the grader does: {why}.")
            _, G, _, history = train_gan(
                name, gan, loader, BUDGETS[budget][name], SEED, device, show_every=10**9, until_passing=True,
                bfloat16=False,
            )  # fmt: skip
            how = f"{len(history.get('d_loss', [])):,} of {checks[-1]:,} iterations as the grader trains"
        samples = sample_images(G, n=1000)
        try:
            as_images(samples)
        except ValueError as error:  # outside [-1, 1] or NaN: the grader samples its own architecture instead
            verdicts[name] = (False, None)
            print(
                f"Inline Question {number} ({name}, {how}): FAIL here: your generator's own samples cannot be scored: "
                f"{error}. The grader samples its reference generator holding these weights, so its verdict may "
                "differ."
            )
            continue
        metrics = evaluate(samples)
        ok, _ = passes(metrics, name)
        verdicts[name] = (ok, metrics)
        print(f"Inline Question {number} ({name}, {how}): {'PASS' if ok else 'FAIL'}: {margins(metrics, name)}")
    if in_bfloat16:
        print(BFLOAT16_KEPT)
    return verdicts


def judge_kept(namespace, name, gan, checks, device, loader):
    """The grader's checks of GAN `name`, made on the weights its training cell kept (history_<name> in `namespace`,
    kept_for_preview(name)): ((iterations, G) where the grader judges it and G holding the weights kept there, None),
    or (None, why the kept weights cannot stand for the grader's run).

    They stand for it when the cell trained from the gan.py of now (gan.py saved since, even unchanged, is taken as
    changed), its first RETRAINED iterations are the grader's (trained again here from gan.py: the same functions,
    seed, data and settings, in the cell's precision) and G draws no random numbers (the grader's checks would then
    change the rest of its run). A cell that trained under bfloat16 autocast (kept["bfloat16"]) stands for the
    grader's float32 run only approximately: the preview says so (BFLOAT16_KEPT). Each check is made as UntilPassing
    makes it (in float32); the verdict is the caller's, made as the judge makes it.
    """

    from nndl2.agent.training import UntilPassing, train_gan
    from nndl2.budget import SEED
    from nndl2.speed import platform_speedups
    from nndl2.training import fixed_noise

    if namespace is None:
        return None, "no notebook was given (preview_grading(globals()) judges the weights its training cells kept)"
    history = namespace.get(f"history_{name}")
    kept = history.get("kept_weights") if isinstance(history, dict) else None
    if not isinstance(kept, dict) or RETRAINED not in kept["after"]:
        return None, "its training cell has not run to its end since the kernel started"
    if Path(gan.__file__).stat().st_mtime > kept["started"]:
        return None, "gan.py changed after its training cell ran"
    with _silently():
        training = {"num_epochs": 1, "max_iters": RETRAINED}
        _, G, _, _ = train_gan(name, gan, loader, training, SEED, device, bfloat16=bool(kept["bfloat16"]))
    if not _same_weights(G.state_dict(), kept["after"][RETRAINED], exact=device.type == "cpu"):
        if kept["bfloat16"] and device.type != "cpu":  # not measured: a GPU's bfloat16 rounding may differ more
            return None, "its first iterations under bfloat16, trained again on this GPU, differ from the cell's"
        return None, ("its training cell's first iterations are not the grader's (another seed or setting in the cell, "
                      "a function redefined in the notebook, or another gan.py)")  # fmt: skip
    if _draws_random_numbers(G, device):
        return None, "its generator draws random numbers (dropout?), so the grader's checks change the rest of its run"
    for done in checks:
        if done not in kept["after"]:
            return None, f"its training cell stopped before iteration {done:,}"
        G.load_state_dict(kept["after"][done])
        if done == checks[-1]:
            break
        with platform_speedups(device, {G: fixed_noise(96, device)[:2]}, bfloat16=False):
            if UntilPassing.passes(G, name):
                break
    return (done, G), None


@contextlib.contextmanager
def _silently():
    """Training inside the block shows no progress bar (in a notebook, tqdm's widget) and prints nothing."""
    from tqdm.std import tqdm

    import nndl2.training

    shown = nndl2.training.tqdm
    nndl2.training.tqdm = functools.partial(tqdm, disable=True)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        nndl2.training.tqdm = shown


def _same_weights(state, kept, exact):
    """Whether two state_dicts hold the same tensors: bit for bit (exact: the CPU repeats a run exactly), else to
    within 1e-4 relative, 1e-6 absolute (a GPU may pick other kernels, which sum in another order)."""
    import torch

    def same(a, b):
        a, b = a.cpu(), b.cpu()
        return torch.equal(a, b) if exact else a.shape == b.shape and torch.allclose(a.float(), b.float(), 1e-4, 1e-6)

    return list(state) == list(kept) and all(same(state[key], kept[key]) for key in state)


def _draws_random_numbers(G, device):
    """Whether G's forward pass, in the mode it is in, draws from torch's random number generators."""
    import torch

    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), torch.no_grad():
        before = [torch.get_rng_state()] + [torch.cuda.get_rng_state(index) for index in cuda]
        G(torch.zeros(2, 96, device=device))
        after = [torch.get_rng_state()] + [torch.cuda.get_rng_state(index) for index in cuda]
    return not all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
