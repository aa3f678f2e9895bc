"""End to end through the real command (python -m grading.instructor.autograde): grades, reasons, feedback, sandbox.

Most submissions are graded under the smoke budget (3 training iterations per GAN, documented in
nndl2/budget.py): every function item and Inline Questions 4-6 are graded as at the real budget,
the image-quality items (Inline Questions 1-3) fail for everyone and are left out of those
comparisons. The reference solution is also graded once at the real autograde budget, where it
must earn every autograded point.
"""

import csv
import json
import textwrap

import pytest

from grading.instructor import autograde, judge, sandbox
from grading.kit import ROOT, SOLUTION_GAN
from grading.ta.examples import MUTANTS, answered_notebook, write_examples, write_submission

QUALITY = {"test_inline_q1", "test_inline_q2", "test_inline_q3"}
ITEMS = autograde.graded_items()
AUTO = [grade_id for grade_id, _, auto in ITEMS if auto]
FUNCTION_ITEMS = {function: item for item, function in judge.FUNCTION_ITEMS.items()}  # function -> grade id
INLINE = ["test_inline_q4", "test_inline_q5", "test_inline_q6"]

PROBE = textwrap.dedent(
    """
    # --- a malicious submission: what can it reach from inside the autograder? ---
    import json as _json
    import pathlib as _pathlib

    def _readable(path):
        try:
            _pathlib.Path(path).read_bytes()
            return True
        except OSError:
            return False

    def _tamper(path):
        try:
            with open(path, "a") as f:
                f.write("tampered")
        except OSError:
            pass

    _probe = {name: _readable(path) for name, path in %(read)r.items()}
    for _path in %(write)r:
        _tamper(_path)
    _pathlib.Path("probe.json").write_text(_json.dumps(_probe))
    """
)


@pytest.fixture(scope="module")
def smoke_batch(tmp_path_factory, mnist_real):
    """Every example submission graded under the smoke budget, plus a malicious and a partial one."""
    tmp = tmp_path_factory.mktemp("autograde")
    submissions, out = tmp / "submissions", tmp / "out"
    write_examples(submissions, mutants=sorted(MUTANTS), extras=("colab", "tampered"))
    canary = tmp / "canary.txt"
    canary.write_text("untouched")
    paths = {
        "solution": SOLUTION_GAN,
        "source_notebook": ROOT / "grading" / "source" / "GANs-PyTorch" / "GANs-PyTorch.ipynb",
        "gradebook": out / "course" / "gradebook.db",
        "other_submission": submissions / "reference" / "gan.py",
    }
    probe = PROBE % {
        "read": {k: str(v) for k, v in paths.items()},
        "write": [str(canary), str(paths["other_submission"])],
    }
    if sandbox.sandbox_works():  # unconfined, it would really tamper with the other files
        write_submission(submissions / "evil", answered_notebook(), SOLUTION_GAN.read_text() + probe)
    (submissions / "nogan").mkdir()
    (submissions / "nogan" / "GANs-PyTorch.ipynb").write_text(
        (submissions / "reference" / "GANs-PyTorch.ipynb").read_text()
    )
    reference_gan = paths["other_submission"].read_text()
    results, _ = autograde.autograde(submissions, out, budget="smoke", mnist_root=mnist_real, log=lambda *a: None)
    return {
        "results": {r["student"]: r for r in results},
        "out": out,
        "submissions": submissions,
        "canary": canary,
        "reference_gan": reference_gan,
    }


def scores(batch, student):
    return batch["results"][student]["scores"]


@pytest.mark.slow
def test_reference_earns_every_point_but_image_quality_under_smoke(smoke_batch):
    got = scores(smoke_batch, "reference")
    assert {g: got[g] for g in AUTO if g not in QUALITY} == {g: 1.0 for g in AUTO if g not in QUALITY}
    assert smoke_batch["results"]["reference"]["reason"] == ""


@pytest.mark.slow
def test_blank_release_scores_zero_on_every_function_and_question(smoke_batch):
    got = scores(smoke_batch, "blank")
    assert {g: got[g] for g in AUTO} == {g: 0.0 for g in AUTO}


@pytest.mark.slow
@pytest.mark.parametrize("function", sorted(MUTANTS))
def test_one_bug_costs_exactly_its_item(smoke_batch, function):
    reference, buggy = scores(smoke_batch, "reference"), scores(smoke_batch, f"buggy-{function}")
    lost = {g for g in AUTO if g not in QUALITY and buggy[g] < reference[g]}
    assert lost == {FUNCTION_ITEMS[function]}


