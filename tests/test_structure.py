"""The kit's layers: every import goes down, and the two audiences' tools never import each other.

nndl2/ (the students' package, also what runs in the sandbox) imports nothing of grading/;
grading/kit.py and grading/course/ (shared by everyone) import neither audience's tools; grading/instructor/
and grading/ta/ import what is below them and not each other.
"""

import ast

from grading.kit import ROOT

LAYERS = {"nndl2": 0, "grading.kit": 1, "grading.course": 2, "grading.instructor": 3, "grading.ta": 3}


def package(module):
    """The layer's package that `module` belongs to, or None (the standard library, third parties, grading)."""
    return next((name for name in LAYERS if module == name or module.startswith(name + ".")), None)


def imported(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def upward_imports(root):
    """["importing module -> imported module"] of every import that does not go down a layer."""
    found = []
    for path in sorted([*(root / "grading").rglob("*.py"), *(root / "nndl2").rglob("*.py")]):
        parts = path.relative_to(root).with_suffix("").parts
        here = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        source = package(here)
        for target in imported(ast.parse(path.read_text())):
            to = package(target)
            if source and to and to != source and LAYERS[to] >= LAYERS[source]:
                found.append(f"{here} -> {target}")
    return found


def test_no_import_runs_up_or_between_audiences():
    assert upward_imports(ROOT) == []


def test_an_import_between_the_audiences_is_found(tmp_path):
    for folder, text in {
        "nndl2": "",
        "grading/instructor": "from grading.kit import ROOT\n",
        "grading/ta": "def f():\n    from grading.instructor.confine import sandbox\n",
        "grading/course": "import grading.ta.release\n",
    }.items():
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "tool.py").write_text(text)
    assert upward_imports(tmp_path) == [
        "grading.course.tool -> grading.ta.release",
        "grading.ta.tool -> grading.instructor.confine",
        "grading.ta.tool -> grading.instructor.confine.sandbox",
    ]
