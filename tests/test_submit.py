"""The student's round trip: the first cell in Colab, Jupyter and VS Code, the preview of Inline Questions 1-3
and the before-you-submit check (nndl2/colab.py, nndl2/submit.py).

Colab is simulated: a fake `google.colab` (drive.mount, _message.blocking_request("get_ipynb"), files.download),
a temporary folder standing in for /content (the setup cell's one COLAB_CONTENT line is pointed at it) and a
"cloud" folder that drive.mount copies to <content>/drive, as Colab's mount shows the student's Drive there.
"""

import contextlib
import functools
import io
import json
import shutil
import sys
import tempfile
import types
import zipfile
from pathlib import Path

import nbformat
import pytest

from grading.instructor.intake import plainfiles
from grading.kit import NOTEBOOK, SOLUTION_GAN, SOURCE_NOTEBOOK, STUDENT_GAN
from grading.ta.examples import answered_notebook, colab_saved
from grading.ta.handout import handout_files, write_zip
from nndl2 import colab, submit

RIGHT = {"minmax_value": 0, "xy_pairs": [(-1, 2), (-2, 1), (-1, -1), (1, -2), (2, -1), (1, 1)],
         "q5_reaches_optimum": False, "q6_good_sign": False}  # fmt: skip


GRADED = ["sample_noise", "discriminator", "generator", "discriminator_loss", "generator_loss", "get_optimizer",
          "ls_discriminator_loss", "ls_generator_loss", "build_dc_classifier", "build_dc_generator"]  # fmt: skip


def test_stubs_left_finds_every_stub_of_the_release_and_none_of_the_solution():
    assert sorted(submit.stubs_left(STUDENT_GAN.read_text())) == sorted(GRADED)
    assert sorted(submit.stubs_left(STUDENT_GAN.read_text(), optional=True)) == sorted(GRADED + list(submit.OPTIONAL))
    assert submit.stubs_left(SOLUTION_GAN.read_text(), optional=True) == []


def test_the_optional_stubs_are_no_graded_item():
    """Going further's two functions are ungraded: no grade id checks them, so they never block "Ready"."""
    from grading.course.items import FUNCTION_ITEMS

    assert not set(submit.OPTIONAL) & set(FUNCTION_ITEMS.values())
    assert set(GRADED) == set(FUNCTION_ITEMS.values())


def test_the_grader_refuses_what_the_check_warns_about():
    assert plainfiles.LIMITS is submit.LIMITS


def folder_with(tmp_path, gan_text, notebook):
    (tmp_path / "gan.py").write_text(gan_text)
    nbformat.write(notebook, tmp_path / "GANs-PyTorch.ipynb")
    return tmp_path


def with_training_outputs(notebook):
    for cell in notebook.cells:
        if submit.grade_id(cell) in submit.TRAINING_CELLS:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Iter: 0, D: 1.3\n")]
    return notebook


def test_a_blank_submission_lists_everything_left(tmp_path, capsys):
    folder = folder_with(tmp_path, STUDENT_GAN.read_text(), nbformat.read(NOTEBOOK, 4))
    problems = submit.check_submission({}, folder)
    assert sum("is still the stub" in p for p in problems) == len(GRADED)
    assert sum("is not defined" in p for p in problems) == 4
    assert sum("justification of Inline Question" in p for p in problems) == 2
    assert any("has no outputs: run the notebook, save it" in p for p in problems)
    assert capsys.readouterr().out.splitlines()[1] == "Fix:"


def test_a_finished_submission_is_ready(tmp_path, capsys):
    folder = folder_with(tmp_path, SOLUTION_GAN.read_text(), with_training_outputs(answered_notebook()))
    assert submit.check_submission(dict(RIGHT), folder) == []
    assert capsys.readouterr().out.splitlines()[1].startswith("Ready to submit")


@pytest.mark.parametrize(
    "answers, expected",
    [({"minmax_value": "0"}, "minmax_value should be a number"),
     ({"xy_pairs": [(1, 2)]}, "xy_pairs should be six (x, y) pairs"),
     ({"q5_reaches_optimum": "False"}, "q5_reaches_optimum should be True or False")],
)  # fmt: skip
def test_answers_of_the_wrong_kind_are_named(tmp_path, answers, expected):
    folder = folder_with(tmp_path, SOLUTION_GAN.read_text(), with_training_outputs(answered_notebook()))
    assert submit.check_submission({**RIGHT, **answers}, folder) == [expected]


