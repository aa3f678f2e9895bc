"""Part 2 (optional): a DCGAN on faces. The release pair, the image folder, the training loop, the notebook at the
smoke budget on generated images, and the judge: the reference earns every item, each single-bug version loses
exactly its own, a correct solution in another style earns them all, and the judge never runs student code."""

import importlib.util
import inspect
import os
import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest
import torch

from grading.course import part2
from grading.instructor.judging import judge_faces
from grading.instructor.judging.judge import save_inputs
from grading.kit import FACES_NOTEBOOK, FACES_SOURCE_NOTEBOOK, ROOT, SOLUTION_FACES, STUDENT_FACES
from grading.ta.make_student import make_student
from grading.ta.run_notebook import cell_problems, grade_id
from grading.ta.synthetic_faces import write_faces
from nndl2.agent import export_faces
from nndl2.faces import ImageFolderError, check_image_folder, train_faces
from tests.faces_mutants import MUTANTS, STYLES, mutant_text

LOG_LINE = re.compile(  # pytorch/examples dcgan's line (tqdm may put its bar's carriage return before it)
    r"\[\d+/\d+\]\[\d+/\d+\] Loss_D: \d+\.\d{4} Loss_G: \d+\.\d{4} "
    r"D\(x\): [01]\.\d{4} D\(G\(z\)\): [01]\.\d{4} / [01]\.\d{4}$",
    re.M,
)


@pytest.fixture(scope="module")
def faces_folder(tmp_path_factory):
    """128 synthetic faces (coloured ellipses, 40x48 PNGs) in ImageFolder layout."""
    return write_faces(tmp_path_factory.mktemp("faces"), count=128)


@pytest.fixture(scope="module")
def reference():
    from grading.kit import load_faces_solution

    return load_faces_solution()


def import_faces(path, name):
    """Import the faces.py at `path` as module `name` (a test's doing: the grader never imports it)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def judged(text, tmp_path, name, seed=0):
    """{grade id: Verdict} of a faces.py text: exported in this process (its own module), judged from the files."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "faces.py").write_text(text)
    module = import_faces(folder / "faces.py", f"faces_{name}")
    inputs = judge_faces.draw_inputs(seed)
    export_faces.export_module(module, inputs, folder / "out", tmp_path)
    return judge_faces.judge_functions(folder / "out", inputs)


# ---------------------------------------------------------------------------
# The release: faces.py and Faces-PyTorch.ipynb generated from their sources
# ---------------------------------------------------------------------------

STUBS = {
    "get_data_loader": lambda f: f.get_data_loader("nowhere", 4),
    "scale": lambda f: f.scale(torch.zeros(2)),
    "Discriminator": lambda f: f.Discriminator(),
    "Generator": lambda f: f.Generator(),
    "weights_init_normal": lambda f: f.weights_init_normal(torch.nn.Linear(2, 2)),
    "real_loss": lambda f: f.real_loss(torch.zeros(2, 1)),
    "fake_loss": lambda f: f.fake_loss(torch.zeros(2, 1)),
    "get_optimizers": lambda f: f.get_optimizers(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)),
}


def test_committed_faces_py_is_generated_from_the_solution():
    assert STUDENT_FACES.read_text() == make_student(SOLUTION_FACES.read_text()), "run: python -m grading.ta.release"


@pytest.mark.parametrize("name", sorted(STUBS))
def test_every_faces_stub_raises_naming_its_function(name):
    student = import_faces(STUDENT_FACES, "faces_student_stubs")
    with pytest.raises(NotImplementedError, match=rf"^{name}:"):
        STUBS[name](student)


def test_methods_stubs_name_their_class():
    text = STUDENT_FACES.read_text()
    assert 'raise NotImplementedError("Generator.forward: write your code here' in text
    assert 'raise NotImplementedError("Discriminator: write your code here' in text  # in __init__


