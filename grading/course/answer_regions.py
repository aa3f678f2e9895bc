"""The answer regions of gan.py: how the reference marks its solutions and how the student's gan.py marks answers.

The reference solution (grading/course/solution/gan.py) marks each solution with nbgrader's
`### BEGIN SOLUTION` / `### END SOLUTION` lines. grading/ta/make_student.py turns each into a student
answer region between a START OF YOUR CODE and an END OF YOUR CODE line (the CS231n markers), and
grading/instructor/outputs/similarity.py compares only what students wrote between them. Both read the markers
and the region parser from here, so that the TAs' and the instructors' tools depend on the course and
never on each other.
"""

import re

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"  # the reference's (nbgrader's) solution markers
START_LINE = "# ***** START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****"  # written into gan.py
END_LINE = "# ***** END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE) *****"

START = re.compile(r"^\s*#\s*\*+\s*START OF YOUR CODE")  # a student answer region's markers, however indented
STOP = re.compile(r"^\s*#\s*\*+\s*END OF YOUR CODE")
SOLUTION_START = re.compile(rf"^\s*{re.escape(BEGIN)}\s*$")  # the reference's answer regions
SOLUTION_STOP = re.compile(rf"^\s*{re.escape(END)}\s*$")
DEF = re.compile(r"^(\s*)def (\w+)\s*\(")  # (indent, name)
CLASS = re.compile(r"^class (\w+)")


def regions(text, start=START, stop=STOP):
    """[(function, first line number, lines)] of every marked region in order, or None if markers are unbalanced."""
    found, current, function = [], None, None
    for number, line in enumerate(text.splitlines(), 1):
        match = DEF.match(line)
        if match:
            function = match.group(2)
        if start.search(line):
            if current is not None:
                return None
            current = (function, number + 1, [])
        elif stop.search(line):
            if current is None:
                return None
            found.append(current)
            current = None
        elif current is not None:
            current[2].append(line)
    return None if current is not None else found