def test_files_the_grader_refuses_are_named(tmp_path):
    folder = folder_with(tmp_path, "x = 1\n" * 200_000, with_training_outputs(answered_notebook()))
    assert any("refuses gan.py over 1 MB" in p for p in submit.check_submission(dict(RIGHT), folder))
    (folder / "gan.py").write_text("def f(:\n")
    assert any("gan.py does not parse (line 1" in p for p in submit.check_submission(dict(RIGHT), folder))
    (folder / "gan.py").unlink()
    (folder / "gan.py").symlink_to(SOLUTION_GAN)
    assert any("gan.py is a link" in p for p in submit.check_submission(dict(RIGHT), folder))
    (folder / "GANs-PyTorch.ipynb").write_text("{not json")
    assert any("not a readable notebook" in p for p in submit.check_submission(dict(RIGHT), folder))


def training_cells(namespace, gans=("vanilla", "lsgan", "dcgan")):
    """Run the source notebook's training cells of `gans` in `namespace` (notebook_namespace), under LONGER."""
    namespace["TRAINING"] = LONGER
    for gan in gans:
        exec(cell_source(f"train_{gan}"), namespace)  # the kit's own notebook
    return namespace


@pytest.fixture
def preview_folder(tmp_path, monkeypatch, mnist_synthetic):
    """The reference gan.py in the working folder, synthetic digits, and an "autograde" budget of 20 iterations per
    GAN, checked as longer runs are: at 10, 12, 14, 16, 18 and 20. The thresholds are replaced by "the third check
    with room passes" (random strokes never meet the real ones), for the grader's run and the preview alike."""
    (tmp_path / "gan.py").write_text(SOLUTION_GAN.read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("MNIST_ROOT", str(mnist_synthetic))
    monkeypatch.delitem(sys.modules, "gan", raising=False)
    from nndl2 import budget, quality
    from nndl2.agent.training import UntilPassing

    monkeypatch.setattr(UntilPassing, "SHORTEST", 20)
    monkeypatch.setitem(
        budget.BUDGETS, "autograde", {gan: {"num_epochs": 40, "max_iters": 20} for gan in budget.BUDGETS["full"]}
    )
    checked, passes = [], quality.passes

    def third_check_passes(metrics, gan, room=0.0):
        if room:
            checked.append((gan, metrics))
            return [name for name, _ in checked].count(gan) % 3 == 0, []
        return passes(metrics, gan)

    monkeypatch.setattr(quality, "passes", third_check_passes)
    return checked  # (gan, metrics) of each check made


def notebook_namespace(module, seed=None):
    """What the training cells need, as the notebook defines it, with `module`'s functions (float32, as on a T4)."""
    import torch

    from nndl2 import budget
    from nndl2.agent.training import training_batches
    from nndl2.training import run_a_gan

    return {name: getattr(module, name) for name in dir(module) if not name.startswith("_")} | {
        "torch": torch, "SEED": budget.SEED if seed is None else seed, "device": torch.device("cpu"), "batch_size": 128,
        "loader_train": training_batches(), "kept_for_preview": submit.kept_for_preview,
        "run_a_gan": functools.partial(run_a_gan, bfloat16=False),
    }  # fmt: skip


LONGER = {gan: {"num_epochs": 40, "max_iters": 22} for gan in ("vanilla", "lsgan", "dcgan")}  # the cells' "full" budget


@pytest.fixture
def trainings(monkeypatch):
    """nndl2.agent.training.train_gan, recorded: (max_iters, bfloat16) of each call."""
    import nndl2.agent.training

    calls, train_gan = [], nndl2.agent.training.train_gan

    def recorded(name, gan, loader, training, *args, **kwargs):
        calls.append((training["max_iters"], kwargs["bfloat16"]))
        return train_gan(name, gan, loader, training, *args, **kwargs)

    monkeypatch.setattr(nndl2.agent.training, "train_gan", recorded)
    return calls


@pytest.mark.slow
def test_the_preview_judges_the_weights_the_notebook_kept_as_training_again_would(preview_folder, capsys, trainings):
    import gan as reference

    namespace = training_cells(notebook_namespace(reference))
    capsys.readouterr()
    kept = submit.preview_grading(namespace, device="cpu")
    assert trainings == [(2, False)] * 3  # two iterations each, to check that the cell's run is the grader's
    judged = capsys.readouterr().out.splitlines()
    checks = preview_folder[:]
    trained = submit.preview_grading(device="cpu")
    assert trainings[3:] == [(20, False)] * 3  # float32, as the grader trains by default, whatever this CPU is fast at
    assert len(checks) == 9 and preview_folder[9:] == checks  # each check saw what the grader's run sees there
    again = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Inline Question")]
    assert set(kept) == {"vanilla", "lsgan", "dcgan"} and kept == trained  # the same verdicts and metrics, exactly
    assert [line.split(":")[0] for line in judged] == [
        f"Inline Question {number} ({gan}, 14 of 20 iterations, judged from the weights your training cell kept)"
        for number, gan in enumerate(("vanilla", "lsgan", "dcgan"), 1)
    ]
    assert [line.split(":")[0] for line in again[1::2]] == [
        f"Inline Question {number} ({gan}, 14 of 20 iterations as the grader trains)"
        for number, gan in enumerate(("vanilla", "lsgan", "dcgan"), 1)
    ]
    assert again[0] == ("Inline Question 1 (vanilla): training it again as the grader does: no notebook was given "
                        "(preview_grading(globals()) judges the weights its training cells kept).")  # fmt: skip
    assert all(": FAIL: recognizable " in line and "FID " in line and "(limit " in line for line in judged)
    assert json.dumps({k: v[1]["fid"] for k, v in kept.items()})  # metrics are plain numbers


@pytest.mark.slow
def test_the_preview_judges_weights_kept_under_bfloat16_and_says_the_graders_run_differs(preview_folder, capsys):
    """A notebook on a CPU or GPU fast at bfloat16 trains its cells under autocast; the grader computes in float32.
    The preview judges the kept weights anyway (seconds, not a minute or two of training again) and says that near a
    limit the grader's verdict may differ, and how to get its run: preview_grading() trains again."""
    import gan as reference
    from nndl2.training import run_a_gan

    namespace = notebook_namespace(reference) | {"run_a_gan": functools.partial(run_a_gan, bfloat16=True)}
    training_cells(namespace, ["vanilla"])
    capsys.readouterr()
    submit.preview_grading(namespace, device="cpu")
    printed = capsys.readouterr().out.splitlines()
    out = [line for line in printed if line.startswith("Inline Question")]
    assert out[0].startswith(
        "Inline Question 1 (vanilla, 14 of 20 iterations, judged from the weights your training cell kept under "
        "bfloat16): FAIL: recognizable "
    )
    assert out[1].startswith("Inline Question 2 (lsgan): training it again as the grader does: its training cell has")
    assert printed[-1] == (
        "Judged under bfloat16: your training cells computed under bfloat16 autocast and the grader trains in "
        "float32 (by default), so its runs are not these: their results vary as another training seed's would. "
        "Trust only a clear pass (preview_grading() trains them again in float32: a minute or two)."
    )


TIMES_3 = """

class Times3(nn.Module):
    def forward(self, x):
        return 3 * x
"""


@pytest.mark.slow
def test_a_generator_whose_samples_cannot_be_scored_fails_the_preview_with_the_reason(preview_folder, capsys):
    """generator()'s samples lie in [-3, 3]: the vanilla GAN's and the LSGAN's checks of the weights the training
    cells kept are not passed (as the grader's run trains on: tests/test_training.py) and their verdicts are FAIL with
    the metrics' reason, not an error; the DCGAN is judged as usual. (Training again ends in the same verdict code.)"""
    times_3 = SOLUTION_GAN.read_text().replace("nn.Tanh(),\n", "nn.Tanh(),\n        Times3(),\n", 1)  # generator()'s
    Path("gan.py").write_text(times_3 + TIMES_3)
    import gan as module

    namespace = training_cells(notebook_namespace(module))
    capsys.readouterr()
    verdicts = submit.preview_grading(namespace, device="cpu")
    out = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Inline Question")]
    assert verdicts["vanilla"] == verdicts["lsgan"] == (False, None)
    for line, number, gan in ((out[0], 1, "vanilla"), (out[1], 2, "lsgan")):
        kept = "judged from the weights your training cell kept"
        assert line.startswith(
            f"Inline Question {number} ({gan}, 20 of 20 iterations, {kept}): FAIL here: your generator's own samples "
            "cannot be scored: images must lie in [-1, 1]"
        )
        assert "(does the generator end with a Tanh?). The grader samples its reference generator" in line
    assert [gan for gan, _ in preview_folder] == ["dcgan"] * 3 and verdicts["dcgan"][1] is not None


@pytest.mark.slow
def test_the_preview_trains_again_where_the_kept_weights_cannot_stand_for_the_graders_run(preview_folder, tmp_path):
    import torch

    import gan as reference
    from nndl2.agent.training import training_batches

    checks = submit.grader_checks("vanilla")
    assert checks == [10, 12, 14, 16, 18, 20]

    def kept_by_the_cell(module=reference, seed=None, **redefined):
        namespace = training_cells(notebook_namespace(module, seed) | redefined, ["vanilla"])
        return namespace["history_vanilla"]["kept_weights"]

    def why(kept, module=reference, history="history_vanilla"):
        preview_folder.clear()  # each judging from its first check
        namespace = {history: {"d_loss": [], "kept_weights": kept}}
        verdict, reason = submit.judge_kept(
            namespace, "vanilla", module, checks, torch.device("cpu"), training_batches()
        )
        return verdict[0] if verdict else reason

    kept = kept_by_the_cell()
    assert sorted(kept["after"]) == [2, *checks]  # the notebook's cell keeps what the preview needs
    assert why(kept) == 14  # judged (the third check passes here); each case below changes one thing
    not_run = "its training cell has not run to its end since the kernel started"
    assert why(kept, history="history_lsgan") == not_run
    assert why(None) == not_run  # interrupted: nothing kept
    from nndl2.training import run_a_gan

    in_bfloat16 = kept_by_the_cell(run_a_gan=functools.partial(run_a_gan, bfloat16=True))  # a CPU or GPU fast at it
    assert in_bfloat16["bfloat16"] and why(in_bfloat16) == 14  # judged too (the preview's line says how: below)
    assert in_bfloat16["after"][14]["0.weight"].ne(kept["after"][14]["0.weight"]).any()  # another run than float32's
    saved = Path("gan.py").stat().st_mtime  # the working folder's gan.py, the one the preview reads
    assert why(kept | {"started": saved - 1}) == "gan.py changed after its training cell ran"
    not_the_graders = ("its training cell's first iterations are not the grader's (another seed or setting in the "
                       "cell, a function redefined in the notebook, or another gan.py)")  # fmt: skip
    assert why(kept_by_the_cell(seed=1)) == not_the_graders
    assert why(kept | {"bfloat16": True}) == not_the_graders  # its first iterations, in bfloat16, are not these
    flipped = kept_by_the_cell(discriminator_loss=lambda real, fake: reference.discriminator_loss(fake, real))
    assert why(flipped) == not_the_graders
    other_betas = kept_by_the_cell(get_optimizer=lambda model: torch.optim.Adam(model.parameters(), 1e-3, (0.9, 0.999)))
    assert why(other_betas) == not_the_graders  # the first Adam step is the same whatever its betas: not the second
    assert why(kept | {"after": {k: v for k, v in kept["after"].items() if k < 14}}) == (
        "its training cell stopped before iteration 14")  # fmt: skip
    assert why(kept | {"after": {k: v for k, v in kept["after"].items() if k <= 14}}) == 14  # the grader stops there
    (tmp_path / "dropout_gan.py").write_text(
        SOLUTION_GAN.read_text() + "\n\n_generator = generator\n\n\ndef generator(noise_dim=NOISE_DIM, seed=None):\n"
        "    return nn.Sequential(_generator(noise_dim), nn.Dropout(0.1))\n"
    )
    import dropout_gan

    assert why(kept_by_the_cell(dropout_gan), dropout_gan) == (
        "its generator draws random numbers (dropout?), so the grader's checks change the rest of its run"
    )


def test_the_previews_check_trains_silently(capsys):
    import torch

    import nndl2.training

    D, G = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 1)), torch.nn.Linear(96, 784)

    def train():
        loss = lambda logits, *_: logits.mean()  # noqa: E731
        batches = [(torch.rand(128, 1, 28, 28), None)] * 2
        optimizers = torch.optim.Adam(D.parameters()), torch.optim.Adam(G.parameters())
        nndl2.training.run_a_gan(D, G, *optimizers, loss, loss, batches, max_iters=2)

    shown = nndl2.training.tqdm
    with submit._silently():
        train()
    assert capsys.readouterr() == ("", "")  # no bar (tqdm.auto's widget in a notebook), no "Iter: 0" line
    assert nndl2.training.tqdm is shown
    train()
    shown_out = capsys.readouterr().out
    assert "Iter: 0" in shown_out and "training:" in shown_out  # the same training, not silenced


