"""Grades out to the LMS: the LMS columns of grades.csv, and a gradebook file Canvas imports as is.

    python -m grading.instructor.outputs.lms canvas --roster gradebook.csv --grades RESULTS/grades.csv \\
        --column "GANs-PyTorch" --out upload.csv

Canvas's gradebook CSV (Grades > Export; lib/gradebook_exporter.rb, read back by lib/gradebook_importer.rb
in canvas-lms) has a header row
    Student, ID, [SIS User ID], SIS Login ID, [Integration ID], [Root Account], Section,
    <custom columns>, one column per assignment titled "<title> (<assignment id>)", read-only totals
(or LastName, FirstName in place of Student), an optional row of "Manual Posting" markers, a
"    Points Possible" row, then one row per student; ID is the Canvas user id, the same number as in
the file names of "Download Submissions". The importer finds each student by ID (then the SIS ids,
then the name), reads only the assignment columns the file has, skips unchanged scores, and reads a
blank cell as "no score", which clears a score Canvas already holds.

So the upload keeps the roster's rows and leading columns (up to Section) unchanged and has exactly one
assignment column, the chosen one: a student with a graded submission gets its total_score (matched on
the Canvas user id, or on Gradescope's sid = SIS User ID); a student without one keeps the roster's
cell (blank when Canvas has no score: never 0), an excused ("EX") student stays excused. Other
assignment columns are left out so that an old export cannot overwrite newer grades. Submissions the
roster lacks are listed, never dropped silently; so are the students without a submission and the rows
graded with problems.
"""

import argparse
import csv
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

EXTRA_COLUMNS = ("name", "source", "lms_id", "sid", "late", "submitted_at")
MARKER_ROW = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.I)
FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would run as a formula


def extra_columns(submission):
    """{column: text} that grades.csv carries for one Submission, after its `student` (= key) column.

    A name a spreadsheet would run as a formula ("=HYPERLINK(...)") is written with a leading "'".
    """
    name = submission.name
    return {
        "name": "'" + name if name.startswith(FORMULA) else name,
        "source": submission.source,
        "lms_id": submission.lms_id or "",
        "sid": submission.sid or "",
        "late": "yes" if submission.late else "no",
        "submitted_at": submission.submitted_at.isoformat() if submission.submitted_at else "",
    }


@dataclass
class Upload:
    """The Canvas import file and what an instructor must know about it."""

    column: str  # the roster's header of the chosen assignment column
    rows: list = field(default_factory=list)  # the CSV to write, header first
    delimiter: str = ","
    bom: bool = False
    newline: str = "\n"
    students: int = 0  # student rows in the roster
    filled: list = field(default_factory=list)  # (student, Canvas id, score)
    without_submission: list = field(default_factory=list)  # (student, Canvas id, cell kept)
    unknown: list = field(default_factory=list)  # (key, name, source, lms_id, why not uploaded)
    with_problems: list = field(default_factory=list)  # (student, Canvas id, reason)
    notes: list = field(default_factory=list)


def read_table(path):
    """(rows, delimiter, bom, newline) of a CSV file written by Canvas or by hand (comma or semicolon)."""
    raw = Path(path).read_bytes()
    text = raw.decode("utf-8-sig")
    first = text.splitlines()[0] if text else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return rows, delimiter, raw.startswith(b"\xef\xbb\xbf"), "\r\n" if b"\r\n" in raw else "\n"


def read_grades(path):
    """The rows of grades.csv as dicts, checked for the columns the upload needs."""
    rows, delimiter, _, _ = read_table(path)
    if not rows:
        raise SystemExit(f"{path} is empty")
    header = rows[0]
    needed = ("student", "source", "lms_id", "total_score")
    lacking = [name for name in needed if name not in header]
    if lacking:
        raise SystemExit(f"{path} has no {', '.join(lacking)} column: is it the grades.csv autograde writes?")
    return [dict(zip(header, row + [""] * (len(header) - len(row)), strict=False)) for row in rows[1:] if any(row)]


def pick_column(header, first, column):
    """The index of the assignment column `column` ("<title>" or "<title> (<id>)") in the roster header."""
    wanted = [
        i
        for i, title in enumerate(header)
        if i >= first and (title == column or re.fullmatch(re.escape(column) + r" \(\d+\)", title))
    ]
    if len(wanted) == 1:
        return wanted[0]
    assignments = [title for title in header[first:] if re.search(r" \(\d+\)$", title)]
    if not wanted:
        raise SystemExit(f"no assignment column {column!r} in the roster; its assignment columns: {assignments}")
    raise SystemExit(
        f"{len(wanted)} columns match {column!r}: {[header[i] for i in wanted]}; give the full one with its id"
    )


