"""End to end through the real command (grading.instructor.autograde): grades, reasons, the sandbox, reruns.

The batch (tests/conftest.py, its submissions in tests/e2e.py) grades one submission per path through the
pipeline under the smoke budget, two at a time, in the sandbox. Under the smoke budget every function item
and Inline Questions 4-6 are graded as at the real budget; the image-quality items (Inline Questions 1-3)
fail for everyone and are left out of the comparisons. What a part decides on its own is tested in one
process, not by one more submission each:

- every correct style and every mutant: the judge and a short training run, tests/corpus/test_corpus.py
  (the batch grades one mutant end to end);
- every corpus notebook's answers (numpy, floats, builtins shadowed, "All tests passed!"...): below, the
  answer cells and their test cells against the kit's save_answers, then the grader's judge (the batch
  grades one notebook with every honest change at once: variants);
- Colab-saved and tampered notebooks: below, rebuilt (grading/instructor/intake/normalize.py) into the reference's
  graded cells; renamed and missing files: tests/test_submissions.py;
- a kernel killed mid-notebook (forge_kernel_sigkill, forge_kernel_exit): probe-memory's kernel dies before
  Question 6, and tests/test_sandbox.py kills kernels by signal;
- one submission graded alone (--jobs 1) as in the batch: tests/test_gradescope.py's run_autograder.

Every corpus forgery, the batch's included, is graded at the real budget with the reference
(`./kit test -m long`): there Inline Questions 1-3, which fake training, a generator returning real digits
and a swapped generator export aim at, are judged too, with --alike on as for a class (beside a correct style
and two of its mutants handed the reference's and a style's runs).
"""

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import corpus
import nbformat
import numpy as np
import pytest
import torch
from confine_probes import sleepers
from corpus.verify import import_text
from e2e import BUGGY, FORGERIES, HAND_GRADED, SECRET, SLEEPER, batch_limits, notebook_variants

from grading.instructor import autograde
from grading.instructor.intake.normalize import rebuild
from grading.instructor.judging import judge
from grading.instructor.judging.answers import judge_answers
from grading.instructor.settings import Settings, training_args, training_device
from grading.kit import ROOT, SOLUTION_GAN, import_file
from grading.ta import alike
from grading.ta.examples import answered_notebook, colab_saved, grade_id, tampered, write_submission
from nndl2.agent import STOPPED_AFTER_ERROR, export
from nndl2.agent.training import GANS
from nndl2.answers import EXPORTS, save_answers

QUALITY = set(judge.QUALITY_ITEMS)
ITEMS = autograde.graded_items()
AUTO = [grade_id for grade_id, _, auto in ITEMS if auto]
CHECKED = [grade_id for grade_id in AUTO if grade_id not in QUALITY]  # what the smoke budget can judge
FUNCTION_ITEMS = list(judge.FUNCTION_ITEMS)
INLINE = ["test_inline_q4", "test_inline_q5", "test_inline_q6"]
GRADED_CORPUS = [BUGGY, *FORGERIES]
# Every forgery, graded at the real budget too (test_every_forgery_and_every_run_handed_on_earn_...): the CI
# batch grades FORGERIES at the smoke budget only, where Inline Questions 1-3 are not judged.
LONG_FORGERIES = [e["name"] for e in corpus.ENTRIES if e["kind"] == "forgery"]
# Graded beside them with --alike on: {corpus entry: its file in grading/ta/alike.json}. A correct style handed the
# reference's vanilla GAN and LSGAN and lsgan_shape1_bcewithlogits' DCGAN; a mutant handed those but its LSGAN; one
# handed the reference's LSGAN alone, its other two GANs failing as they train themselves.
ALIKE_ENTRIES = {
    "torch_flatten_inplace": "torch_flatten_inplace",
    "mutant_torch_flatten_inplace_ls_generator_loss": "torch_flatten_inplace-ls_generator_loss",
    "mutant_torch_flatten_inplace_discriminator_loss": "torch_flatten_inplace-discriminator_loss",
}
MATHJAX = {  # the only scripts of a feedback page: nbgrader's template loading MathJax
    '<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?config=TeX-AMS_CHTML-full,Safe">',
    '<script type="text/x-mathjax-config">',
}


def scores(batch, student):
    return batch["results"][student]["scores"]


def checked(batch, student):
    return {item: scores(batch, student).get(item) for item in CHECKED}


def answers(batch, student):
    return {item: scores(batch, student).get(item) for item in INLINE}


def reason(batch, student):
    return batch["results"][student]["reason"]


def autograded(batch, student):
    return nbformat.read(batch["out"] / "course" / "autograded" / student / "GANs-PyTorch" / "GANs-PyTorch.ipynb", 4)


def probe_reports(batch, student):
    """{probe name: its report} from the GAN-KIT-PROBE lines of a submission's autograded notebook."""
    reports = {}
    for cell in autograded(batch, student).cells:
        for output in cell.get("outputs", []):
            for line in str(output.get("text", "")).splitlines():
                if line.startswith("GAN-KIT-PROBE {"):
                    report = json.loads(line.removeprefix("GAN-KIT-PROBE "))
                    reports[report["probe"]] = report
    return reports


def rows(text):
    return {row["student"]: row for row in csv.DictReader(io.StringIO(text))}


def graded_content(cells):
    """What nbgrader runs and grades of a notebook's cells: its code cells and graded cells, ids left out
    (the release's prose has no effect on a grade)."""
    return [(c.cell_type, c.metadata, c.source) for c in cells if c.cell_type == "code" or "nbgrader" in c.metadata]


def masked(messages):
    return {item: re.sub(r"\d+(\.\d+)?", "#", text) for item, text in messages.items()}


