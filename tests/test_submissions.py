"""Finding every student's files in LMS exports (Canvas, Moodle, Gradescope, folders), safely.

Every export here is synthetic, made in tmp_path; every test states the exact rows, keys, files and problems.
"""

import builtins
import hashlib
import io
import os
import re
import stat
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from grading.instructor.intake import submissions
from grading.instructor.intake.plainfiles import REFUSED_MANIFEST, Refused, UnsafeArchive, copy_plain
from grading.instructor.intake.submissions import collect, unpack

NB, GAN = "GANs-PyTorch.ipynb", "gan.py"
BOTH_MISSING = ["missing GANs-PyTorch.ipynb", "missing gan.py"]


def touch(path, text="x"):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def rows(root, **kwargs):
    """{key: Submission}, checking the interface's promises on every row."""
    found = collect(root, **kwargs)
    keys = [s.key for s in found]
    assert keys == sorted(keys) and len({k.lower() for k in keys}) == len(keys)
    for s in found:
        assert re.fullmatch(r"[A-Za-z0-9._-]+", s.key) and not s.key.startswith(("-", ".")), s.key
        for path in s.files.values():
            assert stat.S_ISREG(os.lstat(path).st_mode) and Path(path).is_relative_to(Path(root).resolve())
    return {s.key: s for s in found}


def files(submission):
    """{kind: path inside the export} of a row."""
    return {kind: path.relative_to(submission.root).as_posix() for kind, path in submission.files.items()}


def short(text):
    return hashlib.sha256(text.encode()).hexdigest()[:8]


# -- layouts ----------------------------------------------------------------------------------------
def test_one_folder_per_student(tmp_path):
    touch(tmp_path / "alice" / NB)
    touch(tmp_path / "alice" / GAN)
    touch(tmp_path / "bob" / NB)
    found = rows(tmp_path)
    assert sorted(found) == ["alice", "bob"]
    alice, bob = found["alice"], found["bob"]
    assert (alice.name, alice.source, alice.lms_id, alice.late) == ("alice", "folder", None, False)
    assert alice.submitted_at is None and alice.sid is None
    assert files(alice) == {"notebook": "alice/GANs-PyTorch.ipynb", "gan": "alice/gan.py"} and alice.problems == []
    assert files(bob) == {"notebook": "bob/GANs-PyTorch.ipynb"} and bob.problems == ["missing gan.py"]
    assert bob.missing() == ["gan.py"] and bob.student == "bob"


def test_canvas_export_same_names_late_and_resubmissions(tmp_path):
    touch(tmp_path / "smithjane_12_345_GANs-PyTorch.ipynb")
    touch(tmp_path / "smithjane_12_346_gan.py")
    touch(tmp_path / "smithjane_LATE_13_400_GANs-PyTorch-1.ipynb")  # another Jane Smith, late
    touch(tmp_path / "smithjane_LATE_13_399_gan-1.py")
    touch(tmp_path / "smithjane_LATE_13_401_gan-2.py")
    touch(tmp_path / "doejohn_14_text.html")  # a text entry: a student, no file
    touch(tmp_path / "LATE_anon_x1y2z_500_gan.py")  # anonymous grading
    touch(tmp_path / "zhangwei_15_501_notes.pdf")
    found = rows(tmp_path)
    assert sorted(found) == ["anon_x1y2z", "doejohn-14", "smithjane-12", "smithjane-13", "zhangwei-15"]
    first, second = found["smithjane-12"], found["smithjane-13"]
    assert (first.name, first.source, first.lms_id, first.late) == ("smithjane", "canvas", "12", False)
    assert (second.name, second.source, second.lms_id, second.late) == ("smithjane", "canvas", "13", True)
    assert files(first) == {"notebook": "smithjane_12_345_GANs-PyTorch.ipynb", "gan": "smithjane_12_346_gan.py"}
    assert first.problems == []
    assert files(second) == {
        "notebook": "smithjane_LATE_13_400_GANs-PyTorch-1.ipynb",
        "gan": "smithjane_LATE_13_401_gan-2.py",
    }
    assert second.problems == [
        '2 candidates for gan.py: graded "smithjane_LATE_13_401_gan-2.py" (the highest re-submission number); '
        'not graded: "smithjane_LATE_13_399_gan-1.py"'
    ]
    assert found["doejohn-14"].files == {} and found["doejohn-14"].problems == BOTH_MISSING
    anonymous = found["anon_x1y2z"]
    assert (anonymous.name, anonymous.lms_id, anonymous.late) == ("", "anon_x1y2z", True)
    assert files(anonymous) == {"gan": "LATE_anon_x1y2z_500_gan.py"}
    assert found["zhangwei-15"].problems == [
        'missing GANs-PyTorch.ipynb (the submission has: "zhangwei_15_501_notes.pdf")',
        'missing gan.py (the submission has: "zhangwei_15_501_notes.pdf")',
    ]


