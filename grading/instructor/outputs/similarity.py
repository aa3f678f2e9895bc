"""Similarity report: which students' answers in gan.py look alike (what MOSS gives instructors, done locally).

    python -m grading.instructor.outputs.similarity SUBMISSIONS --out DIR [--threshold 0.5] [--show 100] [--noise 16]

SUBMISSIONS is what `python -m grading.instructor.autograde` takes (a folder or a .zip). Only the code
between each `# ***** START OF YOUR CODE` and `# ***** END OF YOUR CODE` line of gan.py is compared; the
starter code (the student template gan.py: docstrings, provided helpers, stubs) is boilerplate and never
counts. A gan.py whose markers were removed or broken is compared whole, the template still excluded,
and its rows say so. Writes DIR/similarity.html (ranked pairs at or above the threshold, the first
--show of them side by side),
DIR/similarity.csv (every pair) and DIR/students.csv (every submission, compared or not).

The fingerprints come from copydetect (winnowing as in MOSS; names and strings are normalized by its
tokenizer, so renaming variables or reordering functions does not hide a copy). Every k-gram is kept
(window 1): winnowing's choice of fingerprints depends on Python's per-process string hashes, and a report
an instructor acts on must give the same numbers every time it is made.
"""

import argparse
import csv
import io
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from itertools import combinations
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint, compare_files
from copydetect.utils import get_token_coverage, highlight_overlap
from jinja2 import Environment
from markupsafe import Markup

from grading.course.answer_regions import BEGIN, END, SOLUTION_START, SOLUTION_STOP, START, STOP, regions
from grading.instructor.intake import submissions
from grading.kit import SOLUTION_GAN, STUDENT_GAN
from nndl2.submit import OPTIONAL  # the optional, ungraded functions of gan.py

NOISE = 16  # shortest run of normalized code that counts as shared, in characters (copydetect's noise threshold)
THRESHOLD = 0.5
SHOW = 100  # flagged pairs shown side by side in the HTML


@dataclass(frozen=True)
class Answers:
    """What is compared of one gan.py: its answer regions (or the whole file) and where each line came from."""

    text: str  # one line per element of `lines`, each ending in a newline
    lines: tuple  # gan.py line number of each line of `text`; None for the heading lines added between regions
    whole_file: bool = False
    note: str = ""


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    similarity: tuple  # share of a's and of b's answer tokens that also appear in the other's
    beyond_reference: tuple | None  # the same with everything in the reference solution excluded too
    shared_tokens: int
    slices: tuple  # (start, end) character spans of the shared code in a's and in b's Answers.text
    lines: tuple  # gan.py line numbers of a's and of b's shared code

    @property
    def score(self):
        """The pair's rank: the larger share (a copy of a part is as suspicious as a copy of the whole)."""
        return max(self.similarity)

    @property
    def beyond(self):
        """The larger share beyond the reference (0 without a reference)."""
        return max(self.beyond_reference or (0.0,))


@dataclass(frozen=True)
class Comparison:
    answers: dict  # label -> Answers
    tokens: dict  # label -> answer size (normalized characters that can be compared, boilerplate excluded)
    reference: dict | None  # label -> share of the student's answer tokens found in the reference solution
    pairs: list  # every pair, highest score first
    noise: int


def extract(text, expected, start=START, stop=STOP):
    """The Answers of one gan.py: its `expected` answer regions, or the whole file if they are not all there."""
    found = regions(text, start, stop)
    if found is not None and len(found) == expected:
        out, numbers = [], []
        for function, first, lines in found:
            if function in OPTIONAL:  # ungraded "Going further" functions: not compared
                continue
            out.append(f"# {function or 'module level'}")  # a comment: the tokenizer drops it
            numbers.append(None)
            out += lines
            numbers += range(first, first + len(lines))
        return Answers("".join(line + "\n" for line in out), tuple(numbers))
    if found is None:
        why = "answer markers unbalanced"
    elif not found:
        why = "no answer markers"
    else:
        why = f"{len(found)} of {expected} answer regions marked"
    lines = text.splitlines()
    return Answers(
        "".join(line + "\n" for line in lines),
        tuple(range(1, len(lines) + 1)),
        whole_file=True,
        note=f"{why}: whole gan.py compared, template excluded",
    )