@pytest.mark.slow
def test_broken_gan_py_gets_a_row_with_a_reason(smoke_batch):
    result = smoke_batch["results"]["broken"]
    assert "gan.py does not parse" in result["reason"] and result["status"] == "problem"
    assert all(result["scores"][FUNCTION_ITEMS[f]] == 0 for f in FUNCTION_ITEMS)
    assert all(result["scores"][g] == 1 for g in INLINE)  # the notebook answers still count


@pytest.mark.slow
def test_missing_gan_py_gets_a_row_with_a_reason(smoke_batch):
    result = smoke_batch["results"]["nogan"]
    assert "missing gan.py" in result["reason"]
    assert all(result["scores"][FUNCTION_ITEMS[f]] == 0 for f in FUNCTION_ITEMS)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["colab", "tampered"])
def test_colab_saved_and_tampered_notebooks_grade_like_the_reference(smoke_batch, variant):
    """Colab metadata changes nothing; deleted or edited test cells are restored from the gradebook."""
    assert scores(smoke_batch, variant) == scores(smoke_batch, "reference")


@pytest.mark.slow
def test_grades_csv_has_a_row_per_student_and_a_column_per_item(smoke_batch):
    with open(smoke_batch["out"] / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(row["student"] for row in rows) == sorted(smoke_batch["results"])
    columns = set(rows[0])
    assert {autograde.column(g) for g, _, _ in ITEMS} <= columns and {"total_score", "reason"} <= columns
    assert {"name", "source", "lms_id", "late"} <= columns
    reference = next(row for row in rows if row["student"] == "reference")
    assert reference["q5_justification"] == "" and float(reference["autograded_max"]) == len(AUTO)
    assert float(reference["autograded_score"]) == len(AUTO) - len(QUALITY)


@pytest.mark.slow
def test_every_item_has_the_judges_message(smoke_batch):
    """One sentence per autograded item, from the judge (not from the student's output)."""
    for student in ["reference", "blank", "buggy-discriminator_loss"]:
        messages = smoke_batch["results"][student]["messages"]
        assert set(messages) == set(AUTO) and all(m.endswith(".") for m in messages.values())
    blank = smoke_batch["results"]["blank"]["messages"]
    assert blank["test_sample_noise"] == "sample_noise is not implemented yet (it raises NotImplementedError)."
    buggy = smoke_batch["results"]["buggy-discriminator_loss"]["messages"]["test_discriminator_loss"]
    assert buggy.startswith("discriminator_loss gave ")


@pytest.mark.slow
def test_feedback_shows_no_solution(smoke_batch):
    solution_lines = [line.strip() for line in SOLUTION_GAN.read_text().splitlines() if "nn.Linear(784, 256)" in line]
    assert solution_lines
    for student in ["reference", "buggy-discriminator_loss", "blank"]:
        html = (smoke_batch["out"] / "feedback" / f"{student}.html").read_text()
        assert "BEGIN SOLUTION" not in html and not any(line in html for line in solution_lines)


@pytest.mark.slow
@pytest.mark.skipif(not sandbox.sandbox_works(), reason="bubblewrap is not available")
def test_sandbox_hides_solution_gradebook_and_other_students(smoke_batch):
    probe = smoke_batch["out"] / "course" / "autograded" / "evil" / "GANs-PyTorch" / "probe.json"
    assert json.loads(probe.read_text()) == {
        "solution": False, "source_notebook": False, "gradebook": False, "other_submission": False,
    }  # fmt: skip
    assert smoke_batch["canary"].read_text() == "untouched"
    assert (smoke_batch["submissions"] / "reference" / "gan.py").read_text() == smoke_batch["reference_gan"]
    assert scores(smoke_batch, "evil") == scores(smoke_batch, "reference")


@pytest.mark.slow
def test_rerun_is_idempotent(smoke_batch, mnist_real):
    before = (smoke_batch["out"] / "grades.csv").read_text()
    messages = []
    autograde.autograde(smoke_batch["submissions"], smoke_batch["out"], budget="smoke", mnist_root=mnist_real,
                        log=messages.append)  # fmt: skip
    assert (smoke_batch["out"] / "grades.csv").read_text() == before
    assert sum("unchanged" in str(m) for m in messages) == len(smoke_batch["results"])


@pytest.mark.slow
def test_reference_earns_full_marks_at_the_real_budget(tmp_path, mnist_real):
    """The reference solution, trained at the autograde budget on real digits, earns every autograded point."""
    write_submission(tmp_path / "submissions" / "reference", answered_notebook(), SOLUTION_GAN.read_text())
    results, _ = autograde.autograde(tmp_path / "submissions", tmp_path / "out", mnist_root=mnist_real, log=print)
    (reference,) = results
    print(f"reference autograded at the real budget in {reference['seconds']} s")
    assert {g: reference["scores"][g] for g in AUTO} == {g: 1.0 for g in AUTO}
