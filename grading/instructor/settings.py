"""How a batch is graded: one value (Settings) holding every choice, each default stated here once.

The instructor's command builds it from its options (autograde.main), the Gradescope autograder from the zip's
settings.json (outputs/gradescope.py); it is passed as a value to autograde() and Grader, which never read the
environment for it. What a submission's sandboxed runs need of it reaches them as one read-only file
(`write_inside`: the budget, the device, the precision, whole budget or not; nndl2.budget.grader_settings reads
it, wherever GAN_KIT_SETTINGS says), beside the variables every run gets (`inside_env`: the threads, which native
libraries read before any Python runs, and quiet output).
"""

import dataclasses
import json
import os
import time
from pathlib import Path

from grading.instructor.confine.limits import Limits
from grading.kit import (
    PRECISION_CHOICES,  # how the training runs may be told to compute (training_precision)
    SUBMISSION_TIMEOUT,  # the default time budget of one submission (TimeBudget)
)
from nndl2.budget import (
    GRADER_KEYS,  # what the settings file holds: the sandboxed side's reader checks it
    PRECISIONS,  # what a choice resolves to: bfloat16 (autocast) or float32
)
from nndl2.budget import SETTINGS as SETTINGS_VARIABLE  # the variable that names the settings file

INSIDE_FOLDER, INSIDE_FILE = "/grading", "settings.json"  # where the sandbox shows it: /grading/settings.json
BUDGETS = ("autograde", "smoke")  # nndl2/budget.py's budgets the grader trains at (smoke: plumbing tests only)


@dataclasses.dataclass(frozen=True)
class TimeBudget:
    """The wall time one submission may take in all (`total` seconds), and how its stages draw on it.

    Measured at the real autograde budget on a 2-core CPU, --threads 1, two at once (README, "Speed and
    quality"): a submission whose GANs train the whole budget (as one whose GANs never meet the thresholds
    does) takes 250 s, of which the function export 4 s, the three training runs 220 s, the notebook 18 s, the
    feedback 4 s (one whose GANs pass early: 191 s). The default, 900 s, is 3.6 times that.

    Every stage's wall limit is drawn from what is left of the total when it starts, less what is kept
    for the stages after it (fractions of the total):

    - the function export (it imports gan.py first): at most `functions` of the total;
    - the training runs: an equal share per GAN still to train of what is left, less the notebook's and the
      feedback's reserves. The GANs train in one run, each held to its share of what is left when the one before
      it finished (Grader.train, launcher.milestone_deadline);
    - the notebook (nbgrader, its sandboxed kernel and its cells): what is left, less the feedback's reserve;
    - the feedback: what is left.

    At the default: the function export at most 90 s (22 times what it needs), the training runs about 715 s
    together (3.3 times; one run of the three, each GAN held to its share: the first about 238 s), the
    notebook at least 135 s (8 times), the feedback at least 45 s.
    A gan.py that hangs at import costs the function export's limit, then the notebook run with a stand-in
    gan.py (about 20 s) and the feedback: the training runs are not started (Grader.run_exports).

    With Part 2 graded (FACES_POINTS > 0), faces.py's function export runs first, with at most `faces` of
    the total (45 s at the default; the reference's takes about 5 s on the 2-core CPU); the stages above draw
    on what it leaves.
    """

    total: float = SUBMISSION_TIMEOUT
    functions: float = 0.10
    notebook: float = 0.15
    feedback: float = 0.05
    faces: float = 0.05

    def __post_init__(self):
        if not self.total > 0:
            raise ValueError(f"the time budget of a submission must be positive, not {self.total!r}")

    def start(self):
        return Clock(self, time.monotonic())


