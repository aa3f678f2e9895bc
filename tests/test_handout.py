"""The student handout zip: exactly the release files, no solution or hidden test, deterministic."""

import os
import re
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest

from grading.course import build_course
from grading.kit import ASSIGNMENT, FACES_SOURCE_NOTEBOOK, KIT_DATA, SOLUTION_FACES, SOLUTION_GAN, SOURCE_NOTEBOOK
from grading.ta import handout

NOTEBOOK_MEMBER = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
GAN_MEMBER = f"{ASSIGNMENT}/gan.py"
REGION = r"### BEGIN {0}\n(.*?)\n\s*### END {0}"


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """{name: bytes} of a handout built from this checkout (the release itself is checked in test_release.py)."""
    path = handout.build(tmp_path_factory.mktemp("handout") / "handout.zip", check_release=False)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def secret_regions():
    """The code of every solution region of gan.py and every solution or hidden-test region of the source notebook."""
    source = "\n".join(cell.source for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells)
    found = re.findall(REGION.format("SOLUTION"), SOLUTION_GAN.read_text(), flags=re.S)
    found += re.findall(REGION.format("SOLUTION"), SOLUTION_FACES.read_text(), flags=re.S)  # Part 2
    source += "\n".join(cell.source for cell in nbformat.read(FACES_SOURCE_NOTEBOOK, as_version=4).cells)
    for kind in ("SOLUTION", "HIDDEN TESTS"):
        found += re.findall(REGION.format(kind), source, flags=re.S)
    return found


def secret_lines(regions):
    """Their code lines, as test_release.py picks them (no comments, no lone brackets)."""
    lines = {line.strip() for region in regions for line in region.splitlines()}
    return {code for code in lines if not code.startswith("#") and len(code) > 3 and code not in {")", "],", "),"}}


def test_exactly_the_release_files(members, tmp_path):
    course = build_course(tmp_path)  # the kit's own listing of what a release of nndl2/ holds
    released = course / "source" / ASSIGNMENT
    provided = [path.relative_to(released).as_posix() for path in (released / "nndl2").rglob("*") if path.is_file()]
    release = [f"{ASSIGNMENT}.ipynb", "gan.py", "requirements.txt", "Faces-PyTorch.ipynb", "faces.py"]
    expected = {f"{ASSIGNMENT}/{name}" for name in [*release, *provided]}
    assert sorted(members) == sorted(expected)
    needed = ["gan-checks.npz", "mnist_classifier.pt", "mnist_features.npz", "gan_outputs.png", "training.py"]
    assert {f"{ASSIGNMENT}/nndl2/{name}" for name in needed} <= set(members)
    assert members[f"{ASSIGNMENT}/requirements.txt"] == (KIT_DATA.parent / "requirements.txt").read_bytes()


def test_no_solution_no_hidden_test(members):
    regions = secret_regions()
    assert len(regions) > 10
    lines = secret_lines(regions)
    for name, data in members.items():
        for marker in ["BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"]:
            assert marker.encode() not in data, f"{name} has {marker}"
        text = re.sub(rb"\s+", b" ", data)
        for region in regions:
            assert re.sub(r"\s+", " ", region).strip().encode() not in text, f"{name} has a solution or hidden test"
    for name in (GAN_MEMBER, NOTEBOOK_MEMBER, f"{ASSIGNMENT}/faces.py"):  # where a single answer line would be a leak
        text = members[name].decode()
        leaked = sorted(line for line in lines if line in text)
        assert not leaked, f"{name} leaks {leaked[:3]}"


def test_notebook_has_no_outputs(members):
    notebook = nbformat.reads(members[NOTEBOOK_MEMBER].decode(), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_handout_is_self_contained(members, tmp_path):
    """gan.py and every nndl2 module import from the unpacked handout alone (no grading/, no kit on the path)."""
    for name, data in members.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    package = f"{ASSIGNMENT}/nndl2/"
    files = sorted(name[len(package) : -3] for name in members if name.startswith(package) and name.endswith(".py"))
    modules = [f"nndl2.{name}".replace("/", ".").removesuffix(".__init__") for name in files]  # nndl2.agent...
    imports = ", ".join(["gan"] + [module for module in modules if module != "nndl2"])
    script = f"import importlib.util\nimport {imports}\nassert importlib.util.find_spec('grading') is None\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path / ASSIGNMENT, env=env, check=True, timeout=300)


def test_zip_is_deterministic(tmp_path, monkeypatch):
    """Same files, other timestamps and permissions: same bytes."""
    copy = tmp_path / "kit" / "nndl2"
    shutil.copytree(KIT_DATA, copy, ignore=shutil.ignore_patterns("MNIST", "__pycache__", "*.npy"))
    monkeypatch.setattr(handout, "KIT_DATA", copy)
    first = handout.write_zip(handout.handout_files(), tmp_path / "first.zip").read_bytes()
    for path in copy.iterdir():
        os.utime(path, (1_700_000_000, 1_700_000_000))
        path.chmod(0o600)
    second = handout.write_zip(handout.handout_files(), tmp_path / "second.zip").read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "first.zip") as archive:
        assert {(info.external_attr >> 16) & 0o777 for info in archive.infolist()} == {0o644}


