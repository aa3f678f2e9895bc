"""nndl2/gan-checks.npz is what the reference solution makes, deterministically."""

import numpy as np

from grading.ta import make_checks


def test_committed_checks_file_verifies():
    assert make_checks.main(["--verify"]) == 0


def test_checks_are_deterministic_and_seeded():
    a, b, c = make_checks.make_checks(1), make_checks.make_checks(1), make_checks.make_checks(2)
    assert all(np.array_equal(a[key], b[key]) for key in a)
    assert not np.array_equal(a["logits_real"], c["logits_real"])


def test_checks_file_contents():
    answers = dict(np.load(make_checks.CHECKS))
    for key in ["logits_real", "logits_fake"]:
        assert answers[key].dtype == np.float64 and answers[key].ndim == 2 and answers[key].shape[1] == 1
    for key in ["d_loss_true", "g_loss_true", "d_loss_lsgan_true", "g_loss_lsgan_true"]:
        assert answers[key].shape == () and np.isfinite(answers[key]) and answers[key] > 0


def test_verify_detects_a_changed_value(tmp_path):
    expected = make_checks.make_checks()
    tampered = dict(expected, g_loss_true=expected["g_loss_true"] + 1e-12)
    np.savez(tmp_path / "checks.npz", **tampered)
    assert any("g_loss_true" in problem for problem in make_checks.differences(expected, tmp_path / "checks.npz"))
    np.savez(tmp_path / "same.npz", **expected)
    assert make_checks.differences(expected, tmp_path / "same.npz") == []
