"""nndl2/gan_outputs.png is made from the current solution and records how."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from grading.ta import make_outputs  # noqa: E402


def test_committed_outputs_come_from_the_current_solution():
    assert make_outputs.main(["--verify"]) == 0, "run: python -m grading.ta.make_outputs"
    record = make_outputs.recorded()
    assert set(record["metrics"]) == {"vanilla", "lsgan", "dcgan"} and record["budget"] == "full"


def test_an_image_without_provenance_does_not_verify(tmp_path):
    plt.figure().savefig(tmp_path / "plain.png")
    assert make_outputs.recorded(tmp_path / "plain.png") is None


def test_the_checksum_ignores_docstrings_and_comments_but_not_code():
    code = 'def f(x):\n    """Doc."""\n    return x + 1  # one\n'
    assert make_outputs.code_only(code) == make_outputs.code_only('def f(x):\n    """Other doc."""\n    return x + 1\n')
    assert make_outputs.code_only(code) != make_outputs.code_only("def f(x):\n    return x + 2\n")
