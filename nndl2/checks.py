"""Helpers for the notebook's visible checks: each failure says what was expected and a likely cause.

The tolerances here are the grader's too (it imports them from this module): what passes these checks on
the notebook's inputs passes the grader's on fresh inputs, and float32 arithmetic is as good as float64.
"""

import numpy as np
import torch

LOSS_TOLERANCE = 1e-5  # relative error of a loss's value (float32 arithmetic gives about 1e-7)
GRADIENT_TOLERANCE = 1e-4  # largest gradient error, relative to the largest gradient


def relative_error(x, y):
    """Maximum of |x - y| / (|x| + |y|), elementwise (CS231n's rel_error), for arrays or numbers."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


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


def check_loss(name, loss, expected, inputs=(), expected_grads=()):
    """Assert that a loss is one number within LOSS_TOLERANCE of `expected`, and that its gradients with
    respect to `inputs` (tensors made with requires_grad=True) match `expected_grads`."""
    if not torch.is_tensor(loss):
        raise AssertionError(f"{name} should return a torch.Tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise AssertionError(f"{name} should return a scalar (the mean over the batch), got shape {tuple(loss.shape)}")
    got = loss.detach().cpu().double().numpy()
    error = relative_error(got, expected)
    print(f"Maximum error in {name}: {error:g}")
    if not error < LOSS_TOLERANCE:
        raise AssertionError(f"{name} is {float(got):.6g}; expected {float(expected):.6g} (relative error {error:.3g})")
    if not inputs:
        return
    if not loss.requires_grad:
        raise AssertionError(f"{name} has no gradient: compute it with torch operations on its inputs (no .detach()).")
    grads = torch.autograd.grad(loss.sum(), list(inputs), allow_unused=True)
    for number, (grad, want) in enumerate(zip(grads, expected_grads, strict=True), 1):
        if grad is None:
            raise AssertionError(f"{name} does not depend on its input {number}: is it detached?")
        scale = float(np.max(np.abs(want))) or 1.0
        difference = float(np.max(np.abs(grad.detach().cpu().double().numpy() - want))) / scale
        if not difference <= GRADIENT_TOLERANCE:
            raise AssertionError(
                f"{name}: the gradient with respect to input {number} is wrong (off by {difference:.3g})"
            )
    print(f"Gradients of {name}: correct.")