def test_the_check_stays_quiet_while_the_grader_runs_the_notebook(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert submit.check_submission({}, folder=tmp_path) == []
    assert capsys.readouterr().out == "Before you submit: skipped while the grader runs the notebook.\n"


# ---------------------------------------------------------------------------
# Colab, simulated: both routes (Drive, the zip unpacked in /content), a finished and an unfinished notebook
# ---------------------------------------------------------------------------


def cell_source(name):
    return next(c for c in nbformat.read(SOURCE_NOTEBOOK, 4).cells if submit.grade_id(c) == name).source


def setup_cell(content):
    """The first cell's source with Colab's /content replaced by the folder `content`."""
    source = cell_source("colab_setup")
    line = 'COLAB_CONTENT = "/content"'
    assert source.count(line) == 1 and source.count('"/content') == 1  # every Colab path derives from it
    return source.replace(line, f"COLAB_CONTENT = {str(content)!r}")


class FakeColab:
    """google.colab as the kit uses it. `cloud` holds the student's Drive (cloud/MyDrive/...); the notebook the
    browser shows is `live` (a dict, as Colab's front end sends it)."""

    def __init__(self, monkeypatch, cloud, live):
        self.cloud, self.live, self.mounted, self.downloaded = Path(cloud), live, [], []
        google = types.ModuleType("google")
        google.__path__ = []
        package = types.ModuleType("google.colab")
        package.__path__ = []
        drive = types.ModuleType("google.colab.drive")
        drive.mount = self.mount
        message = types.ModuleType("google.colab._message")
        message.blocking_request = self.blocking_request
        files = types.ModuleType("google.colab.files")
        files.download = self.downloaded.append
        package.drive, package._message, package.files = drive, message, files
        google.colab = package
        for module in (google, package, drive, message, files):
            monkeypatch.setitem(sys.modules, module.__name__, module)

    def mount(self, mountpoint, **options):
        self.mounted.append(mountpoint)
        if not Path(mountpoint).exists():
            shutil.copytree(self.cloud, mountpoint)

    def blocking_request(self, request_type, request="", timeout_sec=5):
        assert request_type == "get_ipynb"
        return {"ipynb": json.loads(json.dumps(self.live))}


def unzip_handout(folder, gan_text):
    """The handout zip unpacked in `folder` (its GANs-PyTorch/ inside), with gan.py = gan_text; returns the folder."""
    with tempfile.TemporaryDirectory() as scratch:
        archive = write_zip(handout_files(), Path(scratch) / "GANs-PyTorch.zip")
        with zipfile.ZipFile(archive) as members:
            members.extractall(folder)
    (Path(folder) / "GANs-PyTorch" / "gan.py").write_text(gan_text)
    return Path(folder) / "GANs-PyTorch"


def finished():
    return colab_saved(with_training_outputs(answered_notebook()))


def unfinished():
    return colab_saved(nbformat.read(NOTEBOOK, 4))


CASES = {  # name: (route, finished)
    "Drive folder, finished notebook": ("drive", True),
    "Drive folder, unfinished notebook": ("drive", False),
    "zip unpacked in /content, finished notebook": ("runtime", True),
    "zip unpacked in /content, unfinished notebook": ("runtime", False),
}


def run_colab_case(tmp_path, monkeypatch, route, done):
    """The first cell, then "Before you submit", in a simulated Colab runtime. Returns (output, problems, fake)."""
    content, cloud = tmp_path / "content", tmp_path / "cloud"
    content.mkdir()
    gan_text = (SOLUTION_GAN if done else STUDENT_GAN).read_text()
    namespace = {"DRIVE_FOLDER": None, **(RIGHT if done else {})}
    if route == "drive":
        unzip_handout(cloud / "MyDrive", gan_text)
        namespace["DRIVE_FOLDER"] = "MyDrive/GANs-PyTorch"
    else:
        unzip_handout(content, gan_text)  # with the release notebook file, untouched: not what the student sees
    fake = FakeColab(monkeypatch, cloud, finished() if done else unfinished())
    monkeypatch.chdir(content)  # where a Colab notebook starts
    monkeypatch.setenv("MNIST_ROOT", "unset")
    monkeypatch.delenv("MNIST_ROOT")
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(setup_cell(content), "colab_setup", "exec"), namespace)
        problems = submit.check_submission(namespace)
    return output.getvalue(), problems, fake


