"""The Gradescope autograder zip: built from the kit, run here on /autograder-shaped folders, results.json checked.

Gradescope's container is played by a temporary folder (GAN_KIT_AUTOGRADER_ROOT) holding source/ (the
unzipped autograder), submission/ and submission_metadata.json; run_autograder runs with this
environment's Python (GAN_KIT_PYTHON) instead of the one setup.sh would install, and the smoke budget.
"""

import json
import os
import re
import stat
import subprocess
import sys
import zipfile

import jsonschema
import nbformat
import pytest

from grading.course.items import TITLES
from grading.instructor.autograde import graded_items
from grading.instructor.judging.trained import trusted
from grading.instructor.outputs import gradescope
from grading.kit import NOTEBOOK, ROOT, SOLUTION_GAN, STUDENT_GAN
from grading.ta.examples import answered_notebook, write_submission

# Gradescope's results.json ("Autograder Specifications": top-level score, execution_time, output,
# visibility, stdout_visibility, tests[] with score, max_score, status, name, number, output, visibility).
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
SCHEMA = {
    "type": "object",
    "required": ["tests"],
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["score", "max_score", "name", "output", "visibility"],
                "additionalProperties": False,
                "properties": {
                    "score": {"type": "number", "minimum": 0},
                    "max_score": {"type": "number", "minimum": 0},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string", "minLength": 1},
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "visibility": VISIBILITY,
                },
            },
        },
    },
}
AUTOGRADED = [grade_id for grade_id, _, auto in graded_items() if auto]


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    return gradescope.build(out, budget="smoke", threads=1)


def test_the_zip_has_gradescopes_two_scripts_and_the_kit_but_no_ta_tools(autograder, tmp_path):
    with zipfile.ZipFile(autograder) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        settings = json.loads(archive.read("gradescope.json"))
    for script in ("setup.sh", "run_autograder"):
        assert stat.S_IMODE(infos[script].external_attr >> 16) == 0o755
    names = set(infos)
    assert {"gan.py", "GANs-PyTorch.ipynb", "requirements-dev.txt", "grading/instructor/judging/judge.py",
            "grading/course/solution/gan.py", "nndl2/agent/export.py",
            "nndl2/mnist_classifier.pt"} <= names  # fmt: skip
    assert not any(name.startswith(("grading/ta/", "tests/", "build/")) or "MNIST" in name for name in names)
    assert settings == {"budget": "smoke", "precision": "float32", "threads": 1, "sandbox": "on",
                        "visibility": "visible", "alike": "on"}  # fmt: skip
    solutions = {str(path.relative_to(ROOT)) for path in trusted().values()}  # whose runs setup.sh trains
    assert len(solutions) > 1 and solutions <= names
    assert gradescope.build(tmp_path / "again.zip", budget="smoke", threads=1).read_bytes() == autograder.read_bytes()


@pytest.mark.parametrize(("precision", "resolved"), [("float32", "float32"), ("auto", "bfloat16")])
def test_the_grader_in_the_container_takes_the_zips_settings(tmp_path, precision, resolved, monkeypatch):
    """What the zip was built with is what run_autograder grades with ("auto" resolved on the container's CPU, here
    one that the patched check calls fast at bfloat16)."""
    import nndl2.speed

    monkeypatch.setattr(nndl2.speed, "bfloat16_is_fast", lambda device: True)
    autograder = gradescope.build(tmp_path / "autograder.zip", budget="smoke", threads=1, precision=precision)
    with zipfile.ZipFile(autograder) as archive:
        archive.extractall(tmp_path / "source")
    monkeypatch.setenv("MNIST_ROOT", str(tmp_path / "mnist"))
    chosen = gradescope.grading_settings(tmp_path / "source")
    assert (chosen.budget, chosen.threads, chosen.sandbox, chosen.regrade) == ("smoke", 1, "on", True)
    assert chosen.precision == resolved
    assert chosen.mnist_root == (tmp_path / "mnist").resolve()
    assert chosen.alike == "on"  # the default: setup.sh trains the trusted runs, each container hands them on
    with pytest.raises(ValueError, match="precision is one of auto, float32"):
        gradescope.build(tmp_path / "bad.zip", precision="float16")
    with pytest.raises(ValueError, match="alike is 'on' or 'off', not 'auto'"):
        gradescope.build(tmp_path / "bad.zip", alike="auto")
    gradescope.build(tmp_path / "off.zip", budget="smoke", alike="off")
    with zipfile.ZipFile(tmp_path / "off.zip") as archive:
        archive.extract(gradescope.SETTINGS, tmp_path / "off")
    assert gradescope.grading_settings(tmp_path / "off").alike == "off"
    older = json.loads((tmp_path / "off" / gradescope.SETTINGS).read_text())
    del older["alike"]  # a zip built before the setting: as it graded then
    (tmp_path / "off" / gradescope.SETTINGS).write_text(json.dumps(older))
    assert gradescope.grading_settings(tmp_path / "off").alike == "off"