def test_moodle_folders_flat_files_and_onlinetext(tmp_path):
    touch(tmp_path / "Jane Smith_501_assignsubmission_file_" / NB)
    touch(tmp_path / "Jane Smith_501_assignsubmission_file_" / GAN)
    touch(tmp_path / "Jane Smith_501_assignsubmission_onlinetext_" / "onlinetext.html")
    touch(tmp_path / "Ana María_502_assignsubmission_onlinetext_" / GAN)  # online text: never searched
    touch(tmp_path / "Participant_503_assignsubmission_file" / "hw5" / GAN)  # Moodle 4 (no "_"), blind marking
    touch(tmp_path / "Bo Li_504_assignsubmission_file_Copy of GANs-PyTorch.ipynb")  # "download as folders" off
    found = rows(tmp_path)
    assert sorted(found) == ["Ana-Maria-502", "Bo-Li-504", "Jane-Smith-501", "Participant-503"]
    jane = found["Jane-Smith-501"]
    assert (jane.name, jane.source, jane.lms_id, jane.late) == ("Jane Smith", "moodle", "501", False)
    assert files(jane) == {
        "notebook": "Jane Smith_501_assignsubmission_file_/GANs-PyTorch.ipynb",
        "gan": "Jane Smith_501_assignsubmission_file_/gan.py",
    }
    assert jane.problems == []
    assert found["Ana-Maria-502"].name == "Ana María" and found["Ana-Maria-502"].problems == BOTH_MISSING
    assert files(found["Participant-503"]) == {"gan": "Participant_503_assignsubmission_file/hw5/gan.py"}
    assert found["Participant-503"].problems == ["missing GANs-PyTorch.ipynb"]
    assert files(found["Bo-Li-504"]) == {"notebook": "Bo Li_504_assignsubmission_file_Copy of GANs-PyTorch.ipynb"}


GRADESCOPE_METADATA = """---
submission_1001:
  :submitters:
  - :name: Ann Lee
    :sid: '111'
    :email: ann@example.edu
  :created_at: 2024-03-01 10:00:00.123456000 Z
  :score: 0.0
  :status: processed
  :history: []
submission_1002:
  :submitters:
  - :name: Bob Ray
    :sid: '222'
    :email: bob@example.edu
  - :name: Cy Dee
    :sid:
    :email: Cy@Example.edu
  :created_at: 2024-03-03 09:30:00.000000000 -08:00
  :status: processed
submission_1005:
  :submitters:
  - :name: Di Fu
    :sid: '555'
  :created_at: 2024-03-01 08:00:00.000000000 Z
"""


