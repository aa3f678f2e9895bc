"""The notebook runs top to bottom with the reference solution (nbclient, smoke budget, CPU)."""

import re

import pytest

from grading.ta.run_notebook import QUALITY_CELLS, cell_problems, grade_id


@pytest.fixture(scope="module")
def executed(smoke_notebook):
    return {grade_id(cell) or f"cell{index}": cell for index, cell in enumerate(smoke_notebook.cells)}


def text(cell):
    return "".join(output.get("text", "") for output in cell.get("outputs", []))


@pytest.mark.slow
def test_every_cell_runs_without_error_or_stderr(executed):
    problems = {
        name: cell_problems(cell)
        for name, cell in executed.items()
        if cell.cell_type == "code" and name not in QUALITY_CELLS and cell_problems(cell)
    }
    assert problems == {}


@pytest.mark.slow
def test_visible_checks_report_success(executed):
    assert "All tests passed!" in text(executed["test_sample_noise"])
    assert "Correct number of parameters in discriminator: 267009." in text(executed["test_discriminator"])
    assert "Maximum error in d_loss:" in text(executed["test_discriminator_loss"])
    assert "Inline Question 4: answer recorded." in text(executed["test_inline_q4"])


@pytest.mark.slow
def test_training_cells_print_the_classic_log_line(executed):
    for name in ["train_vanilla", "train_lsgan", "train_dcgan"]:
        assert "Iter: 0, D: " in text(executed[name])


@pytest.mark.slow
def test_preview_waits_for_the_full_budget_and_the_last_cell_lists_what_is_left(executed):
    """Under any budget but the student's own, the preview trains nothing; the before-you-submit check
    runs on the solution beside a notebook saved without outputs, and says exactly that."""
    assert text(executed["preview_grading"]) == "Preview skipped (PREVIEW = True, budget 'smoke').\n"
    lines = text(executed["before_you_submit"]).splitlines()
    assert lines[0].startswith("Before you submit: checked ") and " and the saved notebook " in lines[0]
    assert lines[0].endswith("GANs-PyTorch.ipynb.")
    assert lines[1:] == ["Fix:", "  - " + lines[0].split(" and ", 1)[1][:-1] + " has no outputs: run the notebook, "
                         "save it (Ctrl+S), then check again"]  # fmt: skip


@pytest.mark.slow
def test_quality_checks_print_a_clear_fail_with_margins_and_run_all_goes_on(executed):
    """Under the smoke budget the generators are untrained: each check prints FAIL with every metric beside its
    limit (the limits of nndl2/quality.py), and raises nothing, so "Run all" reaches the preview."""
    from nndl2.quality import THRESHOLDS

    for name, gan in zip(sorted(QUALITY_CELLS), ("vanilla", "lsgan", "dcgan"), strict=True):
        assert not [o for o in executed[name].outputs if o.output_type == "error"]
        verdict = text(executed[name]).splitlines()[-1]
        assert verdict.startswith(f"FAIL ({gan}): recognizable ")
        assert f"(limit {THRESHOLDS[gan]['max_fid']:.0f})" in verdict
        assert "digits covered" in verdict and f"(at least {THRESHOLDS[gan]['min_coverage']}/10)" in verdict
    assert "preview_grading" in executed and text(executed["preview_grading"])


def setup_cell():
    import nbformat

    from grading.kit import SOURCE_NOTEBOOK

    return next(c for c in nbformat.read(SOURCE_NOTEBOOK, 4).cells if grade_id(c) == "colab_setup").source


def release_cells():
    import nbformat

    from grading.kit import NOTEBOOK

    return nbformat.read(NOTEBOOK, 4).cells


def test_the_settings_cell_then_the_setup_cell_come_first_and_only_the_settings_are_editable():
    """DRIVE_FOLDER lives in a cell students can edit (no nbgrader lock); the setup code in a locked one."""
    first, second = [c for c in release_cells() if c.cell_type == "code"][:2]
    assert first.source.splitlines()[1].startswith("DRIVE_FOLDER = None")
    assert "nbgrader" not in first.metadata and first.metadata.get("editable", True)
    assert grade_id(second) == "colab_setup" and second.metadata["editable"] is False


