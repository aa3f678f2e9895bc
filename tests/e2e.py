"""What the end-to-end batch grades (tests/conftest.py's `batch` fixture) and the helpers that build it."""

import json
import secrets
import socket
import threading
from pathlib import Path

# -- the end-to-end batch ----------------------------------------------------------------------------
# One batch graded through the real command (grading.instructor.autograde) under the smoke budget
# (3 training iterations per GAN, nndl2/budget.py), two submissions at a time, in the sandbox with a 2 GiB
# memory limit and 128 processes: one submission per path through the pipeline, and no more. What each
# part decides on its own is tested in one process elsewhere (tests/corpus/test_corpus.py judges every
# style and mutant; tests/test_autograde.py the notebooks' answers and their rebuilding).
#
# - reference: the solution and the answered notebook (the only complete, correct submission);
# - blank: the release as students get it (every function a stub: nothing is trained);
# - broken: a gan.py that does not parse (a refused or missing gan.py takes the same branch: test_autograde.py);
# - variants: the notebook as students hand it in, every way at once: saved by Colab, cells deleted,
#   edited, copied and moved, scratch cells, Question 4 computed with numpy, Questions 5-6 as
#   expressions, both files renamed as downloads are (with the release's gan.py: the notebook alone decides
#   Questions 4-6);
# - BUGGY, the corpus mutant with a detached fake term in discriminator_loss (the judge's verdict on one
#   function, through the export, the gradebook, grades.csv and the feedback page), saved by Colab with a
#   student's own cells at the top, in the middle and at the end (the graded notebook is still theirs);
# - the corpus forgeries that attack the pipeline itself (the kernel, the export, the file system);
# - probes (tests/probes): snippets that try to read, connect, allocate, fork, flood..., beside the release's
#   gan.py (the kernel decides Questions 4-6 only: nothing is trained for them).
#
# Then a TA grades broken's Question 5 justification by hand (as formgrader does) and the command runs again.

BUGGY = "mutant_torch_flatten_inplace_discriminator_loss"
HAND_GRADED = "broken"
TA_COMMENT = "Right: the iterates circle the saddle point."
# Forgeries graded here; the others are graded at the real budget (`./kit test -m long`) and what each of them
# shows at the smoke budget is tested in one process or by a probe (tests/test_autograde.py says where).
FORGERIES = [
    "forge_ipython_hooks",  # nbgrader's own test results would give it every point: the judge's count
    "forge_patched_comparisons",  # patches the checks in the export's process
    "forge_exports_written_at_import",  # writes the grader's exports itself
    "forge_reads_grader_files",  # looks for the solution from the export's sandbox and the kernel's
    "forge_kernel_died_text_and_huge_output",  # floods every process's output and fakes a dead kernel's text
]
PROBES = Path(__file__).parent / "probes"
SECRET = "grader-secret-" + secrets.token_hex(8)  # an environment value of the grader's
SLEEPER = "gan-kit-probe-sleeper-batch"  # probe-confined's sleepers, by a name only the batch's tests count


def batch_limits():
    from grading.instructor.confine.limits import GiB, Limits

    return Limits(memory=2 * GiB, processes=128)


def probe_cell(name, **settings):
    """A notebook cell running tests/probes/<name>.py with its PROBE_* settings."""
    import nbformat

    header = "".join(f"{key} = {value!r}\n" for key, value in settings.items())
    return nbformat.v4.new_code_cell(header + (PROBES / f"{name}.py").read_text())


def with_cells(notebook, cells):
    import nbformat

    notebook = nbformat.from_dict(json.loads(nbformat.writes(notebook)))
    notebook.cells.extend(cells)
    return notebook


def with_cells_before(notebook, grade_id, cells):
    """`notebook` with `cells` inserted before the cell of grade id `grade_id`."""
    notebook = with_cells(notebook, [])
    index = next(
        i for i, cell in enumerate(notebook.cells) if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )
    notebook.cells[index:index] = cells
    return notebook


def notebook_variants():
    """The answered notebook as students hand it in, every honest way at once (it earns every answer point)."""
    from corpus import notebooks

    from grading.ta.examples import colab_saved, tampered

    answers = {"q4_answer": notebooks.NUMPY_Q4, "q5_answer": notebooks.FLOAT_Q5, "q6_answer": notebooks.FLOAT_Q6}
    return colab_saved(tampered(notebooks.with_answers(notebooks.messy(), answers)))


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


def write_batch(submissions, tmp, listener):
    """Write the batch's submissions; returns the canary text the probes must not find."""
    import corpus
    import nbformat

    from grading.kit import NOTEBOOK, SOLUTION_GAN, SOURCE_NOTEBOOK, STUDENT_GAN
    from grading.ta.examples import answered_notebook, colab_saved, with_own_cells, write_submission

    answered, solution, stubs = answered_notebook(), SOLUTION_GAN.read_text(), STUDENT_GAN.read_text()
    write_submission(submissions / "reference", answered, solution)
    write_submission(submissions / "blank", nbformat.read(NOTEBOOK, 4), stubs)
    write_submission(submissions / "broken", answered, solution.replace("def sample_noise(", "def sample_noise(:"))
    variants = write_submission(submissions / "variants", notebook_variants(), stubs)
    (variants / "GANs-PyTorch.ipynb").rename(variants / "Copy of GANs-PyTorch (1).ipynb")
    (variants / "gan.py").rename(variants / "gan (2).py")
    # BUGGY saved by Colab with the cells a Colab student adds (its graded notebook must still be theirs)
    write_submission(submissions / BUGGY, colab_saved(with_own_cells(corpus.notebook(BUGGY))), corpus.gan_text(BUGGY))
    for name in FORGERIES:
        corpus.write_entry(submissions / name, name)

    # The probes: extra cells at the end of the answered notebook (every answer is exported before them),
    # beside the release's gan.py (the kernel decides Questions 4-6 only; gan.py's items are the export's).
    home = tmp / "home" / "grader" / ".ssh"
    home.mkdir(parents=True)
    canary = "CANARY-" + secrets.token_hex(8)
    (home / "id_canary").write_text(canary)
    old_results = tmp / "old-results" / "course"
    old_results.mkdir(parents=True)
    (old_results / "gradebook-canary.db").write_text(canary)
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
        probe_cell("start_processes", PROBE_PROCESSES=200, PROBE_SLEEPER=SLEEPER),
    ])  # fmt: skip
    memory_cap = batch_limits().memory + (512 << 20)
    write_submission(submissions / "probe-confined", confined, stubs)
    # Before Question 6: /dev/shm is listed (probe-confined's marker must not be there), then the kernel
    # allocates until the memory limit kills it (Questions 4-5 are kept, Question 6 is lost).
    memory = with_cells_before(answered, "q6_answer", [
        probe_cell("shm_marker"), probe_cell("allocate_memory", PROBE_MEMORY_CAP=memory_cap),
    ])  # fmt: skip
    write_submission(submissions / "probe-memory", memory, stubs)
    at_import = f"PROBE_MEMORY_CAP = {memory_cap}\n" + (PROBES / "allocate_memory.py").read_text()
    write_submission(submissions / "probe-import-memory", answered, solution + "\n" + at_import)
    return canary


def hand_grade(out, student, score, comment):
    """A TA grades `student`'s Question 5 justification in the gradebook, as formgrader does."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gradebook:
        grade = gradebook.find_grade("q5_justification", "GANs-PyTorch", "GANs-PyTorch", student)
        grade.manual_score = score
        gradebook.find_comment("q5_justification", "GANs-PyTorch", "GANs-PyTorch", student).manual_comment = comment
        gradebook.db.commit()