def test_gradescope_export_with_metadata_late_and_on_time(tmp_path):
    export = tmp_path / "assignment_77_export"  # Gradescope's zip holds the export in one folder
    touch(export / "submission_metadata.yml", GRADESCOPE_METADATA)
    touch(export / "submission_1001" / NB)
    touch(export / "submission_1001" / GAN)
    touch(export / "submission_1002" / "hw" / "GANs_PyTorch.ipynb")
    touch(export / "submission_1004" / GAN)  # not in the metadata
    due = datetime(2024, 3, 2, tzinfo=timezone.utc)
    found = rows(tmp_path, due=due)
    cy = f"Cy-Dee-{short('cy@example.edu')}"
    assert sorted(found) == ["Ann-Lee-111", "Bob-Ray-222", cy, "Di-Fu-555", "gradescope-1004"]
    ann = found["Ann-Lee-111"]
    assert (ann.name, ann.source, ann.lms_id, ann.sid, ann.late) == ("Ann Lee", "gradescope", "1001", "111", False)
    assert ann.submitted_at == datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
    assert files(ann) == {
        "notebook": "assignment_77_export/submission_1001/GANs-PyTorch.ipynb",
        "gan": "assignment_77_export/submission_1001/gan.py",
    }
    assert ann.problems == []
    group = 'a group submission of 2 students ("Bob Ray", "Cy Dee"): the same files for each'
    for key in ("Bob-Ray-222", cy):
        row = found[key]
        assert (row.lms_id, row.late) == ("1002", True)
        assert row.submitted_at == datetime(2024, 3, 3, 9, 30, tzinfo=timezone(timedelta(hours=-8)))
        assert files(row) == {"notebook": "assignment_77_export/submission_1002/hw/GANs_PyTorch.ipynb"}
        assert row.problems == [group, "missing gan.py"]
    assert found[cy].sid is None and found[cy].name == "Cy Dee"
    assert found["Di-Fu-555"].problems == [
        '"assignment_77_export/submission_1005" is listed in "assignment_77_export/submission_metadata.yml" '
        "but not in the export",
        *BOTH_MISSING,
    ]
    unknown = found["gradescope-1004"]
    assert (unknown.name, unknown.lms_id) == ("", "1004")
    assert files(unknown) == {"gan": "assignment_77_export/submission_1004/gan.py"}
    assert unknown.problems == [
        '"assignment_77_export/submission_1004" has no submitter in "assignment_77_export/submission_metadata.yml"',
        "missing GANs-PyTorch.ipynb",
    ]
    assert rows(tmp_path)["Bob-Ray-222"].late is False  # without a due date, the metadata's (absent) flag


def test_gradescope_lateness_field_ruby_tags_and_unreadable_metadata(tmp_path):
    touch(
        tmp_path / "a" / "submission_metadata.yml",
        "submission_1:\n  :submitters:\n  - :name: Eve\n    :sid: '9'\n  :late: true\n  :results: !ruby/object:Foo\n"
        "    x: 1\nsubmission_2:\n  :submitters:\n  - :name: Fay\n    :sid: '8'\n  :lateness: '0:00:00'\n",
    )
    touch(tmp_path / "a" / "submission_1" / GAN)
    touch(tmp_path / "a" / "submission_2" / GAN)
    touch(tmp_path / "b" / "submission_metadata.yml", "submission_3: [unclosed\n")
    touch(tmp_path / "b" / "submission_3" / GAN)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "submission_metadata.yml").symlink_to(tmp_path / "a" / "submission_metadata.yml")
    touch(tmp_path / "c" / "submission_4" / GAN)
    found = rows(tmp_path)
    assert sorted(found) == ["Eve-9", "Fay-8", "gradescope-3", "gradescope-4"]
    assert found["Eve-9"].late is True and found["Fay-8"].late is False
    broken = found["gradescope-3"]
    assert broken.problems[0].startswith("submission_metadata.yml could not be read (ParserError: ")
    assert broken.problems[1:] == ["missing GANs-PyTorch.ipynb"] and files(broken) == {"gan": "b/submission_3/gan.py"}
    assert found["gradescope-4"].problems == [
        "submission_metadata.yml refused: it is a symbolic link (not followed, not read)",
        "missing GANs-PyTorch.ipynb",
    ]


# -- finding the files inside one submission ------------------------------------------------------
@pytest.mark.parametrize(
    "notebook, gan",
    [
        ("Copy of GANs-PyTorch.ipynb", "gan (1).py"),
        ("GANs-PyTorch (1).ipynb", "gan(2).py"),
        ("GANs_PyTorch.ipynb", "GAN.py"),
        ("gans-pytorch-1.IPYNB", "gan-1.py"),
        ("Copy of Copy of GANs PyTorch (3).ipynb", "gan - Copy.py"),
        ("GANs-PyTorch copy 2.ipynb", "Gan copy.py"),
    ],
)
def test_renamed_files_are_found_even_both(tmp_path, notebook, gan):
    touch(tmp_path / "carol" / notebook)
    touch(tmp_path / "carol" / gan)
    found = rows(tmp_path)
    assert list(found) == ["carol"]  # both renamed: still a row, with both files
    assert files(found["carol"]) == {"notebook": f"carol/{notebook}", "gan": f"carol/{gan}"}
    assert found["carol"].problems == []