def test_no_locked_cell_holds_a_setting_students_are_told_to_change():
    """Every cell that assigns DRIVE_FOLDER or PREVIEW, or that a Going further text invites students to change,
    is unlocked; each experiment has an unlocked "Your variant" cell that runs nothing unless edited."""
    import ast

    cells = release_cells()
    for cell in cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        code = "\n".join(re.sub(r"^(\s*)[%!].*", r"\1pass", line) for line in lines)
        tree = ast.parse(code)  # (IPython's %magics and !commands made `pass`, indented ones too)
        assigned = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) for t in node.targets
                    if isinstance(t, ast.Name)}  # fmt: skip
        if assigned & {"DRIVE_FOLDER", "PREVIEW"}:
            assert "nbgrader" not in cell.metadata and cell.metadata.get("editable", True), cell.source
    variants = [c for c in cells if c.cell_type == "code" and c.source.startswith("# Your variant (optional)")]
    assert len(variants) == 4
    for cell in variants:
        assert "nbgrader" not in cell.metadata and cell.metadata.get("editable", True)
        # Nothing runs until the student writes it, and then only outside grading: `if not skipped_at_grading(): pass`.
        (guard,) = ast.parse(cell.source).body
        assert ast.unparse(guard.test) == "not skipped_at_grading()" and ast.unparse(guard.body[0]) == "pass"


def test_headings_nest_without_skipping_a_level():
    """One title (#), sibling parts at one level (##), nothing deeper than one level below its parent."""
    import re

    levels = []
    for cell in release_cells():
        if cell.cell_type == "markdown":
            levels += [len(m.group(1)) for m in re.finditer(r"^(#+) ", cell.source, flags=re.M)]
    assert levels.count(1) == 1 and levels[0] == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False))
    headings = [line for cell in release_cells() if cell.cell_type == "markdown" for line in cell.source.splitlines()
                if line.startswith("#")]  # fmt: skip
    parts = [
        "Random Noise",
        "Discriminator (1",
        "Generator (1",
        "GAN Loss",
        "Optimizing Our Loss",
        "Training a GAN",
        "Least Squares GAN",
        "Deeply Convolutional GANs",
        "Inline Question 4",
        "Going further",
        "Before you submit",
    ]
    for part in parts:
        assert any(h.startswith(f"## {part}") for h in headings), part


def test_the_notebook_states_the_total_the_gradebook_has():
    """The title cell's total comes from the grade cells' points: autograded code cells, TA-graded markdown."""
    import re

    cells = release_cells()
    graded = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade")]
    auto = sum(c.metadata["nbgrader"]["points"] for c in graded if c.cell_type == "code")
    manual = sum(c.metadata["nbgrader"]["points"] for c in graded if c.cell_type == "markdown")
    stated = re.search(r"\*\*Points: (\d+) in all\*\*: (\d+) autograded .* and (\d+) graded by\s+your TA",
                       cells[0].source, flags=re.S)  # fmt: skip
    assert stated and tuple(map(int, stated.groups())) == (auto + manual, auto, manual) == (18, 16, 2)


def test_the_text_of_inline_questions_1_to_3_gives_the_budgets_in_force():
    """The iteration counts in the prose are those of nndl2/budget.py: the grader's and this notebook's."""
    from nndl2.budget import iterations

    text = "\n".join(c.source for c in release_cells() if c.cell_type == "markdown")
    for number, gan in enumerate(("vanilla", "lsgan", "dcgan"), 1):
        question = next(c.source for c in release_cells() if c.source.startswith(f"### Inline Question {number}"))
        assert f"{iterations(gan, 'autograde'):,} iterations" in question, question
        assert f"this notebook trained {iterations(gan, 'full'):,}" in question, question
    assert ("1,200 iterations for the vanilla GAN and the LSGAN, 300 for the DCGAN; this notebook trains\n"
            "  3,900, 3,900 and 1,950") in text  # fmt: skip
    assert [iterations(g, "autograde") for g in ("vanilla", "lsgan", "dcgan")] == [1200, 1200, 300]
    assert [iterations(g, "full") for g in ("vanilla", "lsgan", "dcgan")] == [3900, 3900, 1950]