# -- the examples ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_reference_earns_every_point_but_image_quality_under_smoke(batch):
    assert checked(batch, "reference") == {item: 1.0 for item in CHECKED}
    assert reason(batch, "reference") == ""
    assert "recognizable" in batch["results"]["reference"]["messages"]["test_inline_q1"]  # judged on metrics


@pytest.mark.slow
def test_the_notebook_shows_the_graders_training_run_instead_of_training_again(batch):
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in autograded(batch, "reference").cells}
    for name in ("train_vanilla", "train_lsgan", "train_dcgan"):
        text = "".join(str(output.get("text", "")) for output in cells[name].outputs)
        assert "this is the grader's own training run of your gan.py" in text and "Iter: 0, D:" not in text, name
    text = "".join(str(o.get("text", "")) for c in cells.values() for o in c.get("outputs", []))
    assert "Going further is skipped at grading" in text  # the experiments train nothing either


@pytest.mark.slow
def test_blank_release_scores_zero_on_every_function_and_question(batch):
    assert {item: scores(batch, "blank")[item] for item in AUTO} == {item: 0.0 for item in AUTO}
    messages = batch["results"]["blank"]["messages"]
    assert messages["test_sample_noise"] == "sample_noise is not implemented yet (it raises NotImplementedError)."
    assert messages["test_inline_q1"] == "Inline Question 1: not trained: sample_noise is not implemented yet."


@pytest.mark.slow
def test_broken_gan_py_gets_a_row_with_a_reason_and_its_answers(batch):
    result = batch["results"]["broken"]
    assert "gan.py does not parse" in result["reason"] and result["status"] == "problem"
    assert all(result["scores"][item] == 0 for item in FUNCTION_ITEMS)
    assert answers(batch, "broken") == {item: 1.0 for item in INLINE}  # the notebook's answers still count


def test_a_linked_gan_py_is_refused_into_the_rows_reason_and_never_staged(tmp_path):
    """A refused gan.py is graded as a missing one: its refusal is the row's reason and nothing of it reaches the
    grader's copy, so the branch of a missing gan.py grades the rest (end to end: tests/test_faces_autograde.py's
    nofaces has no gan.py, the batch's broken one that does not parse; which links intake refuses:
    tests/test_submissions.py)."""
    from grading.instructor.intake.submissions import collect

    linked = tmp_path / "submissions" / "linked"
    linked.mkdir(parents=True)
    nbformat.write(answered_notebook(), linked / "GANs-PyTorch.ipynb")
    (linked / "gan.py").symlink_to(SOLUTION_GAN)
    (submission,) = collect(tmp_path / "submissions")
    grader = autograde.Grader(tmp_path / "out", Settings(), log=lambda *args: None)
    run = autograde.Run(submission, tmp_path / "work", None)
    grader.stage_files(run)
    assert set(run.staged) == {"notebook"} and not list((run.work / "staged").glob("*.py"))
    assert any("gan.py" in note and "symbolic link" in note for note in run.reasons), run.reasons


@pytest.mark.slow
def test_a_notebook_saved_by_colab_edited_renamed_and_answered_its_own_way_earns_every_answer(batch):
    """The variants submission: every honest change at once still earns Questions 4-6, with no reason."""
    assert answers(batch, "variants") == {item: 1.0 for item in INLINE}
    assert reason(batch, "variants") == ""


@pytest.mark.slow
def test_every_item_has_the_judges_message(batch):
    for student in ["reference", "blank", BUGGY]:
        messages = batch["results"][student]["messages"]
        assert set(messages) == set(AUTO) and all(m.endswith(".") for m in messages.values())


# -- the corpus ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", GRADED_CORPUS)
def test_corpus_entry_earns_what_its_code_deserves(batch, name):
    result = batch["results"][name]
    assert corpus.mismatches(name, result["scores"], result["reason"]) == [], result["messages"]


# -- the probes ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_confined_probe_reads_reaches_and_leaks_nothing(batch):
    reports = probe_reports(batch, "probe-confined")
    assert reports["read_canaries"]["readable"] == [] and reports["read_canaries"]["found"] == []
    assert batch["listener"].connections == [] and "refused" in str(reports["connect_localhost"]).lower()
    assert SECRET not in json.dumps(reports["environment"]) and reports["environment"]["host"] == "sandbox"
    assert reports["start_processes"]["started"] < 128
    assert answers(batch, "probe-confined") == {item: 1.0 for item in INLINE}  # nothing it did cost a point
    why = reason(batch, "probe-confined")
    assert "process" in why and "file size" in why and "was cut at 1 MiB" in why


@pytest.mark.slow
def test_shm_is_private_to_each_submission(batch):
    assert probe_reports(batch, "probe-memory")["shm_marker"]["found"] == []  # not probe-confined's marker
    assert "gan-kit-probe-marker" not in batch["shm_after"]  # the host's /dev/shm got nothing


@pytest.mark.slow
def test_a_kernel_killed_by_the_memory_limit_costs_only_what_came_after(batch):
    """probe-memory's kernel dies before Question 6 (the sandbox's side of a dead kernel, SIGKILL included:
    tests/test_sandbox.py::test_a_dead_kernel_leaves_the_notebook_with_the_later_cells_not_run)."""
    assert "the notebook's kernel died" in reason(batch, "probe-memory")
    assert "memory limit (2 GiB) reached" in reason(batch, "probe-memory")
    assert answers(batch, "probe-memory") == {"test_inline_q4": 1.0, "test_inline_q5": 1.0, "test_inline_q6": 0.0}


@pytest.mark.slow
def test_a_gan_py_that_exhausts_memory_at_import_scores_nothing_of_gan_py(batch):
    assert all(scores(batch, "probe-import-memory")[item] == 0 for item in FUNCTION_ITEMS)
    assert "memory limit (2 GiB) reached" in reason(batch, "probe-import-memory")


