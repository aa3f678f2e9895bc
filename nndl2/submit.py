"""Before you submit: see the grader's verdict on Inline Questions 1-3, and what is still missing.

    preview_grading()                 trains your three GANs exactly as the grader does (your gan.py, the
                                      autograde budget, nndl2.training) and prints the verdict it would
                                      give each; a few minutes on a CPU
    check_submission(globals())       lists what is left: stubs in gan.py, answers not set, justifications
                                      not written, a notebook saved without outputs, files the grader refuses

The limits here are the grader's own (it imports them from this module).
"""

import ast
import importlib
import json
import os
import re
import sys
from pathlib import Path

LIMITS = {"notebook": 50 * 2**20, "gan": 1 * 2**20}  # bytes: larger files are refused, not read
STUB = 'raise NotImplementedError("{function}: write your code here (see the docstring)")'  # gan.py's stubs
NOTEBOOK = "GANs-PyTorch.ipynb"
ANSWERS = {  # the variables Inline Questions 4-6 ask for, and what they must be
    "minmax_value": "a number",
    "xy_pairs": "six (x, y) pairs",
    "q5_reaches_optimum": "True or False",
    "q6_good_sign": "True or False",
}
JUSTIFICATIONS = ("q5_justification", "q6_justification")
TRAINING_CELLS = ("train_vanilla", "train_lsgan", "train_dcgan")


def stubs_left(text):
    """The functions of a gan.py text whose answer region still holds the stub."""
    pattern = re.escape(STUB).replace(re.escape("{function}"), r"(\w+)")
    return re.findall(pattern, text)


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


def notebook_problems(path):
    """What the saved notebook at `path` still lacks: written justifications, outputs, size."""
    problems = []
    size = path.stat().st_size
    if size > LIMITS["notebook"]:
        problems.append(f"{path.name} is {size / 2**20:.0f} MB: the grader refuses notebooks over 50 MB")
        return problems
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (ValueError, UnicodeDecodeError):
        return [f"{path.name} is not a readable notebook: save it again from Jupyter or Colab"]
    by_id = {grade_id(cell): cell for cell in cells if grade_id(cell)}
    for name in JUSTIFICATIONS:
        text = "".join(by_id.get(name, {}).get("source", []))
        if not by_id.get(name) or "YOUR ANSWER HERE" in text or not text.replace("**Your answer (why):**", "").strip():
            problems.append(
                f"the justification of Inline Question {name[1]} is not written yet (in the saved notebook)"
            )
    if not any(by_id.get(name, {}).get("outputs") for name in TRAINING_CELLS):
        problems.append(f"{path.name} was saved without outputs: run it, save it, then submit that file")
    return problems


def check_submission(namespace=None, folder="."):
    """Print what is still missing before you submit; returns the list of problems (empty: ready).

    Under nbgrader's autograde the check is skipped: the grader runs a notebook it rebuilt itself.
    """
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        print("Before you submit: skipped while the grader runs the notebook.")
        return []
    folder = Path(folder)
    namespace = namespace if namespace is not None else {}
    problems = []
    gan = folder / "gan.py"
    if not gan.exists():
        problems.append("gan.py is not here: submit it beside the notebook")
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
    saved = folder / NOTEBOOK
    if saved.exists():
        problems += notebook_problems(saved)
    else:
        problems.append(f"{NOTEBOOK} is not in {Path(folder).resolve()}: download it (File > Download .ipynb) and "
                        "submit it with gan.py; the check of its justifications and outputs was skipped")  # fmt: skip
    if problems:
        print("Before you submit, fix:")
        for problem in problems:
            print(f"  - {problem}")
    else:
        print("Ready to submit: gan.py has no stub left, every answer is set, and the saved notebook has its outputs.")
    return problems


def preview_grading(device=None, budget="autograde"):
    """Train the three GANs with ./gan.py as the grader does and print its verdict on Inline Questions 1-3.

    Returns {gan: (passed, metrics)}. The grader trains on its own machine: on other hardware the same
    code trains a little differently, so a GAN right at a threshold may pass here and fail there.
    """
    import torch

    from nndl2.budget import BUDGETS, SEED
    from nndl2.data import MNISTBatches, load_mnist
    from nndl2.quality import evaluate, passes, sample_images
    from nndl2.training import BATCH_SIZE, GANS, NUM_TRAIN, train_gan

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sys.path.insert(0, os.getcwd())
    gan = importlib.reload(sys.modules["gan"]) if "gan" in sys.modules else importlib.import_module("gan")
    loader = MNISTBatches(load_mnist(), BATCH_SIZE, NUM_TRAIN, start=0, device=device)
    verdicts = {}
    for number, name in enumerate(GANS, 1):
        _, G, _, _ = train_gan(name, gan, loader, BUDGETS[budget][name], SEED, device, show_every=10**9)
        metrics = evaluate(sample_images(G, n=1000))
        ok, reasons = passes(metrics, name)
        verdicts[name] = (ok, metrics)
        summary = (f"{metrics['recognizable']:.0%} recognizable, {metrics['coverage']}/10 digits, "
                   f"FID {metrics['fid']:.0f}")  # fmt: skip
        print(f"Inline Question {number} ({name}): {'PASS' if ok else 'MISS'}: {summary}"
              + ("" if ok else f" ({'; '.join(reasons)})"))  # fmt: skip
    return verdicts