def fingerprint(text, noise, boilerplate=frozenset()):
    """copydetect's fingerprint of `text` (Python), every k-gram kept, `boilerplate` hashes removed.

    copydetect 0.5 can remove boilerplate itself, but its removal (numpy's intersect1d with
    assume_unique=True on fingerprints that repeat) also drops one occurrence of every repeated k-gram
    that is not boilerplate, so repeated code loses part of its highlighting and weight. The removal is
    done here with set operations instead, and the coverage recomputed with copydetect's own function.
    """
    printed = CodeFingerprint("gan.py", noise, 1, language="python", fp=io.StringIO(text))
    if boilerplate:
        printed.hashes = printed.hashes - boilerplate
        printed.hash_idx = {h: idx for h, idx in printed.hash_idx.items() if h not in boilerplate}
        printed.token_coverage = get_token_coverage(printed.hash_idx, noise, len(printed.filtered_code))
    return printed


def spans(slices):
    """copydetect's 2xN slice array as ((start, end), ...) character spans."""
    slices = np.asarray(slices)
    if slices.size == 0:
        return ()
    return tuple((int(start), int(end)) for start, end in zip(slices[0], slices[1], strict=True))


def line_starts(answers):
    """Character offset of the start of every line of answers.text, and of its end."""
    return np.cumsum([0] + [len(line) for line in answers.text.splitlines(keepends=True)])


def shared_lines(answers, character_spans, starts=None):
    """gan.py line numbers of the code lines of `answers` (not blank, not only a comment) inside the spans.

    Comments are not compared (the tokenizer drops them), but copydetect's spans can run on over the
    comments that follow shared code: those lines are not counted as shared.
    """
    starts = line_starts(answers) if starts is None else starts
    found = set()
    for start, end in character_spans:
        first = int(np.searchsorted(starts, start, side="right")) - 1
        for index in range(max(first, 0), len(answers.lines)):
            if starts[index] >= end:
                break
            piece = answers.text[max(start, starts[index]) : min(end, starts[index + 1])]
            line = answers.text[starts[index] : starts[index + 1]].strip()
            if piece.strip() and line and not line.startswith("#") and answers.lines[index] is not None:
                found.add(answers.lines[index])
    return tuple(sorted(found))


def compare(texts: Mapping, template, reference=None, noise=NOISE):
    """Compare every pair of {label: gan.py text}; `template` is the student gan.py (boilerplate).

    `reference` (the solution module, `### BEGIN/END SOLUTION` regions) adds each student's similarity
    to it and each pair's similarity beyond it. Returns a Comparison, pairs ranked.
    """
    template_regions = regions(template)
    if not template_regions:
        raise ValueError("the template gan.py has no START/END OF YOUR CODE regions")
    expected = len(template_regions)
    # The template's own answer regions are boilerplate too: a stub next to a stub is not a shared answer.
    boilerplate = frozenset(
        fingerprint(template, noise).hashes | fingerprint(extract(template, expected).text, noise).hashes
    )
    answers = {label: extract(text, expected) for label, text in texts.items()}
    printed = {label: fingerprint(item.text, noise, boilerplate) for label, item in answers.items()}

    near, beyond = None, None
    if reference is not None:
        solution = extract(reference, expected, SOLUTION_START, SOLUTION_STOP)
        if solution.whole_file:
            raise ValueError(f"the reference solution must have {expected} {BEGIN} / {END} regions")
        solution_print = fingerprint(solution.text, noise, boilerplate)
        near = {label: float(compare_files(item, solution_print)[1][0]) for label, item in printed.items()}
        without_reference = boilerplate | solution_print.hashes
        beyond = {label: fingerprint(item.text, noise, without_reference) for label, item in answers.items()}

    starts = {label: line_starts(item) for label, item in answers.items()}
    pairs = []
    for a, b in combinations(sorted(answers), 2):
        overlap, similarity, slices = compare_files(printed[a], printed[b])
        character_spans = (spans(slices[0]), spans(slices[1]))
        pairs.append(
            Pair(
                a,
                b,
                similarity=(float(similarity[0]), float(similarity[1])),
                beyond_reference=None if beyond is None else tuple(map(float, compare_files(beyond[a], beyond[b])[1])),
                shared_tokens=int(overlap),
                slices=character_spans,
                lines=(
                    shared_lines(answers[a], character_spans[0], starts[a]),
                    shared_lines(answers[b], character_spans[1], starts[b]),
                ),
            )
        )
    # Ties (common: short answers converge) go to the pairs that share more beyond the reference.
    pairs.sort(key=lambda pair: (-pair.score, -pair.beyond, -min(pair.similarity), -pair.shared_tokens, pair.a, pair.b))
    tokens = {label: int(item.token_coverage) for label, item in printed.items()}
    return Comparison(answers, tokens, near, pairs, noise)