def test_other_files_are_not_candidates(tmp_path):
    for name in ("mygan.py", "gan_solution.py", "gans.py", "GANs-PyTorch-solution.ipynb", "gan.py.bak", "GAN.ipynb"):
        touch(tmp_path / "dan" / name)
    assert rows(tmp_path)["dan"].files == {}


def test_a_backup_folder_never_wins_and_ambiguity_is_reported(tmp_path):
    touch(tmp_path / "dave" / "Backup" / NB)
    touch(tmp_path / "dave" / "Backup" / GAN)
    touch(tmp_path / "dave" / "GANs-PyTorch (1).ipynb")
    touch(tmp_path / "dave" / GAN)
    touch(tmp_path / "dave" / "gan (1).py")
    touch(tmp_path / "erin" / "hw5" / NB)  # nested only: the gan.py beside the notebook
    touch(tmp_path / "erin" / "hw5" / GAN)
    touch(tmp_path / "erin" / "Backup" / GAN)
    touch(tmp_path / "finn" / "GAN.py")  # nothing else decides: name order
    touch(tmp_path / "finn" / "Gan.py")
    touch(tmp_path / "finn" / NB)
    found = rows(tmp_path)
    assert files(found["dave"]) == {"notebook": "dave/GANs-PyTorch (1).ipynb", "gan": "dave/gan.py"}
    assert found["dave"].problems == [
        '2 candidates for GANs-PyTorch.ipynb: graded "GANs-PyTorch (1).ipynb" (nearest the top of the submission); '
        'not graded: "Backup/GANs-PyTorch.ipynb"',
        '3 candidates for gan.py: graded "gan.py" (the exact name); not graded: "gan (1).py", "Backup/gan.py"',
    ]
    assert files(found["erin"]) == {"notebook": "erin/hw5/GANs-PyTorch.ipynb", "gan": "erin/hw5/gan.py"}
    assert found["erin"].problems == [
        '2 candidates for gan.py: graded "hw5/gan.py" (beside the notebook); not graded: "Backup/gan.py"'
    ]
    assert files(found["finn"])["gan"] == "finn/GAN.py"
    assert found["finn"].problems == [
        '2 candidates for gan.py: graded "GAN.py" (first in name order); not graded: "Gan.py"'
    ]


def test_canvas_ambiguity_exact_name_then_later_upload(tmp_path):
    touch(tmp_path / "smithjane_12_345_GANs-PyTorch.ipynb")
    touch(tmp_path / "smithjane_12_346_GANs-PyTorch-1.ipynb")
    touch(tmp_path / "smithjane_12_347_gan (1).py")
    touch(tmp_path / "smithjane_12_350_gan(1).py")
    found = rows(tmp_path)["smithjane-12"]
    assert files(found) == {"notebook": "smithjane_12_345_GANs-PyTorch.ipynb", "gan": "smithjane_12_350_gan(1).py"}
    assert found.problems == [
        '2 candidates for GANs-PyTorch.ipynb: graded "smithjane_12_345_GANs-PyTorch.ipynb" (the exact name); '
        'not graded: "smithjane_12_346_GANs-PyTorch-1.ipynb"',
        '2 candidates for gan.py: graded "smithjane_12_350_gan(1).py" (the later upload); '
        'not graded: "smithjane_12_347_gan (1).py"',
    ]


def test_checkpoints_mac_and_dot_files_are_ignored(tmp_path):
    touch(tmp_path / "alice" / ".ipynb_checkpoints" / NB)
    touch(tmp_path / "alice" / "__pycache__" / GAN)
    touch(tmp_path / "alice" / ".gan.py")
    touch(tmp_path / "__MACOSX" / "alice" / GAN)
    touch(tmp_path / ".DS_Store")
    assert {key: s.problems for key, s in rows(tmp_path).items()} == {"alice": BOTH_MISSING}


# -- plain files only -------------------------------------------------------------------------------
@pytest.fixture
def solution(tmp_path):
    """A file standing for the kit's solution, outside the export."""
    return touch(tmp_path / "kit" / "solution_gan.py", "SECRET SOLUTION")