def test_what_is_never_released_stays_out(tmp_path, monkeypatch):
    copy = tmp_path / "kit" / "nndl2"
    shutil.copytree(KIT_DATA, copy, ignore=shutil.ignore_patterns("MNIST", "__pycache__", "*.npy"))
    clean = set(handout.provided_files(copy))
    for junk in ["MNIST/raw/train-images-idx3-ubyte.gz", "__pycache__/data.cpython-311.pyc", "mnist-cache.npy",
                 ".ipynb_checkpoints/notes-checkpoint.ipynb", "sub/__pycache__/x.pyc"]:  # fmt: skip
        (copy / junk).parent.mkdir(parents=True, exist_ok=True)
        (copy / junk).write_bytes(b"junk")
    assert set(handout.provided_files(copy)) == clean
    assert "nndl2/gan-checks.npz" in clean


def test_refuses_files_git_does_not_track(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "nndl2").mkdir(parents=True)
    (repo / "nndl2" / "kept.py").write_text("x = 1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "kit"], cwd=repo, check=True)
    (repo / "nndl2" / "scratch.py").write_text("y = 2\n")
    files = [repo / "nndl2" / "kept.py", repo / "nndl2" / "scratch.py"]
    assert handout.untracked(files, root=repo) == [repo / "nndl2" / "scratch.py"]
    assert handout.untracked(files, root=tmp_path / "nowhere") is None  # not a work tree (an exported kit)
    monkeypatch.setattr(handout, "KIT_DATA", repo / "nndl2")  # outside the kit's work tree: not committed there
    with pytest.raises(handout.HandoutError, match="not committed.*scratch.py"):
        handout.build(tmp_path / "out.zip", check_release=False)
    assert not (tmp_path / "out.zip").exists()


def test_refuses_a_stale_release(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "gan.py"
    stale.write_text(handout.STUDENT_GAN.read_text() + "# edited by hand\n")
    monkeypatch.setattr(handout, "STUDENT_GAN", stale)
    assert handout.main(["--out", str(tmp_path / "out.zip")]) == 1
    assert "gan.py is out of date: run python -m grading.ta.release" in capsys.readouterr().err
    assert not (tmp_path / "out.zip").exists()


# What students must never read in the handout: the kit's grading code (`grading/...` paths, `grading.ta...`
# modules), rubrics, and the numbered reference documents the kit was built from ("seed 004", seeds/).
# "seed" alone is not flagged: the handout rightly speaks of random seeds (torch.manual_seed, sample_noise's
# `seed` argument, "from the same seed"); the internal sense always comes with a number or the seeds/ folder.
# "grading." is flagged only as a module path (followed by a name): a sentence may end with "grading.".
INTERNALS = re.compile(r"grading/|grading\.[A-Za-z_]|rubric|\bseeds?\s*(?:#|no\.?)?\s*\d+\b|seeds/", re.IGNORECASE)


def test_the_internal_words_pattern_flags_internals_and_not_random_seeds():
    flagged = ["see grading/ta/calibration.md", "python -m grading.ta.make_student", "seed 004's rubric",
               "the Rubric says", "Seeds/003.txt", "as in seed #2"]  # fmt: skip
    fine = ["torch.manual_seed(seed)", "from the same seed on the same batches", "skipped at grading.",
            "sample_noise(2, 3, seed=SEED)", "skipped_at_grading()", "autograding: plain data"]  # fmt: skip
    assert all(INTERNALS.search(text) for text in flagged)
    assert not any(INTERNALS.search(text) for text in fine)


def test_no_handed_out_file_names_grading_internals(members):
    texts = {}
    for name, data in members.items():
        if name.endswith((".py", ".ipynb", ".txt", ".md")):
            texts[name] = data.decode("utf-8")
    assert {f"{ASSIGNMENT}/gan.py", NOTEBOOK_MEMBER, f"{ASSIGNMENT}/nndl2/experiments.py"} <= set(texts)
    found = {
        name: sorted({match.group(0) for match in INTERNALS.finditer(text)})
        for name, text in texts.items()
        if INTERNALS.search(text)
    }
    assert found == {}