@pytest.mark.parametrize("case", list(CASES))
def test_before_you_submit_in_colab_reads_the_open_notebook(tmp_path, monkeypatch, case):
    route, done = CASES[case]
    output, problems, fake = run_colab_case(tmp_path, monkeypatch, route, done)
    folder = Path.cwd()
    assert folder.name == "GANs-PyTorch" and (folder / "gan.py").exists()
    assert fake.mounted == ([str(tmp_path / "content" / "drive")] if route == "drive" else [])
    assert (route == "drive") == (tmp_path / "content" / "drive" in folder.parents)
    if route == "drive":
        assert "Your files live on Google Drive" in output and "WARNING" not in output
    else:
        assert "WARNING: your files are in" in output and "DELETED when the runtime is recycled" in output
    assert "download_submission()" in output or "download_submission(globals())" in output
    assert "checked " in output and "and the notebook open in Colab." in output
    if done:
        # In the /content route the folder's notebook file is the untouched release: the check must not read it.
        assert problems == [] and "Ready to submit" in output and "download_submission(globals())" in output
    else:
        assert sum("is still the stub" in p for p in problems) == len(GRADED)
        assert sum("justification of Inline Question" in p and "(in the notebook open in Colab)" in p
                   for p in problems) == 2  # fmt: skip
        assert "the notebook has no training outputs: run it from the top (Runtime > Run all)" in problems
        assert "Ready to submit" not in output
    import os

    assert os.environ["MNIST_ROOT"] == str(tmp_path / "content" / "mnist")  # the runtime's disk, not Drive


