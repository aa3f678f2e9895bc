"""Example submissions made from the reference solution: for the demo, the tests and TAs.

    python -m grading.ta.examples OUT_FOLDER [--all]

writes one folder per example student (GANs-PyTorch.ipynb + gan.py), ready for grading/instructor/autograde.py:

- reference:  the solution's gan.py and the release notebook with every inline answer filled in
- blank:      the release as students get it
- buggy-<function>: the reference with one bug in that function (MUTANTS)
- broken:     a gan.py that does not even parse
- colab:      the reference notebook as Colab saves it (nbformat 4.0, its metadata, output ids, widget
              state), with the cells a Colab student adds (OWN_CELLS: a Drive mount at the top...)
- tampered:   the reference with a test cell deleted and another test cell edited

By default: reference, blank, broken and buggy-discriminator_loss; --all adds a buggy submission
for every function, colab and tampered.

Nothing here is committed as files: every example is made from the current solution and release.
"""

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

from grading.kit import ASSIGNMENT, NOTEBOOK, SOLUTION_GAN, SOURCE_NOTEBOOK, STUDENT_GAN
from nndl2.items import of_kind

# One bug per student function: (text in the solution, replacement). Each keeps the module importable
# and every other function correct, so it must cost exactly that function's points.
MUTANTS = {
    "sample_noise": ("return 2 * torch.rand(batch_size, dim) - 1", "return torch.rand(batch_size, dim)"),
    "discriminator": ("nn.LeakyReLU(0.01),\n        nn.Linear(256, 256)", "nn.ReLU(),\n        nn.Linear(256, 256)"),
    "generator": ("nn.Linear(1024, 784),\n        nn.Tanh()", "nn.Linear(1024, 784),\n        nn.Sigmoid()"),
    "discriminator_loss": (  # the whole line: the optional smoothed loss ends the same way
        "torch.ones_like(logits_real)) + bce_loss(logits_fake, torch.zeros_like(logits_fake))",
        "torch.ones_like(logits_real)) + bce_loss(logits_fake, torch.ones_like(logits_fake))",
    ),
    "generator_loss": (
        "bce_loss(logits_fake, torch.ones_like(logits_fake))",
        "bce_loss(logits_fake, torch.zeros_like(logits_fake))",
    ),
    "get_optimizer": ("betas=(0.5, 0.999)", "betas=(0.9, 0.999)"),
    "ls_discriminator_loss": ("0.5 * torch.mean(scores_fake**2)", "torch.mean(scores_fake**2)"),
    "ls_generator_loss": ("0.5 * torch.mean((scores_fake - 1) ** 2)", "0.5 * torch.sum((scores_fake - 1) ** 2)"),
    "build_dc_classifier": (
        "nn.MaxPool2d(kernel_size=2, stride=2),\n        Flatten()",
        "nn.AvgPool2d(kernel_size=2, stride=2),\n        Flatten()",
    ),
    "build_dc_generator": ("nn.BatchNorm2d(64)", "nn.InstanceNorm2d(64, affine=True)"),
}
ANSWER_CELLS = (  # the cells students write in: Inline Questions 4-6's values, then the justifications
    *(item.answer_cell for item in of_kind("answer")),
    *(item.grade_id for item in of_kind("hand")),
)
# The cells a Colab student typically adds to the notebook, by where they go: (cell type, source).
OWN_CELLS = {
    "top": ("code", 'from google.colab import drive\n\ndrive.mount("/content/drive")'),
    "after_setup": ("code", 'print("my own cell, after Setup")'),
    "after_test_discriminator": ("markdown", "My notes: the discriminator gives one logit per image."),
    "end": ("markdown", "### My own notes\n\nTrained on a T4, about 4 minutes."),
}
SOLUTION_REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION\n?", re.S | re.M)


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def mutant_gan(function, solution_text=None):
    """The solution's gan.py with the one bug of MUTANTS[function]."""
    text = solution_text or SOLUTION_GAN.read_text()
    old, new = MUTANTS[function]
    if text.count(old) != 1:
        raise ValueError(f"mutant {function}: {old!r} occurs {text.count(old)} times in the solution")
    return text.replace(old, new)


def answered_notebook():
    """The release notebook with the inline answers of the source notebook filled in."""
    source = {grade_id(cell): cell for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells}
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if grade_id(cell) in ANSWER_CELLS:
            cell.source = SOLUTION_REGION.sub(r"\1", source[grade_id(cell)].source)
    return notebook