def test_no_solution_line_leaks_into_faces_py():
    regions = re.findall(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", SOLUTION_FACES.read_text(), flags=re.S)
    assert len(regions) == 10  # eight functions, two of them classes with __init__ and forward
    student = STUDENT_FACES.read_text()
    assert "SOLUTION" not in student
    for line in {line.strip() for region in regions for line in region.splitlines()}:
        if line and not line.startswith("#") and len(line) > 3 and line not in {")", "],", "),"}:
            assert line not in student, f"solution line leaked into faces.py: {line}"


def test_faces_notebooks_are_committed_without_outputs_and_part1_is_untouched():
    for path in (FACES_SOURCE_NOTEBOOK, FACES_NOTEBOOK):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
    text = "\n".join(c.source for c in nbformat.read(FACES_NOTEBOOK, as_version=4).cells)
    assert "faces" in text and "from gan import" not in text


def test_points_are_zero_by_default_and_the_item_cells_stay_plain():
    assert part2.FACES_POINTS == 0
    notebook = nbformat.read(FACES_SOURCE_NOTEBOOK, as_version=4)
    marked = {cell.metadata[part2.MARKER] for cell in notebook.cells if part2.MARKER in cell.metadata}
    assert marked == set(part2.TITLES)
    graded = [
        c
        for c in notebook.cells
        if c.metadata.get("nbgrader", {}).get("grade") or c.metadata.get("nbgrader", {}).get("points")
    ]
    assert graded == []


def test_points_make_checks_autograded_and_answers_graded_by_hand():
    notebook = part2.course_notebook(points=2)
    cells = {c.metadata[part2.MARKER]: c for c in notebook.cells if part2.MARKER in c.metadata}
    for item in part2.FUNCTION_ITEMS:
        meta = cells[item].metadata["nbgrader"]
        assert (meta["grade"], meta["solution"], meta["points"], meta["grade_id"]) == (True, False, 2, item)
        assert cells[item].cell_type == "code"
    for item in ("faces_q1", "faces_q2", "faces_q3"):
        assert cells[item].metadata["nbgrader"]["solution"] and "### BEGIN SOLUTION" in cells[item].source
    assert cells["faces_samples"].metadata["nbgrader"]["task"]
    with pytest.raises(ValueError):
        part2.apply_points(nbformat.read(FACES_SOURCE_NOTEBOOK, as_version=4), -1)


def test_scores_follow_the_one_switch():
    verdicts = {item: judge_faces.Verdict(item != "faces_scale", "") for item in part2.FUNCTION_ITEMS}
    assert set(part2.scores(verdicts).values()) == {0}  # the default: ungraded
    scored = part2.scores(verdicts, points=1)
    assert scored["faces_scale"] == 0 and sum(scored.values()) == len(part2.FUNCTION_ITEMS) - 1


# ---------------------------------------------------------------------------
# The image folder and the training loop
# ---------------------------------------------------------------------------


def test_missing_folder_names_it_and_the_layout(tmp_path):
    with pytest.raises(ImageFolderError, match=r"No face image folder at .*nowhere.*ROOT/<any folder>/<image>\.jpg"):
        check_image_folder(tmp_path / "nowhere")


def test_empty_folder_names_it_and_the_layout(tmp_path):
    (tmp_path / "faces" / "empty").mkdir(parents=True)
    (tmp_path / "faces" / "notes.txt").write_text("not an image")
    with pytest.raises(ImageFolderError, match=r"No images in .*faces.*ImageFolder layout"):
        check_image_folder(tmp_path / "faces")


def test_images_without_a_class_folder_say_where_to_move_them(tmp_path):
    write_faces(tmp_path, count=3, folder=".")
    with pytest.raises(ImageFolderError, match=r"It has 3 images directly inside it: move them into a subfolder"):
        check_image_folder(tmp_path)


def test_the_folder_is_counted_and_found_through_the_environment(faces_folder, monkeypatch):
    monkeypatch.setenv("FACES_ROOT", str(faces_folder))
    assert check_image_folder() == 128


def test_training_prints_the_classic_line_and_records_both_beliefs(reference, faces_folder, one_thread, capsys):
    torch.manual_seed(0)
    loader = reference.get_data_loader(faces_folder, 16)
    D, G = reference.Discriminator(8), reference.Generator(10, 8)
    D.apply(reference.weights_init_normal)
    G.apply(reference.weights_init_normal)
    history = {}
    samples = train_faces(
        D, G, *reference.get_optimizers(D, G), reference.real_loss, reference.fake_loss, reference.scale, loader,
        num_epochs=2, images_per_epoch=48, z_size=10, smooth=True, print_every=2, history=history, bfloat16=False,
    )  # fmt: skip
    lines = LOG_LINE.findall(capsys.readouterr().out)
    assert lines[0].startswith("[0/2][0/3] ") and lines[-1].startswith("[1/2][2/3] ") and len(lines) == 4
    assert {key: len(values) for key, values in history.items()} == dict.fromkeys(
        ("d_loss", "g_loss", "d_real", "d_fake"), 6
    )
    assert all(0 < v < 1 for key in ("d_real", "d_fake") for v in history[key])
    assert [iteration for iteration, _ in samples] == [2, 5]  # one grid at each epoch's end, from the same noise
    assert samples[-1][1].shape == (16, 3, 32, 32) and samples[-1][1].abs().max() <= 1


# ---------------------------------------------------------------------------
# The notebook at the smoke budget, on generated images
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def executed(faces_folder):
    from grading.ta.run_faces_notebook import run_faces_notebook

    notebook, _ = run_faces_notebook(faces_folder, "smoke", log=None)
    return {grade_id(cell) or f"cell{index}": cell for index, cell in enumerate(notebook.cells)}


def text(cell):
    return "".join(output.get("text", "") for output in cell.get("outputs", []))


@pytest.mark.slow
def test_faces_notebook_runs_without_error_or_stderr(executed):
    problems = {name: cell_problems(cell) for name, cell in executed.items() if cell_problems(cell)}
    assert problems == {}


@pytest.mark.slow
def test_faces_visible_checks_pass_for_the_reference(executed):
    assert "128 images in" in text(executed["faces_data_source"])
    assert "output shape (16, 3, 32, 32): correct" in text(executed["faces_get_data_loader"])
    assert "scale: correct" in text(executed["faces_scale"])
    assert "Correct number of parameters in Discriminator(32): 167808." in text(executed["faces_discriminator"])
    assert "Correct number of parameters in Generator(100, 32): 370624." in text(executed["faces_generator"])
    assert "weights_init_normal: N(0, 0.02) weights" in text(executed["faces_weights_init_normal"])
    assert "Gradients of real_loss(smooth=True): correct." in text(executed["faces_real_loss"])
    assert "Gradients of fake_loss: correct." in text(executed["faces_fake_loss"])
    assert "get_optimizers: Adam(lr=0.0002" in text(executed["faces_get_optimizers"])


@pytest.mark.slow
def test_faces_training_cell_logs_and_draws(executed):
    assert LOG_LINE.search(text(executed["faces_train"]))
    images = [o for o in executed["faces_train"].outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # the fixed-noise grids, then the loss and D(x) / D(G(z)) curves
    assert any("image/png" in o.get("data", {}) for o in executed["faces_final_samples"].outputs)


# ---------------------------------------------------------------------------
# The judge
# ---------------------------------------------------------------------------


def test_reference_through_the_command_line_earns_every_item_and_is_never_imported_by_the_judge(tmp_path, monkeypatch):
    work = tmp_path / "submission"
    work.mkdir()
    marker = tmp_path / "imported"
    # The student's file records any import of it; the judge, run after the export, must never make one.
    (work / "faces.py").write_text(
        SOLUTION_FACES.read_text() + f"\nimport pathlib\npathlib.Path({str(marker)!r}).write_text('imported')\n"
    )
    inputs = judge_faces.draw_inputs(7)
    save_inputs(tmp_path / "inputs.npz", inputs)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "nndl2.agent.export_faces", "--inputs", str(tmp_path / "inputs.npz")]
    done = subprocess.run([*command, "--out", str(tmp_path / "out"), "--work", str(tmp_path)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""
    assert marker.read_text() == "imported"  # the sandboxed export did import it
    marker.unlink()
    sys.modules.pop("faces", None)
    monkeypatch.chdir(work)  # even with faces.py in the working directory
    monkeypatch.syspath_prepend(str(work))  # and on the path
    verdicts = judge_faces.judge_functions(tmp_path / "out", inputs)
    assert {item: v.passed for item, v in verdicts.items()} == dict.fromkeys(part2.FUNCTION_ITEMS, True), verdicts
    assert not marker.exists() and "faces" not in sys.modules


def test_a_correct_solution_in_another_style_earns_every_item(tmp_path, one_thread):
    verdicts = judged(STYLES["udacity"].read_text(), tmp_path, "udacity", seed=3)
    assert {item: v.message for item, v in verdicts.items() if not v.passed} == {}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_each_single_bug_loses_exactly_its_item(name, tmp_path, one_thread):
    function = MUTANTS[name][0]
    item = next(i for i, f in part2.FUNCTION_ITEMS.items() if f == function)
    verdicts = judged(mutant_text(name), tmp_path, name, seed=11)
    failed = {i for i, v in verdicts.items() if not v.passed}
    assert failed == {item}, {i: verdicts[i].message for i in failed}
    assert verdicts[item].message.startswith(function)


def test_a_function_that_raises_loses_its_item_naming_the_error_and_its_line_of_faces_py(reference, tmp_path):
    text = inspect.getsource(reference).replace("    loss = None\n", '    raise ValueError("no loss today")\n', 1)
    line = text.splitlines().index('    raise ValueError("no loss today")') + 1  # real_loss's, the first one
    verdicts = judged(text, tmp_path, "raises")
    failed = {item: v.message for item, v in verdicts.items() if not v.passed}
    assert failed == {"faces_real_loss": f"real_loss(D_out) raised ValueError: no loss today (faces.py line {line})."}


def test_the_stubs_lose_every_item_saying_not_implemented(tmp_path):
    verdicts = judged(STUDENT_FACES.read_text(), tmp_path, "stubs")
    assert all(not v.passed and "is not implemented yet" in v.message for v in verdicts.values())
    assert set(verdicts) == set(part2.FUNCTION_ITEMS)


def test_a_faces_py_that_does_not_import_loses_every_item_with_the_reason(tmp_path):
    (tmp_path / "faces.py").write_text("def broken(:\n")
    inputs = judge_faces.draw_inputs(0)
    save_inputs(tmp_path / "inputs.npz", inputs)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "nndl2.agent.export_faces", "--inputs", "inputs.npz", "--out", "out"],
                   cwd=tmp_path, env=env, capture_output=True, timeout=120)  # fmt: skip
    verdicts = judge_faces.judge_functions(tmp_path / "out", inputs)
    assert all(v.message.startswith("importing faces.py raised SyntaxError") for v in verdicts.values())


def test_forged_exports_are_refused_not_trusted(tmp_path):
    """A pickle in an export, a missing file, or shapes that claim a network: none passes, none crashes the judge."""
    out = tmp_path / "out"
    out.mkdir()
    np.savez(out / "module.npz", __meta__=np.array('{"import": "ok"}'))
    np.savez(out / "scale.npz", __meta__=np.array("{}"), default=np.array([object()], dtype=object))  # a pickle
    inputs = judge_faces.draw_inputs(5)
    n = len(inputs["d_images"])
    np.savez(out / "Discriminator.npz", __meta__=np.array('{"module": true, "names": [], "output": {}}'),
             out=np.zeros((n, 1)))  # the right output shape, but no weights to back it  # fmt: skip
    verdicts = judge_faces.judge_functions(out, inputs)
    assert not any(v.passed for v in verdicts.values())
    assert "unreadable" in verdicts["faces_scale"].message
    assert "no result" in verdicts["faces_generator"].message


def test_part1_grading_ignores_part2_files_beside_its_own(tmp_path):
    """A student who submits Part 2 too: Part 1's discovery takes its own two files, and no problem is raised."""
    from grading.instructor.intake.submissions import collect

    folder = tmp_path / "export" / "ada"
    folder.mkdir(parents=True)
    for name in ("GANs-PyTorch.ipynb", "gan.py", "Faces-PyTorch.ipynb", "faces.py", "Copy of Faces-PyTorch.ipynb"):
        (folder / name).write_text("{}" if name.endswith(".ipynb") else "")
    (row,) = collect(tmp_path / "export")
    assert {kind: path.name for kind, path in row.files.items()} == {"notebook": "GANs-PyTorch.ipynb", "gan": "gan.py"}
    assert row.problems == []


def test_with_points_nbgrader_releases_part2_with_its_graded_cells(tmp_path):
    """The switch on: nbgrader accepts the cells (test cells, answers, a task) and releases answer stubs."""
    from grading.course import build_course

    root = part2.build_faces_course(build_course(tmp_path), points=1)
    part2.generate_faces_assignment(root)
    released = nbformat.read(root / "release" / "Faces-PyTorch" / "Faces-PyTorch.ipynb", as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in released.cells}
    assert all(cells[item].metadata["nbgrader"]["points"] == 1 for item in part2.TITLES)
    assert all("YOUR ANSWER HERE" in cells[item].source for item in ("faces_q1", "faces_q2", "faces_q3"))


def test_a_correct_scale_passes_on_every_range_the_grader_draws():
    """The range of the second call is drawn fresh for each submission: a narrow one (two close draws) made a
    correct float32 `scale` miss the tolerance, which is relative to the range's width (1.2% of submissions)."""
    from grading.instructor.judging.judge_faces import draw_inputs, judge_scale

    def scale(x, feature_range=(-1, 1)):
        low, high = feature_range
        return x * (high - low) + low

    failed = []
    for seed in range(2000):
        inputs = draw_inputs(seed)
        x = torch.from_numpy(inputs["scale_x"])
        low, high = (float(v) for v in inputs["scale_range"])
        arrays = {"default": scale(x).numpy(), "range": scale(x, (low, high)).numpy()}
        verdict = judge_scale({}, arrays, inputs)
        if not verdict.passed:
            failed.append((seed, low, high, verdict.message))
    assert failed == []


def test_the_references_get_optimizers_passes_on_every_draw_of_the_graders_inputs():
    """D's parameters after its optimizer's three steps were compared exactly with the judge's own Adam (numpy): one
    rounding apart, the reference's G optimizer "changed the discriminator's parameters" (15 of 200 draws). G's
    optimizer must leave them where D's own steps left them in the export."""
    from grading.kit import load_faces_solution

    faces = load_faces_solution()
    failed = []
    with torch.random.fork_rng():
        for seed in range(60):
            inputs = judge_faces.draw_inputs(seed)
            meta, arrays = export_faces.export_get_optimizers(faces, inputs, None)
            verdict = judge_faces.judge_get_optimizers(meta, arrays, inputs)
            if not verdict.passed:
                failed.append((seed, verdict.message))
    assert failed == []
