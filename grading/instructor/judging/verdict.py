"""A judge's verdict on one graded item, and the file that carries a submission's verdicts to nbgrader.

The grader judges in its own process and writes every verdict it has before the notebook runs
(`save`); the course's nbgrader pass (judged_grades.py) reads them (`load`), judges the notebook's answers, and
writes the verdicts it scored with, which the grader reads back for the submission's row.
"""

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Verdict:
    passed: bool
    message: str
    details: dict = field(default_factory=dict)


class ExportError(Exception):
    """An export file that is missing, too large or malformed (its message is the reason)."""


def clean(text, limit=200):
    """Student-made text (exception messages) as one short line of printable characters."""
    text = re.sub(r"\s+", " ", str(text))
    text = "".join(ch for ch in text if ch.isprintable())
    return text[:limit] + ("..." if len(text) > limit else "")


def save(path, verdicts):
    """Write {grade id: Verdict, or None: an item nobody has scored yet (graded by hand)} to `path` as JSON."""
    data = {item: None if verdict is None else asdict(verdict) for item, verdict in verdicts.items()}
    Path(path).write_text(json.dumps(data, indent=1))


def load(path):
    """The verdicts `save` wrote to `path` ({grade id: Verdict or None})."""
    data = json.loads(Path(path).read_text())
    return {item: None if fields is None else Verdict(**fields) for item, fields in data.items()}