def opened_paths(monkeypatch):
    """Every path opened from now on (os.open and open), resolved."""
    seen = []
    real_os_open, real_open = os.open, builtins.open

    def os_open(path, *args, **kwargs):
        if kwargs.get("dir_fd") is None:
            seen.append(os.path.realpath(path))
        return real_os_open(path, *args, **kwargs)

    def open_(file, *args, **kwargs):
        if isinstance(file, str | os.PathLike):
            seen.append(os.path.realpath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)
    return seen


def test_links_to_the_solution_are_refused_and_never_read(tmp_path, solution, monkeypatch):
    export = tmp_path / "export"
    touch(export / "frank" / NB)
    (export / "frank" / GAN).symlink_to(solution)
    (export / "frank" / "hw").symlink_to(solution.parent, target_is_directory=True)
    (export / "ghost").symlink_to(solution.parent, target_is_directory=True)  # a "student folder" that is a link
    (export / "smithjane_12_345_gan.py").symlink_to(solution)
    os.link(solution, export / "frank" / "gan (1).py")  # a hard link to it
    seen = opened_paths(monkeypatch)
    found = rows(export)
    assert str(solution) not in seen and all(not p.startswith(str(solution.parent)) for p in seen)
    assert sorted(found) == ["frank", "smithjane-12", f"unidentified-{short('ghost')}"]
    assert files(found["frank"]) == {"notebook": "frank/GANs-PyTorch.ipynb"}
    assert found["frank"].problems == [
        'gan.py candidate "gan (1).py" refused: it is a hard link (one file with 2 names, possibly outside the export)',
        'gan.py candidate "gan.py" refused: it is a symbolic link (not followed, not read)',
        'not plain files, ignored: "hw" (a symbolic link)',
        "missing gan.py",
    ]
    assert found["smithjane-12"].problems == [
        'gan.py candidate "smithjane_12_345_gan.py" refused: it is a symbolic link (not followed, not read)',
        *BOTH_MISSING,
    ]
    assert found[f"unidentified-{short('ghost')}"].problems == [
        '"ghost" at the top of the export is a symbolic link: not followed'
    ]


def test_fifos_devices_and_oversized_files_are_refused_without_reading(tmp_path):
    (tmp_path / "gina").mkdir()
    os.mkfifo(tmp_path / "gina" / GAN)
    with open(tmp_path / "gina" / NB, "wb") as f:  # sparse: no disk used
        f.truncate(50 * 2**20 + 1)
    touch(tmp_path / "hana" / NB)
    with open(tmp_path / "hana" / GAN, "wb") as f:
        f.truncate(2**20 + 1)
    os.mkfifo(tmp_path / "hana" / "pipe")
    found = rows(tmp_path)  # a FIFO opened for reading would block here forever
    assert found["gina"].files == {}
    assert found["gina"].problems == [
        'GANs-PyTorch.ipynb candidate "GANs-PyTorch.ipynb" refused: it is 52,428,801 bytes, over the 50 MB limit',
        'gan.py candidate "gan.py" refused: it is a FIFO (named pipe), not a regular file',
        *BOTH_MISSING,
    ]
    assert files(found["hana"]) == {"notebook": "hana/GANs-PyTorch.ipynb"}
    assert found["hana"].problems == [
        'gan.py candidate "gan.py" refused: it is 1,048,577 bytes, over the 1 MB limit',
        'not plain files, ignored: "pipe" (a FIFO (named pipe))',
        "missing gan.py",
    ]


