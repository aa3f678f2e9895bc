"""The corpus is what the index says it is: every correct style behaves like the reference and trains, every
mutant breaks exactly its one function, every entry builds. (Grading the corpus end to end is the
autograder's test; this one checks the corpus itself, so a wrong expectation cannot hide a grader bug.)

The forgeries' functions are checked by `python -m tests.corpus.verify --forgeries` (one process each,
since they patch torch and numpy globally; about 3 minutes), not here.
"""

import nbformat
import pytest

from grading.kit import STUDENT_GAN, load_solution
from nndl2.submit import OPTIONAL

from . import ENTRIES, build, mismatches, regions
from .index import FUNCTION_IDS, GRADE_IDS, MUTANTS, QUALITY_IDS
from .verify import check_functions, import_text, train_briefly, visible_checks

CORRECT = [e for e in ENTRIES if e["kind"] == "correct"]
MUTANT = [e for e in ENTRIES if e["kind"] == "mutant"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def module_of(entry):
    return import_text(build(entry)[0], f"corpus_{entry['name']}")


def test_the_index_covers_what_issue_9_asks():
    assert len(CORRECT) >= 8
    assert sorted((row["style"], row["function"]) for row in MUTANTS) == sorted(
        (style, function) for style in {row["style"] for row in MUTANTS} for function in FUNCTION_IDS
    ), "one mutant per function in each mutant style"
    assert len({row["style"] for row in MUTANTS}) == 2
    for entry in ENTRIES:
        assert list(entry["scores"]) == list(GRADE_IDS)
        assert all(entry["scores"][gid] == "quality" for gid in QUALITY_IDS)
        assert set(entry["real_budget"]) == set(QUALITY_IDS)
    for entry in MUTANT:
        assert [gid for gid, score in entry["scores"].items() if score == 0] == [FUNCTION_IDS[entry["function"]]]


def test_mismatches_names_every_wrong_score_and_an_echoed_reason():
    perfect = dict.fromkeys(GRADE_IDS, 1)
    assert mismatches("sequential_provided_flatten", perfect) == []
    assert mismatches("forge_kernel_sigkill", perfect) == ["forge_kernel_sigkill: test_inline_q6 scored 1, deserves 0"]
    died = "forge_kernel_died_text_and_huge_output"
    assert mismatches(died, {**perfect, "test_sample_noise": 0}, "sample_noise raised an exception") == []
    assert len(mismatches(died, {**perfect, "test_sample_noise": 0}, "DeadKernelError: Kernel died")) == 1
    sigmoid = "mutant_module_subclass_functional_generator"
    assert mismatches(sigmoid, {**perfect, "test_generator": 0}) == []  # Q1-3 are not asserted under smoke
    assert len(mismatches(sigmoid, {**perfect, "test_generator": 0}, real_budget=True)) == 2  # Q1 and Q2


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e["name"])
def test_every_entry_builds(entry):
    gan, notebook = build(entry)
    compile(gan, f"{entry['name']}/gan.py", "exec")
    nbformat.validate(notebook)
    if entry["kind"] != "forgery":
        assert set(regions(gan)) == set(regions(STUDENT_GAN.read_text()))
        assert "NotImplementedError" not in "".join(v for f, v in regions(gan).items() if f not in OPTIONAL)


@pytest.mark.parametrize("entry", CORRECT, ids=lambda e: e["name"])
def test_correct_style_behaves_like_the_reference(entry):
    verdicts = check_functions(module_of(entry), load_solution())
    assert {f: v for f, v in verdicts.items() if not v.ok} == {}


@pytest.mark.parametrize("entry", MUTANT, ids=lambda e: e["name"])
def test_mutant_breaks_only_its_function(entry):
    verdicts = check_functions(module_of(entry), load_solution())
    assert [f for f, v in verdicts.items() if not v.ok] == [entry["function"]], verdicts


@pytest.mark.parametrize("entry", CORRECT, ids=lambda e: e["name"])
def test_correct_style_passes_the_notebooks_visible_checks(entry):
    assert {gid: error for gid, error in visible_checks(module_of(entry)).items() if error} == {}


@pytest.mark.parametrize("entry", CORRECT, ids=lambda e: e["name"])
def test_correct_style_draws_the_references_training_noise_bit_for_bit(entry):
    """run_a_gan trains on the student's sample_noise: every correct style's draws are the reference's, bit for bit,
    and leave torch's generator where the reference leaves it, so the styles' real-budget claims (CORRECT in
    index.py, measured when run_a_gan drew its own noise) still hold."""
    import torch

    module, reference = module_of(entry), load_solution()
    draws = []
    for sample_noise in (reference.sample_noise, module.sample_noise):
        torch.manual_seed(0)
        draws.append([sample_noise(128, 96) for _ in range(3)] + [torch.rand(5)])
    assert all(a.dtype == b.dtype and torch.equal(a, b) for a, b in zip(*draws, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("entry", CORRECT, ids=lambda e: e["name"])
def test_correct_style_trains_with_run_a_gan(entry):
    """One iteration of each GAN of the notebook, with the kit's run_a_gan and its platform settings."""
    assert {gan: error for gan, error in train_briefly(module_of(entry), iterations=1).items() if error} == {}


# -- the judge on every style and mutant, in one process ------------------------------------------
# The same export (nndl2/agent/export.py) and judge (grading/instructor/judging/judge.py) the autograder runs, minus
# the sandbox and the processes: fresh inputs for each entry, as for each submission. The autograder's
# end-to-end test grades the styles and one mutant style through the whole pipeline.


@pytest.mark.parametrize("entry", CORRECT + MUTANT, ids=lambda e: e["name"])
def test_judge_gives_each_style_every_function_point_and_each_mutant_all_but_its_own(entry, tmp_path):
    from grading.instructor.judging import judge
    from nndl2.agent import export

    inputs = judge.draw_inputs()
    export.export_module(module_of(entry), inputs, tmp_path)
    verdicts = judge.judge_functions(tmp_path, inputs)
    missed = sorted(judge.FUNCTION_ITEMS[item] for item, verdict in verdicts.items() if not verdict.passed)
    assert missed == ([entry["function"]] if entry["kind"] == "mutant" else []), verdicts


@pytest.mark.parametrize(
    ("answer", "why"),
    [(None, "it is not set"), ({"string": "False"}, "got a string"), (0, "got int"), ([True], "got list")],
)
def test_a_true_false_answer_of_another_kind_says_what_it_got(answer, why):
    from grading.instructor.judging.answers import judge_truth

    verdict = judge_truth(5, "q5_reaches_optimum", {"q5_reaches_optimum": answer}, {"q5_reaches_optimum": False})
    assert not verdict.passed
    assert verdict.message == f"Inline Question 5: q5_reaches_optimum must be True or False ({why})."