def score_text(value):
    """A total as Canvas shows it: at most two decimals, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def canvas_upload(roster, grades, column):
    """An Upload: `roster` (Canvas gradebook export) with `column` filled from `grades` (grades.csv)."""
    rows, delimiter, bom, newline = read_table(roster)
    if not rows:
        raise SystemExit(f"{roster} is empty")
    header = rows[0]
    if not (header and ("Student" in header[0] or header[:2] == ["LastName", "FirstName"])):
        raise SystemExit(f"{roster} is not a Canvas gradebook export: its first column is not Student")
    for needed in ("ID", "Section"):
        if needed not in header:
            raise SystemExit(f"{roster} is not a Canvas gradebook export: it has no {needed} column")
    id_at, section_at = header.index("ID"), header.index("Section")
    sis_at = header.index("SIS User ID") if "SIS User ID" in header else None
    at = pick_column(header, section_at + 1, column)
    upload = Upload(column=header[at], delimiter=delimiter, bom=bom, newline=newline)

    by_canvas, by_sid, graded = {}, {}, read_grades(grades)
    for row in graded:
        if row["source"] == "canvas" and row["lms_id"].isdigit():
            by_canvas.setdefault(row["lms_id"], []).append(row)
        elif row.get("sid") and sis_at is not None:
            by_sid.setdefault(row["sid"], []).append(row)
        else:
            why = f"no Canvas user id (source {row['source'] or '?'}, id {row['lms_id'] or '-'})"
            upload.unknown.append((row["student"], row.get("name", ""), row["source"], row["lms_id"], why))

    used, points = set(), None
    for number, row in enumerate(rows):
        row = row + [""] * (len(header) - len(row))
        out = row[: section_at + 1] + [row[at]]
        if number == 0:
            upload.rows.append(out)
            continue
        if "Points Possible" in row[0]:
            points = row[at]
        elif not all(MARKER_ROW.match(cell) for cell in row):
            upload.students += 1
            sis = row[sis_at] if sis_at is not None else ""
            out[-1] = _student(upload, row, row[id_at], sis, at, by_canvas, by_sid, used)
        upload.rows.append(out)

    for table in (by_canvas, by_sid):
        for matches in table.values():
            for match in matches:
                if id(match) not in used:
                    upload.unknown.append(
                        (match["student"], match.get("name", ""), match["source"], match["lms_id"], "not in the roster")
                    )
    maxima = {row.get("total_max", "") for row in graded} - {""}
    if points is not None and maxima and any(_number(m) != _number(points) for m in maxima):
        totals = ", ".join(sorted(maxima))
        upload.notes.append(f"{upload.column} is out of {points.strip()} points in Canvas, the totals out of {totals}")
    return upload


def _student(upload, row, canvas_id, sis_id, at, by_canvas, by_sid, used):
    """The cell of one roster student: their total, or the roster's cell kept, with the reason recorded."""
    student, canvas_id = row[0], canvas_id.strip()
    matches = by_canvas.get(canvas_id) or (by_sid.get(sis_id.strip()) if sis_id.strip() else None) or []
    cell = row[at]
    if not matches:
        upload.without_submission.append((student, canvas_id, cell))
        return cell
    for match in matches:
        used.add(id(match))
    if len(matches) > 1:
        keys = ", ".join(m["student"] for m in matches)
        upload.notes.append(f"{student} (ID {canvas_id}): {len(matches)} graded rows ({keys}): left as in Canvas")
        return cell
    match = matches[0]
    score = _number(match["total_score"])
    if score is None:
        upload.notes.append(f"{student} (ID {canvas_id}): total_score {match['total_score']!r} is not a number")
        return cell
    if match.get("status", "ok") not in ("", "ok"):
        upload.with_problems.append((student, canvas_id, match.get("reason", "")))
    who = f"{student} (ID {canvas_id})"
    if cell.strip().upper() == "EX":
        upload.notes.append(f"{who} is excused (EX) in Canvas: left excused (total {score_text(score)})")
        return cell
    if cell.strip() == "N/A":
        upload.notes.append(f"{who}: the assignment is not assigned to them in Canvas (N/A): the import ignores it")
    elif cell.strip() and _number(cell) != round(score, 2):
        upload.notes.append(f"{who}: Canvas's {cell.strip()} is replaced by {score_text(score)}")
    upload.filled.append((student, canvas_id, score_text(score)))
    return score_text(score)


def _number(text):
    try:
        return round(float(str(text).strip().replace(",", ".")), 2)
    except ValueError:
        return None


def write_upload(upload, path):
    """Write the Upload as CSV in the roster's own dialect (delimiter, BOM, line ends)."""
    with open(path, "w", newline="", encoding="utf-8-sig" if upload.bom else "utf-8") as f:
        writer = csv.writer(f, delimiter=upload.delimiter, lineterminator=upload.newline)
        writer.writerows(upload.rows)


def summary(upload, out):
    """What the instructor reads after writing the upload: counts, then every student needing a look."""
    lines = [f"{out}: {upload.column} filled for {len(upload.filled)} of {upload.students} students in the roster"]

    def block(title, items):
        if items:
            lines.append(f"{title}: {len(items)}")
            lines.extend(f"  {item}" for item in items)

    missing = [
        f"{name} (ID {cid})" + (f": kept {cell!r}" if cell.strip() else "")
        for name, cid, cell in upload.without_submission
    ]
    block("in the roster without a graded submission (left as in Canvas, blank = no score)", missing)
    unknown = [
        f"{key} ({name or 'no name'}, {source}, id {lms_id or '-'}): {why}"
        for key, name, source, lms_id, why in upload.unknown
    ]
    block("graded submissions not uploaded", unknown)
    problems = [f"{name} (ID {cid}): {reason}" for name, cid, reason in upload.with_problems]
    block("uploaded, graded with problems", problems)
    block("notes", upload.notes)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    canvas = commands.add_parser("canvas", help="a gradebook CSV Canvas imports (Grades > Import)")
    canvas.add_argument("--roster", type=Path, required=True, help="Canvas's gradebook export (Grades > Export)")
    canvas.add_argument("--grades", type=Path, required=True, help="RESULTS/grades.csv from autograde")
    canvas.add_argument("--column", required=True, help='assignment title as in Canvas, e.g. "GANs-PyTorch"')
    canvas.add_argument("--out", type=Path, required=True, help="the CSV to import into Canvas")
    args = parser.parse_args(argv)
    for given in (args.roster, args.grades):
        if args.out.resolve() == given.resolve():
            raise SystemExit(f"--out {args.out} would overwrite {given}: choose another file")
    upload = canvas_upload(args.roster, args.grades, args.column)
    write_upload(upload, args.out)
    print(summary(upload, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
