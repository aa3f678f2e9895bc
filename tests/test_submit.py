"""The student's last minutes: the preview of Inline Questions 1-3 and the before-you-submit check (nndl2/submit.py)."""

import json

import nbformat
import pytest

from grading.instructor import plainfiles
from grading.kit import NOTEBOOK, SOLUTION_GAN, STUDENT_GAN
from grading.ta.examples import answered_notebook
from nndl2 import submit

RIGHT = {"minmax_value": 0, "xy_pairs": [(-1, 2), (-2, 1), (-1, -1), (1, -2), (2, -1), (1, 1)],
         "q5_reaches_optimum": False, "q6_good_sign": False}  # fmt: skip


def test_stubs_left_finds_every_stub_of_the_release_and_none_of_the_solution():
    assert sorted(submit.stubs_left(STUDENT_GAN.read_text())) == sorted(
        ["sample_noise", "discriminator", "generator", "discriminator_loss", "generator_loss", "get_optimizer",
         "ls_discriminator_loss", "ls_generator_loss", "build_dc_classifier", "build_dc_generator"]
    )  # fmt: skip
    assert submit.stubs_left(SOLUTION_GAN.read_text()) == []


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
    assert sum("is still the stub" in p for p in problems) == 10
    assert sum("is not defined" in p for p in problems) == 4
    assert sum("justification of Inline Question" in p for p in problems) == 2
    assert any("saved without outputs" in p for p in problems)
    assert capsys.readouterr().out.startswith("Before you submit, fix:")


def test_a_finished_submission_is_ready(tmp_path, capsys):
    folder = folder_with(tmp_path, SOLUTION_GAN.read_text(), with_training_outputs(answered_notebook()))
    assert submit.check_submission(dict(RIGHT), folder) == []
    assert capsys.readouterr().out.startswith("Ready to submit")


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


@pytest.mark.slow
def test_preview_trains_like_the_grader_and_gives_three_verdicts(tmp_path, monkeypatch, mnist_synthetic, capsys):
    (tmp_path / "gan.py").write_text(SOLUTION_GAN.read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNIST_ROOT", str(mnist_synthetic))
    monkeypatch.delitem(__import__("sys").modules, "gan", raising=False)
    verdicts = submit.preview_grading(device="cpu", budget="smoke")
    assert set(verdicts) == {"vanilla", "lsgan", "dcgan"}
    assert all(not ok for ok, _ in verdicts.values())  # three smoke iterations train nothing
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Inline Question")]
    assert [line.split(":")[0] for line in lines] == [
        "Inline Question 1 (vanilla)", "Inline Question 2 (lsgan)", "Inline Question 3 (dcgan)"
    ]  # fmt: skip
    assert json.dumps({k: v[1]["fid"] for k, v in verdicts.items()})  # metrics are plain numbers


def test_the_check_stays_quiet_while_the_grader_runs_the_notebook(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert submit.check_submission({}, folder=tmp_path) == []
    assert capsys.readouterr().out == "Before you submit: skipped while the grader runs the notebook.\n"
