"""grading/ta/alike.py: the evidence for the grader's --alike, as recorded (nothing here trains: the recorded
results, or results written by hand). The grader's side is tested in tests/test_trained.py."""

import json

from grading.kit import ALIKE_PROBE
from grading.ta import alike
from nndl2.agent.training import GANS


def files_of(reference, **others):
    """DATA's files: the reference's probes "p" and runs "r" for every GAN, then `others` ({name: (kind, claims,
    {gan: (probe, run)})})."""
    gans = {gan: {"probe": "p", "iterations": 9, "run": reference} for gan in GANS}
    files = {"reference": {"kind": "reference", "claims": {}, "gans": gans}}
    for name, (kind, claims, gans) in others.items():
        files[name] = {"kind": kind, "claims": claims, "function": "ls_generator_loss" if kind == "mutant" else None,
                       "gans": {gan: {"probe": probe} | ({"run": run} if run else {})
                                for gan, (probe, run) in gans.items()}}  # fmt: skip
    return files


def test_problems_are_a_probe_like_the_references_with_another_run_or_a_hidden_bug():
    fine = files_of(
        "r",
        style=("style", {}, {gan: ("p", "r") for gan in GANS}),
        mutant=("mutant", {"lsgan": "ruins"}, {"vanilla": ("p", "r"), "lsgan": ("q", None), "dcgan": (None, None)}),
    )
    assert alike.problems(fine) == []
    assert alike.alike_files(fine, "lsgan") == ["style"] and alike.alike_files(fine, "vanilla") == ["style", "mutant"]
    wrong = files_of(
        "r",
        style=("style", {}, {"vanilla": ("p", "s"), "lsgan": ("p", "r"), "dcgan": ("p", "r")}),
        mutant=("mutant", {"lsgan": "open"}, {"vanilla": ("x", None), "lsgan": ("p", "r"), "dcgan": ("x", None)}),
    )
    assert alike.problems(wrong) == [
        "style: its vanilla probe is the reference's, its whole run is not",
        "mutant: its bug in ls_generator_loss does not show in the lsgan probe",
    ]
    text = alike.report({"made_with": alike.made_with() | {"mnist_root": "/data"}, "files": wrong})
    assert "- mutant: its bug in ls_generator_loss does not show in the lsgan probe" in text
    assert "| mutant | lsgan | lsgan (open) | lsgan |" in text


def test_the_recorded_evidence_covers_the_corpus_and_the_probes_in_force_and_finds_no_problem():
    data = json.loads(alike.DATA.read_text())
    assert alike.REPORT.read_text() == alike.report(data), "run: python -m grading.ta.alike --report-only"
    # made from the code in force: the training code, the probes, and every file's code (docstrings left out)
    rerun = "run: python -m grading.ta.alike"
    made = data["made_with"]
    assert made["training_code"] == alike.made_with()["training_code"], rerun
    assert made["probe"] == ALIKE_PROBE and made["budget"] == alike.BUDGET, rerun
    codes = {name: alike.code(text) for name, (text, *_) in alike.sources().items()}
    assert {name: f["code"] for name, f in data["files"].items()} == codes, rerun
    assert alike.problems(data["files"]) == []
    # the evidence is not empty: most styles train as the reference does, and every ruining mutant trains itself
    assert all(len(alike.alike_files(data["files"], gan)) >= 3 for gan in GANS)
    files = data["files"]
    ruined = [(name, gan) for name, f in files.items() for gan, claim in f["claims"].items() if claim == "ruins"]
    assert len(ruined) >= 5 and all(name not in alike.alike_files(data["files"], gan) for name, gan in ruined)
