"""MNIST loading: local folders, the environment variable, and a clear error offline."""

import pytest

from nndl2 import data


def test_missing_mnist_names_the_files_and_the_variable(tmp_path):
    with pytest.raises(RuntimeError) as error:
        data.load_mnist(tmp_path, download=False)
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message and "MNIST_ROOT" in message
    for name in data.MNIST_FILES:
        assert name in message


def test_mnist_root_variable_is_used(mnist_synthetic, monkeypatch):
    monkeypatch.setenv("MNIST_ROOT", str(mnist_synthetic))
    assert data.mnist_root() == mnist_synthetic
    dataset = data.load_mnist(download=False)
    assert dataset.data.shape == (60000, 28, 28)


def test_batches_cover_the_chunk_in_order(mnist_synthetic):
    dataset = data.load_mnist(mnist_synthetic)
    batches = list(data.MNISTBatches(dataset, batch_size=128, num_samples=300, start=100))
    assert [len(x) for x, _ in batches] == [128, 128, 44]
    x, y = batches[0]
    assert x.shape == (128, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert (x[0, 0] * 255).round().byte().equal(dataset.data[100]) and y[0] == dataset.targets[100]


def test_batches_reject_a_chunk_outside_the_data(mnist_synthetic):
    dataset = data.load_mnist(mnist_synthetic)
    with pytest.raises(ValueError, match="outside"):
        data.MNISTBatches(dataset, num_samples=50000, start=20000)
