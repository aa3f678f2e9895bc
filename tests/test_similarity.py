"""The similarity report: copies rank first, the starter code never counts, student code stays inert in the HTML."""

import csv
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from grading.instructor.outputs import similarity
from grading.kit import ROOT, SOLUTION_GAN, STUDENT_GAN

TEMPLATE = STUDENT_GAN.read_text()
STUB = re.compile(r'^( *)raise NotImplementedError\("(\w+): .*\n', re.M)
MARKER = re.compile(r"^ *# \*+ (START|END) OF YOUR CODE.*\n", re.M)

# One student's answers in an idiosyncratic style (helper variables, list-built models, pow/mean).
ALICE = {
    "sample_noise": "noise = torch.rand(batch_size, dim)\nnoise = noise * 2 - 1\nreturn noise",
    "discriminator": (
        "hidden = 256\nslope = 0.01\n"
        "model = nn.Sequential(Flatten(), nn.Linear(784, hidden), nn.LeakyReLU(slope),\n"
        "                      nn.Linear(hidden, hidden), nn.LeakyReLU(slope), nn.Linear(hidden, 1))"
    ),
    "generator": (
        "width = 1024\n"
        "model = nn.Sequential(nn.Linear(noise_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),\n"
        "                      nn.Linear(width, 784), nn.Tanh())"
    ),
    "discriminator_loss": (
        "real_labels = torch.ones_like(logits_real)\nfake_labels = torch.zeros_like(logits_fake)\n"
        "real_part = bce_loss(logits_real, real_labels)\nfake_part = bce_loss(logits_fake, fake_labels)\n"
        "loss = real_part + fake_part"
    ),
    "generator_loss": "fooled = torch.ones_like(logits_fake)\nloss = bce_loss(logits_fake, fooled)",
    "get_optimizer": "params = model.parameters()\noptimizer = optim.Adam(params, lr=0.001, betas=(0.5, 0.999))",
    "ls_discriminator_loss": (
        "real_term = (scores_real - 1).pow(2).mean()\nfake_term = scores_fake.pow(2).mean()\n"
        "loss = (real_term + fake_term) / 2"
    ),
    "ls_generator_loss": "loss = (scores_fake - 1).pow(2).mean() / 2",
    "build_dc_classifier": (
        "layers = [Unflatten(batch_size, 1, 28, 28)]\n"
        "layers += [nn.Conv2d(1, 32, 5, 1), nn.LeakyReLU(0.01), nn.MaxPool2d(2, 2)]\n"
        "layers += [nn.Conv2d(32, 64, 5, 1), nn.LeakyReLU(0.01), nn.MaxPool2d(2, 2)]\n"
        "layers += [Flatten(), nn.Linear(1024, 1024), nn.LeakyReLU(0.01), nn.Linear(1024, 1)]\n"
        "return nn.Sequential(*layers)"
    ),
    "build_dc_generator": (
        "layers = [nn.Linear(noise_dim, 1024), nn.ReLU(), nn.BatchNorm1d(1024)]\n"
        "layers += [nn.Linear(1024, 6272), nn.ReLU(), nn.BatchNorm1d(6272), Unflatten(-1, 128, 7, 7)]\n"
        "layers += [nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.ReLU(), nn.BatchNorm2d(64)]\n"
        "layers += [nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh(), Flatten()]\n"
        "return nn.Sequential(*layers)"
    ),
}

