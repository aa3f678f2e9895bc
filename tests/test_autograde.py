"""End to end through the real command (grading.instructor.autograde): grades, reasons, the sandbox, --jobs.

One batch is graded under the smoke budget (3 training iterations per GAN, nndl2/budget.py), two
submissions at a time, in the sandbox with a 2 GiB memory limit and 128 processes:

- the example submissions (reference, blank, broken, renamed, Colab-saved, tampered, a gan.py linked to
  the solution);
- every entry of the corpus (tests/corpus: correct styles, mutants, forgeries), whose deserved scores
  the corpus gives;
- probe submissions (tests/probes: snippets that try to read, connect, allocate, fork, flood...).

Under the smoke budget every function item and Inline Questions 4-6 are graded as at the real budget;
the image-quality items (Inline Questions 1-3) fail for everyone and are left out of the comparisons.
The reference is also graded at the real autograde budget, where it must earn every autograded point.
"""

import csv
import json
import os
import re
import secrets
import socket
import subprocess
import threading
from pathlib import Path

import corpus
import nbformat
import pytest

from grading.instructor import autograde, judge
from grading.instructor.limits import GiB, Limits
from grading.kit import ROOT, SOLUTION_GAN, SOURCE_NOTEBOOK, STUDENT_GAN
from grading.ta.examples import answered_notebook, colab_saved, tampered, write_submission

QUALITY = set(judge.QUALITY_ITEMS)
ITEMS = autograde.graded_items()
AUTO = [grade_id for grade_id, _, auto in ITEMS if auto]
CHECKED = [grade_id for grade_id in AUTO if grade_id not in QUALITY]  # what the smoke budget can judge
FUNCTION_ITEMS = list(judge.FUNCTION_ITEMS)
INLINE = ["test_inline_q4", "test_inline_q5", "test_inline_q6"]
PROBES = Path(__file__).parent / "probes"
LIMITS = Limits(memory=2 * GiB, processes=128)
# The corpus graded end to end: every style and forgery, and the mutants of one style (the judge meets the
# other style's mutants in tests/corpus/test_corpus.py, in one process: the same export and judge).
GRADED_CORPUS = [e for e in corpus.ENTRIES if e["kind"] != "mutant" or e["style"] == "module_subclass_functional"]
SECRET = "grader-secret-" + secrets.token_hex(8)  # an environment value of the grader's
MATHJAX = {  # the only scripts of a feedback page: nbgrader's template loading MathJax
    '<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?config=TeX-AMS_CHTML-full,Safe">',
    '<script type="text/x-mathjax-config">',
}


def probe_cell(name, **settings):
    """A notebook cell running tests/probes/<name>.py with its PROBE_* settings."""
    header = "".join(f"{key} = {value!r}\n" for key, value in settings.items())
    return nbformat.v4.new_code_cell(header + (PROBES / f"{name}.py").read_text())


def with_cells(notebook, cells):
    notebook = nbformat.from_dict(json.loads(nbformat.writes(notebook)))
    notebook.cells.extend(cells)
    return notebook


