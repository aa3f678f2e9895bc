"""Find every student's notebook and gan.py in an LMS export: one row per student, whatever it holds.

    collect(SUBMISSIONS) -> Batch    (a list of Submission, and the batch's problems; SUBMISSIONS: a
                                      folder, unpack(zip, folder) first for a zip)

Layouts, recognised entry by entry at the top of SUBMISSIONS, so one folder may mix them:

Canvas, "Download Submissions" (lib/content_zipper.rb in canvas-lms): flat files
    <name>_[LATE_]<user id>_<attachment id>_<file name>     e.g. smithjane_LATE_1234_98765_gan.py
  <name> is the student's sortable name ("Smith, Jane") lower-cased with everything but letters, digits
  and "_" removed (so "smithjane"; non-ASCII letters stay: "张伟"); Canvas also removes "_<digits>_" from it
  so that the first "_<digits>_" is the user id. Anonymous grading writes "anon_<id>" instead of name and
  user id. The second number is the file's attachment id (later uploads have larger ids). A file that
  already existed in the student's Canvas files gets "-1", "-2" ... before its extension
  (Attachment.make_unique_filename). Text and URL entries are "<name>_[LATE_]<user id>_text.html" /
  "_link.html": they name the student (a row) but hold no file. Rows are keyed on the user id, so two
  students with the same name are two rows; `late` is the LATE marker; no time is given.
Moodle, "Download all submissions" (mod/assign/classes/downloader.php): one folder per student and plugin,
    <Full Name>_<participant id>_assignsubmission_file[_]/<the student's files, folders kept>
  ("Participant_<id>" under blind marking; "_" in names becomes " "; Moodle < 3.1 and "download as folders"
  off give flat files "<Full Name>_<id>_assignsubmission_file_<file name>"). Folders of other plugins
  (assignsubmission_onlinetext ...) name the student but are not searched. No time or late flag.
Gradescope, "Export Submissions": submission_metadata.yml beside one folder per submission,
    submission_<submission id>/<the student's files>
  the YAML maps each folder name to {":submitters": [{":name", ":sid", ":email"}], ":created_at": time,
  ":score", ":status", ":results", ":history"} (keys are Ruby symbols, hence the ":"; seen in exports
  published on GitHub). The export may sit in one top-level folder. A group submission gives one row per
  submitter. The samples carry no lateness field: a ":late"/":lateness" entry is honoured if present,
  otherwise `collect(..., due=...)` marks rows submitted after `due` late.
Folder per student: SUBMISSIONS/<student>/..., the student being the folder's name.

Inside one submission, the notebook and gan.py are found whatever the browser, Colab or the LMS renamed:
any case; "Copy of " before; " (1)", "(2)", "-1", " copy", " - Copy" after; "_", "-", " " alike
("GANs_PyTorch.ipynb", "gans-pytorch (1).ipynb", "gan(2).py", "GAN-1.py"). When one kind has several
candidates, the first by this rule is taken and the others are named in `problems`:
  1. the one nearest the top of the submission (a Backup/ or any nested folder never beats the top);
  2. for gan.py, one in the same folder as the chosen notebook;
  3. the exact name (GANs-PyTorch.ipynb, gan.py) over a renamed one;
  4. the highest re-submission number ("-2" over "-1" over none; "(2)" over "(1)");
  5. (Canvas) the later upload (larger attachment id);
  6. the first path in name order.
Only plain files are candidates (grading/instructor/intake/plainfiles.py): links, devices, FIFOs, sockets, hard
links, files whose real path is outside the export and files over the size limits are refused, with the
reason in `problems`, and never read. Dot-files, .ipynb_checkpoints, __MACOSX and __pycache__ are ignored.

Keys (nbgrader student ids): ASCII [A-Za-z0-9._-], a name cut to 80 characters, the same on every run over
the same export. Canvas "<name>-<user id>", Moodle "<name>-<participant id>", Gradescope "<name>-<sid>"
(else a hash of the email, else the submission id), a folder its name; <name> transliterated to ASCII
(anyascii: 张伟 -> ZhangWei, José -> Jose). Two rows whose keys differ only in case or are equal each get
"-<8 hex of a hash of what identifies them>" appended and say so in `problems`. A row that names no
student (a notebook at the top of the export) is keyed "unidentified-<hash of its path>".

Archive members unpack refused (a ".." or absolute path, a link, a FIFO...) go on the row of the student
whose file or folder they name. One that names no student is no row (it is not a student, and would
reach the LMS upload with 0 points): it is one of the batch's problems (`Batch.problems`), which
autograde writes to problems.txt and prints with its summary.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from anyascii import anyascii

from grading.instructor.intake.plainfiles import (
    IGNORED,
    LIMITS,
    MB,
    REFUSED_MANIFEST,
    Refused,
    UnsafeArchive,
    copy_plain,
    kind_of,
    open_plain,
    quote,
    refusal,
    refused_members,
    unpack,
    walk,
)
from grading.kit import ASSIGNMENT, FACES_ASSIGNMENT

__all__ = ["Batch", "Submission", "collect", "unpack", "copy_plain", "Refused", "UnsafeArchive", "LIMITS", "FILE_NAMES"]

FILE_NAMES = {"notebook": f"{ASSIGNMENT}.ipynb", "gan": "gan.py"}
# Part 2's student module and notebook, looked for only when Part 2 is graded (collect(..., faces=True)); never
# "missing": the grader scores faces.py's items 0 with the reason "no faces.py", and without the notebook its
# items graded by hand wait for a TA with nothing to look at (grading/instructor/autograde.py).
OPTIONAL_NAMES = {"faces": "faces.py", "faces_notebook": f"{FACES_ASSIGNMENT}.ipynb"}
NAMES = FILE_NAMES | OPTIONAL_NAMES
KEY_NAME_LENGTH = 80  # characters of a name kept in a key; ids and hashes come on top (nbgrader takes 128)
HASH_LENGTH = 8
METADATA = "submission_metadata.yml"
METADATA_LIMIT = 64 * MB

CANVAS = re.compile(
    r"^(?:(?P<name>.*?)_)??(?:(?P<late>LATE)_)?(?P<id>\d+|anon_[A-Za-z0-9]+)_(?P<attachment>\d+)_(?P<file>.+)$", re.S
)
CANVAS_TEXT = re.compile(r"^(?:(?P<name>.*?)_)??(?:(?P<late>LATE)_)?(?P<id>\d+|anon_[A-Za-z0-9]+)_(?:text|link)\.html$")
MOODLE_FOLDER = re.compile(r"^(?P<name>.*?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[A-Za-z0-9]+)_?$", re.S)
MOODLE_FILE = re.compile(r"^(?P<name>.*?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[A-Za-z0-9]+)_(?P<file>.+)$", re.S)
GRADESCOPE_FOLDER = re.compile(r"^submission_(?P<id>\d+)$")

EXTENSIONS = {"notebook": ".ipynb", "gan": ".py", "faces": ".py", "faces_notebook": ".ipynb"}
TARGETS = {
    "notebook": re.sub(r"[\W_]+", "", ASSIGNMENT).lower(),
    "gan": "gan",
    "faces": "faces",
    "faces_notebook": re.sub(r"[\W_]+", "", FACES_ASSIGNMENT).lower(),
}
COPY_OF = re.compile(r"^(?:copy\s+of\s+)+", re.I)
RENAMED = re.compile(
    r"(?:\s*\((?P<paren>\d+)\)|-(?P<dash>\d+)|\s*(?:-\s*)?copy(?:\s*\((?P<copyparen>\d+)\)|\s+(?P<copynumber>\d+))?)$",
    re.I,
)


@dataclass
class Submission:
    """One row of the grade table: a student (or an unidentified entry) and the files to grade."""

    key: str  # nbgrader student id: ASCII [A-Za-z0-9._-], unique in the batch, stable across re-runs
    name: str  # display name as the export gives it (may be non-ASCII, may be empty)
    source: str  # "canvas" | "moodle" | "gradescope" | "folder" | "unidentified"
    lms_id: str | None = None  # Canvas user id (or anon_ id), Moodle participant id, Gradescope submission id
    late: bool = False
    submitted_at: datetime | None = None  # timezone-aware, when the export gives a time (Gradescope)
    files: dict[str, Path] = field(default_factory=dict)  # "notebook" / "gan" -> a regular file in the export
    problems: list[str] = field(default_factory=list)  # one short sentence each
    sid: str | None = None  # the student id the LMS gives (Gradescope's sid), for matching a roster
    root: Path | None = None  # the export folder: files are below it, copy() reads nothing outside it

    @property
    def student(self):
        """The nbgrader student id (the key)."""
        return self.key

    def missing(self):
        """File names (GANs-PyTorch.ipynb, gan.py) this submission has no usable file for."""
        return [FILE_NAMES[kind] for kind in FILE_NAMES if kind not in self.files]

    def copy(self, kind, destination):
        """Copy files[kind] to `destination` as a plain file (plainfiles.copy_plain); raises Refused."""
        return copy_plain(self.files[kind], destination, LIMITS[kind], root=self.root)


class Batch(list):
    """What collect() found: the rows (a list of Submission) and `problems`, the sentences about what the
    export held that belongs to no student (archive members refused outside any student's files)."""

    def __init__(self, rows=(), problems=()):
        super().__init__(rows)
        self.problems = list(problems)


@dataclass
class Item:
    """A file (or link, FIFO ...) inside one submission."""

    path: Path  # absolute, below the export root
    shown: str  # its path inside the submission, for problems
    filename: str  # the name the student gave it (Canvas and flat Moodle: without the LMS prefix)
    st: os.stat_result | None  # lstat; None for a member unpack refused (nothing on disk)
    attachment: int = 0  # Canvas attachment id
    refused: str | None = None  # why unpack did not write it


@dataclass
class Found:
    """One student's submission while the export is read (before keys are given)."""

    source: str
    identity: str  # what tells this student apart in the export (hashed into the key on a collision)
    base: str  # the key before disambiguation
    name: str
    lms_id: str | None = None
    sid: str | None = None
    late: bool = False
    submitted_at: datetime | None = None
    items: list[Item] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    identify_only: bool = False  # an unidentified row: no "missing" lines
    place: str = ""  # a folder or Gradescope row: its folder's path in the export


def collect(root, due=None, faces=False):
    """Batch: a Submission for every student found in the export folder `root`, sorted by key, and the
    batch's problems.

    Never raises for anything inside the export: what cannot be read becomes a problem on the row of
    the student it belongs to, a row keyed "unidentified-<hash>", or (an archive member refused outside
    any student's files) a problem of the batch. Raises only when `root` itself is not a folder. `due`
    (timezone-aware) marks rows with a submission time after it late. `faces`: find Part 2's faces.py too
    (files["faces"], chosen like gan.py) and its notebook (files["faces_notebook"], chosen like the notebook); their
    absence is no problem of the row.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder of submissions")
    export = Export(root)
    found = export.read()
    if due is not None:
        for entry in found:
            if entry.submitted_at is not None and entry.submitted_at > due:
                entry.late = True
    kinds = NAMES if faces else FILE_NAMES
    return Batch([_submission(entry, key, root, kinds) for entry, key in _keys(found)], export.problems)


class Export:
    """Reads one export folder into Found entries (one per student and source)."""

    def __init__(self, root):
        self.root = root
        self.canvas = {}  # user id -> Found
        self.moodle = {}  # participant id -> Found
        self.others = []  # folders, Gradescope rows, unidentified rows
        self.problems = []  # the batch's: what belongs to no student

    def read(self):
        children = self._children(self.root)
        gradescope_here = any(name == METADATA for name, _ in children)  # read (or refused) by _read_metadata
        for name, st in children:
            if name in (METADATA, REFUSED_MANIFEST) or (gradescope_here and GRADESCOPE_FOLDER.match(name)):
                continue
            try:
                self._top(name, st)
            except Exception as error:  # nothing in an export stops the batch
                self._unidentified(name, f"{quote(name)} could not be read ({type(error).__name__}: {error})")
        try:
            if gradescope_here:
                self._gradescope(self.root, ())
            for member, reason in refused_members(self.root):
                self._refused_member(member, reason)
        except Exception as error:
            self._unidentified(".", f"the export could not be read ({type(error).__name__}: {error})")
        return [*self.canvas.values(), *self.moodle.values(), *self.others]

    # -- the top of the export -----------------------------------------------------------------
    def _children(self, folder):
        """[(name, lstat)] of a folder, ignored names left out, sorted."""
        children = []
        with os.scandir(folder) as listing:
            for entry in sorted(listing, key=lambda e: e.name):
                if not IGNORED.match(entry.name):
                    children.append((entry.name, entry.stat(follow_symlinks=False)))
        return children

    def _top(self, name, st):
        path = self.root / name
        is_folder = stat.S_ISDIR(st.st_mode)
        if is_folder and (match := MOODLE_FOLDER.match(name)):
            entry = self._moodle(match)
            if match["plugin"].lower() == "file":
                self._add_folder(entry, path, name)
        elif is_folder and self._is_gradescope_export(path):
            self._gradescope(path, (name,))
        elif is_folder:
            entry = Found("folder", f"folder:{name}", _slug(name), name, place=name)
            if not entry.base:
                entry.base = f"student-{_hash(name)}"
                entry.problems.append(f"the folder name {quote(name)} has no letter or digit: key made from a hash")
            self._add_folder(entry, path, name)
            self.others.append(entry)
        elif match := CANVAS.match(name):
            entry = self._canvas(match)
            entry.items.append(Item(path, name, match["file"], st, attachment=int(match["attachment"])))
        elif match := CANVAS_TEXT.match(name):
            self._canvas(match)
        elif match := MOODLE_FILE.match(name):
            entry = self._moodle(match)
            if match["plugin"].lower() == "file":
                entry.items.append(Item(path, name, match["file"], st))
        elif stat.S_ISLNK(st.st_mode):
            self._unidentified(name, f"{quote(name)} at the top of the export is a symbolic link: not followed")
        elif _candidate(name):
            self._unidentified(name, f"{quote(name)} at the top of the export names no student: not graded")
        # any other loose file (a README, an index page) names no student and is not the assignment's

    def _is_gradescope_export(self, path):
        """A folder holding submission_metadata.yml and nothing but submission_<id> folders beside it."""
        try:
            children = self._children(path)
        except OSError:
            return False
        names = [name for name, _ in children]
        return METADATA in names and all(GRADESCOPE_FOLDER.match(name) for name in names if name != METADATA)

    def _add_folder(self, entry, folder, shown):
        """Every entry below `folder` (never through a link) as items of `entry`; a failure is its problem."""
        try:
            entries, problems = walk(folder)
        except Exception as error:
            entry.problems.append(f"{quote(shown)} could not be read ({type(error).__name__}: {error})")
            return
        entry.problems += problems
        for parts, st in entries:
            if not stat.S_ISDIR(st.st_mode):
                entry.items.append(Item(folder.joinpath(*parts), "/".join(parts), parts[-1], st))

    def _canvas(self, match):
        user = match["id"]
        if user not in self.canvas:
            name = match["name"] or ""
            if user.startswith("anon_"):
                base = _slug(user)
            else:
                base = f"{_slug(name) or 'canvas'}-{user}"
            self.canvas[user] = Found("canvas", f"canvas:{user}", base, name, lms_id=user)
        entry = self.canvas[user]
        entry.late = entry.late or bool(match["late"])
        return entry

    def _moodle(self, match):
        participant = match["id"]
        if participant not in self.moodle:
            name = match["name"]
            base = f"{_slug(name) or 'moodle'}-{participant}"
            self.moodle[participant] = Found("moodle", f"moodle:{participant}", base, name, lms_id=participant)
        return self.moodle[participant]

    def _unidentified(self, shown, problem):
        entry = Found("unidentified", f"unidentified:{shown}", f"unidentified-{_hash(shown)}", "")
        entry.problems.append(problem)
        entry.identify_only = True
        self.others.append(entry)
        return entry

    # -- Gradescope -----------------------------------------------------------------------------
    def _gradescope(self, folder, prefix):
        """Rows for one Gradescope export: folder holds submission_metadata.yml and submission_<id>/."""
        metadata, problem = _read_metadata(folder / METADATA)
        shown_metadata = "/".join((*prefix, METADATA))
        folders = {name: st for name, st in self._children(folder) if GRADESCOPE_FOLDER.match(name)}
        for name in sorted(set(folders) | {key for key in metadata if GRADESCOPE_FOLDER.match(str(key))}):
            shown = "/".join((*prefix, name))
            try:
                self._gradescope_submission(folder, name, shown, folders.get(name), metadata, problem, shown_metadata)
            except Exception as error:
                self._unidentified(shown, f"{quote(shown)} could not be read ({type(error).__name__}: {error})")
        if problem and not folders:
            self._unidentified(shown_metadata, problem)

    def _gradescope_submission(self, folder, name, shown, st, metadata, problem, shown_metadata):
        submission_id = GRADESCOPE_FOLDER.match(name)["id"]
        record = _symbols(metadata.get(name)) if isinstance(metadata.get(name), dict) else {}
        submitters = [_symbols(s) for s in record.get("submitters") or [] if isinstance(s, dict)]
        submitted_at, time_problem = _time(record.get("created_at"))
        late = _late(record)
        rows = []
        for index, person in enumerate(submitters or [{}]):
            person_name = _text(person.get("name"))
            sid, email = _text(person.get("sid")) or None, _text(person.get("email"))
            if sid and _slug(sid):
                suffix = _slug(sid)
            elif email:
                suffix = _hash(email.lower())
            else:
                suffix = submission_id
            base = f"{_slug(person_name) or 'gradescope'}-{suffix}"
            identity = f"gradescope:{shown}:{index}:{sid or email or person_name}"
            entry = Found("gradescope", identity, base, person_name, lms_id=submission_id, sid=sid, place=shown)
            entry.submitted_at, entry.late = submitted_at, late
            if time_problem:
                entry.problems.append(time_problem)
            rows.append(entry)
        if not submitters:
            rows[0].problems.append(problem or f"{quote(shown)} has no submitter in {quote(shown_metadata)}")
        if len(rows) > 1:
            names = ", ".join(quote(row.name) for row in rows)
            for row in rows:
                row.problems.append(f"a group submission of {len(rows)} students ({names}): the same files for each")
        if st is None:
            rows[0].problems.append(f"{quote(shown)} is listed in {quote(shown_metadata)} but not in the export")
        for row in rows:
            if st is not None and not stat.S_ISDIR(st.st_mode):
                row.problems.append(f"{quote(shown)} is {kind_of(st.st_mode)}: not followed")
            elif st is not None:
                self._add_folder(row, folder / name, shown)
            self.others.append(row)

    # -- members unpack refused ----------------------------------------------------------------
    def _refused_member(self, member, reason):
        """Put a member the archive held but unpack refused on its student's row."""
        parts = [part for part in member.replace("\\", "/").split("/") if part not in ("", ".", "..")]
        top = parts[0] if parts else member
        item = Item(self.root / "/".join(parts) if parts else self.root, member, parts[-1] if parts else member, None)
        item.refused = reason
        if len(parts) == 1 and (match := CANVAS.match(top)):
            item.filename, item.attachment = match["file"], int(match["attachment"])
            self._canvas(match).items.append(item)
        elif len(parts) == 1 and (match := MOODLE_FILE.match(top)):
            item.filename = match["file"]
            self._moodle(match).items.append(item)
        elif len(parts) > 1 and (match := MOODLE_FOLDER.match(top)):
            self._moodle(match).items.append(item)
        else:
            for entry in self.others:
                if entry.source in ("folder", "gradescope") and _owns(entry, parts):
                    entry.items.append(item)
                    return
            self.problems.append(f"archive member {quote(member)} refused: {reason}; it names no student: no row")


def _owns(entry, parts):
    """Whether a refused member's path lies below this folder's or Gradescope row's folder."""
    depth = entry.place.count("/") + 1
    return bool(entry.place) and len(parts) > depth and "/".join(parts[:depth]) == entry.place


# -- choosing the files ---------------------------------------------------------------------------
def _candidate(filename, kinds=FILE_NAMES):
    """(kind, exact, numbers) when `filename` is one of `kinds` (the notebook, gan.py ...), however renamed; else
    None."""
    lower = filename.lower()
    for kind in kinds:
        if not lower.endswith(EXTENSIONS[kind]):
            continue
        stem = COPY_OF.sub("", filename[: -len(EXTENSIONS[kind])].strip())
        numbers = []
        while (match := RENAMED.search(stem)) and match.start() > 0:
            numbers.append(int(next((group for group in match.groups() if group), "0")))
            stem = stem[: match.start()].rstrip()
        if re.sub(r"[\s._-]+", "", stem).lower() == TARGETS[kind]:
            return kind, filename == kinds[kind], tuple(numbers)
    return None


def _choose(entry, root, kinds=FILE_NAMES):
    """files and problems for one submission: the rule of the module docstring, applied per kind of `kinds`."""
    files, problems, others, odd = {}, [], [], []
    candidates = defaultdict(list)
    for item in entry.items:
        match = _candidate(item.filename, kinds)
        if item.refused is not None:
            reason = f"the archive member was not unpacked: {item.refused}"
        elif match is not None:
            reason = refusal(item.path, item.st, LIMITS[match[0]], root)
        else:
            if not stat.S_ISREG(item.st.st_mode):
                odd.append(f"{quote(item.shown)} ({kind_of(item.st.st_mode)})")
            else:
                others.append(quote(item.shown))
            continue
        if reason is None:
            candidates[match[0]].append((item, match))
        elif match is not None:
            problems.append(f"{kinds[match[0]]} candidate {quote(item.shown)} refused: {reason}")
        else:
            problems.append(f"{quote(item.shown)} refused: {reason}")
    if odd:
        problems.append(f"not plain files, ignored: {', '.join(odd[:5])}" + (" ..." if len(odd) > 5 else ""))
    for kind in kinds:
        found = candidates[kind]
        if not found:
            continue
        folder = files["notebook"].parent if kind != "notebook" and "notebook" in files else None
        ranked = sorted(found, key=lambda c: _rank(c, folder))
        files[kind] = ranked[0][0].path
        if len(ranked) > 1:
            why = _why(ranked[0], ranked[1], folder)
            rest = ", ".join(quote(item.shown) for item, _ in ranked[1:6]) + (" ..." if len(ranked) > 6 else "")
            problems.append(
                f"{len(ranked)} candidates for {kinds[kind]}: graded {quote(ranked[0][0].shown)} ({why}); "
                f"not graded: {rest}"
            )
    if not entry.identify_only:
        for kind in FILE_NAMES:
            if kind not in files:
                seen = f" (the submission has: {', '.join(others[:5])}{' ...' if len(others) > 5 else ''})"
                problems.append(f"missing {FILE_NAMES[kind]}" + (seen if others else ""))
    return files, problems


def _rank(candidate, folder):
    item, (_, exact, numbers) = candidate
    depth = item.shown.count("/")
    beside = folder is None or item.path.parent == folder
    return (depth, not beside, not exact, tuple(-n for n in numbers) or (1,), -item.attachment, item.shown)


def _why(first, second, folder):
    """Which step of the rule put `first` before `second`, in words."""
    a, b = _rank(first, folder), _rank(second, folder)
    steps = (
        "nearest the top of the submission",
        "beside the notebook",
        "the exact name",
        "the highest re-submission number",
        "the later upload",
        "first in name order",
    )
    return next((step for step, x, y in zip(steps, a, b, strict=True) if x != y), steps[-1])


# -- keys -----------------------------------------------------------------------------------------
def _slug(text, limit=KEY_NAME_LENGTH):
    """An ASCII id from any text: transliterated (anyascii), runs of other characters as "-"."""
    ascii_text = anyascii(str(text))
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text)
    slug = re.sub(r"-{2,}", "-", slug).strip("-._")
    return slug[:limit].strip("-._")


