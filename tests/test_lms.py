"""Grades out: the LMS columns of grades.csv and the Canvas gradebook import, against hand-written files."""

import csv
from datetime import datetime, timezone

import pytest

from grading.instructor.intake.submissions import Submission
from grading.instructor.outputs import lms

# A Canvas gradebook export (Grades > Export) as lib/gradebook_exporter.rb writes it: two students named
# Jane Smith, a "Manual Posting" row, the Points Possible row, read-only totals, an excused student, a
# score already in Canvas, and Canvas's test student.
ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (111),GANs-PyTorch (123456),Current Score,Final Score
,,,,,,Manual Posting,,
    Points Possible,,,,,10.00,16.00,(read only),(read only)
"Smith, Jane",12,S12,jsmith,C147 Lec 1,9.00,,85.5,80
"Smith, Jane",13,S13,jsmith2,C147 Lec 1,8.00,,70,70
"Doe, John",14,S14,jdoe,C147 Lec 1,7.00,,60,60
"Lee, Ann",15,111,alee,C147 Lec 2,10.00,5.00,100,100
"Zhang, Wei",16,S16,wzhang,C147 Lec 2,6.00,EX,50,50
"Kim, Lee",17,S17,lkim,C147 Lec 2,6.00,7.00,50,50
"Student, Test",99,,test,C147 Lec 1,,,0,0
"""

# grades.csv as autograde writes it (columns read by name; the items in between do not matter).
GRADES = """student,name,source,lms_id,sid,late,submitted_at,Q1,autograded_score,total_score,total_max,status,reason
smithjane-12,smithjane,canvas,12,,no,,1,13,13,16,ok,
smithjane-13,smithjane,canvas,13,,yes,,1,12.5,12.5,16,problem,missing gan.py
Ann-Lee-111,Ann Lee,gradescope,1001,111,no,2024-03-01T10:00:00+00:00,1,16,16,16,ok,
ZhangWei-16,张伟,canvas,16,,no,,1,10,10,16,ok,
smithjohn-77,smithjohn,canvas,77,,no,,1,9,9,16,ok,
alice,alice,folder,,,no,,1,11,11,16,ok,
"""

# What Canvas must import: the roster's rows and leading columns, one assignment column.
EXPECTED = """Student,ID,SIS User ID,SIS Login ID,Section,GANs-PyTorch (123456)
,,,,,Manual Posting
    Points Possible,,,,,16.00
"Smith, Jane",12,S12,jsmith,C147 Lec 1,13
"Smith, Jane",13,S13,jsmith2,C147 Lec 1,12.5
"Doe, John",14,S14,jdoe,C147 Lec 1,
"Lee, Ann",15,111,alee,C147 Lec 2,16
"Zhang, Wei",16,S16,wzhang,C147 Lec 2,EX
"Kim, Lee",17,S17,lkim,C147 Lec 2,7.00
"Student, Test",99,,test,C147 Lec 1,
"""

EXPECTED_SUMMARY = """OUT: GANs-PyTorch (123456) filled for 3 of 7 students in the roster
in the roster without a graded submission (left as in Canvas, blank = no score): 3
  Doe, John (ID 14)
  Kim, Lee (ID 17): kept '7.00'
  Student, Test (ID 99)
graded submissions not uploaded: 2
  alice (alice, folder, id -): no Canvas user id (source folder, id -)
  smithjohn-77 (smithjohn, canvas, id 77): not in the roster
uploaded, graded with problems: 1
  Smith, Jane (ID 13): missing gan.py
notes: 2
  Lee, Ann (ID 15): Canvas's 5.00 is replaced by 16
  Zhang, Wei (ID 16) is excused (EX) in Canvas: left excused (total 10)"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "gradebook.csv").write_text(ROSTER, encoding="utf-8")
    (tmp_path / "grades.csv").write_text(GRADES, encoding="utf-8")
    return tmp_path


