"""The graded items of GANs-PyTorch.ipynb, one row each, and the three GANs the notebook trains.

Everything that names a graded item reads ITEMS: the export of your functions (nndl2/agent/export.py) and
the check before you submit (nndl2/submit.py) here; on the grader's side the judge, the replay of its
training run in the notebook, grades.csv, the feedback, Gradescope's results and the tests' corpus.
The table sits in nndl2/ because the sandbox that runs your code has this package and nothing else.

An Item's fields:
- grade_id: the nbgrader grade id of the item's graded cell (its check cell, or the answer cell itself);
- kind:     "function"  a function of gan.py, called by the grader on inputs it draws;
            "quality"   Inline Questions 1-3: 1,000 samples of the grader's own training run of one GAN;
            "answer"    Inline Questions 4-6: the values the answer cell sets, against the right ones;
            "hand"      a written justification, graded by a TA (nbgrader's formgrader);
- title:    how the feedback and Gradescope's results name the item;
- points:   what it is worth; nbgrader reads the points from the notebook's cell metadata, and a test
            of the kit checks that they are the ones written here;
- function: the graded function of gan.py ("function" items), else None;
- loss:     for a loss, its arguments' names and what it computes, in words (the grader's messages say
            both), as Loss(arguments, formula); else None. Its arity is len(arguments)
            (discriminator_loss(logits_real, logits_fake): 2, generator_loss(logits_fake): 1);
- question: the Inline Question's number ("quality", "answer" and "hand" items), else None;
- gan:      the GAN whose samples are graded, a key of GANS ("quality" items), else None.

Adding a graded item is one row here, its graded cell in the notebook, and its judgement in the grader.
"""

from dataclasses import dataclass

KINDS = ("function", "quality", "answer", "hand")


@dataclass(frozen=True)
class Loss:
    arguments: tuple  # the names of its parameters, in order
    formula: str  # what it computes, in words

    @property
    def arity(self):
        """How many logits tensors it takes."""
        return len(self.arguments)


@dataclass(frozen=True)
class Item:
    grade_id: str
    kind: str
    title: str
    points: float = 1
    function: str | None = None
    loss: Loss | None = None
    question: int | None = None
    gan: str | None = None

    @property
    def hand_graded(self):
        return self.kind == "hand"

    @property
    def answer_name(self):
        """The name an "answer" item's values are saved under (the notebook's save_answers("q4", ...))."""
        return f"q{self.question}"

    @property
    def answer_cell(self):
        """The grade id of the cell that sets the values an "answer" item grades."""
        return f"{self.answer_name}_answer"


@dataclass(frozen=True)
class Gan:
    """One of the notebook's GANs: its title and the functions of gan.py it is built with (nndl2/agent/training.py:
    build_gan)."""

    title: str
    discriminator: str
    generator: str
    discriminator_loss: str
    generator_loss: str

    @property
    def functions(self):
        """Every graded function its training calls: run_a_gan draws each batch's noise with sample_noise."""
        return ("sample_noise", self.discriminator, self.generator, self.discriminator_loss, self.generator_loss,
                "get_optimizer")  # fmt: skip


GANS = {
    "vanilla": Gan("vanilla GAN", "discriminator", "generator", "discriminator_loss", "generator_loss"),
    "lsgan": Gan("LSGAN", "discriminator", "generator", "ls_discriminator_loss", "ls_generator_loss"),
    "dcgan": Gan("DCGAN", "build_dc_classifier", "build_dc_generator", "discriminator_loss", "generator_loss"),
}

# The four losses: their arguments' names and what they compute (the vanilla GAN's and the DCGAN's, then the LSGAN's).
BCE_DISCRIMINATOR = Loss(
    ("logits_real", "logits_fake"), "mean BCE of the real logits against 1 plus that of the fake logits against 0"
)
BCE_GENERATOR = Loss(("logits_fake",), "mean BCE of the fake logits against 1")
LS_DISCRIMINATOR = Loss(("scores_real", "scores_fake"), "0.5 * mean((scores_real - 1)^2) + 0.5 * mean(scores_fake^2)")
LS_GENERATOR = Loss(("scores_fake",), "0.5 * mean((scores_fake - 1)^2)")

ITEMS = (  # in notebook order
    Item("test_sample_noise", "function", "sample_noise", function="sample_noise"),
    Item("test_discriminator", "function", "discriminator", function="discriminator"),
    Item("test_generator", "function", "generator", function="generator"),
    Item("test_discriminator_loss", "function", "discriminator_loss", function="discriminator_loss", loss=BCE_DISCRIMINATOR),  # noqa: E501
    Item("test_generator_loss", "function", "generator_loss", function="generator_loss", loss=BCE_GENERATOR),
    Item("test_get_optimizer", "function", "get_optimizer", function="get_optimizer"),
    Item("test_inline_q1", "quality", "Inline Question 1: vanilla GAN samples", question=1, gan="vanilla"),
    Item("test_ls_discriminator_loss", "function", "ls_discriminator_loss", function="ls_discriminator_loss", loss=LS_DISCRIMINATOR),  # noqa: E501
    Item("test_ls_generator_loss", "function", "ls_generator_loss", function="ls_generator_loss", loss=LS_GENERATOR),
    Item("test_inline_q2", "quality", "Inline Question 2: LSGAN samples", question=2, gan="lsgan"),
    Item("test_dc_classifier", "function", "build_dc_classifier", function="build_dc_classifier"),
    Item("test_dc_generator", "function", "build_dc_generator", function="build_dc_generator"),
    Item("test_inline_q3", "quality", "Inline Question 3: DCGAN samples", question=3, gan="dcgan"),
    Item("test_inline_q4", "answer", "Inline Question 4: min-max value and the six updates", question=4),
    Item("test_inline_q5", "answer", "Inline Question 5: will we reach the optimum? (True/False)", question=5),
    Item("q5_justification", "hand", "Inline Question 5: why (graded by hand)", question=5),
    Item("test_inline_q6", "answer", "Inline Question 6: is it a good sign? (True/False)", question=6),
    Item("q6_justification", "hand", "Inline Question 6: why (graded by hand)", question=6),
)  # fmt: skip

BY_ID = {item.grade_id: item for item in ITEMS}


def of_kind(kind):
    """The items of one kind, in notebook order."""
    return tuple(item for item in ITEMS if item.kind == kind)


FUNCTIONS = tuple(item.function for item in of_kind("function"))  # gan.py's graded functions, in notebook order
LOSSES = {item.function: item.loss for item in of_kind("function") if item.loss}  # loss -> its Loss


def function_item(name):
    """The item of gan.py's graded function `name`."""
    return next(item for item in of_kind("function") if item.function == name)


def training_cell(gan):
    """The grade id of the notebook's cell that trains GAN `gan` (the grader replays its own run there)."""
    return f"train_{gan}"


def quality_item(gan):
    """The Inline Question (1-3) item graded on GAN `gan`'s samples."""
    return next(item for item in of_kind("quality") if item.gan == gan)