class Listener:
    """A TCP listener on the grader's 127.0.0.1 that records any connection (none may come)."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.5)
        self.port = self.socket.getsockname()[1]
        self.connections, self.running = [], True
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self):
        while self.running:
            try:
                connection, address = self.socket.accept()
                self.connections.append(address)
                connection.close()
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.socket.close()


@pytest.fixture(scope="module")
def batch(tmp_path_factory, mnist_real):
    tmp = tmp_path_factory.mktemp("autograde")
    submissions, out = tmp / "submissions", tmp / "out"
    answered, solution = answered_notebook(), SOLUTION_GAN.read_text()

    # The examples.
    write_submission(submissions / "reference", answered, solution)
    write_submission(submissions / "blank", nbformat.read(ROOT / "GANs-PyTorch.ipynb", 4), STUDENT_GAN.read_text())
    write_submission(submissions / "broken", answered, solution.replace("def sample_noise(", "def sample_noise(:"))
    write_submission(submissions / "colab", colab_saved(answered), solution)
    write_submission(submissions / "tampered", tampered(answered), solution)
    renamed = write_submission(submissions / "renamed", answered, solution)
    (renamed / "GANs-PyTorch.ipynb").rename(renamed / "Copy of GANs-PyTorch (1).ipynb")
    (renamed / "gan.py").rename(renamed / "gan (2).py")
    (submissions / "nogan").mkdir()
    nbformat.write(answered, submissions / "nogan" / "GANs-PyTorch.ipynb")
    linked = submissions / "linked"
    linked.mkdir()
    nbformat.write(answered, linked / "GANs-PyTorch.ipynb")
    (linked / "gan.py").symlink_to(SOLUTION_GAN)  # refused, never read

    # The corpus.
    for entry in GRADED_CORPUS:
        corpus.write_entry(submissions / entry["name"], entry)

    # The probes: extra cells at the end of the reference's notebook (every answer is exported before them).
    home = tmp / "home" / "grader" / ".ssh"
    home.mkdir(parents=True)
    canary = "CANARY-" + secrets.token_hex(8)
    (home / "id_canary").write_text(canary)
    old_results = tmp / "old-results" / "course"
    old_results.mkdir(parents=True)
    (old_results / "gradebook-canary.db").write_text(canary)
    listener = Listener()
    paths = [str(home / "id_canary"), str(old_results / "gradebook-canary.db"), str(SOLUTION_GAN),
             str(SOURCE_NOTEBOOK), str(submissions / "reference" / "gan.py")]  # fmt: skip
    confined = with_cells(answered, [
        probe_cell("read_canaries", PROBE_PATHS=paths),
        probe_cell("connect_localhost", PROBE_PORT=listener.port),
        probe_cell("shm_marker"),
        probe_cell("environment"),
        probe_cell("host_paths"),
        probe_cell("active_output"),
        # /exports only: a full /tmp (512 MiB of tmpfs, counted as memory) on top of a kernel that has run the
        # whole notebook would pass the 2 GiB memory limit (tests/test_sandbox.py fills /tmp on its own).
        probe_cell("write_files", PROBE_FILE_BYTES=256 << 20, PROBE_FILL_FOLDERS=("/exports",)),
        probe_cell("long_line"),
        # Last: its sleepers hold the process budget for the rest of the kernel's life (no new thread starts).
        probe_cell("start_processes", PROBE_PROCESSES=200),
    ])  # fmt: skip
    write_submission(submissions / "probe-confined", confined, solution)
    write_submission(submissions / "probe-shm", with_cells(answered, [probe_cell("shm_marker")]), solution)
    memory = with_cells(answered, [probe_cell("allocate_memory", PROBE_MEMORY_CAP=LIMITS.memory + (512 << 20))])
    write_submission(submissions / "probe-memory", memory, solution)
    write_submission(submissions / "probe-killed", with_cells(answered, [probe_cell("kill_kernel")]), solution)
    at_import = f"PROBE_MEMORY_CAP = {LIMITS.memory + (512 << 20)}\n" + (PROBES / "allocate_memory.py").read_text()
    write_submission(submissions / "probe-import-memory", answered, solution + "\n" + at_import)

    shm_before = set(os.listdir("/dev/shm"))
    os.environ["GAN_KIT_TEST_SECRET"] = SECRET
    messages = []
    try:
        results, _ = autograde.autograde(
            submissions, out, budget="smoke", mnist_root=mnist_real, log=messages.append, jobs=2, threads=1,
            limits=LIMITS,
        )  # fmt: skip
    finally:
        os.environ.pop("GAN_KIT_TEST_SECRET", None)
        listener.close()
    return {
        "results": {r["student"]: r for r in results},
        "out": out,
        "submissions": submissions,
        "canary": canary,
        "listener": listener,
        "shm_before": shm_before,
        "shm_after": set(os.listdir("/dev/shm")),
        "log": messages,
    }


def scores(batch, student):
    return batch["results"][student]["scores"]


def checked(batch, student):
    return {item: scores(batch, student).get(item) for item in CHECKED}


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


# -- the examples ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_reference_earns_every_point_but_image_quality_under_smoke(batch):
    assert checked(batch, "reference") == {item: 1.0 for item in CHECKED}
    assert reason(batch, "reference") == ""


@pytest.mark.slow
def test_the_notebook_shows_the_graders_training_run_instead_of_training_again(batch):
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in autograded(batch, "reference").cells}
    for name in ("train_vanilla", "train_lsgan", "train_dcgan"):
        text = "".join(str(output.get("text", "")) for output in cells[name].outputs)
        assert "this is the grader's own training run of your gan.py" in text and "Iter: 0, D:" not in text, name


@pytest.mark.slow
def test_blank_release_scores_zero_on_every_function_and_question(batch):
    assert {item: scores(batch, "blank")[item] for item in AUTO} == {item: 0.0 for item in AUTO}
    messages = batch["results"]["blank"]["messages"]
    assert messages["test_sample_noise"] == "sample_noise is not implemented yet (it raises NotImplementedError)."
    assert messages["test_inline_q1"] == "Inline Question 1: not trained: discriminator is not implemented yet."


@pytest.mark.slow
def test_broken_gan_py_gets_a_row_with_a_reason_and_its_answers(batch):
    result = batch["results"]["broken"]
    assert "gan.py does not parse" in result["reason"] and result["status"] == "problem"
    assert all(result["scores"][item] == 0 for item in FUNCTION_ITEMS)
    assert all(result["scores"][item] == 1 for item in INLINE)  # the notebook's answers still count


@pytest.mark.slow
def test_missing_or_linked_gan_py_gets_a_row_with_a_reason(batch):
    assert "missing gan.py" in reason(batch, "nogan")
    assert "link" in reason(batch, "linked")
    for student in ("nogan", "linked"):
        assert all(scores(batch, student)[item] == 0 for item in FUNCTION_ITEMS)
        assert all(scores(batch, student)[item] == 1 for item in INLINE)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["colab", "tampered", "renamed"])
def test_colab_saved_tampered_and_renamed_submissions_grade_like_the_reference(batch, variant):
    """Colab metadata changes nothing; deleted or edited test cells come from the release; renamed files are found."""
    assert checked(batch, variant) == checked(batch, "reference")


@pytest.mark.slow
def test_every_item_has_the_judges_message(batch):
    for student in ["reference", "blank", "mutant_module_subclass_functional_discriminator_loss"]:
        messages = batch["results"][student]["messages"]
        assert set(messages) == set(AUTO) and all(m.endswith(".") for m in messages.values())


# -- the corpus ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", [entry["name"] for entry in GRADED_CORPUS])
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
    assert checked(batch, "probe-confined") == checked(batch, "reference")  # nothing it did cost a point
    why = reason(batch, "probe-confined")
    assert "process" in why and "file size" in why and "was cut at 1 MiB" in why


@pytest.mark.slow
def test_shm_is_private_to_each_submission(batch):
    assert probe_reports(batch, "probe-shm")["shm_marker"]["found"] == []  # not probe-confined's marker
    assert batch["shm_after"] <= batch["shm_before"]  # the host's /dev/shm got nothing


@pytest.mark.slow
def test_memory_and_a_killed_kernel_cost_only_what_came_after(batch):
    assert "memory limit (2 GiB) reached" in reason(batch, "probe-memory")
    assert "kernel died" in reason(batch, "probe-killed")
    for student in ("probe-memory", "probe-killed"):
        assert checked(batch, student) == checked(batch, "reference")


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
    sleepers = subprocess.run(["pgrep", "-f", "gan-kit-probe-sleeper"], capture_output=True, text=True).stdout
    assert sleepers.strip() == ""


# -- the batch -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_grades_csv_has_a_row_per_student_and_a_column_per_item(batch):
    with open(batch["out"] / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(row["student"] for row in rows) == sorted(batch["results"])
    columns = set(rows[0])
    assert {autograde.column(g) for g, _, _ in ITEMS} <= columns and {"total_score", "reason"} <= columns
    assert {"name", "source", "lms_id", "late"} <= columns
    reference = next(row for row in rows if row["student"] == "reference")
    assert reference["q5_justification"] == "" and float(reference["autograded_max"]) == len(AUTO)
    assert float(reference["autograded_score"]) == len(CHECKED)


@pytest.mark.slow
def test_jobs_1_grades_exactly_as_jobs_2(batch, mnist_real, tmp_path):
    """The same submissions graded one at a time: the same scores, messages and quality metrics.

    The judge draws fresh sizes and inputs on every run (a submission cannot be tuned to them), so
    messages are compared with their numbers masked.
    """
    chosen = ["reference", "blank"]  # one trained, one not
    subset = tmp_path / "submissions"
    for student in chosen:
        (subset / student).mkdir(parents=True)
        for file in (batch["submissions"] / student).iterdir():
            (subset / student / file.name).write_bytes(file.read_bytes())
    results, _ = autograde.autograde(
        subset, tmp_path / "out", budget="smoke", mnist_root=mnist_real, log=lambda *a: None, jobs=1, threads=1,
        limits=LIMITS,
    )  # fmt: skip
    for result in results:
        twin = batch["results"][result["student"]]
        for key in ("scores", "metrics"):
            assert result[key] == twin[key], (result["student"], key)
        assert masked(result["messages"]) == masked(twin["messages"]), result["student"]


def masked(messages):
    return {item: re.sub(r"\d+(\.\d+)?", "#", text) for item, text in messages.items()}


@pytest.mark.slow
def test_rerun_is_idempotent(batch, mnist_real):
    before = (batch["out"] / "grades.csv").read_text()
    messages = []
    autograde.autograde(batch["submissions"], batch["out"], budget="smoke", mnist_root=mnist_real,
                        log=messages.append, jobs=2, threads=1, limits=LIMITS)  # fmt: skip

    def without_seconds(text):
        return [row[:-1] for row in csv.reader(text.splitlines())]

    assert without_seconds((batch["out"] / "grades.csv").read_text()) == without_seconds(before)
    assert sum("unchanged" in str(m) for m in messages) == len(batch["results"])


@pytest.mark.long
def test_reference_earns_full_marks_at_the_real_budget(tmp_path, mnist_real):
    """The reference solution, trained at the autograde budget on real digits, earns every autograded point."""
    write_submission(tmp_path / "submissions" / "reference", answered_notebook(), SOLUTION_GAN.read_text())
    results, _ = autograde.autograde(
        tmp_path / "submissions", tmp_path / "out", mnist_root=mnist_real, log=print, jobs=1, threads=2
    )
    (reference,) = results
    print(f"reference autograded at the real budget in {reference['seconds']} s: {reference['phases']}")
    assert {g: reference["scores"][g] for g in AUTO} == {g: 1.0 for g in AUTO}, reference["messages"]
