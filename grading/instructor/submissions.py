"""Find each student's files in a folder of submissions or in an LMS zip export.

Two layouts are accepted (and may be mixed):

- one folder per student:   SUBMISSIONS/<student>/GANs-PyTorch.ipynb and SUBMISSIONS/<student>/gan.py
  (any folder depth below <student>; the first match wins);
- a flat LMS export:        SUBMISSIONS/<student>_<anything>_GANs-PyTorch.ipynb, <student>_<anything>_gan.py
  (Canvas/Bruin Learn style: the student id is the text before the first "_"; a re-submission
  suffix such as "GANs-PyTorch-1.ipynb" is accepted and the highest number wins).

A .zip is unpacked into a temporary folder first.
"""

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grading.kit import ASSIGNMENT

FILES = {
    "notebook": re.compile(rf"(?:^|_){re.escape(ASSIGNMENT)}(?:-(\d+))?\.ipynb$"),
    "gan": re.compile(r"(?:^|_)gan(?:-(\d+))?\.py$"),
}
SKIP = re.compile(r"(^|/)(__MACOSX|\.ipynb_checkpoints|__pycache__)(/|$)")


@dataclass
class Submission:
    student: str
    files: dict = field(default_factory=dict)  # "notebook" / "gan" -> Path
    versions: dict = field(default_factory=dict)  # re-submission number of each file

    def missing(self):
        names = {"notebook": f"{ASSIGNMENT}.ipynb", "gan": "gan.py"}
        return [names[kind] for kind in names if kind not in self.files]


def student_id(text):
    """A safe student id: letters, digits, ".", "-" and "_" only."""
    cleaned = re.sub(r"[^A-Za-z0-9._\-]+", "-", text).strip("-._")
    if not cleaned:
        raise ValueError(f"no usable student id in {text!r}")
    return cleaned


def unpack(path, folder):
    """Unpack a zip safely (no absolute paths or '..')."""
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            target = (Path(folder) / member.filename).resolve()
            if not target.is_relative_to(Path(folder).resolve()):
                raise ValueError(f"{path}: unsafe path in archive: {member.filename}")
        archive.extractall(folder)
    return Path(folder)


def collect(root):
    """{student: Submission} for every student found below `root` (a folder)."""
    root = Path(root)
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if SKIP.search(relative):
            continue
        for kind, pattern in FILES.items():
            match = pattern.search(path.name)
            if not match:
                continue
            if len(path.relative_to(root).parts) > 1:  # one folder per student
                student = student_id(path.relative_to(root).parts[0])
            elif "_" in path.name:  # flat LMS export
                student = student_id(path.name.split("_", 1)[0])
            else:
                continue  # a lone GANs-PyTorch.ipynb at the top names no student
            version = int(match.group(1) or 0)
            submission = found.setdefault(student, Submission(student))
            if kind not in submission.files or version > submission.versions[kind]:
                submission.files[kind], submission.versions[kind] = path, version
    return found