@pytest.mark.slow
def test_nothing_of_the_graders_leaks_into_any_output(batch):
    out = batch["out"]
    pages = {path.stem: path.read_text(errors="replace") for path in (out / "feedback").glob("*.html")}
    notebooks = list((out / "course" / "autograded").rglob("*.ipynb"))
    outputs = [json.dumps([cell.get("outputs", []) for cell in nbformat.read(path, 4).cells]) for path in notebooks]
    grades = (out / "grades.csv").read_text()
    assert pages and notebooks
    for text in [*pages.values(), *outputs, grades]:
        assert batch["canary"] not in text and SECRET not in text and str(out) not in text
    # The grader's home: in no output; in no page but probe-confined's, whose probe source lists /root paths.
    for text in [*(page for student, page in pages.items() if student != "probe-confined"), *outputs, grades]:
        assert str(Path.home()) + "/" not in text
    for page in (out / "feedback").glob("*.html"):  # MathJax's two scripts, nothing a student wrote
        assert set(re.findall(r"<script[^>]*>", page.read_text(), flags=re.I)) <= MATHJAX, page.name


@pytest.mark.slow
def test_nothing_a_submission_started_outlives_the_batch(batch):
    assert sleepers(run_users=False, name=SLEEPER) == []  # the bubblewrap runs' (the uid mode's are its own test's)


# -- the batch -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_default_courses_gradebook_has_the_sources_grade_items_and_no_going_further(batch):
    """The gradebook autograde built for the default course: the source notebook's grade cells with their points, no
    Going further reflection (those come with GOING_FURTHER_POINTS: tests/test_experiments.py)."""
    from test_experiments import gradebook_items, source_grade_items

    items = gradebook_items(batch["out"] / "course")
    assert {name: points for name, (points, _) in items.items()} == source_grade_items()
    assert not any(name.startswith("reflection_") for name in items)


@pytest.mark.slow
def test_grades_csv_has_a_row_per_student_and_a_column_per_item(batch):
    graded = rows(batch["grades"])
    assert sorted(graded) == sorted(batch["results"])
    columns = set(graded["reference"])
    assert {autograde.column(g) for g, _, _ in ITEMS} <= columns and {"total_score", "reason"} <= columns
    assert {"name", "source", "lms_id", "late"} <= columns
    reference = graded["reference"]
    assert reference["q5_justification"] == "" and float(reference["autograded_max"]) == len(AUTO)
    assert float(reference["autograded_score"]) == len(CHECKED)


@pytest.mark.slow
def test_rerun_reuses_every_submission_and_changes_only_the_hand_grade(batch):
    """The same command again after a TA's hand grade: nothing is graded again, grades.csv is the same but
    for that grade, and only that student's feedback is made again."""
    first, again = rows(batch["grades"]), rows(batch["again"]["grades"])
    assert sorted(again) == sorted(first)
    changed = {}
    for student, row in first.items():
        diff = {key: (value, again[student][key]) for key, value in row.items() if value != again[student][key]}
        diff.pop("seconds", None)
        if diff:
            changed[student] = diff
    total = float(first[HAND_GRADED]["total_score"])
    assert changed == {HAND_GRADED: {"q5_justification": ("", "1"), "total_score": (f"{total:g}", f"{total + 1:g}")}}
    log = [str(message) for message in batch["again"]["log"]]
    assert sum("unchanged, reusing the earlier grading" in m for m in log) == len(first) - 1
    assert any(f'"{HAND_GRADED}": grades entered by hand changed: feedback made again' in m for m in log)
    assert batch["again"]["results"][HAND_GRADED]["scores"]["q5_justification"] == 1.0
    for student, page in batch["pages"].items():  # only the hand-graded student's feedback was made again
        if student != HAND_GRADED:
            assert (batch["out"] / "feedback" / f"{student}.html").read_text() == page, student


@pytest.mark.slow
def test_the_batch_keeps_the_trained_gans_of_what_it_trained(batch):
    """Each GAN the batch trained is kept for a re-grade (grading/instructor/judging/trained.py); nothing where nothing
    trained (the stubs: their sample_noise can only raise)."""
    kept = batch["out"] / "trained" / "reference"
    assert sorted(path.name for path in kept.iterdir()) == sorted(
        f"{gan}.{ext}" for gan in ("vanilla", "lsgan", "dcgan") for ext in ("npz", "json")
    )
    assert batch["results"]["reference"]["reused_training"] == []
    assert not (batch["out"] / "trained" / "blank").exists()


# -- what the batch leaves to one process ---------------------------------------------------------


@pytest.mark.parametrize("variant", [colab_saved, tampered], ids=["colab", "tampered"])
def test_colab_saved_and_tampered_notebooks_are_graded_as_the_reference_notebook(variant):
    """nbgrader grades rebuild()'s notebook: the same notebook (and no note) grades exactly the same."""
    answered = answered_notebook()
    expected, notes = rebuild(nbformat.writes(answered).encode())
    assert notes == []
    got, notes = rebuild(nbformat.writes(variant(answered)).encode())
    assert notes == [] and graded_content(got.cells) == graded_content(expected.cells)


def test_the_variants_notebook_is_graded_as_the_reference_notebook_plus_its_scratch_code():
    expected, _ = rebuild(nbformat.writes(answered_notebook()).encode())
    got, notes = rebuild(nbformat.writes(notebook_variants()).encode())
    assert notes == []
    answer_cells = ("q4_answer", "q5_answer", "q6_answer")  # its own answers (judged below)
    kept = [cell for cell in got.cells if grade_id(cell) not in answer_cells]
    release_code = {cell.source for cell in expected.cells if cell.cell_type == "code"}  # unlocked settings too
    assert [cell.source for cell in kept if cell.cell_type == "code" and cell.source not in release_code] == [
        "D_try = discriminator()\nprint(D_try)"
    ]
    kept = [cell for cell in kept if "nbgrader" in cell.metadata]
    graded = [c for c in expected.cells if "nbgrader" in c.metadata and grade_id(c) not in answer_cells]
    assert graded_content(kept) == graded_content(graded)
    ids = [grade_id(cell) for cell in got.cells if grade_id(cell)]
    assert ids == [grade_id(cell) for cell in expected.cells if grade_id(cell)]