def _hash(text, length=HASH_LENGTH):
    return hashlib.sha256(str(text).encode("utf-8", "surrogatepass")).hexdigest()[:length]


def _keys(found):
    """[(Found, key)]: every base key, made unique (case-insensitively) by hashing the colliding ones."""
    groups = defaultdict(list)
    for entry in found:
        groups[entry.base.lower()].append(entry)
    keys, used = {}, {base for base, members in groups.items() if len(members) == 1}
    for _, members in sorted(groups.items()):
        if len(members) == 1:
            keys[id(members[0])] = members[0].base
            continue
        members = sorted(members, key=lambda e: e.identity)
        for entry in members:
            length = HASH_LENGTH
            while (key := f"{entry.base}-{_hash(entry.identity, length)}").lower() in used:
                length += 4
            used.add(key.lower())
            keys[id(entry)] = key
            entry.problems.append(
                f"key {entry.base} would be shared by {len(members)} submissions "
                f"({', '.join(quote(m.name or m.identity) for m in members[:5])}): this one is {key}"
            )
    return sorted(((entry, keys[id(entry)]) for entry in found), key=lambda pair: pair[1])


def _submission(entry, key, root, kinds=FILE_NAMES):
    try:
        files, problems = _choose(entry, root, kinds)
    except Exception as error:  # a bug or an unreadable entry must not lose the row
        files, problems = {}, [f"its files could not be examined ({type(error).__name__}: {error})"]
    return Submission(
        key=key,
        name=entry.name,
        source=entry.source,
        lms_id=entry.lms_id,
        late=entry.late,
        submitted_at=entry.submitted_at,
        files=files,
        problems=entry.problems + problems,
        sid=entry.sid,
        root=root,
    )


