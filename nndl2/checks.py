"""Helpers for the notebook's visible checks: each failure says what was expected and a likely cause."""

import numpy as np
import torch


def check_param_count(model, expected, name, bias_count=None):
    """Assert that `model` has `expected` parameters; hint at missing biases when that explains it."""
    count = sum(p.numel() for p in model.parameters())
    if count != expected:
        hint = ""
        if bias_count is not None and count == expected - bias_count:
            hint = " The difference is exactly the bias terms: give every layer bias=True."
        raise AssertionError(
            f"{name} has {count} parameters; expected {expected} "
            f"({'missing' if count < expected else 'extra'} {abs(expected - count)}). "
            f"Compare your layers with the architecture list.{hint}"
        )
    print(f"Correct number of parameters in {name}: {count}.")


def check_output(name, out, batch, shapes):
    """Assert that `out` is a tensor with one of the allowed shapes, e.g. shapes=[(batch, 784)]."""
    if not torch.is_tensor(out):
        raise AssertionError(f"{name} should return a torch.Tensor, got {type(out).__name__}")
    allowed = [tuple(s) for s in shapes]
    if tuple(out.shape) not in allowed:
        expected = " or ".join(str(s) for s in allowed)
        raise AssertionError(f"{name} gave output shape {tuple(out.shape)} for a batch of {batch}; expected {expected}")
    print(f"{name} output shape {tuple(out.shape)}: correct.")


def check_loss(name, loss, expected, tolerance=1e-7):
    """Assert that a loss is a scalar tensor within `tolerance` relative error of `expected`."""
    if not torch.is_tensor(loss):
        raise AssertionError(f"{name} should return a torch.Tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise AssertionError(f"{name} should return a scalar (the mean over the batch), got shape {tuple(loss.shape)}")
    got = loss.detach().cpu().double().numpy()
    error = float(np.max(np.abs(got - expected) / np.maximum(1e-8, np.abs(got) + np.abs(expected))))
    print(f"Maximum error in {name}: {error:g}")
    if not error < tolerance:
        raise AssertionError(f"{name} is {float(got):.6g}; expected {float(expected):.6g} (relative error {error:.3g})")