def line_ranges(numbers):
    """(3, 4, 5, 9) -> '3-5 9'."""
    out, run = [], []
    for number in numbers:
        if run and number != run[-1] + 1:
            out.append(run)
            run = []
        run.append(number)
    if run:
        out.append(run)
    return " ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in out)


def percent(value):
    return "" if value is None else f"{value:.2f}"


def scope(answers):
    return "whole file" if answers.whole_file else "answers"


def highlighted(answers, character_spans):
    """The escaped text of `answers` with the shared spans in <mark>, and its gan.py line-number gutter."""
    if character_spans:
        code, _ = highlight_overlap(answers.text, np.array(character_spans).T, "<mark>", "</mark>", escape_html=True)
    else:
        code = str(Markup.escape(answers.text))
    gutter = "\n".join("" if number is None else str(number) for number in answers.lines)
    return Markup(code), gutter


REPORT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Similarity of the answers in gan.py</title>
<style>
body { font-family: sans-serif; margin: 1.5em; max-width: 110em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.flag { color: #a00; font-weight: bold; }
.side { display: flex; gap: 1em; }
.side > div { flex: 1; min-width: 0; }
.code { display: flex; border: 1px solid #bbb; overflow-x: auto; }
pre { margin: 0; padding: 0.3em; font-size: 0.85em; line-height: 1.3; }
pre.gutter { color: #888; text-align: right; border-right: 1px solid #ddd; user-select: none; }
mark { background: #ffd27a; }
</style>
</head>
<body>
<h1>Similarity of the answers in gan.py</h1>
<h2>How to read this report</h2>
<ul>
<li>Only the code between the <code>START OF YOUR CODE</code> and <code>END OF YOUR CODE</code> lines is
compared. The starter code (docstrings, provided helpers, the stubs) is boilerplate and never counts, so a
blank template scores 0 against everyone. A gan.py whose markers were removed is compared whole, with the
template still excluded; its rows say <em>whole file</em>.</li>
<li>Code is compared after normalization (names become one symbol, strings another, comments and blank space
are dropped), so renaming variables or reordering functions does not hide a copy; shared code must run for
at least {{ noise }} normalized characters to count. The <em>similarity</em> of a student is the share of
their answer tokens that also appear in the other's answer; a pair's <em>score</em> is the larger of the two.</li>
<li><strong>A high score alone is not evidence.</strong> The docstrings fix every layer of every
architecture, and most answers are one or a few lines: two correct solutions written independently are
expected to be similar, and short answers converge. Look for <strong>shared oddities</strong> instead: the
same unusual variable or helper, the same detour, the same mistake, the same comments (comments are not
scored, but they are shown below).</li>
<li><em>Beyond reference</em> is the score with everything in the course's reference solution excluded too:
two students who both wrote the natural (reference-like) code score low there, and a high value means they
share code that the reference does not have. <em>Reference</em> is the share of one student's answer found in
the reference solution; at or above the threshold it is flagged as a near-copy of the reference (which
students never receive).</li>
</ul>
<p>{{ compared }} submissions compared, {{ pair_count }} pairs; threshold {{ '%.2f' % threshold }};
noise {{ noise }} characters; copydetect {{ copydetect }}.
{% if skipped %}Not compared: {{ skipped|length }} (see the students table).{% endif %}</p>

<h2>Pairs at or above {{ '%.2f' % threshold }} ({{ flagged_count }})</h2>
{% if flagged_count > flagged|length %}<p>The first {{ flagged|length }} are shown here; similarity.csv has
every pair.</p>{% endif %}
{% if flagged %}
<table>
<tr><th>#</th><th>student A</th><th>student B</th><th>score</th><th>similarity A</th><th>similarity B</th>
<th>beyond reference</th><th>reference A</th><th>reference B</th><th>shared lines A</th><th>shared lines B</th></tr>
{% for row in flagged %}
<tr><td class="n"><a href="#pair-{{ row.rank }}">{{ row.rank }}</a></td>
<td>{{ row.name_a }}{% if row.whole_a %} <em>(whole file)</em>{% endif %}</td>
<td>{{ row.name_b }}{% if row.whole_b %} <em>(whole file)</em>{% endif %}</td>
<td class="n"><strong>{{ row.score }}</strong></td><td class="n">{{ row.similarity_a }}</td>
<td class="n">{{ row.similarity_b }}</td><td class="n">{{ row.beyond_reference }}</td>
<td class="n">{{ row.reference_a }}</td><td class="n">{{ row.reference_b }}</td>
<td>{{ row.lines_a }}</td><td>{{ row.lines_b }}</td></tr>
{% endfor %}
</table>
{% else %}
<p>None.</p>
{% endif %}

<h2>Students</h2>
<table>
<tr><th>student</th><th>name</th><th>compared</th><th>answer size</th><th>reference</th><th>closest</th>
<th>note</th></tr>
{% for row in students %}
<tr><td>{{ row.student }}</td><td>{{ row.name }}</td><td>{{ row.scope }}</td><td class="n">{{ row.tokens }}</td>
<td class="n">{% if row.near %}<span class="flag">{{ row.reference }} near-copy</span>
{%- else %}{{ row.reference }}{% endif %}</td>
<td>{{ row.closest }}</td><td>{{ row.note }}</td></tr>
{% endfor %}
</table>

{% for row in flagged %}
<h2 id="pair-{{ row.rank }}">#{{ row.rank }}: {{ row.name_a }} and {{ row.name_b }}, score {{ row.score }}</h2>
<div class="side">
{% for side in row.sides %}
<div><p>{{ side.name }}: similarity {{ side.similarity }}, {{ side.scope }}</p>
<div class="code"><pre class="gutter">{{ side.gutter }}</pre><pre>{{ side.code }}</pre></div></div>
{% endfor %}
</div>
{% endfor %}
</body>
</html>
"""

PAIR_COLUMNS = [
    "rank", "student_a", "student_b", "name_a", "name_b", "score", "similarity_a", "similarity_b",
    "beyond_reference", "reference_a", "reference_b", "shared_tokens", "shared_lines_a", "shared_lines_b",
    "lines_a", "lines_b", "compared_a", "compared_b", "flagged",
]  # fmt: skip
STUDENT_COLUMNS = ["student", "name", "compared", "answer_tokens", "reference", "near_reference", "closest", "note"]


def pair_row(rank, pair, comparison, names, threshold):
    """One pair as the CSV and the HTML show it."""
    reference = comparison.reference or {}
    beyond = None if pair.beyond_reference is None else pair.beyond
    return {
        "rank": rank,
        "student_a": pair.a,
        "student_b": pair.b,
        "name_a": names.get(pair.a, pair.a),
        "name_b": names.get(pair.b, pair.b),
        "score": percent(pair.score),
        "similarity_a": percent(pair.similarity[0]),
        "similarity_b": percent(pair.similarity[1]),
        "beyond_reference": percent(beyond),
        "reference_a": percent(reference.get(pair.a)),
        "reference_b": percent(reference.get(pair.b)),
        "shared_tokens": pair.shared_tokens,
        "shared_lines_a": len(pair.lines[0]),
        "shared_lines_b": len(pair.lines[1]),
        "lines_a": line_ranges(pair.lines[0]),
        "lines_b": line_ranges(pair.lines[1]),
        "compared_a": scope(comparison.answers[pair.a]),
        "compared_b": scope(comparison.answers[pair.b]),
        "flagged": "yes" if pair.score >= threshold else "",
    }


def student_rows(comparison, names, notes, skipped, threshold):
    """One row per submission, compared or not (every submission gets a row)."""
    closest = {}
    for pair in comparison.pairs:  # ranked: the first pair naming a student is its closest
        if pair.score > 0:
            closest.setdefault(pair.a, f"{pair.b} ({pair.score:.2f})")
            closest.setdefault(pair.b, f"{pair.a} ({pair.score:.2f})")
    reference = comparison.reference or {}
    rows = []
    for label in sorted(set(comparison.answers) | set(skipped)):
        answers = comparison.answers.get(label)
        near = reference.get(label)
        row_notes = [note for note in (answers.note if answers else "", notes.get(label, "")) if note]
        rows.append(
            {
                "student": label,
                "name": names.get(label, label),
                "compared": scope(answers) if answers else "not compared",
                "answer_tokens": comparison.tokens[label] if answers else "",
                "reference": percent(near),
                "near_reference": "yes" if near is not None and near >= threshold else "",
                "closest": closest.get(label, ""),
                "note": "; ".join(row_notes) if answers else skipped[label],
            }
        )
    return rows


def write_report(comparison, out, threshold=THRESHOLD, names=None, notes=None, skipped=None, show=SHOW):
    """Write similarity.html, similarity.csv and students.csv into `out`; returns their paths.

    names: {label: display name}; notes: {label: text} shown on a student's row; skipped: {label: why} for
    submissions that could not be compared (no gan.py ...): they get a row too. The HTML shows the first
    `show` flagged pairs side by side (a class that converged on the reference can flag thousands of pairs:
    every one of them would make the page unusable); the CSV has every pair.
    """
    names, notes, skipped = names or {}, notes or {}, skipped or {}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [pair_row(rank, pair, comparison, names, threshold) for rank, pair in enumerate(comparison.pairs, 1)]
    students = student_rows(comparison, names, notes, skipped, threshold)
    paths = {"html": out / "similarity.html", "pairs": out / "similarity.csv", "students": out / "students.csv"}
    for path, columns, content in [
        (paths["pairs"], PAIR_COLUMNS, rows),
        (paths["students"], STUDENT_COLUMNS, students),
    ]:
        with open(path, "w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=columns)
            writer.writeheader()
            writer.writerows(content)

    flagged_count = sum(pair.score >= threshold for pair in comparison.pairs)
    flagged = []
    for row, pair in zip(rows[:show], comparison.pairs[:show], strict=True):
        if pair.score < threshold:
            break
        sides = []
        for label, similarity, character_spans in zip((pair.a, pair.b), pair.similarity, pair.slices, strict=True):
            code, gutter = highlighted(comparison.answers[label], character_spans)
            answers = comparison.answers[label]
            sides.append(
                {
                    "name": names.get(label, label),
                    "similarity": percent(similarity),
                    "scope": "whole gan.py" if answers.whole_file else "answer regions (gan.py line numbers)",
                    "code": code,
                    "gutter": gutter,
                }
            )
        flagged.append(
            {**row, "whole_a": row["compared_a"] == "whole file", "whole_b": row["compared_b"] == "whole file"}
            | {"sides": sides}
        )
    html = (
        Environment(autoescape=True)
        .from_string(REPORT)
        .render(
            compared=len(comparison.answers),
            pair_count=len(comparison.pairs),
            threshold=threshold,
            noise=comparison.noise,
            copydetect=version("copydetect"),
            skipped=skipped,
            flagged=flagged,
            flagged_count=flagged_count,
            students=[
                row | {"scope": row["compared"], "tokens": row["answer_tokens"], "near": bool(row["near_reference"])}
                for row in students
            ],
        )
    )
    paths["html"].write_text(html, encoding="utf-8")
    return paths


def summary(comparison, threshold=THRESHOLD, names=None, skipped=None, paths=None, top=10):
    """A short text summary for the terminal."""
    names, skipped = names or {}, skipped or {}
    flagged = [pair for pair in comparison.pairs if pair.score >= threshold]
    lines = [
        f"Similarity of {len(comparison.answers)} gan.py files ({len(comparison.pairs)} pairs, "
        f"noise {comparison.noise}, threshold {threshold:.2f}):",
        f"  {len(flagged)} pairs at or above {threshold:.2f}" + (":" if flagged else ""),
    ]
    shown = [(pair, names.get(pair.a, pair.a), names.get(pair.b, pair.b)) for pair in flagged[:top]]
    width_a = max([len(a) for _, a, _ in shown] + [1])
    width_b = max([len(b) for _, _, b in shown] + [1])
    for pair, a, b in shown:
        beyond = "" if pair.beyond_reference is None else f"  beyond reference {pair.beyond:.2f}"
        lines.append(f"    {pair.score:.2f}  {a:<{width_a}} ~ {b:<{width_b}}{beyond}".rstrip())
    if len(flagged) > top:
        lines.append(f"    ... and {len(flagged) - top} more (see the report)")
    if comparison.reference is not None:
        near = sorted((-value, label) for label, value in comparison.reference.items() if value >= threshold)
        listed = ", ".join(f"{names.get(label, label)} {-value:.2f}" for value, label in near)
        lines.append(f"  near-copies of the reference solution: {listed or 'none'}")
    whole = [names.get(label, label) for label, item in sorted(comparison.answers.items()) if item.whole_file]
    if whole:
        lines.append(f"  compared as whole files (answer markers missing or altered): {', '.join(whole)}")
    if skipped:
        lines.append("  not compared: " + ", ".join(f"{names.get(k, k)} ({why})" for k, why in sorted(skipped.items())))
    if paths:
        lines.append("Report: " + ", ".join(str(path) for path in paths.values()))
    return "\n".join(lines)


def read_submissions(root):
    """({key: gan.py text}, {key: name}, {key: note}, {key: why not compared}) from submissions.collect(root).

    Each gan.py is read as the grader reads it: a plain file, never through a link, within its size limit.
    """
    texts, names, notes, skipped = {}, {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for submission in submissions.collect(root):
            key = submission.key
            names[key] = submission.name
            problems = "; ".join(str(problem) for problem in submission.problems)
            if "gan" not in submission.files:
                skipped[key] = problems or "no gan.py"
                continue
            try:
                submission.copy("gan", Path(tmp) / "gan.py")
            except submissions.Refused as error:
                skipped[key] = str(error)
                continue
            raw = (Path(tmp) / "gan.py").read_bytes()
            read_text(key, raw, problems, texts, notes)
    return texts, names, notes, skipped


def read_text(key, raw, problems, texts, notes):
    """Decode one gan.py (UTF-8; undecodable bytes replaced, with a note)."""
    try:
        texts[key] = raw.decode("utf-8")
    except UnicodeDecodeError:
        texts[key] = raw.decode("utf-8", errors="replace")
        problems = "; ".join(filter(None, [problems, "gan.py is not UTF-8: undecodable bytes replaced"]))
    if problems:
        notes[key] = problems


def fraction(text):
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="folder or .zip of submissions (as for autograde)")
    parser.add_argument(
        "--out", type=Path, required=True, help="folder for similarity.html, similarity.csv, students.csv"
    )
    parser.add_argument(
        "--threshold", type=fraction, default=THRESHOLD, help="pairs at or above this score are flagged"
    )
    parser.add_argument(
        "--show", type=positive, default=SHOW, help="flagged pairs shown side by side in the HTML (CSV: all)"
    )
    parser.add_argument(
        "--noise", type=positive, default=NOISE, help="shortest shared run of normalized code, in characters"
    )
    args = parser.parse_args(argv)
    if not args.submissions.exists():
        parser.error(f"{args.submissions} does not exist")
    if args.submissions.is_file():
        if args.submissions.suffix != ".zip":
            parser.error(f"{args.submissions} is neither a folder nor a .zip")
        with tempfile.TemporaryDirectory() as tmp:
            texts, names, notes, skipped = read_submissions(submissions.unpack(args.submissions, tmp))
    else:
        texts, names, notes, skipped = read_submissions(args.submissions)
    comparison = compare(texts, STUDENT_GAN.read_text(), SOLUTION_GAN.read_text(), noise=args.noise)
    paths = write_report(comparison, args.out, args.threshold, names, notes, skipped, show=args.show)
    print(summary(comparison, args.threshold, names, skipped, paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