def run_answer_cells(notebook, folder, monkeypatch):
    """Run a rebuilt notebook's answer cells and their test cells in one namespace, as the kernel runs them
    (a cell that raises stops only itself), with save_answers writing into `folder`."""
    monkeypatch.setenv(EXPORTS, str(folder))
    namespace = {"np": np, "save_answers": save_answers}  # what the setup cell gives them
    wanted = {"q4_answer", "test_inline_q4", "q5_answer", "test_inline_q5", "q6_answer", "test_inline_q6"}
    for cell in notebook.cells:
        if cell.cell_type == "code" and grade_id(cell) in wanted:
            try:
                exec(compile(cell.source, grade_id(cell), "exec"), namespace)
            except Exception:
                pass


ANSWERING = [e for e in corpus.ENTRIES if e["kind"] == "correct"] + [
    corpus.entry("forge_builtins_answer_cell"),
    corpus.entry("forge_print_all_tests_passed"),
]


@pytest.mark.parametrize("entry", ANSWERING, ids=lambda e: f"{e['name']}-{e['notebook']}")
def test_each_corpus_notebooks_answers_earn_what_they_deserve(entry, tmp_path, monkeypatch):
    """Questions 4-6 of every corpus notebook, exported and judged as the grader does (the batch grades one
    such notebook end to end: variants; forge_builtins_answer_cell's gan.py is the reference's)."""
    notebook, notes = rebuild(nbformat.writes(corpus.notebook(entry)).encode())
    run_answer_cells(notebook, tmp_path, monkeypatch)
    verdicts = judge_answers(tmp_path)
    assert {item: int(verdicts[item].passed) for item in INLINE} == {item: entry["scores"][item] for item in INLINE}


@pytest.mark.usefixtures("one_thread")
def test_a_generator_that_returns_real_digits_loses_its_point_in_one_process(tmp_path):
    """forge_generator_returns_mnist's function items, judged as the grader judges them (the forgery patches
    nothing global); its Inline Questions are graded at the real budget (`-m long`)."""
    name = "forge_generator_returns_mnist"
    inputs = judge.draw_inputs()
    export.export_module(import_text(corpus.gan_text(name), f"corpus_{name}"), inputs, tmp_path)
    verdicts = judge.judge_functions(tmp_path, inputs)
    deserved = corpus.entry(name)["scores"]
    assert {item: int(v.passed) for item, v in verdicts.items()} == {item: deserved[item] for item in verdicts}


@pytest.mark.parametrize("gan", ["vanilla", "dcgan"])
def test_the_graded_generator_is_the_architecture_holding_the_exported_weights(gan):
    """Inline Questions 1-3 sample the reference architecture loaded with the weights the training run exported
    (float32 numpy arrays, as read from its .npz), in the order the architecture item found."""
    import torch

    from grading.kit import load_solution

    solution = load_solution()
    torch.manual_seed(1)
    trained = solution.generator() if gan == "vanilla" else solution.build_dc_generator()
    arrays, names = export.parameters(trained)
    G = judge.trained_generator(gan, {"g_names": names}, {f"g_{k}": v for k, v in arrays.items()}, None, solution)
    assert all(torch.equal(a, b) for a, b in zip(G.parameters(), trained.parameters(), strict=True))
    assert G.training and next(G.parameters()).dtype == torch.float32


REFERENCE_NOISE = "    return 2 * torch.rand(batch_size, dim) - 1\n"  # the solution's sample_noise body


def judged_functions(text, folder):
    """The grader's inputs and its verdicts on the functions of gan.py `text`, exported in this process from a file
    named gan.py (so that tracebacks name it, as in the grader's export run) into `folder`."""
    (folder / "student").mkdir()
    (folder / "student" / "gan.py").write_text(text)
    inputs = judge.draw_inputs()
    export.export_module(import_file(folder / "student" / "gan.py", f"judged_{folder.name}"), inputs, folder)
    return inputs, judge.judge_functions(folder, inputs)


@pytest.mark.usefixtures("one_thread")
def test_an_error_raised_outside_the_graded_function_names_where_it_was_raised(tmp_path):
    """A public solution's DC generator built Unflatten(128, 7, 7) (N=128, C=7): the network it returns raises in the
    provided Unflatten.forward, far from the student's line. The message names that function with its line; an
    error raised in the graded function itself does not repeat the function's name."""
    text = corpus.replace_once(SOLUTION_GAN.read_text(), "Unflatten(-1, 128, 7, 7),", "Unflatten(128, 7, 7),", "dc")
    text = corpus.replace_once(text, REFERENCE_NOISE, '    raise RuntimeError("no noise today")\n', "noise")
    lines = text.splitlines()
    raised = next(i for i, line in enumerate(lines) if "class Unflatten" in line)
    raised += next(i for i, line in enumerate(lines[raised:]) if "return x.reshape(" in line) + 1
    inputs, verdicts = judged_functions(text, tmp_path)
    dcg_dim, n_dcg = int(inputs["dcg_dim"]), len(inputs["dcg_noise"])
    assert verdicts["test_dc_generator"].message.startswith(
        f"build_dc_generator({dcg_dim}), or its network on noise of shape ({n_dcg}, {dcg_dim}), raised RuntimeError: "
        "shape '[128, 7, "
    )
    assert verdicts["test_dc_generator"].message.endswith(f" (gan.py line {raised}, in Unflatten.forward).")
    noise = lines.index('    raise RuntimeError("no noise today")') + 1
    assert (
        verdicts["test_sample_noise"].message
        == f"sample_noise raised RuntimeError: no noise today (gan.py line {noise})."
    )