# Written independently in another style: add_module, uniform_, explicit label tensors, mse_loss.
DAVE = {
    "sample_noise": "return torch.empty(batch_size, dim).uniform_(-1, 1)",
    "discriminator": (
        "model = nn.Sequential()\nmodel.add_module('flatten', Flatten())\n"
        "model.add_module('fc1', nn.Linear(28 * 28, 256))\n"
        "model.add_module('act1', nn.LeakyReLU(negative_slope=0.01))\n"
        "model.add_module('fc2', nn.Linear(256, 256))\nmodel.add_module('act2', nn.LeakyReLU(negative_slope=0.01))\n"
        "model.add_module('out', nn.Linear(256, 1))"
    ),
    "generator": (
        "model = nn.Sequential()\nfor i, (n_in, n_out) in enumerate([(noise_dim, 1024), (1024, 1024)]):\n"
        "    model.add_module(f'fc{i}', nn.Linear(n_in, n_out))\n    model.add_module(f'relu{i}', nn.ReLU())\n"
        "model.add_module('out', nn.Linear(1024, 28 * 28))\nmodel.add_module('tanh', nn.Tanh())"
    ),
    "discriminator_loss": (
        "n = logits_real.size(0)\nloss = bce_loss(logits_real.view(-1), torch.ones(n))\n"
        "loss += bce_loss(logits_fake.view(-1), torch.zeros(n))"
    ),
    "generator_loss": "loss = bce_loss(logits_fake.view(-1), torch.ones(logits_fake.size(0)))",
    "get_optimizer": "optimizer = torch.optim.Adam(params=model.parameters(), lr=1e-3, betas=[0.5, 0.999])",
    "ls_discriminator_loss": (
        "loss = 0.5 * F.mse_loss(scores_real, torch.ones_like(scores_real))\n"
        "loss = loss + 0.5 * F.mse_loss(scores_fake, torch.zeros_like(scores_fake))"
    ),
    "ls_generator_loss": "loss = 0.5 * F.mse_loss(scores_fake, torch.ones_like(scores_fake))",
    "build_dc_classifier": (
        "conv = lambda c_in, c_out: [nn.Conv2d(c_in, c_out, kernel_size=5), nn.LeakyReLU(0.01), nn.MaxPool2d(2)]\n"
        "return nn.Sequential(Unflatten(batch_size, 1, 28, 28), *conv(1, 32), *conv(32, 64), Flatten(),\n"
        "                     nn.Linear(64 * 4 * 4, 64 * 4 * 4), nn.LeakyReLU(0.01), nn.Linear(64 * 4 * 4, 1))"
    ),
    "build_dc_generator": (
        "up = lambda c_in, c_out: nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1)\n"
        "return nn.Sequential(nn.Linear(noise_dim, 1024), nn.ReLU(), nn.BatchNorm1d(1024),\n"
        "                     nn.Linear(1024, 128 * 7 * 7), nn.ReLU(), nn.BatchNorm1d(128 * 7 * 7),\n"
        "                     Unflatten(-1, 128, 7, 7), up(128, 64), nn.ReLU(), nn.BatchNorm2d(64), up(64, 1),\n"
        "                     nn.Tanh(), Flatten())"
    ),
}

RENAMES = {
    "noise": "z", "hidden": "units", "slope": "alpha", "width": "size", "real_labels": "ones", "fake_labels": "zeros",
    "real_part": "lr_", "fake_part": "lf_", "fooled": "target", "params": "ps", "real_term": "a", "fake_term": "b",
    "layers": "stack",
}  # fmt: skip


def fill(answers):
    """The template gan.py with each stub replaced by the answer for its function (indented to fit)."""

    def answer(match):
        indent, function = match.group(1), match.group(2)
        if function not in answers:  # the optional Going further stubs: left as handed out
            return match.group(0)
        return "".join(indent + line + "\n" for line in answers[function].splitlines())

    return STUB.sub(answer, TEMPLATE)


