"""The grading corpus of issue 9: submissions whose right scores are known, to grade end to end.

Every entry is listed in tests/corpus/index.py with its kind and the score each graded item deserves:

- correct: complete student gan.py files written in the styles CS231n students use (styles/*.py.txt);
- mutant:  one of those styles with a single-fault bug in one graded function (index.MUTANTS);
- forgery: a submission that tries to earn points its code does not deserve (forgeries/*.py.txt is
  module-level code appended to a base gan.py; some also change the notebook: notebooks.py).

Use (tests/ is on sys.path under pytest; from the repository root `tests.corpus` works too):

    from corpus import ENTRIES, build, write_entry
    for entry in ENTRIES:
        folder = write_entry(submissions / entry["name"], entry)    # GANs-PyTorch.ipynb + gan.py
    ... grade them all ...
    for entry in ENTRIES:
        assert mismatches(entry, scores_of[entry["name"]], reason_of[entry["name"]]) == []

Style files are stored whole, as a student hands them in, but only their answer regions are used:
`style_gan` splices those regions into the current gan.py template, so the corpus follows edits of the
template's docstrings and helpers instead of going stale.
"""

import re
from pathlib import Path

from grading.kit import SOLUTION_GAN, STUDENT_GAN
from grading.ta.examples import write_submission
from nndl2.submit import OPTIONAL  # the optional, ungraded functions of gan.py

from . import notebooks
from .index import ENTRIES, GRADE_IDS, MUTANTS, QUALITY_IDS

__all__ = [
    "ENTRIES",
    "GRADE_IDS",
    "MUTANTS",
    "QUALITY_IDS",
    "build",
    "entry",
    "forgery_gan",
    "gan_text",
    "mismatches",
    "mutant_gan",
    "notebook",
    "regions",
    "style_gan",
    "write_entry",
]

HERE = Path(__file__).resolve().parent
STYLES = HERE / "styles"
FORGERIES = HERE / "forgeries"
START = "# ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****"
END = "# ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****"
DEF = re.compile(r"^def (\w+)\(")


def regions(text):
    """{function: the code between its START and END lines} of a student gan.py text."""
    found, function, inside, body = {}, None, False, []
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        match = DEF.match(line)
        if match and not inside:
            function = match.group(1)
        if line.strip() == START:
            if inside or function is None:
                raise ValueError(f"line {number}: answer region nested or outside a function")
            inside, body = True, []
        elif line.strip() == END:
            if not inside:
                raise ValueError(f"line {number}: END line without a START line")
            if function in found:
                raise ValueError(f"line {number}: a second answer region in {function}")
            found[function], inside = "".join(body), False
        elif inside:
            body.append(line)
    if inside:
        raise ValueError("an answer region is never closed")
    return found


def splice(template, bodies):
    """`template` with the body of every answer region replaced by bodies[function] (all must be given, but for
    the optional, ungraded Going further functions: not given, they keep the template's stub)."""
    stubs = regions(template)
    bodies = {**{name: stubs[name] for name in OPTIONAL if name in stubs}, **bodies}
    wanted = set(stubs)
    if set(bodies) != wanted:
        raise ValueError(
            f"answer regions differ: missing {sorted(wanted - set(bodies))}, extra {sorted(set(bodies) - wanted)}"
        )
    out, function, inside = [], None, False
    for line in template.splitlines(keepends=True):
        match = DEF.match(line)
        if match and not inside:
            function = match.group(1)
        if line.strip() == START:
            out += [line, bodies[function]]
            inside = True
        elif line.strip() == END:
            out.append(line)
            inside = False
        elif not inside:
            out.append(line)
    return "".join(out)


def style_header(text):
    """The style file's leading comment lines (its name and what it exercises)."""
    lines = []
    for line in text.splitlines(keepends=True):
        if not line.startswith("# ") or line.startswith("# GENERATED FILE"):
            break
        lines.append(line)
    return "".join(lines)


def style_gan(style):
    """The gan.py of a correct style: its header comment and answer regions in the current template."""
    text = (STYLES / f"{style}.py.txt").read_text()
    return style_header(text) + splice(STUDENT_GAN.read_text(), regions(text))