@pytest.mark.usefixtures("one_thread")
def test_a_network_that_raises_is_named_with_how_the_grader_called_and_ran_it(tmp_path):
    """Public solutions hard-code the noise dimension (Linear(96, 1024)) or add a parameter before noise_dim
    (build_dc_generator(batch_size, noise_dim)): torch's "mat1 and mat2 shapes cannot be multiplied (19x16 and
    96x1024)" says nothing of where 16 comes from; the message says how the grader called the function and ran
    the network it returned (a stub is still just not implemented)."""
    text = SOLUTION_GAN.read_text().replace("nn.Linear(noise_dim, 1024)", "nn.Linear(96, 1024)", 1)  # generator()'s
    text = text.replace("def build_dc_generator(noise_dim=", "def build_dc_generator(N, noise_dim=")
    text += '\n\ndef discriminator(seed=None):\n    raise NotImplementedError("discriminator: write your code here")\n'
    inputs, verdicts = judged_functions(text, tmp_path)
    failed = {item: v.message for item, v in verdicts.items() if not v.passed}
    assert set(failed) == {"test_discriminator", "test_generator", "test_dc_generator"}
    assert failed["test_discriminator"] == "discriminator is not implemented yet (it raises NotImplementedError)."
    g_dim, n_g = int(inputs["g_dim"]), len(inputs["g_noise"])
    dcg_dim, n_dcg = int(inputs["dcg_dim"]), len(inputs["dcg_noise"])
    assert failed["test_generator"] == (  # raised in torch's Linear: no line of gan.py to name
        f"generator({g_dim}), or its network on noise of shape ({n_g}, {g_dim}), raised RuntimeError: mat1 and "
        f"mat2 shapes cannot be multiplied ({n_g}x{g_dim} and 96x1024)."
    )
    assert failed["test_dc_generator"] == (
        f"build_dc_generator({dcg_dim}), or its network on noise of shape ({n_dcg}, {dcg_dim}), raised RuntimeError: "
        f"mat1 and mat2 shapes cannot be multiplied ({n_dcg}x{dcg_dim} and 96x1024)."
    )


@pytest.mark.usefixtures("one_thread")
def test_a_stub_sample_noise_leaves_inline_questions_1_to_3_untrained(tmp_path):
    """run_a_gan draws each GAN's training noise with the student's sample_noise: while it is the stub, none of
    the three GANs can train, and the grader says so instead of starting the runs."""
    stub = '    raise NotImplementedError("sample_noise: write your code here (see the docstring)")\n'
    inputs = judge.draw_inputs()
    gan = import_text(corpus.replace_once(SOLUTION_GAN.read_text(), REFERENCE_NOISE, stub, "stub"), "stub_noise")
    export.export_module(gan, inputs, tmp_path)
    verdicts = judge.judge_functions(tmp_path, inputs)
    assert [item for item, verdict in verdicts.items() if not verdict.passed] == ["test_sample_noise"]
    untrained = {gan: judge.unimplemented(verdicts, gan) for gan in judge.QUALITY_ITEMS.values()}
    assert untrained == dict.fromkeys(judge.QUALITY_ITEMS.values(), "sample_noise is not implemented yet")


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            "    return 2 * torch.rand(batch_size, dim + 1) - 1\n",
            "Inline Question 1: training your vanilla GAN raised ValueError: sample_noise(128, 96) must return a "
            "floating-point tensor of shape (128, 96), got shape (128, 97), dtype torch.float32.",
        ),
        (
            '    raise RuntimeError("no noise today")\n',
            "Inline Question 1: training your vanilla GAN raised RuntimeError: no noise today (gan.py line 43, in "
            "sample_noise).",
        ),
    ],
    ids=["wrong-shape", "raises"],
)
def test_a_sample_noise_that_breaks_training_fails_that_gan_with_the_reason(tmp_path, mnist_synthetic, body, said):
    """The grader's training run (nndl2/agent/export.py train) with a sample_noise that misbehaves at training time:
    that GAN's run records the error, and its Inline Question says it, as for a broken loss."""
    (tmp_path / "gan.py").write_text(corpus.replace_once(SOLUTION_GAN.read_text(), REFERENCE_NOISE, body, "noise"))
    out = tmp_path / "training"
    settings = Settings(budget="smoke", device="cpu").write_inside(tmp_path / "settings")
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "MNIST_ROOT": str(mnist_synthetic), "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, "-m", "nndl2.agent.export", *training_args(["vanilla"], out)], cwd=tmp_path,
        env={**environment, "GAN_KIT_SETTINGS": str(settings)}, check=True, capture_output=True,
    )  # fmt: skip
    verdict = judge.judge_training(out, {})["test_inline_q1"]
    assert not verdict.passed and verdict.message == said