def test_download_submission_in_colab_downloads_gan_py_and_the_open_notebook(tmp_path, monkeypatch):
    _, _, fake = run_colab_case(tmp_path, monkeypatch, "drive", True)
    # None: the notebook's last cell would echo a returned value (a list with a temporary folder's path)
    assert submit.download_submission({}) is None
    assert [Path(p).name for p in fake.downloaded] == ["gan.py", "GANs-PyTorch.ipynb"]
    assert json.loads(Path(fake.downloaded[1]).read_text()) == json.loads(json.dumps(fake.live))


def test_a_wrong_drive_folder_says_what_the_drive_has(tmp_path, monkeypatch):
    content, cloud = tmp_path / "content", tmp_path / "cloud"
    content.mkdir()
    unzip_handout(cloud / "MyDrive" / "C147", STUDENT_GAN.read_text())
    FakeColab(monkeypatch, cloud, unfinished())
    monkeypatch.chdir(content)
    monkeypatch.setenv("MNIST_ROOT", "unset")
    with pytest.raises(RuntimeError) as error:
        exec(setup_cell(content), {"DRIVE_FOLDER": "MyDrive/GANs-PyTorch"})
    message = str(error.value)
    assert "DRIVE_FOLDER = 'MyDrive/GANs-PyTorch': there is no such folder in your Google Drive." in message
    assert f"{content / 'drive' / 'MyDrive'} has: C147." in message and "run both cells again" in message