def test_copy_plain_copies_plain_files_and_refuses_the_rest(tmp_path, solution):
    export = tmp_path / "export"
    notebook = touch(export / "ivy" / NB, "{}")
    touch(export / "ivy" / GAN, "print(1)\n")
    found = rows(export)["ivy"]
    assert found.copy("gan", tmp_path / "staged.py") == 9 and (tmp_path / "staged.py").read_text() == "print(1)\n"
    outside = touch(tmp_path / "outside.txt", "keep")
    (tmp_path / "staged.ipynb").symlink_to(outside)  # a link at the destination: replaced, not written through
    assert copy_plain(notebook, tmp_path / "staged.ipynb", 10) == 2
    assert outside.read_text() == "keep" and not (tmp_path / "staged.ipynb").is_symlink()
    (export / "ivy" / "link.py").symlink_to(solution)
    os.mkfifo(export / "ivy" / "fifo.py")
    os.link(solution, export / "ivy" / "hard.py")
    (export / "jay").symlink_to(export / "ivy", target_is_directory=True)
    refused = {
        "link": (export / "ivy" / "link.py", None, '"link.py": a symbolic link on its path (not followed, not read)'),
        "fifo": (export / "ivy" / "fifo.py", None, '"fifo.py" is a FIFO (named pipe), not a regular file'),
        "hard": (export / "ivy" / "hard.py", None, '"hard.py" is a hard link (2 names for one file)'),
        "big": (export / "ivy" / GAN, None, '"gan.py" is 9 bytes, over the 8 bytes limit'),
        "folder": (export / "jay" / GAN, export, '"gan.py": a symbolic link on its path (not followed, not read)'),
    }
    for name, (source, root, reason) in refused.items():
        with pytest.raises(Refused) as error:
            copy_plain(source, tmp_path / f"{name}.out", 8 if name == "big" else 100, root=root)
        assert str(error.value) == reason and not os.path.lexists(tmp_path / f"{name}.out")


# -- archives ---------------------------------------------------------------------------------------
def link_member(z, name, target):
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    z.writestr(info, target)


def test_zip_is_unpacked_and_unsafe_members_refused_with_reasons(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("alice_1_2_GANs-PyTorch.ipynb", "{}")
        z.writestr("alice_1_3_gan.py", "")
        link_member(z, "bob_4_5_gan.py", "/etc/passwd")
        z.writestr("bob_4_6_GANs-PyTorch.ipynb", "{}")
        z.writestr("../escape.py", "")
        z.writestr("/abs/gan.py", "")
        z.writestr("C:\\win\\gan.py", "")
        z.writestr("carl/../../x.py", "")
        link_member(z, "dora/GANs-PyTorch.ipynb", "../../kit/solution.ipynb")
        z.writestr("dora/gan.py", "")
        fifo = zipfile.ZipInfo("dora/pipe")
        fifo.create_system, fifo.external_attr = 3, (stat.S_IFIFO | 0o644) << 16
        z.writestr(fifo, "")
        z.writestr(REFUSED_MANIFEST, "[]")
    folder = unpack(archive, tmp_path / "out")
    assert folder == tmp_path / "out" and not (tmp_path / "escape.py").exists() and not (tmp_path / "x.py").exists()
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        REFUSED_MANIFEST,
        "alice_1_2_GANs-PyTorch.ipynb",
        "alice_1_3_gan.py",
        "bob_4_6_GANs-PyTorch.ipynb",
        "dora",
        "dora/gan.py",
    ]
    assert not any(p.is_symlink() for p in folder.rglob("*"))
    found = rows(folder)
    assert sorted(found) == ["alice-1", "bob-4", "dora"]  # a refused member that names no student is no row
    assert collect(folder).problems == [
        'archive member "../escape.py" refused: its path contains ".."; it names no student: no row',
        'archive member "/abs/gan.py" refused: its path is absolute; it names no student: no row',
        'archive member "C:\\\\win\\\\gan.py" refused: its path is absolute; it names no student: no row',
        'archive member "carl/../../x.py" refused: its path contains ".."; it names no student: no row',
        f'archive member "{REFUSED_MANIFEST}" refused: its name is the one the kit keeps for its list of refused '
        "members; it names no student: no row",
    ]
    assert files(found["alice-1"]) == {"notebook": "alice_1_2_GANs-PyTorch.ipynb", "gan": "alice_1_3_gan.py"}
    assert found["bob-4"].problems == [
        'gan.py candidate "bob_4_5_gan.py" refused: the archive member was not unpacked: it is a symbolic link',
        "missing gan.py",
    ]
    assert found["dora"].problems == [
        'GANs-PyTorch.ipynb candidate "dora/GANs-PyTorch.ipynb" refused: the archive member was not unpacked: '
        "it is a symbolic link",
        '"dora/pipe" refused: the archive member was not unpacked: it is a FIFO (named pipe)',
        "missing GANs-PyTorch.ipynb",
    ]