def test_the_gans_trained_in_one_run_train_as_each_alone(tmp_path, mnist_synthetic):
    """The grader trains the three GANs in one process (Grader.train): the LSGAN and the DCGAN, trained there after the
    GANs before them, end with the same weights, losses and grids, bit for bit, as in a process of their own."""
    (tmp_path / "gan.py").write_text(SOLUTION_GAN.read_text())
    settings = Settings(budget="smoke", device="cpu").write_inside(tmp_path / "settings")
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "MNIST_ROOT": str(mnist_synthetic), "OMP_NUM_THREADS": "1"}
    for gans, out in ((ALL, "together"), (["lsgan"], "alone"), (["dcgan"], "alone")):
        subprocess.run(
            [sys.executable, "-m", "nndl2.agent.export", *training_args(gans, tmp_path / out)], cwd=tmp_path,
            env={**environment, "GAN_KIT_SETTINGS": str(settings)}, check=True, capture_output=True,
        )  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "together").iterdir()) == ["dcgan", "lsgan", "vanilla"]
    for gan in ("lsgan", "dcgan"):
        together, alone = (judge.load_export(tmp_path / out / gan / f"{gan}.npz") for out in ("together", "alone"))
        assert together[0] == alone[0] and together[0]["iterations"] == 3
        assert sorted(together[1]) == sorted(alone[1]) and "g_p0" in together[1] and "history_d_loss" in together[1]
        for key, value in together[1].items():
            assert np.array_equal(value, alone[1][key]), (gan, key)


def test_a_later_gan_that_raises_ends_the_training_run_there(tmp_path, mnist_synthetic):
    """The training run continues after its first GAN raises (that outcome stands) but ends at a later GAN that
    raises: the grader trains that one again, and the GANs after it, with the time a run of their own gets."""
    raises = (
        "\n\n_ls_discriminator_loss = ls_discriminator_loss\n\n\ndef ls_discriminator_loss(scores_real, scores_fake):\n"
        "    if scores_real.shape[0] == 128:  # a training batch\n        raise MemoryError('sharing the run')\n"
        "    return _ls_discriminator_loss(scores_real, scores_fake)\n"
    )
    (tmp_path / "gan.py").write_text(SOLUTION_GAN.read_text() + raises)
    settings = Settings(budget="smoke", device="cpu").write_inside(tmp_path / "settings")
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "MNIST_ROOT": str(mnist_synthetic), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "nndl2.agent.export", *training_args(ALL, tmp_path / "out")], cwd=tmp_path,
        env={**environment, "GAN_KIT_SETTINGS": str(settings)}, capture_output=True,
    )  # fmt: skip
    assert done.returncode == STOPPED_AFTER_ERROR, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["lsgan", "vanilla"]
    assert "error" not in autograde.exported(tmp_path / "out" / "vanilla" / "vanilla.npz")
    assert autograde.exported(tmp_path / "out" / "lsgan" / "lsgan.npz")["error"] == "MemoryError"


def trained_with_fake_runs(tmp_path, outcomes, pending, **settings):
    """Grader.train of `pending` for student ada, Grader.export standing in for the sandboxed training runs: each
    call writes the exports and returns the Ended that `outcomes` gives for its GANs: (exports written, reason, where,
    the limit it was stopped at[, the milestones the launcher saw: by default its GANs written, in order, from the
    first]); "lsgan!" is an export recording an error. Returns (the Run, (GANs, limit, milestones) per call, the
    seconds all the training may take)."""
    calls = []

    def fake_export(run, step, args, exports, timeout, milestones=(), **_):
        command = args("/exports")
        gans = command[command.index("--gans") + 1 : command.index("--out")]
        calls.append((gans, timeout, list(milestones)))
        written, reason, where, limit, *seen = outcomes[tuple(gans)]
        for name in written:
            gan = name.rstrip("!")
            meta = {"error": "RuntimeError", "message": "failed"} if name.endswith("!") else {"iterations": 3}
            export.save_npz(exports / gan / f"{gan}.npz", {"budget": "smoke", **meta}, {})
        done = {name.rstrip("!") for name in written}
        count = next((i for i, gan in enumerate(gans) if gan not in done), len(gans))
        reached = seen[0] if seen else [float(i + 1) for i in range(count)] if milestones else []
        ends_at_error = len(written) > 1 and written[-1].endswith("!")  # export.py ends the run there
        code = None if reason else STOPPED_AFTER_ERROR if ends_at_error else 0
        return autograde.Ended(reason, where, limit, reached, code)

    grader = autograde.Grader(tmp_path / "out", Settings(budget="smoke", **settings), log=lambda *args: None)
    grader.export = fake_export
    run = autograde.Run(SimpleNamespace(key="ada"), tmp_path / "work", grader.settings.time.start())
    (tmp_path / "gan.py").write_text("# gan.py\n")
    grader.train(run, pending, tmp_path / "gan.py", tmp_path / "training")
    time = grader.settings.time
    return run, calls, time.total * (1 - time.notebook - time.feedback)