def container(tmp_path, autograder, gan_text, notebook, meta):
    """An /autograder-shaped folder: the unzipped autograder, one submission, its metadata."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder) as archive:
        archive.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)
    folder = write_submission(root / "submission", notebook, gan_text)
    (folder / "GANs-PyTorch.ipynb").rename(folder / "Copy of GANs-PyTorch.ipynb")  # as Colab names it
    (root / "submission_metadata.json").write_text(json.dumps(meta))
    return root


def run_autograder(root, mnist):
    env = {
        **os.environ,
        "GAN_KIT_PYTHON": sys.executable,
        "GAN_KIT_AUTOGRADER_ROOT": str(root),
        "MNIST_ROOT": str(mnist),
    }
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    return results


META = {
    "id": 123456,
    "created_at": "2026-11-20T23:59:30.000000-08:00",
    "assignment": {"due_date": "2026-11-21T00:00:00.000000-08:00", "title": "GANs-PyTorch"},
    "users": [{"email": "ada@example.edu", "id": 42, "name": "Ada Lovelace", "sid": "A0001"}],
}


def graded(tmp, autograder, mnist, notebook, gan_text):
    """`gan_text` and `notebook` graded by run_autograder in an /autograder-shaped folder: (results.json, the kit's
    result)."""
    root = container(tmp, autograder, gan_text, notebook, META)
    results = run_autograder(root, mnist)
    (result,) = [json.loads(path.read_text()) for path in (root / "grading" / "results").glob("*.json")]
    return results, result


@pytest.fixture(scope="module")
def graded_release(tmp_path_factory, autograder, mnist_real):
    """The release as students get it (gan.py's stubs, the unanswered notebook), graded by run_autograder with
    bubblewrap. The reference's run_autograder, trained, is graded in the uid mode that Gradescope's containers get
    (tests/test_confine_nouserns.py); the bubblewrap mode's training is the batch's (tests/conftest.py)."""
    release = nbformat.read(NOTEBOOK, as_version=4)
    return graded(tmp_path_factory.mktemp("container"), autograder, mnist_real, release, STUDENT_GAN.read_text())


@pytest.mark.slow
def test_run_autograder_grades_the_release_with_bubblewrap(graded_release):
    results, result = graded_release
    assert result["confinement"] == "bwrap" and result["reason"] == ""
    assert [test["name"] for test in results["tests"]] == [TITLES[grade_id] for grade_id in AUTOGRADED]
    for grade_id, test in zip(AUTOGRADED, results["tests"], strict=True):  # each with the judge's sentence
        assert (test["score"], test["status"], test["output"]) == (0, "failed", result["messages"][grade_id])
    assert results["tests"][0]["output"] == "sample_noise is not implemented yet (it raises NotImplementedError)."
    assert results["score"] == 0 and results["output"] == ""  # nothing to say: bubblewrap confines it all


@pytest.fixture(scope="module")
def graded_reference(tmp_path_factory, autograder, mnist_real):
    """The reference graded by run_autograder with bubblewrap, alone."""
    tmp = tmp_path_factory.mktemp("container")
    return graded(tmp, autograder, mnist_real, answered_notebook(), SOLUTION_GAN.read_text())


@pytest.mark.long  # a second trained grading of the reference, beside the batch's (tests/conftest.py)
def test_one_at_a_time_grades_exactly_as_two_at_once(graded_reference, batch):
    """run_autograder grades one submission alone; the batch (tests/conftest.py) graded the same reference
    two at a time (--jobs 2): the same scores, messages and quality metrics.

    The judge draws fresh sizes and inputs on every run (a submission cannot be tuned to them), so
    messages are compared with their numbers masked.
    """
    _, alone = graded_reference
    twin = batch["results"]["reference"]
    assert {g: alone["scores"][g] for g in AUTOGRADED} == {g: twin["scores"][g] for g in AUTOGRADED}
    assert alone["metrics"] == twin["metrics"] and set(alone["metrics"]) == {"test_inline_q1", "test_inline_q2",
                                                                             "test_inline_q3"}  # fmt: skip
    assert masked(alone["messages"]) == masked(twin["messages"])


def masked(messages):
    return {item: re.sub(r"\d+(\.\d+)?", "#", text) for item, text in messages.items()}


def test_results_json_of_a_submission_that_earned_nothing_fails_every_test_with_the_judges_sentence():
    """What the blank release gets (its messages: tests/test_autograde.py), as Gradescope shows it."""
    items = graded_items()
    messages = {grade_id: f"{grade_id} is not implemented yet." for grade_id in AUTOGRADED}
    result = {"scores": dict.fromkeys(AUTOGRADED, 0.0), "messages": messages, "reason": ""}
    results = gradescope.results_json(result, items, "visible", 12.3)
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 0 and results["output"] == "" and results["execution_time"] == 12
    assert [(t["name"], t["score"], t["status"], t["output"]) for t in results["tests"]] == [
        (TITLES[grade_id], 0.0, "failed", messages[grade_id]) for grade_id in AUTOGRADED
    ]
    noted = gradescope.results_json({**result, "reason": "gan.py does not parse; a note"}, items, "hidden", 1)
    assert noted["output"] == "Notes from the grader:\n- gan.py does not parse\n- a note"
    assert {t["visibility"] for t in noted["tests"]} == {"hidden"}


def test_setup_trains_the_trusted_runs_once_and_each_container_only_hands_them_on(tmp_path, monkeypatch, mnist_real):
    """setup.sh's prepare builds the course, then trains the trusted solutions' runs (the reference's, then every
    style's a submission may be handed); run_autograder's grader only uses what setup kept (kept_only), before
    grading. What those steps do: tests/test_trained.py (a container's grader on setup's folder)."""
    from grading.instructor.autograde import Grader

    root = container(tmp_path, gradescope.build(tmp_path / "autograder.zip", budget="smoke", threads=1),
                     SOLUTION_GAN.read_text(), answered_notebook(), META)  # fmt: skip
    monkeypatch.setenv("MNIST_ROOT", str(mnist_real))
    calls = []
    for step in ("prepare", "prepare_alike", "train_styles"):
        monkeypatch.setattr(Grader, step, lambda self, *args, step=step, **kwargs: calls.append((step, args, kwargs)))
    monkeypatch.setattr(Grader, "grade", lambda self, submission: calls.append(("grade", (), {})) or {"scores": {}})
    gradescope.prepare(root, root / "source")
    assert calls == [("prepare", (), {}), ("prepare_alike", (1,), {}), ("train_styles", (), {})]
    calls.clear()
    monkeypatch.setattr(gradescope, "__file__", str(root / "source" / "grading" / "instructor" / "outputs" / "x.py"))
    gradescope.run(root)
    assert calls == [("prepare", (), {}), ("prepare_alike", (1,), {"kept_only": True}), ("grade", (), {})]