def rename(answers, mapping):
    """Every answer with its local names replaced (whole words only)."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, mapping)) + r")\b")
    return {function: pattern.sub(lambda m: mapping[m.group(1)], code) for function, code in answers.items()}


def reorder(text):
    """The module with its top-level functions in reverse order (module header first, classes last)."""
    blocks = re.split(r"\n(?=def |class |# -{10,})", text)
    header, functions = blocks[0], [b for b in blocks[1:] if b.startswith("def ")]
    others = [b for b in blocks[1:] if not b.startswith("def ")]
    return "\n".join([header, *reversed(functions), *others])


def solution_answers():
    """The reference's code of each function, read from its BEGIN/END SOLUTION regions (independently of the
    code under test)."""
    text = SOLUTION_GAN.read_text()
    bodies = {}
    for block in re.split(r"^(?=def )", text, flags=re.M):  # each function's own region (the optional ones too)
        name = re.match(r"def (\w+)\(", block)
        region = re.search(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", block, flags=re.S)
        if name and region and name.group(1) in ALICE:  # the graded functions; the optional stubs stay stubs
            bodies[name.group(1)] = region.group(1)
    assert set(bodies) == set(ALICE)
    return {function: "\n".join(line[4:] for line in body.splitlines()) for function, body in bodies.items()}


def class_texts():
    alice = fill(ALICE)
    reference = solution_answers()
    return {
        "alice": alice,
        "bob": alice,  # an exact copy
        "carol": reorder(fill(rename(ALICE, RENAMES))),  # renamed variables, functions reordered
        "dave": fill(DAVE),  # independent, another style
        "erin": fill(reference),  # the reference's code exactly
        "ivy": fill(  # the reference's code, reformatted, with comments
            {f: "# my answer\n" + code.replace("(\n", "(").replace(",\n", ", ") for f, code in reference.items()}
        ),
        "frank": TEMPLATE,  # blank: nothing answered
        "gina": MARKER.sub("", fill(DAVE)),  # dave's code with the markers removed
        "hank": MARKER.sub("", TEMPLATE),  # blank, markers removed
    }


@pytest.fixture(scope="module")
def comparison():
    return similarity.compare(class_texts(), TEMPLATE, SOLUTION_GAN.read_text())


def by_names(comparison):
    return {frozenset((pair.a, pair.b)): pair for pair in comparison.pairs}


def test_the_fixtures_are_what_they_claim():
    texts = class_texts()
    compile(texts["carol"], "carol", "exec")  # still a valid module after the renames and reordering
    assert texts["carol"].index("def build_dc_generator") < texts["carol"].index("def sample_noise")
    assert "hidden" not in texts["carol"] and "units = 256" in texts["carol"]
    assert "START OF YOUR CODE" not in texts["gina"] and "uniform_(-1, 1)" in texts["gina"]
    assert not any(f'NotImplementedError("{function}:' in texts["erin"] for function in ALICE)


def test_copies_rank_first_whatever_the_renames_and_order(comparison):
    top = [frozenset((pair.a, pair.b)) for pair in comparison.pairs[:5]]
    copies = {frozenset(p) for p in [("alice", "bob"), ("alice", "carol"), ("bob", "carol"), ("dave", "gina")]}
    assert set(top[:4]) == copies
    # erin and ivy both wrote the reference's code: as similar, but ranked after the pairs that share more
    assert top[4] == {"erin", "ivy"} and comparison.pairs[4].score == 1.0
    pairs = by_names(comparison)
    assert pairs[frozenset(("alice", "bob"))].similarity == (1.0, 1.0)
    for pair in copies:
        assert pairs[pair].score >= 0.95, pairs[pair]


def test_independent_solutions_score_below_every_copy(comparison):
    pairs = by_names(comparison)
    weakest_copy = min(pairs[frozenset(p)].score for p in [("alice", "carol"), ("dave", "gina")])
    for a, b in [("alice", "dave"), ("alice", "erin"), ("dave", "erin"), ("carol", "dave")]:
        assert pairs[frozenset((a, b))].score < 0.5 < weakest_copy, pairs[frozenset((a, b))]


def test_the_starter_code_never_counts(comparison):
    assert comparison.tokens["frank"] == 0 and comparison.tokens["hank"] == 0
    for pair in comparison.pairs:
        if {"frank", "hank"} & {pair.a, pair.b}:
            assert pair.score == 0 and pair.shared_tokens == 0 and pair.lines == ((), ()), pair
    assert comparison.reference["frank"] == 0 == comparison.reference["hank"]


def test_a_file_without_markers_is_compared_whole_and_says_so(comparison):
    gina = comparison.answers["gina"]
    assert gina.whole_file and "no answer markers" in gina.note
    assert not comparison.answers["dave"].whole_file and not comparison.answers["hank"].note.startswith("0 of")
    assert "no answer markers" in comparison.answers["hank"].note


def test_partly_removed_markers_fall_back_to_the_whole_file():
    text = fill(ALICE)
    start = text.index("    # ***** START OF YOUR CODE")
    broken = text[:start] + text[start:].split("\n", 1)[1]  # the first START line deleted
    answers = similarity.compare({"x": broken, "y": text}, TEMPLATE).answers["x"]
    assert answers.whole_file and "unbalanced" in answers.note


def test_reference_copies_are_flagged_and_convergence_is_told_apart(comparison):
    assert comparison.reference["erin"] == 1.0 and comparison.reference["ivy"] >= 0.95
    assert comparison.reference["alice"] < 0.5 and comparison.reference["dave"] < 0.5
    pairs = by_names(comparison)
    converged = pairs[frozenset(("erin", "ivy"))]  # both wrote the reference's code: similar, nothing beyond it
    assert converged.score >= 0.95 and max(converged.beyond_reference) == 0
    copied = pairs[frozenset(("alice", "carol"))]  # code the reference does not have
    assert max(copied.beyond_reference) >= 0.9


def answer_lines(text):
    """Line numbers of the non-blank lines between the START and END markers (an unanswered stub: none)."""
    inside, found = False, set()
    for number, line in enumerate(text.splitlines(), 1):
        inside = inside and "END OF YOUR CODE" not in line
        if inside and line.strip() and not STUB.match(line + "\n"):
            found.add(number)
        inside = inside or "START OF YOUR CODE" in line
    return found


def test_shared_lines_are_the_answer_lines(comparison):
    texts, pairs = class_texts(), by_names(comparison)
    copy = pairs[frozenset(("alice", "bob"))]
    assert set(copy.lines[0]) == set(copy.lines[1]) == answer_lines(texts["alice"])
    whole = pairs[frozenset(("dave", "gina"))]  # gina: the whole file, her code lines are dave's answer lines
    dave_code = {line.strip() for answer in DAVE.values() for line in answer.splitlines()}
    gina_code = {n for n, line in enumerate(texts["gina"].splitlines(), 1) if line.strip() in dave_code}
    assert (set(whole.lines[0]), set(whole.lines[1])) == (answer_lines(texts["dave"]), gina_code)


def test_repeated_code_is_not_lost_to_boilerplate_removal():
    """copydetect 0.5's own boilerplate removal drops one copy of a repeated k-gram; ours keeps both."""
    line = "x = compute_something(alpha, beta, gamma)\n"
    text = line + "y = other_thing(1, 2, 3, 4, 5, 6)\n" + line
    plain = similarity.fingerprint(text, 10)
    unrelated = frozenset(similarity.fingerprint("import os\nprint('hello world')\n", 10).hashes)
    assert unrelated and not unrelated & plain.hashes
    cleaned = similarity.fingerprint(text, 10, unrelated)
    assert cleaned.token_coverage == plain.token_coverage == len(plain.filtered_code)
    assert cleaned.hash_idx == plain.hash_idx