ALL = ["vanilla", "lsgan", "dcgan"]
THREE, LATER = tuple(ALL), ("lsgan", "dcgan")
KILLED, HANG = "killed by signal 9 (SIGKILL)", 'at line 9 of gan.py, "while True: pass"'
TRAINING_FAILURES = {  # {its runs: (exports written, reason, where, stopped at)}, reasons, kept, exports taken
    "clean": ({THREE: (ALL, "", None, None)}, [], ALL, ALL),
    "lsgan killed": (
        {THREE: (["vanilla"], "memory limit (2 GiB) reached", None, None), LATER: (LATER, "", None, None)},
        [], ["lsgan", "dcgan"], ALL,
    ),
    "vanilla hangs, the later run writes it one": (
        {THREE: ([], "wall time limit (79.3 s) reached", HANG, 79.3), LATER: (ALL, "", None, None)},
        [f"the grader's training run of the vanilla GAN: it did not finish in 79.3 s (it was {HANG})"],
        ["lsgan", "dcgan"], ["lsgan", "dcgan"],
    ),
    "the lsgan stopped at its deadline": (
        {THREE: (["vanilla"], "wall time limit (101.5 s) reached", HANG, 101.5),
         ("dcgan",): (["dcgan"], "", None, None)},
        [f"the grader's training run of the LSGAN: it did not finish in 101.5 s (it was {HANG})"],
        ["vanilla", "dcgan"], ["vanilla", "dcgan"],
    ),
    "the dcgan stopped at its deadline": (
        {THREE: (["vanilla", "lsgan"], "wall time limit (150 s) reached", "", 150)},
        ["the grader's training run of the DCGAN: it did not finish in 150 s"],
        ["vanilla", "lsgan"], ["vanilla", "lsgan"],
    ),
    "lsgan dies, then first in its run too": (
        {THREE: (["vanilla", "dcgan"], KILLED, None, None), LATER: ([], KILLED, None, None),
         ("dcgan",): (["dcgan"], "", None, None)},
        [f"the grader's training run of the LSGAN: {KILLED}"], ["dcgan"], ["vanilla", "dcgan"],
    ),
    "a limit, all exported": (
        {THREE: (ALL, "file size limit (64 MiB) reached", None, None)},
        ["the grader's training run of the vanilla GAN, LSGAN and DCGAN: file size limit (64 MiB) reached"], [], ALL,
    ),
    "lsgan raises in the shared run": (
        {THREE: (["vanilla", "lsgan!", "dcgan"], "", None, None), ("lsgan",): (["lsgan"], "", None, None)},
        [], ALL, ALL,
    ),
    "lsgan exits": ({THREE: (["vanilla"], "", None, None), LATER: (LATER, "", None, None)}, [], LATER, ALL),
    "lsgan raises, its error ends the run, and it raises first in its run too": (
        {THREE: (["vanilla", "lsgan!"], "", None, None), LATER: (["lsgan!", "dcgan"], "", None, None)},
        [], ALL, ALL,
    ),
    "the launcher stopped the lsgan, whose export came in the last moment": (  # so the dcgan never started
        {THREE: (["vanilla", "lsgan"], "wall time limit (80 s) reached", HANG, 80.0, [1.0]),
         ("dcgan",): (["dcgan"], "", None, None)},
        [], ["dcgan"], ALL,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", TRAINING_FAILURES)
def test_the_training_run_holds_each_gan_to_its_share_and_trains_again_what_sharing_may_have_spoiled(tmp_path, case):
    """Grader.train: the GANs train in one run, each GAN's export its milestone over the time left; what stopped the
    run stands for its first GAN, and for a later GAN stopped at its own deadline; a later GAN the run did not train
    otherwise (no export, or one recording an error) trains again, first in a run of the GANs still to train, as do
    the GANs after the one the run ended in, and that run's export stands. Exports leave a run only for the GANs
    whose outcome stands (never one written out of turn), and only GANs that finished before anything went wrong in
    their run (or before a later GAN's deadline) are kept."""
    outcomes, reasons, kept, taken = TRAINING_FAILURES[case]
    run, calls, left = trained_with_fake_runs(tmp_path, outcomes, ALL)
    assert [gans for gans, _, _ in calls] == [list(gans) for gans in outcomes]
    for gans, limit, milestones in calls:  # no time passes in these fake runs: every run may take what is left
        assert limit == pytest.approx(left, abs=0.5)
        assert milestones == ([f"{gan}/{gan}.npz" for gan in gans] if len(gans) > 1 else [])
    assert run.reasons == reasons
    assert "training" in run.phases
    assert sorted(p.stem for p in (tmp_path / "out" / "trained" / "ada").glob("*.npz")) == sorted(kept)
    assert sorted(p.parent.name for p in (tmp_path / "training").glob("*/*.npz")) == sorted(taken)
    errors = {gan for gan in taken if "error" in autograde.exported(tmp_path / "training" / gan / f"{gan}.npz")}
    last = {gan: written for gans, (written, *_) in outcomes.items() for gan in gans}  # each GAN's last run
    assert errors == {gan for gan, written in last.items() if f"{gan}!" in written}  # the retry's export stands
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".run"] == []  # the runs' folders are gone


@pytest.mark.parametrize("pending", [["vanilla", "dcgan"], ["lsgan", "dcgan"], ["dcgan"]])
def test_the_gans_left_to_train_share_one_run(tmp_path, pending):
    """Another GAN a stub or kept from an earlier grading: the GANs still to train share one run (one alone: no
    milestones, the time left)."""
    outcomes = {tuple(pending): (pending, "", None, None)}
    _, calls, left = trained_with_fake_runs(tmp_path, outcomes, pending)
    milestones = [f"{gan}/{gan}.npz" for gan in pending] if len(pending) > 1 else []
    assert calls == [(pending, pytest.approx(left, abs=0.5), milestones)]
    assert sorted(p.stem for p in (tmp_path / "out" / "trained" / "ada").glob("*.npz")) == sorted(pending)


def test_run_per_gan_trains_each_gan_in_a_run_of_its_own_as_before(tmp_path):
    """--run-per-gan (grading_time.py's previous design): three runs, each with its GAN's share of what is left."""
    outcomes = {(gan,): ([gan], "", None, None) for gan in ALL}
    run, calls, left = trained_with_fake_runs(tmp_path, outcomes, ALL, run_per_gan=True)
    assert [gans for gans, _, _ in calls] == [["vanilla"], ["lsgan"], ["dcgan"]]
    assert [limit for _, limit, _ in calls] == pytest.approx([left / 3, left / 2, left], abs=0.5)
    assert all(milestones == [] for _, _, milestones in calls)
    assert run.reasons == [] and len(list((tmp_path / "out" / "trained" / "ada").glob("*.npz"))) == 3


def test_the_training_export_refuses_to_run_without_the_graders_settings_file(tmp_path, monkeypatch, capsys):
    from nndl2.agent import export

    monkeypatch.delenv("GAN_KIT_SETTINGS", raising=False)
    with pytest.raises(SystemExit) as stopped:
        export.main(training_args(["vanilla"], tmp_path / "out"))
    assert stopped.value.code == 2 and "GAN_KIT_SETTINGS names no settings file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# -- the real budget (not in CI: ./kit test -m long) -----------------------------------------------


@pytest.mark.long
def test_reference_earns_full_marks_at_the_real_budget(tmp_path, mnist_real):
    """The reference solution, trained at the autograde budget on real digits, earns every autograded point."""
    write_submission(tmp_path / "submissions" / "reference", answered_notebook(), SOLUTION_GAN.read_text())
    results, _ = autograde.autograde(
        tmp_path / "submissions", tmp_path / "out", Settings(mnist_root=mnist_real, jobs=1, threads=2), log=print
    )
    (reference,) = results
    print(f"reference autograded at the real budget in {reference['seconds']} s: {reference['phases']}")
    assert {g: reference["scores"][g] for g in AUTO} == {g: 1.0 for g in AUTO}, reference["messages"]


@pytest.mark.long
def test_every_forgery_and_every_run_handed_on_earn_what_they_deserve_at_the_real_budget(tmp_path, mnist_real):
    """Every corpus forgery, graded where Inline Questions 1-3 are judged too: fake training, a generator returning
    real digits, a swapped generator export (the smoke budget cannot tell them apart from honest code), and the
    rest, those the CI batch grades at the smoke budget included (their Inline Questions were never judged there:
    one's swapped LS losses turned out to train a working LSGAN, tests/corpus/index.py).

    With --alike on, as a class is graded: a forgery whose probe is a trusted solution's is handed that run and must
    still earn only what it deserves. Beside them, a correct style and two of its mutants are handed the reference's
    runs and a style's DCGAN run (ALIKE_ENTRIES: which GANs, grading/ta/alike.json says) and the GANs their bugs
    break train themselves and fail. Graded again into the same folder, every row is reused as it was."""
    names = [*LONG_FORGERIES, *ALIKE_ENTRIES]
    for name in names:
        corpus.write_entry(tmp_path / "submissions" / name, name)
    settings = Settings(mnist_root=mnist_real, jobs=2, limits=batch_limits(), alike="on")
    results, _ = autograde.autograde(tmp_path / "submissions", tmp_path / "out", settings, log=print)
    assert sorted(result["student"] for result in results) == sorted(names)
    for result in results:
        found = corpus.mismatches(result["student"], result["scores"], result["reason"], real_budget=True)
        assert found == [], result["messages"]
    graded = {result["student"]: result for result in results}
    evidence = json.loads(alike.DATA.read_text())
    if (evidence["made_with"]["cpu"], evidence["made_with"]["torch"]) == (torch.backends.cpu.get_cpu_capability(),
                                                                         torch.__version__):  # fmt: skip
        for name, file in ALIKE_ENTRIES.items():  # where the evidence was made, its runs are handed on as it says
            handed = {gan: alike.followers(evidence["files"], gan).get(file) for gan in GANS}
            handed = {gan: source for gan, source in handed.items() if source}
            got = graded[name]["alike_of"]
            assert set(got) == set(handed), (name, got, handed)
            pairs = [(a, b) for a in got for b in got]  # handed the same solution's runs where the evidence says so
            assert [got[a] == got[b] for a, b in pairs] == [handed[a] == handed[b] for a, b in pairs], (name, got)
    logged = []
    again, _ = autograde.autograde(tmp_path / "submissions", tmp_path / "out", settings, log=logged.append)
    assert {result["student"]: result["scores"] for result in again} == {n: r["scores"] for n, r in graded.items()}
    assert sum("unchanged, reusing the earlier grading" in line for line in logged) == len(names), logged


def test_every_example_submission_can_be_written(tmp_path):
    """`./kit demo` writes its submissions with `python -m grading.ta.examples`: each mutant's bug must still
    occur once in the solution (an optional function with the same line broke the demo once)."""
    from grading.ta.examples import MUTANTS, write_examples

    made = write_examples(tmp_path, mutants=list(MUTANTS), extras=("colab", "tampered"))
    assert {f"buggy-{function}" for function in MUTANTS} <= set(made)


def test_the_training_device_is_the_gpu_only_where_there_is_one(tmp_path, capsys):
    assert training_device("cpu") == "cpu"
    assert training_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device is 'auto', 'cpu' or 'cuda'"):
        training_device("tpu")
    if not torch.cuda.is_available():  # asked for a GPU it does not have, the command says so before grading
        with pytest.raises(SystemExit):
            autograde.main([str(tmp_path), "--out", str(tmp_path / "out"), "--device", "cuda"])
        assert "device 'cuda': PyTorch sees no GPU here" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("inside", "said"),
    [
        ("Unflatten.forward", "line 7, in Unflatten.forward"),
        ("generator", "line 7"),  # the graded function itself
        ("<module>", "line 7"),
        ("generator.<locals>.<listcomp>", "line 7"),  # a comprehension in the graded function is the function
        ("generator.<locals>.Net.forward", "line 7, in Net.forward"),
        ("helper.<locals>.<lambda>", "line 7, in helper"),
        ("<lambda>", "line 7"),
        ("Net.forward\n<b>x</b>", "line 7, in Net.forward <b>x</b>"),  # one line (the feedback page escapes it)
        ("A" * 1000 + ".forward", "line 7, in ..." + "A" * 69 + ".forward"),
        (["not", "a", "name"], "line 7"),
        (None, "line 7"),
    ],
)
def test_the_line_an_export_reports_names_its_function_only_where_that_helps(inside, said):
    """meta comes from the student's process: whatever its "in" holds, the judge says one short line."""
    assert judge.where({"line": 7, "in": inside}, "generator") == said
    assert judge.where({"line": 7}, "generator") == "line 7"