def replace_once(text, old, new, where):
    """`text` with `old` replaced by `new`; `old` must occur exactly once."""
    if text.count(old) != 1:
        raise ValueError(f"{where}: {old!r} occurs {text.count(old)} times, not once")
    return text.replace(old, new)


def mutant_gan(style, function):
    """The style's gan.py with the one bug MUTANTS gives for (style, function), made inside that function's
    answer region (where `old` must occur exactly once); the header comment says which bug it is."""
    rows = [row for row in MUTANTS if row["style"] == style and row["function"] == function]
    if len(rows) != 1:
        raise KeyError(f"MUTANTS has {len(rows)} rows for ({style}, {function})")
    row, text = rows[0], style_gan(style)
    bodies = regions(text)
    bodies[function] = replace_once(bodies[function], row["old"], row["new"], f"mutant {style}/{function}")
    header = f"# Corpus mutant of style {style}: {function} has one bug ({row['bug']}).\n"
    return header + splice(text, bodies)


def base_gan(base):
    """A forgery's starting point: "blank" (the release), "reference" (the solution) or a style name."""
    if base == "blank":
        return STUDENT_GAN.read_text()
    if base == "reference":
        return SOLUTION_GAN.read_text()
    return style_gan(base)


def forgery_gan(spec):
    """A forgery's gan.py: its base, its replacements (each applied exactly once) and its payload appended."""
    text = base_gan(spec["base"])
    for old, new in spec.get("replace", ()):
        text = replace_once(text, old, new, f"forgery {spec['name']}")
    if spec.get("payload"):
        text = text.rstrip("\n") + "\n\n\n" + (FORGERIES / spec["payload"]).read_text()
    return text


def entry(name_or_entry):
    """The index entry named `name` (an entry dict is returned as it is)."""
    if isinstance(name_or_entry, dict):
        return name_or_entry
    for candidate in ENTRIES:
        if candidate["name"] == name_or_entry:
            return candidate
    raise KeyError(f"no corpus entry named {name_or_entry!r}")


def gan_text(name_or_entry):
    """The gan.py text of an entry."""
    spec = entry(name_or_entry)
    if spec["kind"] == "correct":
        return style_gan(spec["style"])
    if spec["kind"] == "mutant":
        return mutant_gan(spec["style"], spec["function"])
    return forgery_gan(spec)


def notebook(name_or_entry):
    """The notebook (an nbformat NotebookNode) of an entry."""
    return notebooks.NOTEBOOKS[entry(name_or_entry)["notebook"]]()


def build(name_or_entry):
    """(gan.py text, notebook) of an entry."""
    return gan_text(name_or_entry), notebook(name_or_entry)


def write_entry(folder, name_or_entry):
    """Write an entry as a submission folder (GANs-PyTorch.ipynb + gan.py); returns the folder."""
    gan, nb = build(name_or_entry)
    return write_submission(folder, nb, gan)


def mismatches(name_or_entry, scores, reason="", real_budget=False):
    """What differs between the scores an entry got and the scores it deserves, as readable lines.

    scores: {grade id: points} as graded (missing items count as 0); reason: the grade row's reason.
    Inline Questions 1-3 are compared only with real_budget=True (graded at the real autograde budget),
    and then only where the index says 1 or 0 (None: it depends on how that GAN happens to train).
    """
    spec, found = entry(name_or_entry), []
    expected = dict(spec["scores"])
    if real_budget:
        expected.update({gid: value for gid, value in spec["real_budget"].items() if value is not None})
    for gid, deserved in expected.items():
        if deserved == "quality" or deserved is None:
            continue
        got = scores.get(gid, 0)
        if float(got) != float(deserved):
            found.append(f"{spec['name']}: {gid} scored {got}, deserves {deserved}")
    for text in spec.get("reason_must_not_contain", ()):
        if text.lower() in (reason or "").lower():
            found.append(f"{spec['name']}: the reason repeats text the student printed: {text!r}")
    return found