def test_the_template_must_have_answer_regions():
    with pytest.raises(ValueError, match="no START/END"):
        similarity.compare({"a": "x = 1\n"}, "x = 1\n")


def test_scores_are_the_same_in_every_process(tmp_path):
    """Python salts str hashes per process: the report must not depend on it."""
    script = (
        "import sys, tests.test_similarity as t\n"
        "from grading.instructor.outputs import similarity\n"
        "c = similarity.compare(t.class_texts(), t.TEMPLATE, t.SOLUTION_GAN.read_text())\n"
        "similarity.write_report(c, sys.argv[1])\n"
    )
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run([sys.executable, "-c", script, str(out)], cwd=ROOT, env=env, check=True)
        outputs.append((out / "similarity.csv").read_bytes())
    assert outputs[0] == outputs[1]


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text, of an HTML document."""

    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_student_code_never_becomes_html(tmp_path):
    attack = "<script>document.title='pwned'</script>"
    evil = dict(ALICE, sample_noise=f'# </pre>{attack}\nnoise = torch.rand(batch_size, dim) * 2 - 1  # "{attack}"\n'
                "return noise")  # fmt: skip
    texts = {"alice": fill(ALICE), "<img src=x onerror=alert(1)>": fill(evil)}
    comparison = similarity.compare(texts, TEMPLATE)
    assert comparison.pairs[0].score >= 0.5
    paths = similarity.write_report(comparison, tmp_path, threshold=0.5)
    parser = Elements()
    parser.feed(paths["html"].read_text())
    assert [tag for tag, _ in parser.tags if tag in {"script", "img", "iframe", "object"}] == []
    assert not any(name.startswith("on") for _, attrs in parser.tags for name in attrs)
    text = "".join(parser.text)
    assert attack in text and "<img src=x onerror=alert(1)>" in text  # shown as text, in the side-by-side view too
    meta = [attrs for tag, attrs in parser.tags if tag == "meta" and attrs.get("http-equiv")]
    assert meta and "default-src 'none'" in meta[0]["content"]  # a second guard: no script may run at all


def test_report_files(comparison, tmp_path):
    paths = similarity.write_report(comparison, tmp_path, threshold=0.9, names={"alice": "Alice A."})
    with open(paths["pairs"], newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 9 * 8 // 2  # every pair, ranked
    assert [int(row["rank"]) for row in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["score"] == "1.00" and rows[0]["flagged"] == "yes" and rows[0]["lines_a"]
    alice = next(row for row in rows if row["student_a"] == "alice")
    assert alice["name_a"] == "Alice A." and alice["name_b"] == alice["student_b"]
    flagged = [row for row in rows if row["flagged"]]
    assert all(float(row["score"]) >= 0.9 for row in flagged) and float(rows[len(flagged)]["score"]) < 0.9
    gina = next(row for row in rows if "gina" in (row["student_a"], row["student_b"]))
    assert "whole file" in (gina["compared_a"], gina["compared_b"])
    with open(paths["students"], newline="") as stream:
        students = {row["student"]: row for row in csv.DictReader(stream)}
    assert set(students) == set(class_texts())
    assert students["erin"]["near_reference"] == "yes" and students["alice"]["near_reference"] == ""
    assert students["gina"]["compared"] == "whole file" and "no answer markers" in students["gina"]["note"]
    html = paths["html"].read_text()
    assert html.count('<h2 id="pair-') == len(flagged)
    assert "short answers converge" in html and "shared oddities" in html
    assert "every pair.</p>" not in html
    capped = similarity.write_report(comparison, tmp_path / "capped", threshold=0.9, show=2)["html"].read_text()
    assert capped.count('<h2 id="pair-') == 2 and "The first 2 are shown here" in capped
    assert f"Pairs at or above 0.90 ({len(flagged)})" in capped


def test_command_line(tmp_path, capsys):
    """The CLI on a real folder-per-student export: copies, a non-UTF-8 file, a missing and a linked gan.py."""
    folder = tmp_path / "submissions"
    for key, text in [("u1", fill(ALICE)), ("u2", fill(ALICE)), ("u3", fill(DAVE)), ("u4", None), ("u5", None)]:
        (folder / key).mkdir(parents=True)
        (folder / key / "GANs-PyTorch.ipynb").write_text("{}")
        if text is not None:
            (folder / key / "gan.py").write_text(text)
    (folder / "u3" / "gan.py").write_bytes(fill(DAVE).encode() + b"# caf\xe9\n")  # not UTF-8
    secret = tmp_path / "solution.py"
    secret.write_text(fill(ALICE))
    (folder / "u5" / "gan.py").symlink_to(secret)  # refused, never read
    assert similarity.main([str(folder), "--out", str(tmp_path / "out"), "--threshold", "0.8"]) == 0
    printed = capsys.readouterr()
    assert printed.err == ""
    assert "1 pairs at or above 0.80" in printed.out and "1.00  u1 ~ u2" in printed.out
    assert "not compared: u4 (missing gan.py)" in printed.out
    with open(tmp_path / "out" / "students.csv", newline="") as stream:
        students = {row["student"]: row for row in csv.DictReader(stream)}
    assert students["u4"]["compared"] == "not compared" and students["u4"]["note"] == "missing gan.py"
    assert students["u5"]["compared"] == "not compared" and "link" in students["u5"]["note"]
    assert "not UTF-8" in students["u3"]["note"] and students["u3"]["compared"] == "answers"


@pytest.mark.parametrize("option", [["--threshold", "1.5"], ["--noise", "0"]])
def test_command_line_rejects_bad_options(tmp_path, option):
    with pytest.raises(SystemExit):
        similarity.main([str(tmp_path), "--out", str(tmp_path / "out"), *option])


def test_the_optional_going_further_functions_are_not_compared():
    """Two students who wrote the same ungraded init_weights_normal / smoothed_discriminator_loss (the reference's)
    compare exactly as if both had left those stubs: only graded answers count."""
    reference = {
        f: c for f, c in solution_regions_all().items() if f in ("init_weights_normal", "smoothed_discriminator_loss")
    }
    assert len(reference) == 2
    plain = {"alice": fill(ALICE), "dave": fill(DAVE)}
    extra = {"alice": fill({**ALICE, **reference}), "dave": fill({**DAVE, **reference})}
    before = similarity.compare(plain, TEMPLATE, SOLUTION_GAN.read_text()).pairs[0]
    after = similarity.compare(extra, TEMPLATE, SOLUTION_GAN.read_text()).pairs[0]
    assert after.similarity == before.similarity and after.shared_tokens == before.shared_tokens


def solution_regions_all():
    """Every function's solution region of the reference, the optional ones too."""
    bodies = {}
    for block in re.split(r"^(?=def )", SOLUTION_GAN.read_text(), flags=re.M):
        name = re.match(r"def (\w+)\(", block)
        region = re.search(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", block, flags=re.S)
        if name and region:
            bodies[name.group(1)] = "\n".join(line[4:] for line in region.group(1).splitlines())
    return bodies