def colab_saved(notebook):
    """`notebook` as Colab saves it: nbformat 4.0 (no cell `id` field: Colab keeps its own id in each cell's
    metadata), `colab` notebook metadata, output ids and execution info in code cells' metadata, and a
    progress bar's widget (its view in the first code cell's outputs, its state in the notebook metadata)."""
    notebook = copy.deepcopy(notebook)
    notebook.nbformat_minor = 0
    notebook.metadata["colab"] = {"provenance": [], "gpuType": "T4", "toc_visible": True}
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "name": "python3"}
    notebook.metadata["language_info"] = {"name": "python"}
    widget = "3f1c2a9e5b7d4c8e9a0b1c2d3e4f5a6b"
    notebook.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            widget: {
                "model_module": "@jupyter-widgets/controls",
                "model_module_version": "1.5.0",
                "model_name": "HBoxModel",
                "state": {"children": [], "layout": "IPY_MODEL_0"},
            }
        }
    }
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": widget, "version_major": 2, "version_minor": 0}}
    for number, cell in enumerate(notebook.cells):
        cell.pop("id", None)
        cell.metadata["id"] = f"colabCell{number:03d}"
        if cell.cell_type == "code":
            cell.metadata["colab"] = {"base_uri": "https://localhost:8080/"}
            cell.metadata["outputId"] = f"{number:08x}-0000-4000-8000-000000000000"
            cell.metadata["executionInfo"] = {"status": "ok", "elapsed": 12, "user_tz": 480}
    first = next((cell for cell in notebook.cells if cell.cell_type == "code"), None)
    if first is not None:
        first.outputs = [*first.get("outputs", []), nbformat.v4.new_output("display_data", data=view)]
    return notebook


def with_own_cells(notebook, places=tuple(OWN_CELLS)):
    """`notebook` with the student's own cells of OWN_CELLS at `places`: at the very top, after the
    "## Setup" prose cell (no grade id), after the discriminator's test cell, at the end."""
    notebook = copy.deepcopy(notebook)

    def own(place):
        kind, source = OWN_CELLS[place]
        return nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)

    cells = [own("top")] if "top" in places else []
    for cell in notebook.cells:
        cells.append(cell)
        if "after_setup" in places and cell.cell_type == "markdown" and cell.source.startswith("## Setup"):
            cells.append(own("after_setup"))
        if "after_test_discriminator" in places and grade_id(cell) == "test_discriminator":
            cells.append(own("after_test_discriminator"))
    if "end" in places:
        cells.append(own("end"))
    notebook.cells = cells
    return notebook


def tampered(notebook):
    """`notebook` with the sample_noise test cell deleted and the discriminator test replaced by `pass`."""
    notebook = copy.deepcopy(notebook)
    notebook.cells = [cell for cell in notebook.cells if grade_id(cell) != "test_sample_noise"]
    for cell in notebook.cells:
        if grade_id(cell) == "test_discriminator":
            cell.source = "pass  # nothing to see here"
    return notebook


def write_submission(folder, notebook, gan_text):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / f"{ASSIGNMENT}.ipynb")
    (folder / "gan.py").write_text(gan_text)
    return folder


def write_examples(out, mutants=("discriminator_loss",), extras=()):
    """Write the example submissions under `out`; returns {student: folder}."""
    out, solution = Path(out), SOLUTION_GAN.read_text()
    answered, blank = answered_notebook(), nbformat.read(NOTEBOOK, as_version=4)
    made = {
        "reference": write_submission(out / "reference", answered, solution),
        "blank": write_submission(out / "blank", blank, STUDENT_GAN.read_text()),
        "broken": write_submission(
            out / "broken", answered, solution.replace("def sample_noise(", "def sample_noise(:")
        ),
    }
    for function in mutants:
        made[f"buggy-{function}"] = write_submission(
            out / f"buggy-{function}", answered, mutant_gan(function, solution)
        )
    variants = {"colab": lambda notebook: colab_saved(with_own_cells(notebook)), "tampered": tampered}
    for name in extras:
        made[name] = write_submission(out / name, variants[name](answered), solution)
    return made


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--all", action="store_true", help="one buggy submission per function")
    args = parser.parse_args(argv)
    if args.all:
        made = write_examples(args.out, mutants=sorted(MUTANTS), extras=("colab", "tampered"))
    else:
        made = write_examples(args.out)
    print(f"wrote {len(made)} example submissions to {args.out}: {', '.join(made)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