@dataclasses.dataclass
class Clock:
    """One submission's budget, running: each stage's wall limit in seconds (never under MIN_LIMIT)."""

    budget: TimeBudget
    started: float

    MIN_LIMIT = 1.0

    def left(self):
        return self.budget.total - (time.monotonic() - self.started)

    def _limit(self, seconds):
        return round(max(self.MIN_LIMIT, seconds), 1)

    def functions(self):
        kept = (self.budget.notebook + self.budget.feedback) * self.budget.total
        return self._limit(min(self.budget.functions * self.budget.total, self.left() - kept))

    def faces(self):
        kept = (self.budget.functions + self.budget.notebook + self.budget.feedback) * self.budget.total
        return self._limit(min(self.budget.faces * self.budget.total, self.left() - kept))

    def training(self, runs_left):
        kept = (self.budget.notebook + self.budget.feedback) * self.budget.total
        return self._limit((self.left() - kept) / max(1, runs_left))

    def notebook(self):
        return self._limit(self.left() - self.budget.feedback * self.budget.total)

    def feedback(self):
        return self._limit(self.left())


def training_device(device):
    """Where the training runs train, "cpu" or "cuda": `device` as given; "auto": "cuda" if PyTorch sees a GPU."""
    import torch  # here: the Gradescope zip's builder reads these settings without PyTorch's start-up

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device is 'auto', 'cpu' or 'cuda', not {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda': PyTorch sees no GPU here")
    return device


def training_precision(precision, device):
    """How the training runs compute, "bfloat16" (autocast) or "float32": "auto", bfloat16 where `device` is fast at
    it (nndl2.speed: CPUs with AVX512-BF16 or AMX, GPUs of compute capability 8.0+), else float32; "float32" (or
    an already resolved "bfloat16") as given."""
    if precision in PRECISIONS:
        return precision
    if precision != "auto":
        raise ValueError(f"precision is one of {', '.join(PRECISION_CHOICES)}, not {precision!r}")
    from nndl2.speed import bfloat16_is_fast  # here: imports PyTorch (see training_device)

    return "bfloat16" if bfloat16_is_fast(device) else "float32"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every choice of a batch's grading, with its default.

    budget: the training budget (nndl2/budget.py) of the grader's training runs and the notebook's kernel:
        "autograde" (the one the thresholds are calibrated for) or "smoke" (a few iterations: tests of the plumbing).
    whole_budget: every GAN trains the whole budget, not until it meets the thresholds (nndl2.agent.training
        .UntilPassing; the design before it, which grading/ta/grading_time.py compares against).
    run_per_gan: each GAN trains in a sandboxed run of its own, not the three in one (Grader.train; the design
        before it, two more process starts: grading_time.py's previous design). The same trained GANs.
    device: where the training runs train: "cpu", "cuda" (the GPU's device nodes in their sandboxes; untested on
        GPU hardware) or "auto" (the GPU where PyTorch sees one); `device` is always "cpu" or "cuda".
    precision: how the training runs compute: "float32" (everywhere: as Colab's T4 trains; over 20 seeds per corpus
        style an estimated 0.04% at most of correct solutions' seeds fail a bound of a GAN, grading/ta/
        seed_distributions.md) or "auto" (bfloat16 autocast where the device is fast at it: CPUs with AVX512-BF16 or
        AMX, GPUs of compute capability 8.0+; about a third faster there, but the LSGAN's estimate is 0.16%,
        seed_distributions_bfloat16.md); `precision` is always "bfloat16" or "float32", what the training runs do
        here (on a GPU, float32's matrix products use TF32 where nndl2/speed.py turns it on: untested on GPU
        hardware). Keep it for a term.
    threads: threads of each run of student code; a DCGAN trained with 1 or 2 threads ends with other weights, so
        keep it for a term. jobs: submissions graded at once (0: the CPU cores divided by `threads`).
    sandbox: "on" (every run of student code confined; grading refuses to start where it cannot be) or "off".
    time: one submission's wall time and how its stages share it (TimeBudget). limits: what each sandboxed run
        may use (memory, processes, file sizes; confine/limits.py).
    mnist_root: the MNIST folder every run reads (None: nndl2/'s own).
    regrade: grade unchanged submissions again.
    alike: "on": the grader trains the reference solution first (and probes the styles' solutions in
        judging/alike_styles/), and a submission's GAN that trains bit for bit as one of theirs does for the first
        iterations goes on with that run instead of training the whole budget (judging/trained.py Alike: an
        assumption about the rest of the run, its evidence in grading/ta/alike.md); "off": every GAN trains;
        "auto" (default): on for a batch of at least trained.ALIKE_BATCH submissions.
    """

    budget: str = "autograde"
    whole_budget: bool = False
    run_per_gan: bool = False
    device: str = "auto"
    precision: str = "float32"
    threads: int = 1
    jobs: int = 0
    sandbox: str = "on"
    time: TimeBudget = TimeBudget()
    limits: Limits = Limits()
    mnist_root: Path | None = None
    regrade: bool = False
    alike: str = "auto"

    def __post_init__(self):
        if self.budget not in BUDGETS:
            raise ValueError(f"budget is one of {', '.join(BUDGETS)}, not {self.budget!r}")
        if self.alike not in ("auto", "on", "off"):
            raise ValueError(f"alike is 'auto', 'on' or 'off', not {self.alike!r}")
        if self.sandbox not in ("on", "off"):
            raise ValueError(f"sandbox is 'on' or 'off', not {self.sandbox!r}")
        if not (isinstance(self.threads, int) and self.threads >= 1):
            raise ValueError(f"threads must be a whole number of at least 1, not {self.threads!r}")
        if not (isinstance(self.jobs, int) and self.jobs >= 0):
            raise ValueError(f"jobs must be a whole number (0: as many as the cores allow), not {self.jobs!r}")
        object.__setattr__(self, "device", training_device(self.device))
        object.__setattr__(self, "precision", training_precision(self.precision, self.device))
        if self.mnist_root is not None:
            object.__setattr__(self, "mnist_root", Path(self.mnist_root).resolve())

    @property
    def workers(self):
        """Submissions graded at once."""
        return self.jobs or max(1, (os.cpu_count() or 1) // self.threads)

    def key(self):
        """What of these settings a submission's grading depends on (another value grades it again)."""
        return f"{self.budget}/{self.threads}/{self.time.total:g}/{self.precision}"

    def training(self):
        """The trained GANs' part of the key under which they are kept for re-grades (judging/trained.py)."""
        return f"{self.budget}{'/whole' if self.whole_budget else ''}/{self.device}/{self.precision}"

    def inside(self):
        """What the sandboxed side reads of these settings (nndl2.budget.GRADER_KEYS): the file write_inside writes."""
        return {key: getattr(self, key) for key in GRADER_KEYS}

    def write_inside(self, folder):
        """Write `folder`/settings.json (inside()), the one file every run of a submission's code is handed; returns
        its path. The sandbox shows `folder` read-only at INSIDE_FOLDER; GAN_KIT_SETTINGS names the file."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / INSIDE_FILE
        path.write_text(json.dumps(self.inside(), indent=1) + "\n")
        return path

    def inside_env(self, settings_file):
        """The variables every run of a submission's code gets (nothing else of the grader's environment), where
        `settings_file` is write_inside's file as that run sees it.

        The same number of threads however many submissions run at once: a DCGAN trained with 1 or 2 threads
        ends with other weights, and the scores must not depend on --jobs. No progress bars (the logs stay
        readable)."""
        env = {"PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1", SETTINGS_VARIABLE: str(settings_file)}
        env.update({name: str(self.threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")})
        return env


def training_args(gans, out):
    """`python -m nndl2.agent.export` arguments of the grader's training run of the GANs `gans`, in that order, into
    `out`/<gan>/ (the rest of what it needs is in the settings file)."""
    return ["train", "--gans", *gans, "--out", str(out)]