def test_unsafe_archives_are_refused_whole_and_nothing_is_written(tmp_path):
    (tmp_path / "not.zip").write_text("hello")
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("a/gan.py", "x" * 100)
        z.writestr("b/gan.py", "x" * 100)
    cases = [
        (tmp_path / "not.zip", {}, "is not a readable zip archive"),
        (good, {"max_members": 1}, "has 2 members, over the limit of 1: refused, nothing unpacked"),
        (good, {"max_bytes": 199}, "unpacks to 200 bytes, over the 199 bytes limit: refused, nothing unpacked"),
    ]
    for number, (archive, limits, message) in enumerate(cases):
        with pytest.raises(UnsafeArchive, match=re.escape(message)):
            unpack(archive, tmp_path / f"out{number}", **limits)
        assert not (tmp_path / f"out{number}").exists()


class UnflaggedName(zipfile.ZipInfo):
    """A member name written in UTF-8 without the zip's UTF-8 flag, as many zip tools do."""

    __slots__ = ()

    def _encodeFilenameFlags(self):
        return self.filename.encode("utf-8"), self.flag_bits


def test_utf8_member_names_without_the_zip_flag_are_read_as_utf8(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(UnflaggedName("张伟/gan.py"), "")
    with zipfile.ZipFile(archive) as z:
        assert z.infolist()[0].flag_bits & 0x800 == 0 and z.namelist() != ["张伟/gan.py"]
    found = rows(unpack(archive, tmp_path / "out"))
    assert list(found) == ["ZhangWei"] and found["ZhangWei"].name == "张伟"


# -- hostile names, keys, mixed exports -------------------------------------------------------------
def test_hostile_names_get_safe_unique_stable_keys(tmp_path):
    unique = {
        'O\'Brien "Bob"': "O-Brien-Bob",
        "Line\nBreak": "Line-Break",
        "  spaced   out  ": "spaced-out",
        "a" * 250: "a" * 80,  # (a file name has at most 255 bytes; a 300-character name is below)
        "!!!": f"student-{short('!!!')}",
    }
    colliding = [("张伟", "張偉", "ZhangWei"), ("José", "Jose", "Jose"), ("Jane Doe", "jane-doe", "Jane-Doe")]
    for name in [*unique, *(n for a, b, _ in colliding for n in (a, b))]:
        touch(tmp_path / name / NB)
        touch(tmp_path / name / GAN)
    touch(tmp_path / "张伟_20_30_gan.py")  # a Canvas file in the same export
    long_name = "é" * 300
    touch(
        tmp_path / "submission_metadata.yml", f"submission_1:\n  :submitters:\n  - :name: {long_name}\n    :sid: '1'\n"
    )
    touch(tmp_path / "submission_1" / GAN)
    found = collect(tmp_path)
    by_name = {s.name: s for s in found if s.source == "folder"}
    for first, second, shared in colliding:
        for name in (first, second):
            key = f"{_slug_of(name)}-{short('folder:' + name)}"
            ordered = sorted((first, second), key=lambda n: "folder:" + n)
            shown = ", ".join(f'"{n}"' for n in ordered)
            assert _slug_of(name).lower() == shared.lower() and by_name[name].key == key
            assert by_name[name].problems == [
                f"key {_slug_of(name)} would be shared by 2 submissions ({shown}): this one is {key}"
            ]
    for name, key in unique.items():
        expected = ['the folder name "!!!" has no letter or digit: key made from a hash'] if name == "!!!" else []
        assert by_name[name].key == key and by_name[name].problems == expected
    assert all(files(s) == {"notebook": f"{s.name}/{NB}", "gan": f"{s.name}/{GAN}"} for s in by_name.values())
    assert {s.key: s.name for s in found if s.source != "folder"} == {"ZhangWei-20": "张伟", f"{'e' * 80}-1": "é" * 300}
    assert len(found) == len(unique) + 6 + 2
    assert [s.key for s in collect(tmp_path)] == [s.key for s in found]  # stable on a re-run


def _slug_of(name):
    """The keys the module docstring promises for these names (transliterated by hand)."""
    return {"张伟": "ZhangWei", "張偉": "ZhangWei", "José": "Jose", "Jose": "Jose"}.get(name, name.replace(" ", "-"))


def test_problems_quote_hostile_names_on_one_line(tmp_path):
    touch(tmp_path / "kim" / "Backup" / "gan\n\u202eyp.py")  # not a candidate
    touch(tmp_path / "kim" / 'x"y' / GAN)
    touch(tmp_path / "kim" / "z" / GAN)
    problems = rows(tmp_path)["kim"].problems
    assert problems == [
        '2 candidates for gan.py: graded "x\\"y/gan.py" (first in name order); not graded: "z/gan.py"',
        'missing GANs-PyTorch.ipynb (the submission has: "Backup/gan\\u000a\\u202eyp.py")',
    ]
    assert all("\n" not in p and "\u202e" not in p for p in problems)


def test_a_mixed_folder(tmp_path):
    touch(tmp_path / "submission_metadata.yml", "submission_7:\n  :submitters:\n  - :name: Gus\n    :sid: '7'\n")
    touch(tmp_path / "submission_7" / GAN)
    touch(tmp_path / "smithjane_12_345_gan.py")
    touch(tmp_path / "Jane Smith_501_assignsubmission_file_" / GAN)
    touch(tmp_path / "alice" / GAN)
    touch(tmp_path / "README.txt")  # names no student and is not the assignment's: ignored
    touch(tmp_path / NB)  # the assignment's notebook, but whose?
    found = rows(tmp_path)
    assert {key: s.source for key, s in found.items()} == {
        "Gus-7": "gradescope",
        "Jane-Smith-501": "moodle",
        "alice": "folder",
        "smithjane-12": "canvas",
        f"unidentified-{short(NB)}": "unidentified",
    }
    assert files(found["Gus-7"]) == {"gan": "submission_7/gan.py"}
    assert files(found["Jane-Smith-501"]) == {"gan": "Jane Smith_501_assignsubmission_file_/gan.py"}
    assert files(found["alice"]) == {"gan": "alice/gan.py"}
    assert files(found["smithjane-12"]) == {"gan": "smithjane_12_345_gan.py"}
    assert found[f"unidentified-{short(NB)}"].problems == [
        '"GANs-PyTorch.ipynb" at the top of the export names no student: not graded'
    ]


def test_an_entry_that_cannot_be_read_becomes_a_row(tmp_path, monkeypatch):
    touch(tmp_path / "alice" / GAN)
    touch(tmp_path / "bob" / GAN)
    real_walk = submissions.walk

    def failing_walk(folder, *args, **kwargs):
        if Path(folder).name == "bob":
            raise OSError(5, "Input/output error")
        return real_walk(folder, *args, **kwargs)

    monkeypatch.setattr(submissions, "walk", failing_walk)
    found = rows(tmp_path)
    assert sorted(found) == ["alice", "bob"]
    assert found["bob"].problems == ['"bob" could not be read (OSError: [Errno 5] Input/output error)', *BOTH_MISSING]
    assert found["alice"].problems == ["missing GANs-PyTorch.ipynb"]


def test_autograde_reports_refused_members_for_the_batch_not_as_students(tmp_path):
    from grading.instructor import autograde

    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../escape/gan.py", "")
        z.writestr("/abs/GANs-PyTorch.ipynb", "{}")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "problems.txt").write_text("an earlier run's problem\n")
    with pytest.raises(SystemExit) as stop:  # no student at all: nothing to grade, and the command says why
        autograde.autograde(archive, tmp_path / "out", log=lambda *a: None)
    problems = [
        'archive member "../escape/gan.py" refused: its path contains ".."; it names no student: no row',
        'archive member "/abs/GANs-PyTorch.ipynb" refused: its path is absolute; it names no student: no row',
    ]
    assert str(stop.value).endswith("\n".join(f"  {problem}" for problem in problems))
    assert (tmp_path / "out" / "problems.txt").read_text().splitlines() == problems
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_the_summary_lists_the_batchs_problems_after_the_grade_table():
    from grading.instructor import autograde

    items = autograde.graded_items()
    row = {"student": "alice-1", "scores": {}, "reason": "", "status": "ok"}
    problem = 'archive member "../x.py" refused: its path contains ".."; it names no student: no row'
    lines = autograde.summary([row], items, [problem]).splitlines()
    assert lines[-2:] == ["the batch: 1 problem, no row for any (problems.txt):", f"  {problem}"]
    assert "the batch" not in autograde.summary([row], items)
