"""The reference solution passes every visible check, and the provided helpers behave as documented."""

import numpy as np
import pytest
import torch
from torch import nn

from grading.ta.make_checks import CHECKS

PARAM_COUNTS = [
    ("discriminator", (), 267009),
    ("generator", (4,), 1858320),
    ("build_dc_classifier", (128,), 1102721),
    ("build_dc_generator", (4,), 6580801),
]


def rel_error(x, y):  # the tests' own, not the one in gan.py
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


def test_sample_noise_shape_range_and_seed(solution):
    z = solution.sample_noise(1000, 7, seed=3)
    assert torch.is_tensor(z) and z.dtype == torch.float32 and z.shape == (1000, 7)
    assert z.min() >= -1 and z.max() <= 1 and z.min() < -0.99 and z.max() > 0.99
    assert torch.equal(z, solution.sample_noise(1000, 7, seed=3))
    assert not torch.equal(z, solution.sample_noise(1000, 7, seed=4))


@pytest.mark.parametrize("name, args, expected", PARAM_COUNTS)
def test_parameter_counts(solution, name, args, expected):
    model = getattr(solution, name)(*args)
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize(
    "name, args, inputs, shape",
    [
        ("discriminator", (), (5, 1, 28, 28), (5, 1)),
        ("discriminator", (), (5, 784), (5, 1)),
        ("generator", (), (5, 96), (5, 784)),
        ("build_dc_classifier", (5,), (5, 1, 28, 28), (5, 1)),
        ("build_dc_classifier", (5,), (5, 784), (5, 1)),
        ("build_dc_generator", (), (5, 96), (5, 784)),
    ],
)
def test_output_shapes(solution, name, args, inputs, shape):
    model = getattr(solution, name)(*args)
    with torch.no_grad():
        assert model(torch.rand(inputs) * 2 - 1).shape == shape


def test_generators_output_tanh_range(solution):
    with torch.no_grad():
        for model in (solution.generator(), solution.build_dc_generator()):
            out = model(torch.randn(16, 96) * 10)
            assert out.min() >= -1 and out.max() <= 1


def test_losses_match_checks_file(solution):
    answers = dict(np.load(CHECKS))
    real, fake = torch.from_numpy(answers["logits_real"]), torch.from_numpy(answers["logits_fake"])
    assert rel_error(solution.discriminator_loss(real, fake), answers["d_loss_true"]) < 1e-7
    assert rel_error(solution.generator_loss(fake), answers["g_loss_true"]) < 1e-7
    assert rel_error(solution.ls_discriminator_loss(real, fake), answers["d_loss_lsgan_true"]) < 1e-7
    assert rel_error(solution.ls_generator_loss(fake), answers["g_loss_lsgan_true"]) < 1e-7
    # float32 inputs, as in training, stay close too
    assert rel_error(solution.discriminator_loss(real.float(), fake.float()), answers["d_loss_true"]) < 1e-6


def test_losses_against_formulas(solution):
    rng = np.random.default_rng(0)
    r, f = rng.normal(size=(40, 1)), rng.normal(size=(40, 1))
    softplus = lambda v: np.logaddexp(0, v)  # noqa: E731
    d = solution.discriminator_loss(torch.from_numpy(r), torch.from_numpy(f))
    assert np.isclose(float(d), softplus(-r).mean() + softplus(f).mean(), rtol=1e-12)
    assert np.isclose(float(solution.generator_loss(torch.from_numpy(f))), softplus(-f).mean(), rtol=1e-12)
    ls = solution.ls_discriminator_loss(torch.from_numpy(r), torch.from_numpy(f))
    assert np.isclose(float(ls), 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(), rtol=1e-12)


def test_bce_loss_accepts_column_and_flat_targets(solution):
    logits = torch.tensor([[2.0], [-1.0], [0.5]])
    column = solution.bce_loss(logits, torch.ones(3, 1))
    flat = solution.bce_loss(logits, torch.ones(3))
    expected = np.mean(np.logaddexp(0, -logits.numpy()))
    assert torch.equal(column, flat) and np.isclose(float(column), expected)
    # (N,) targets next to (N, 1) logits must not broadcast to (N, N)
    assert not np.isclose(float(solution.bce_loss(logits, torch.tensor([1.0, 0.0, 1.0]))), expected)
    with pytest.raises(ValueError, match="one label per logit"):
        solution.bce_loss(logits, torch.ones(4))


def test_bce_loss_takes_one_number_as_every_logits_label_as_cs231ns_original_helper_did(solution):
    """Public solutions call bce_loss(logits_real, 1): CS231n's original helper broadcast the number."""
    logits = torch.tensor([[2.0], [-1.0], [0.5]], dtype=torch.float64)
    for label in (1, 1.0, torch.tensor(1.0), np.float32(1.0)):
        assert torch.equal(solution.bce_loss(logits, label), solution.bce_loss(logits, torch.ones(3, 1)))
    assert torch.equal(solution.bce_loss(logits, 0), solution.bce_loss(logits, torch.zeros(3)))
    assert solution.bce_loss(logits, 1).dtype == torch.float64
    original = lambda x, y: (x.clamp(min=0) - x * y + (1 + (-x.abs()).exp()).log()).mean()  # noqa: E731
    assert np.isclose(float(solution.bce_loss(logits, 1) + solution.bce_loss(logits, 0)),
                      float(original(logits, 1) + original(logits, 0)), rtol=1e-12)  # fmt: skip


def test_bce_loss_casts_labels_to_logit_dtype(solution):
    logits = torch.zeros(4, 1, dtype=torch.float64)
    loss = solution.bce_loss(logits, torch.ones(4, 1))  # float32 labels
    assert loss.dtype == torch.float64 and np.isclose(float(loss), np.log(2))


@pytest.mark.parametrize("shape", [(6, 10), (6, 2, 5), (6, 1, 28, 28), (6, 2, 3, 4, 5)])
def test_flatten_any_rank(solution, shape):
    x = torch.arange(np.prod(shape), dtype=torch.float32).reshape(shape)
    out = solution.Flatten()(x)
    assert out.shape == (6, int(np.prod(shape[1:]))) and torch.equal(out.reshape(shape), x)


def test_unflatten_infers_batch(solution):
    assert solution.Unflatten(-1, 128, 7, 7)(torch.zeros(3, 6272)).shape == (3, 128, 7, 7)


def test_get_optimizer(solution):
    model = nn.Linear(3, 2)
    opt = solution.get_optimizer(model)
    assert type(opt) is torch.optim.Adam
    assert opt.param_groups[0]["lr"] == 1e-3 and opt.param_groups[0]["betas"] == (0.5, 0.999)


def test_initialize_weights_xavier_bound(solution):
    layer = nn.Linear(100, 50)
    layer.weight.data.fill_(10.0)
    solution.initialize_weights(layer)
    bound = np.sqrt(6 / (100 + 50))
    assert layer.weight.abs().max() <= bound and layer.weight.std() > bound / 3
