"""Finding each student's files: folders per student, flat LMS exports, zips, re-submissions."""

import zipfile

import pytest

from grading.instructor.submissions import collect, student_id, unpack


def touch(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_one_folder_per_student(tmp_path):
    touch(tmp_path / "alice" / "GANs-PyTorch.ipynb")
    touch(tmp_path / "alice" / "nested" / "gan.py")
    touch(tmp_path / "bob" / "GANs-PyTorch.ipynb")
    found = collect(tmp_path)
    assert sorted(found) == ["alice", "bob"]
    assert found["alice"].missing() == [] and found["bob"].missing() == ["gan.py"]


def test_flat_lms_export_with_resubmissions(tmp_path):
    touch(tmp_path / "smithjane_12_345_GANs-PyTorch.ipynb", "first")
    touch(tmp_path / "smithjane_12_346_GANs-PyTorch-1.ipynb", "second")
    touch(tmp_path / "smithjane_12_345_gan.py")
    touch(tmp_path / "doejohn_LATE_13_999_gan.py")
    touch(tmp_path / "doejohn_LATE_13_999_mygan.py")  # not the assignment's file
    found = collect(tmp_path)
    assert sorted(found) == ["doejohn", "smithjane"]
    assert found["smithjane"].files["notebook"].read_text() == "second"
    assert found["doejohn"].files["gan"].name == "doejohn_LATE_13_999_gan.py"
    assert found["doejohn"].missing() == ["GANs-PyTorch.ipynb"]


def test_checkpoints_and_mac_folders_are_ignored(tmp_path):
    touch(tmp_path / "alice" / ".ipynb_checkpoints" / "GANs-PyTorch.ipynb")
    touch(tmp_path / "__MACOSX" / "alice" / "gan.py")
    assert collect(tmp_path) == {}


def test_zip_is_unpacked_and_unsafe_paths_refused(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("alice_1_2_GANs-PyTorch.ipynb", "{}")
        z.writestr("alice_1_2_gan.py", "")
    assert sorted(collect(unpack(archive, tmp_path / "out"))) == ["alice"]
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../escape.py", "")
    with pytest.raises(ValueError, match="unsafe"):
        unpack(evil, tmp_path / "evil")


def test_student_ids_are_safe():
    assert student_id("Jane Smith/../x") == "Jane-Smith-..-x"  # no "/" left: a single folder name
    assert student_id("../../etc") == "etc" and student_id("ok_name-1") == "ok_name-1"
    with pytest.raises(ValueError):
        student_id("///")