@pytest.mark.parametrize("written", ["GANs-PyTorch", "My Drive/GANs-PyTorch", "/content/drive/MyDrive/GANs-PyTorch/"])
def test_drive_folder_may_be_written_as_drive_shows_it(tmp_path, monkeypatch, written):
    content, cloud = tmp_path / "content", tmp_path / "cloud"
    content.mkdir()
    unzip_handout(cloud / "MyDrive", STUDENT_GAN.read_text())
    FakeColab(monkeypatch, cloud, unfinished())
    monkeypatch.chdir(content)
    monkeypatch.setenv("MNIST_ROOT", "unset")
    exec(setup_cell(content), {"DRIVE_FOLDER": written.replace("/content", str(content))})
    assert Path.cwd() == content / "drive" / "MyDrive" / "GANs-PyTorch"


def test_a_partial_nndl2_fails_the_first_cell_naming_the_missing_modules(tmp_path, monkeypatch):
    folder = unzip_handout(tmp_path / "unzipped", STUDENT_GAN.read_text())
    (folder / "nndl2" / "training.py").unlink()
    (folder / "nndl2" / "quality.py").unlink()
    monkeypatch.chdir(folder)
    with pytest.raises(RuntimeError, match=r"complete nndl2/.*\. \S+ lacks nndl2/quality.py, nndl2/training.py\.$"):
        exec(setup_cell("/content"), {})