# -- Gradescope metadata --------------------------------------------------------------------------
class MetadataLoader(yaml.SafeLoader):
    """yaml's SafeLoader, reading Ruby-tagged nodes (!ruby/object ...) as plain data instead of failing."""


def _untagged(loader, suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


MetadataLoader.add_multi_constructor("!", _untagged)


def _read_metadata(path):
    """({folder: record}, problem or None) from submission_metadata.yml, read as a plain file."""
    try:
        st = os.lstat(path)
        reason = refusal(path, st, METADATA_LIMIT, path.parent.resolve())
        if reason:
            return {}, f"{METADATA} refused: {reason}"
        with os.fdopen(open_plain(path), "rb") as f:
            data = yaml.load(f, Loader=MetadataLoader)
    except FileNotFoundError:
        return {}, f"no {METADATA}: names unknown"
    except Exception as error:
        return {}, f"{METADATA} could not be read ({type(error).__name__}: {str(error)[:200]})"
    if not isinstance(data, dict):
        return {}, f"{METADATA} is not a mapping of submission folders"
    return data, None


def _symbols(record):
    """A metadata record with Ruby's symbol colons dropped from its keys (":name" -> "name")."""
    return {str(key).lstrip(":"): value for key, value in record.items()}


def _text(value):
    return "" if value is None else str(value).strip()


def _time(value):
    """(aware datetime or None, problem or None) from a metadata time."""
    if value is None:
        return None, None
    if isinstance(value, str):
        text = value.strip().replace(" Z", "+00:00").replace("Z", "+00:00")
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
        text = re.sub(r"\s+([+-]\d\d:?\d\d)$", r"\1", text)
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None, f"submission time {quote(value)} could not be read"
    if not isinstance(value, datetime):
        return None, f"submission time {quote(value)} could not be read"
    if value.tzinfo is None or value.utcoffset() is None:
        return None, f"submission time {quote(value)} has no time zone: not used"
    return value, None


def _late(record):
    """The lateness the metadata states, if it states one (":late" true, or ":lateness" over zero)."""
    if isinstance(record.get("late"), bool):
        return record["late"]
    lateness = record.get("lateness")
    if isinstance(lateness, int | float) and not isinstance(lateness, bool):
        return lateness > 0
    if isinstance(lateness, str) and (match := re.fullmatch(r"\s*(\d+):(\d\d):(\d\d)\s*", lateness)):
        hours, minutes, seconds = map(int, match.groups())
        return timedelta(hours=hours, minutes=minutes, seconds=seconds) > timedelta(0)
    return False
