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


def test_the_notebooks_training_batches_are_its_first_50000_digits_128_at_a_time(mnist_synthetic, monkeypatch):
    """nndl2.agent.training.training_batches: what the grader's training run, the preview and the TAs' tools train
    on (the notebook's loader_train: batch_size 128, NUM_TRAIN 50,000, from the first digit)."""
    from nndl2.agent.training import training_batches

    monkeypatch.setenv("MNIST_ROOT", str(mnist_synthetic))
    dataset = data.load_mnist(download=False)
    batches = training_batches(download=False)
    assert len(batches) == 391  # 390 full batches and one of 50,000 - 390 * 128 = 80 digits
    sizes = [len(x) for x, _ in batches]
    assert sizes[:-1] == [128] * 390 and sizes[-1] == 80
    x, y = next(iter(batches))
    assert (x[:, 0] * 255).round().byte().equal(dataset.data[:128]) and y.equal(dataset.targets[:128])
    *_, (x, y) = batches
    assert (x[-1, 0] * 255).round().byte().equal(dataset.data[49999]) and y[-1] == dataset.targets[49999]