def test_the_first_cell_needs_exactly_the_handed_out_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    with pytest.raises(RuntimeError, match="has none of them"):  # an empty folder: every needed file missing
        exec(setup_cell("/content"), namespace)
    listed = namespace["NEEDED"]
    handed_out = {name.split("/", 1)[1] for name in handout_files()}
    part1 = {name for name in handed_out if name == "gan.py" or name.startswith("nndl2/")}
    part2 = {name for name in part1 if name.startswith("nndl2/") and "faces" in name}  # Faces-PyTorch's own
    assert part2 == {"nndl2/faces.py", "nndl2/agent/export_faces.py"}
    assert set(listed) == part1 - part2


def test_a_drive_folder_set_outside_colab_is_harmless(monkeypatch, capsys):
    """Under autograde (or on a laptop) the student's DRIVE_FOLDER changes nothing."""
    from grading.kit import ROOT

    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.chdir(ROOT)
    exec(setup_cell("/content"), {"DRIVE_FOLDER": "MyDrive/somewhere/else"})
    assert Path.cwd() == ROOT
    assert capsys.readouterr().out.startswith(f"Working in {ROOT}: gan.py and GANs-PyTorch.ipynb are files here.")


# ---------------------------------------------------------------------------
# Jupyter and VS Code: the notebook file the kernel runs
# ---------------------------------------------------------------------------


def test_vs_code_and_jupyter_name_the_notebook_file_they_run(tmp_path, monkeypatch):
    folder = folder_with(tmp_path, SOLUTION_GAN.read_text(), nbformat.read(NOTEBOOK, 4))  # a stale copy here
    elsewhere = tmp_path / "copies" / "GANs-PyTorch (2).ipynb"
    elsewhere.parent.mkdir()
    nbformat.write(with_training_outputs(answered_notebook()), elsewhere)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert colab.notebook_file({}, folder) == folder / "GANs-PyTorch.ipynb"
    assert submit.check_submission({**RIGHT, "__vsc_ipynb_file__": str(elsewhere)}, folder) == []
    monkeypatch.setenv("JPY_SESSION_NAME", str(elsewhere))
    assert colab.notebook_file({}, folder) == elsewhere
    assert submit.check_submission(dict(RIGHT), folder) == []
    monkeypatch.setenv("JPY_SESSION_NAME", "copies/GANs-PyTorch (2).ipynb")  # relative to the server's root
    assert colab.notebook_file({}, tmp_path) == tmp_path / "copies" / "GANs-PyTorch (2).ipynb"


def test_outside_colab_a_missing_notebook_file_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    (tmp_path / "gan.py").write_text(SOLUTION_GAN.read_text())
    problems = submit.check_submission(dict(RIGHT), tmp_path)
    assert problems == [f"GANs-PyTorch.ipynb is not in {tmp_path.resolve()}: save this notebook there as "
                        "GANs-PyTorch.ipynb (File > Save) and check again; the check of its justifications and "
                        "outputs was skipped"]  # fmt: skip
