"""Generate the student gan.py from the reference solution.

    python -m grading.ta.make_student           # rewrite gan.py
    python -m grading.ta.make_student --check   # exit 1 if the committed gan.py is out of date

Every `### BEGIN SOLUTION` ... `### END SOLUTION` region of grading/course/solution/gan.py becomes a
marked answer region that raises NotImplementedError naming its function (nbgrader strips solutions
from notebooks, not from .py files, so this is the .py counterpart). A method's region names its class
("Generator" in __init__, "Generator.forward" elsewhere): Part 2's faces.py, which
`python -m grading.ta.release` makes the same way from grading/course/solution/faces.py, has classes.
"""

import argparse
import sys

from grading.course.answer_regions import BEGIN, CLASS, DEF, END, END_LINE, START_LINE
from grading.kit import SOLUTION_GAN, STUDENT_GAN
from nndl2.submit import STUB

HEADER = "# Write your code only between the START / END OF YOUR CODE lines; leave the rest as it is.\n"


def make_student(solution_text):
    """Return the student version of a solution module's text."""
    out, function, inside, owner = [HEADER], None, False, None
    for number, line in enumerate(solution_text.splitlines(keepends=True), 1):
        stripped = line.strip()
        if CLASS.match(line):
            owner = CLASS.match(line).group(1)
        elif line[:1] not in ("", " ", "\t", "\n", "#", ")"):  # any other top-level statement ends a class
            owner = None
        match = DEF.match(line)
        if match:  # a method's stub names its class: "Generator" (in __init__) or "Generator.forward"
            indent, name = match.groups()
            function = name if not (indent and owner) else owner if name == "__init__" else f"{owner}.{name}"
        if stripped == BEGIN:
            if inside or function is None:
                raise ValueError(f"line {number}: {BEGIN} outside a function or nested")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [
                f"{indent}{START_LINE}\n",
                f"{indent}{STUB.format(function=function)}\n",
                f"{indent}{END_LINE}\n",
            ]
        elif stripped == END:
            if not inside:
                raise ValueError(f"line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} is never closed")
    return "".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that gan.py is up to date")
    args = parser.parse_args(argv)
    expected = make_student(SOLUTION_GAN.read_text())
    if args.check:
        if STUDENT_GAN.read_text() != expected:
            print(f"{STUDENT_GAN} is out of date: run python -m grading.ta.make_student", file=sys.stderr)
            return 1
        print(f"{STUDENT_GAN} is up to date")
        return 0
    STUDENT_GAN.write_text(expected)
    print(f"wrote {STUDENT_GAN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