def test_times_are_said_to_be_cpu_times_and_no_gpu_time_is_claimed():
    import re

    text = "\n".join(c.source for c in release_cells())
    assert "Every time this notebook gives was measured on a 2-core CPU" in text
    assert "we have not measured it on a T4, so we give no GPU times" in text
    assert not re.search(r"(T4|GPU)[^.\n]*\d+(\.\d+)? ?(s|seconds|min|minutes)\b", text)


def test_colab_upload_without_the_provided_package_says_what_is_missing(tmp_path, monkeypatch):
    """As in Colab after uploading only the notebook and gan.py: a clear message, not 'No module named nndl2'."""
    import sys
    import types

    (tmp_path / "gan.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv("MNIST_ROOT", "unset")
    monkeypatch.delenv("MNIST_ROOT")
    with pytest.raises(RuntimeError, match=r"the complete nndl2/ folder.*\. \S+ lacks nndl2/__init__.py, "):
        exec(setup_cell(), {})
    import os

    assert os.environ["MNIST_ROOT"] == "/content/mnist"  # MNIST on the runtime's disk, not in Drive


def test_colab_without_drive_folder_says_how_to_set_it_before_anything_else(tmp_path, monkeypatch):
    """In Colab with DRIVE_FOLDER left at None and nothing in /content: the fix first, not a list of 22 files."""
    import sys
    import types

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv("MNIST_ROOT", "unset")
    with pytest.raises(RuntimeError) as error:
        exec(setup_cell(), {"DRIVE_FOLDER": None})
    message = str(error.value)
    assert message.startswith("This notebook needs the whole assignment folder beside it")
    assert "set DRIVE_FOLDER in the cell above" in message and message.endswith(f"{tmp_path} has none of them.")
    assert "nndl2/" in message and "gan.py," not in message  # no list of every missing file


def test_local_setup_finds_everything_in_the_release(monkeypatch):
    from grading.kit import ROOT

    monkeypatch.chdir(ROOT)
    exec(setup_cell(), {})


def test_an_edited_gan_py_is_reloaded_without_restart_and_no_other_module_is_checked(tmp_path):
    """Students save gan.py and run the next cell, no restart: the setup cell's autoreload, of gan.py only (checking
    every module torch loaded, before every cell, cost about 2 s of each run of this notebook, the grader's too). A
    gan.py that does not import yet leaves the setup cell quiet: the first cell that imports from it says why."""
    import os
    import shutil

    import nbformat
    from nbclient import NotebookClient

    from grading.kit import ROOT

    shutil.copytree(ROOT / "nndl2", tmp_path / "nndl2", ignore=shutil.ignore_patterns("MNIST", "__pycache__"))

    def save(name, text, later):
        (tmp_path / name).write_text(text)
        os.utime(tmp_path / name, (later, later))  # a new modification time, however fast the edit

    (setup,) = [cell for cell in release_cells() if grade_id(cell) == "setup"]
    sources = [
        setup.source,
        "from gan import sample_noise",
        "from gan import sample_noise\nimport other\nprint(sample_noise(1, 1), other.VALUE)",
        "print(sample_noise(1, 1), other.VALUE)",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    with client.setup_kernel():
        save("gan.py", "def sample_noise(:\n", 1_000_000_000)  # does not parse
        save("other.py", "VALUE = 'as first saved'\n", 1_000_000_000)
        client.execute_cell(notebook.cells[0], 0)
        client.execute_cell(notebook.cells[1], 1)
        save("gan.py", "def sample_noise(batch_size, dim):\n    return 'fixed'\n", 1_000_000_100)
        client.execute_cell(notebook.cells[2], 2)
        save("gan.py", "def sample_noise(batch_size, dim):\n    return 'edited'\n", 1_000_000_200)
        save("other.py", "VALUE = 'edited'\n", 1_000_000_200)
        client.execute_cell(notebook.cells[3], 3)
    errors = [[output.ename for output in cell.outputs if output.output_type == "error"] for cell in notebook.cells]
    assert errors == [[], ["SyntaxError"], [], []]
    assert text(notebook.cells[0]).startswith("Training on cpu")
    assert [text(cell).strip() for cell in notebook.cells[2:]] == ["fixed as first saved", "edited as first saved"]
