"""Platform speed settings for training: one context, `platform_speedups`, used by nndl2.training.

    with platform_speedups(device, {D: images, G: noise}, (D_solver, G_solver)) as autocast:
        ...
        with autocast:
            logits = D(images)

Nothing here changes the algorithm; every setting is put back when the context ends. What it does:

- Any device: plain Adam optimizers (as get_optimizer makes them) run PyTorch's fused Adam kernel
  (`use_fused_adam`): one pass over all parameters instead of a dozen small operations per
  parameter tensor. Same update rule; about 1.5x faster whole training steps on a 2-core CPU.
- Where the hardware has fast bfloat16 arithmetic (`bfloat16=None`), the forward passes run under
  bfloat16 autocast (and so do their backward passes), which about halves the cost of the matrix
  products and convolutions; weights, Adam and the losses stay float32. That is GPUs of compute
  capability 8.0+ (A100, L4, H100...) and CPUs with AVX512-BF16 or AMX (AMD Zen 4 on, Intel Xeon
  Cooper Lake and Sapphire Rapids on). Other CPUs, such as Colab's, and the T4 compute in float32.
- CUDA: float32 matmuls and convolutions on TF32 tensor cores, and cuDNN autotuning (the shapes
  never change, so the search pays off after the first steps).
- CPU: convolution weights are stored channels-last, the layout oneDNN's convolutions and
  max-pooling are fastest in (10-15% faster DCGAN steps on 2-core CPUs), for each network whose
  forward pass still runs that way: a `.view(N, -1)` in a network's own code refuses the
  channels-last activations this makes, and that network keeps the usual layout.
"""

from contextlib import contextmanager

import torch
import torch.optim as optim


@contextmanager
def platform_speedups(device, models=None, optimizers=(), bfloat16=None):
    """Faster settings for training `models` with `optimizers` on `device`; yields the autocast context to run them in.

    models: {network: an example input batch} (the example shows whether the network runs channels-last).
    bfloat16: None (default) picks bfloat16 autocast where it is fast (`bfloat16_is_fast`);
    True / False force it on / off.
    """
    device = torch.device(device)
    if bfloat16 is None:  # decided first: nothing below may fail half-way
        bfloat16 = bfloat16_is_fast(device)
    restores = []
    try:
        if device.type == "cuda":
            saved = (
                torch.backends.cuda.matmul.allow_tf32,
                torch.backends.cudnn.allow_tf32,
                torch.backends.cudnn.benchmark,
            )
            restores.append(lambda: _set_cuda_flags(*saved))
            _set_cuda_flags(True, True, True)
        elif device.type == "cpu":
            for model, example in (models or {}).items():
                restores.append(channels_last_if_it_runs(model, example))
        if device.type in ("cuda", "cpu"):
            restores.append(use_fused_adam(device, *optimizers))  # after the layout change: see there
        enabled = bfloat16 and device.type in ("cuda", "cpu")
        yield torch.autocast(device.type if enabled else "cpu", dtype=torch.bfloat16, enabled=enabled)
    finally:
        for restore in reversed(restores):
            restore()


def channels_last_if_it_runs(model, example):
    """Store `model`'s convolution weights channels-last if it still runs on `example` that way; returns the undo.

    The check is one forward pass in eval mode without gradients, so nothing of the model changes
    (BatchNorm statistics included). A network that refuses (a .view in its forward) stays as it was.
    """
    if not any(p.dim() == 4 for p in model.parameters()):
        return lambda: None  # no convolution: nothing would change
    model.to(memory_format=torch.channels_last)
    training = model.training
    try:
        with torch.no_grad():
            model.eval()(example)
    except RuntimeError:
        model.to(memory_format=torch.contiguous_format)
        return lambda: None
    finally:
        model.train(training)
    return lambda: model.to(memory_format=torch.contiguous_format)


def _set_cuda_flags(matmul_tf32, cudnn_tf32, cudnn_benchmark):
    torch.backends.cuda.matmul.allow_tf32 = matmul_tf32
    torch.backends.cudnn.allow_tf32 = cudnn_tf32
    torch.backends.cudnn.benchmark = cudnn_benchmark


def bfloat16_is_fast(device):
    """Whether training on `device` runs under bfloat16 autocast by default (see the module's docstring)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    return device.type == "cpu" and cpu_has_fast_bfloat16()


def cpu_has_fast_bfloat16():
    """Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX instructions)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # older PyTorch lacks them: float32
    return any(getattr(torch.cpu, check, lambda: False)() for check in checks)


def use_fused_adam(device, *optimizers):
    """
    Switch plain torch.optim.Adam optimizers to PyTorch's fused Adam kernel; returns a function
    that switches them back. The update rule is the same, only the floating-point rounding differs.

    A parameter group is left alone when its owner chose an implementation (foreach=, fused=,
    capturable= or differentiable= given) or when its state does not suit the fused kernel (see
    fused_adam_can_step), and so is any optimizer that is not exactly torch.optim.Adam. Fused Adam
    exists for CUDA and, from PyTorch 2.4 on, for CPUs. Call it after any change of the weights'
    memory layout.
    """
    if device.type == "cpu" and torch.__version__ < "2.4":
        return lambda: None
    switched = []
    for optimizer in optimizers:
        if type(optimizer) is not optim.Adam:
            continue
        for group in optimizer.param_groups:
            chose = group.get("foreach") is not None or group.get("fused") is not None
            if chose or group.get("capturable") or group.get("differentiable"):
                continue
            if all(fused_adam_can_step(optimizer, p, device) for p in group["params"]):
                group["fused"] = True
                switched.append(group)

    def restore():
        for group in switched:
            group["fused"] = None

    return restore


def fused_adam_can_step(optimizer, p, device):
    """
    Whether fused Adam can update parameter p: a float tensor on `device` with no Adam state yet,
    or with state the fused kernel can use (made by an earlier fused run). The kernel needs the
    step counter on p's device and assumes every state tensor has p's memory layout: state made
    for other layouts (such as contiguous weights, before platform_speedups stored the DCGAN's
    convolutions channels-last) would be paired with the wrong elements.
    """
    if p.device != device or not p.is_floating_point():
        return False
    state = optimizer.state.get(p)
    if not state:
        return True
    tensors = [value for value in state.values() if torch.is_tensor(value)]
    return state["step"].device == p.device and all(t.dim() == 0 or t.stride() == p.stride() for t in tensors)