def test_canvas_upload_matches_the_hand_written_file(files, capsys):
    out = files / "upload.csv"
    argv = ["canvas", "--roster", str(files / "gradebook.csv"), "--grades", str(files / "grades.csv")]
    assert lms.main([*argv, "--column", "GANs-PyTorch", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == EXPECTED
    assert capsys.readouterr().out == EXPECTED_SUMMARY.replace("OUT", str(out)) + "\n"
    with open(out, newline="", encoding="utf-8") as f:  # Python's csv reads back what Canvas will
        table = list(csv.reader(f))
    with open(files / "gradebook.csv", newline="", encoding="utf-8") as f:
        roster = list(csv.reader(f))
    assert [row[:5] for row in table] == [row[:5] for row in roster]  # rows and leading columns unchanged
    column = ["GANs-PyTorch (123456)", "Manual Posting", "16.00", "13", "12.5", "", "16", "EX", "7.00", ""]
    assert [row[5] for row in table] == column and all(len(row) == 6 for row in table)


def test_the_column_may_be_named_with_its_id_and_must_exist_once(files):
    upload = lms.canvas_upload(files / "gradebook.csv", files / "grades.csv", "GANs-PyTorch (123456)")
    assert upload.column == "GANs-PyTorch (123456)" and [r[-1] for r in upload.rows][3] == "13"
    with pytest.raises(SystemExit, match=r"no assignment column 'GANs' in the roster; its assignment columns: "):
        lms.canvas_upload(files / "gradebook.csv", files / "grades.csv", "GANs")
    twice = ROSTER.replace("Quiz 1 (111)", "GANs-PyTorch (111)")
    (files / "twice.csv").write_text(twice)
    with pytest.raises(SystemExit, match=r"2 columns match 'GANs-PyTorch'"):
        lms.canvas_upload(files / "twice.csv", files / "grades.csv", "GANs-PyTorch")


def test_bad_inputs_are_refused_with_a_clear_message(files):
    (files / "other.csv").write_text("name,score\nx,1\n")
    with pytest.raises(SystemExit, match="not a Canvas gradebook export: its first column is not Student"):
        lms.canvas_upload(files / "other.csv", files / "grades.csv", "GANs-PyTorch")
    (files / "nogrades.csv").write_text("student,score\nx,1\n")
    with pytest.raises(SystemExit, match="has no source, lms_id, total_score column"):
        lms.canvas_upload(files / "gradebook.csv", files / "nogrades.csv", "GANs-PyTorch")
    with pytest.raises(SystemExit, match="would overwrite"):
        lms.main(
            ["canvas", "--roster", str(files / "gradebook.csv"), "--grades", str(files / "grades.csv")]
            + ["--column", "GANs-PyTorch", "--out", str(files / "gradebook.csv")]
        )
    assert (files / "gradebook.csv").read_text() == ROSTER


def test_semicolons_bom_and_crlf_are_kept_and_points_checked(files):
    roster = "\ufeffStudent;ID;SIS Login ID;Section;GANs-PyTorch (5)\r\n    Points Possible;;;;20,00\r\n"
    roster += "Smith, Jane;12;jsmith;A;\r\n"
    (files / "semi.csv").write_text(roster, encoding="utf-8", newline="")
    upload = lms.canvas_upload(files / "semi.csv", files / "grades.csv", "GANs-PyTorch")
    lms.write_upload(upload, files / "out.csv")
    assert (files / "out.csv").read_bytes().decode("utf-8") == (
        "\ufeffStudent;ID;SIS Login ID;Section;GANs-PyTorch (5)\r\n"
        "    Points Possible;;;;20,00\r\n"
        "Smith, Jane;12;jsmith;A;13\r\n"
    )
    assert upload.notes == ["GANs-PyTorch (5) is out of 20,00 points in Canvas, the totals out of 16"]


def test_extra_columns_of_grades_csv():
    row = Submission(
        key="ZhangWei-16",
        name="张伟",
        source="canvas",
        lms_id="16",
        late=True,
        submitted_at=datetime(2024, 3, 1, 10, tzinfo=timezone.utc),
    )
    assert lms.extra_columns(row) == {
        "name": "张伟",
        "source": "canvas",
        "lms_id": "16",
        "sid": "",
        "late": "yes",
        "submitted_at": "2024-03-01T10:00:00+00:00",
    }
    formula = Submission(key="x", name="=HYPERLINK(1)", source="folder")
    assert lms.extra_columns(formula) == {
        "name": "'=HYPERLINK(1)",
        "source": "folder",
        "lms_id": "",
        "sid": "",
        "late": "no",
        "submitted_at": "",
    }
    assert list(lms.extra_columns(row)) == list(lms.EXTRA_COLUMNS)
