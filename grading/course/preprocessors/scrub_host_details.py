"""Autograde pass: no path, host name or environment value of the grader's machine reaches an output.

The sandbox shows student code only neutral paths (/assignment, /opt/venv...), the host name
"sandbox" and an environment of its own, so nothing of the grader's machine should reach an output
in the first place. This is the last line of defence, for feedback and formgrader alike: every
output's text (streams, errors, text/plain) has, longest first,

- the grader's paths (its home folder, the Python environment's prefixes, the course folder
  nbgrader runs in, the kit's folder, and any in `paths`) replaced by <HOME>, <PYTHON>,
  <PYTHON-BASE>, <COURSE>, <KIT>, <PATH>;
- the host name replaced by <HOST> (as a whole word; names shorter than 3 characters are kept);
- the value of every environment variable of the nbgrader process that is 8 characters or longer,
  not a system path (/usr/..., /etc/...) and not named in `keep_environment` (values the sandbox is
  given anyway, or that are the same everywhere) replaced by <$NAME>.

Everything is matched as a whole: "/root" is not hidden in "/rootfs", nor "autograde" in "autograded".
"""

import os
import re
import socket
import sys
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, List, Unicode

PUBLIC = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/dev", "/proc", "/opt/venv", "/opt/python")
MIN_VALUE = 8


def variants(path):
    """A path as given and as resolved (they differ through symbolic links)."""
    found = {str(path).rstrip("/")}
    try:
        found.add(str(Path(path).resolve()))
    except OSError:
        pass
    return {p for p in found if len(p) > 1}


def whole(text):
    """A regular expression matching `text` only where it does not run on into a longer word or name."""
    before = r"(?<![\w.-])" if re.match(r"[\w.-]", text) else ""
    after = r"(?![\w-])" if re.search(r"[\w.-]$", text) else ""
    return before + re.escape(text) + after


def public(value):
    """True for the root and the system's own paths: the same on every machine, and visible in the sandbox."""
    return value in ("/", "/tmp") or any(value == p or value.startswith(p + "/") for p in PUBLIC)


class ScrubHostDetails(Preprocessor):
    enabled = Bool(True, help="nbconvert's preprocessors are off unless enabled").tag(config=True)
    paths = List(Unicode(), help="More grader paths to hide in outputs (submissions, results...)").tag(config=True)
    environment = Bool(True, help="Hide the values of the grader's environment variables").tag(config=True)
    keep_environment = List(
        Unicode(),
        ["NBGRADER_EXECUTION", "GAN_KIT_BUDGET", "LANG", "LC_ALL", "TERM", "COLORTERM", "SHELL", "OMP_NUM_THREADS"],
        help="Environment variables whose values are no secret (the sandbox gets them, or they are common)",
    ).tag(config=True)
    hostname = Bool(True, help="Hide the grader's host name").tag(config=True)

    def replacements(self):
        """{text to hide: placeholder}."""
        found = {}
        if self.environment:
            for name, value in os.environ.items():
                if len(value) >= MIN_VALUE and not public(value) and name not in self.keep_environment:
                    found.setdefault(value, f"<${name}>")
        labelled = [(p, "<PATH>") for p in self.paths]
        labelled += [(os.getcwd(), "<COURSE>"), (Path.home(), "<HOME>"), (sys.base_prefix, "<PYTHON-BASE>")]
        labelled += [(sys.prefix, "<PYTHON>")]
        if os.environ.get("GAN_KIT_ROOT"):
            labelled.append((os.environ["GAN_KIT_ROOT"], "<KIT>"))
        for path, label in labelled:
            for variant in variants(path):
                if not public(variant):
                    found[variant] = label  # a path's own label wins over an environment variable's
        return found

    def preprocess(self, nb, resources):
        found = self.replacements()
        host = socket.gethostname()
        if self.hostname and len(host) >= 3:
            found.setdefault(host, "<HOST>")
        words = sorted(found, key=len, reverse=True)
        self._pattern = re.compile("|".join(whole(word) for word in words)) if words else None
        self._found = found
        return super().preprocess(nb, resources)

    def scrub(self, value):
        if self._pattern is None:
            return value
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        if not isinstance(value, str):
            return value
        return self._pattern.sub(lambda match: self._found[match.group(0)], value)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                output.text = self.scrub(output.get("text", ""))
            elif output.get("output_type") == "error":
                output.ename = self.scrub(output.get("ename", ""))
                output.evalue = self.scrub(output.get("evalue", ""))
                output.traceback = self.scrub(output.get("traceback", []))
            elif "data" in output:
                for mimetype, value in output.data.items():
                    if mimetype.startswith("text/"):
                        output.data[mimetype] = self.scrub(value)
        return cell, resources
