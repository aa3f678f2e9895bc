"""The kit's training path: MNISTBatches equals the classic DataLoader, and run_a_gan stays a plain GAN loop.

No timings here (the CPU is shared): speed is measured by `python -m grading.ta.benchmark`.
"""

import inspect
from contextlib import nullcontext
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from grading.ta.reference_gans import build
from nndl2 import quality, speed
from nndl2.agent.training import UntilPassing, train_gan
from nndl2.data import ChunkSampler, MNISTBatches, load_mnist
from nndl2.training import Progress, fill_history, fixed_noise, full_batches, run_a_gan

BATCH = 128


@pytest.fixture(scope="module")
def dataset(mnist_synthetic):
    return load_mnist(mnist_synthetic, download=False)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def classic_loader(solution, dataset, num_samples, start=0, generator=None):
    """The CS231n notebook's loader: ToTensor on every PIL image, ChunkSampler(num_samples, start)."""
    return DataLoader(dataset, batch_size=BATCH, sampler=ChunkSampler(num_samples, start), generator=generator)


@pytest.mark.parametrize("num_samples, start", [(1000, 0), (700, 1234), (208, 49792)])
def test_mnist_batches_equal_the_classic_dataloader(solution, dataset, num_samples, start):
    fast = list(MNISTBatches(dataset, BATCH, num_samples, start=start))
    classic = list(classic_loader(solution, dataset, num_samples, start))
    assert [len(x) for x, _ in fast] == [len(x) for x, _ in classic]  # partial last batch included
    for index, ((x, y), (x_ref, y_ref)) in enumerate(zip(fast, classic, strict=True)):
        assert x.dtype == x_ref.dtype == torch.float32 and y.dtype == y_ref.dtype == torch.int64
        assert torch.equal(x, x_ref), f"batch {index}: images differ"  # bit-identical, not just close
        assert torch.equal(y, y_ref), f"batch {index}: labels differ"


def test_mnist_batches_follow_the_classic_chunk_sampler_order(solution, dataset):
    """The notebook's 50,000-digit chunk: the DataLoader's batches of indices are MNISTBatches' slices.

    (Its last two batches' values are compared above, as the chunk [49792, 50000); converting all
    50,000 digits to PIL images again would only make the test slow.)
    """
    fast = MNISTBatches(dataset, BATCH, 50000)
    index_batches = list(classic_loader(solution, dataset, 50000).batch_sampler)
    assert len(fast) == len(index_batches) == 391
    assert [len(x) for x, _ in fast] == [len(b) for b in index_batches] == [BATCH] * 390 + [80]
    assert [b[0] for b in index_batches] == list(range(0, 50000, BATCH))
    assert all(b == list(range(b[0], b[0] + len(b))) for b in index_batches)
    x, y = next(iter(fast))
    x_ref, y_ref = next(iter(classic_loader(solution, dataset, 50000)))
    assert torch.equal(x, x_ref) and torch.equal(y, y_ref)


def train(solution, gan, loader, iters, seed=0, **kwargs):
    """The notebook's training of one GAN for a few iterations; returns (history, snapshots, G)."""
    torch.manual_seed(seed)
    D, G, d_loss, g_loss = build(gan, solution)
    history = {}
    images = run_a_gan(
        D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss, loader,
        max_iters=iters, history=history, **kwargs,
    )  # fmt: skip
    return history, images, G


@pytest.mark.parametrize("gan, iters, show_every", [("vanilla", 5, 2), ("dcgan", 2, 1)])
def test_fast_and_classic_data_paths_train_the_same(solution, dataset, gan, iters, show_every, capsys):
    # Every pass over a DataLoader draws its workers' base seed from a generator: the global one
    # unless it is given its own. Given its own, it leaves the noise of the training to the seed, as
    # MNISTBatches (which draws nothing) does; the batches do not depend on it (ChunkSampler is sequential).
    classic_batches = classic_loader(solution, dataset, 50000, generator=torch.Generator())
    fast_batches = MNISTBatches(dataset, BATCH, 50000)
    fast, fast_images, G_fast = train(solution, gan, fast_batches, iters, show_every=show_every)
    classic, classic_images, G_classic = train(solution, gan, classic_batches, iters, show_every=show_every)

    assert len(fast["d_loss"]) == len(classic["d_loss"]) == iters
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_allclose(fast[key], classic[key], rtol=1e-5, atol=1e-6, err_msg=key)
    shows = list(range(0, iters, show_every))
    assert len(fast_images) == len(classic_images) == len(shows)
    for a, b in zip(fast_images, classic_images, strict=True):
        assert a.shape == (16, 784) and a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=1e-5)
    for p, q in zip(G_fast.parameters(), G_classic.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)
        assert p.requires_grad and p.is_contiguous()  # the CPU's channels-last layout is undone afterwards
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Iter: ")]
    assert [line.split(",")[0] for line in printed] == [f"Iter: {i}" for i in shows] * 2


def test_run_a_gan_updates_each_network_once_per_iteration(solution, dataset):
    torch.manual_seed(0)
    D, G, d_loss, g_loss = build("vanilla", solution)
    D_solver, G_solver = solution.get_optimizer(D), solution.get_optimizer(G)
    steps = {"D": 0, "G": 0}
    D_solver.register_step_post_hook(lambda *_: steps.__setitem__("D", steps["D"] + 1))
    G_solver.register_step_post_hook(lambda *_: steps.__setitem__("G", steps["G"] + 1))
    batches = MNISTBatches(dataset, BATCH, 300)  # 2 full batches and a partial one, which is skipped
    run_a_gan(D, G, D_solver, G_solver, d_loss, g_loss, batches, num_epochs=2)
    assert steps == {"D": 4, "G": 4}
    assert all(p.requires_grad for p in D.parameters())  # frozen only during the generator steps


FUSED_ADAM_ON_CPU = torch.__version__ >= "2.4"


def fused_flags_at_each_step(optimizer):
    """Record group["fused"] of every parameter group each time the optimizer steps."""
    seen = []
    optimizer.register_step_pre_hook(lambda opt, *_: seen.append([group.get("fused") for group in opt.param_groups]))
    return seen


def weights(D, G):
    return [p.detach() for p in (*D.parameters(), *G.parameters())]


def assert_same_weights(ours, reference):
    """Weights after float64 training: equal up to float64 rounding (see the test below for why float64)."""
    for p, q in zip(ours, reference, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-11)


def test_run_a_gan_runs_adam_fused_and_switches_it_back(solution, dataset):
    torch.manual_seed(0)
    D, G, d_loss, g_loss = build("vanilla", solution)
    D_solver, G_solver = solution.get_optimizer(D), solution.get_optimizer(G)
    seen = fused_flags_at_each_step(D_solver), fused_flags_at_each_step(G_solver)
    run_a_gan(D, G, D_solver, G_solver, d_loss, g_loss, MNISTBatches(dataset, BATCH, 50000), max_iters=2)
    assert seen == ([[FUSED_ADAM_ON_CPU or None]] * 2,) * 2
    assert [group["fused"] for group in D_solver.param_groups + G_solver.param_groups] == [None, None]


def test_run_a_gan_leaves_optimizers_it_was_not_asked_for_alone(solution, dataset):
    torch.manual_seed(0)
    D, G, d_loss, g_loss = build("vanilla", solution)
    chosen = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999), foreach=False)  # an explicit choice
    sgd = torch.optim.SGD(G.parameters(), lr=1e-3)  # not Adam
    seen = fused_flags_at_each_step(chosen), fused_flags_at_each_step(sgd)
    run_a_gan(D, G, chosen, sgd, d_loss, g_loss, MNISTBatches(dataset, BATCH, 50000), max_iters=2)
    assert seen == ([[None]] * 2,) * 2 and chosen.param_groups[0]["foreach"] is False


@pytest.fixture
def float64_default():
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(dtype)


@pytest.mark.parametrize("gan, iters", [("vanilla", 6), ("dcgan", 3)])
def test_fused_adam_trains_like_the_reference_adam(solution, dataset, gan, iters, float64_default):
    """run_a_gan's fused Adam against PyTorch's single-tensor Adam: the same training, in float64.

    In float32 the two differ by rounding only (one step: about 1 ulp), but Adam divides by the
    gradients' running scale, so parameters whose gradients are near zero turn that into visible
    differences after a few GAN steps (up to 2e-3 after 3 DCGAN steps on MNIST). In float64 the
    rounding is 1e-16 and what is left to compare is the algorithm.
    """

    def single_tensor_adam(model):
        return torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999), foreach=False, fused=False)

    batches = [(x.double(), y) for x, y in MNISTBatches(dataset, BATCH, BATCH * iters)]
    runs = []
    for make_optimizer, fused_flag in (
        (solution.get_optimizer, FUSED_ADAM_ON_CPU or None),
        (single_tensor_adam, False),
    ):
        torch.manual_seed(0)
        D, G, d_loss, g_loss = build(gan, solution)
        start = [p.clone() for p in weights(D, G)]
        history = {}
        D_solver, G_solver = make_optimizer(D), make_optimizer(G)
        seen = fused_flags_at_each_step(G_solver)
        run_a_gan(D, G, D_solver, G_solver, d_loss, g_loss, batches, max_iters=iters, history=history, bfloat16=False)
        assert seen == [[fused_flag]] * iters
        runs.append((history, weights(D, G)))
    (fused, fused_params), (reference, reference_params) = runs
    assert len(fused["g_loss"]) == iters and fused_params[0].dtype == torch.float64
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_allclose(fused[key], reference[key], rtol=1e-9, err_msg=key)
    assert_same_weights(fused_params, reference_params)
    moved = max((p - q).abs().max().item() for p, q in zip(fused_params, start, strict=True))
    assert moved > 1e-3  # the networks did train: the comparison is not between two untouched models


def test_adam_with_state_keeps_its_implementation_and_trains_right(solution, dataset, float64_default):
    """An optimizer stepped on contiguous weights before run_a_gan (resumed training) is not switched.

    On a CPU run_a_gan stores the DCGAN's convolution weights channels-last, and the fused CPU kernel
    would pair their elements with the wrong entries of the contiguous state. The result must equal
    PyTorch's single-tensor Adam, stepped the same way.
    """
    batches = [(x.double(), y) for x, y in MNISTBatches(dataset, BATCH, BATCH * 2)]
    runs = []
    for foreach in (None, False):  # None: run_a_gan may choose; False: the reference implementation
        torch.manual_seed(0)
        D, G, d_loss, g_loss = build("dcgan", solution)
        D_solver, G_solver = (
            torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999), foreach=foreach) for model in (D, G)
        )
        for model, optimizer in ((D, D_solver), (G, G_solver)):  # one step before training, on contiguous weights
            for p in model.parameters():
                p.grad = torch.randn_like(p)  # uneven state: a mismatched layout would show
            optimizer.step()
        seen = fused_flags_at_each_step(G_solver)
        run_a_gan(D, G, D_solver, G_solver, d_loss, g_loss, batches, max_iters=2, bfloat16=False)
        runs.append((weights(D, G), seen))
    assert_same_weights(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1] == [[None]] * 2


def test_training_resumed_with_fused_state_stays_fused_and_right(solution, dataset, float64_default):
    """run_a_gan twice with the same optimizers: the second run reuses the fused state (no silent
    switch back to the default Adam, whose step counters would then sit on the GPU and make every
    step wait for it), and both runs together train like PyTorch's single-tensor Adam."""
    batches = [(x.double(), y) for x, y in MNISTBatches(dataset, BATCH, BATCH * 2)]
    runs = []
    for foreach in (None, False):
        torch.manual_seed(0)
        D, G, d_loss, g_loss = build("dcgan", solution)
        D_solver, G_solver = (
            torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999), foreach=foreach) for model in (D, G)
        )
        seen = fused_flags_at_each_step(G_solver)
        for _ in range(2):
            run_a_gan(D, G, D_solver, G_solver, d_loss, g_loss, batches, max_iters=1, bfloat16=False)
        runs.append((weights(D, G), seen))
    (fused, fused_seen), (reference, reference_seen) = runs
    assert_same_weights(fused, reference)
    assert fused_seen == [[FUSED_ADAM_ON_CPU or None]] * 2 and reference_seen == [[None]] * 2


# Python-level calls that make the host wait for the device (or copy to the host).
SYNCING = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__")


@pytest.fixture
def host_syncs(monkeypatch, solution):
    """Count the syncing Tensor calls made directly by run_a_gan's own code and its bookkeeping (Progress,
    full_batches, fixed_noise, fill_history) in nndl2/training.py (not Adam's or a loss's)."""
    calls = []
    code = {
        run_a_gan.__code__,
        full_batches.__code__,
        Progress.__init__.__code__,
        Progress.log.__code__,
        Progress.close.__code__,
        fixed_noise.__code__,
        fill_history.__code__,
    }
    for name in SYNCING:
        original = getattr(torch.Tensor, name)

        def tracked(self, *args, _name=name, _original=original, **kwargs):
            if inspect.currentframe().f_back.f_code in code:
                calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, tracked)
    return calls


def test_run_a_gan_syncs_only_at_show_every(solution, dataset, host_syncs):
    # The loop's code is the same for every GAN: the (fast) vanilla one shows it.
    def syncs(iters, show_every, history):
        host_syncs.clear()
        torch.manual_seed(0)
        D, G, d_loss, g_loss = build("vanilla", solution)
        run_a_gan(
            D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss,
            MNISTBatches(dataset, BATCH, 50000), show_every=show_every, max_iters=iters, history=history,
        )  # fmt: skip
        return list(host_syncs)

    # Shown only at iteration 0: the same calls whether training runs 2 or 3 iterations
    # (`once` is not empty: the tracker does see run_a_gan's own calls).
    once = syncs(2, show_every=1000, history=None)
    assert once and syncs(3, show_every=1000, history=None) == once
    # Every show costs the same calls again (iterations 0 and 2)...
    assert syncs(3, show_every=2, history=None) == once * 2
    # ...and the history is read back once, at the end, however long the run.
    with_history = syncs(3, show_every=1000, history={})
    assert len(with_history) > len(once) and syncs(2, show_every=1000, history={}) == with_history


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_run_a_gan_does_not_sync_between_shows_on_cuda(solution, dataset):
    torch.manual_seed(0)
    device = torch.device("cuda")
    D, G, d_loss, g_loss = build("dcgan", solution)
    D, G = D.to(device), G.to(device)
    loader = MNISTBatches(dataset, BATCH, 50000, device=device)
    args = (D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss, loader)
    run_a_gan(*args, max_iters=2)  # warm up: cuDNN autotuning and Adam's first step may sync
    fetched = []

    class SyncCheckedBatches:
        """The batches, with syncs made errors from the second one on: only iteration 0 (a show) may sync."""

        def __len__(self):
            return len(loader)

        def __iter__(self):
            for i, batch in enumerate(loader):
                torch.cuda.set_sync_debug_mode("error" if i >= 1 else "default")
                fetched.append(i)
                yield batch

    try:
        run_a_gan(*args[:-1], SyncCheckedBatches(), show_every=1000, max_iters=5, history=None)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert len(fetched) >= 5


def test_cuda_settings_are_restored(solution, monkeypatch):
    """The GPU branch of platform_speedups, without a GPU: TF32 and cuDNN autotuning on, then back."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    flags = torch.backends.cuda.matmul, torch.backends.cudnn
    before = (flags[0].allow_tf32, flags[1].allow_tf32, flags[1].benchmark)
    D, G, _, _ = build("dcgan", solution)
    with pytest.warns(UserWarning, match="CUDA") if not torch.cuda.is_available() else nullcontext():
        with speed.platform_speedups(torch.device("cuda"), (D, G)) as autocast:
            assert (flags[0].allow_tf32, flags[1].allow_tf32, flags[1].benchmark) == (True, True, True)
            assert autocast.fast_dtype == torch.bfloat16
    assert (flags[0].allow_tf32, flags[1].allow_tf32, flags[1].benchmark) == before


def test_settings_are_restored_when_training_fails(solution, dataset):
    """A loss that raises half-way leaves D trainable, the weights contiguous and Adam unfused."""
    torch.manual_seed(0)
    D, G, d_loss, _ = build("dcgan", solution)
    D_solver, G_solver = solution.get_optimizer(D), solution.get_optimizer(G)

    def failing_generator_loss(logits):
        raise RuntimeError("a bug in generator_loss")

    with pytest.raises(RuntimeError, match="a bug in generator_loss"):
        run_a_gan(D, G, D_solver, G_solver, d_loss, failing_generator_loss, MNISTBatches(dataset, BATCH, 50000))
    assert all(p.requires_grad and p.is_contiguous() for p in (*D.parameters(), *G.parameters()))
    assert [group["fused"] for group in D_solver.param_groups + G_solver.param_groups] == [None, None]


@pytest.mark.parametrize("shape", [(), (1,)])
def test_losses_of_one_element_train(solution, dataset, shape):
    """CS231n-style losses of shape (1,) (e.g. .mean(dim=0) of (N, 1) scores) train like 0-d ones."""
    torch.manual_seed(0)
    D, G, _, _ = build("vanilla", solution)

    def d_loss(real, fake):
        return solution.ls_discriminator_loss(real, fake).reshape(shape)

    def g_loss(fake):
        return solution.ls_generator_loss(fake).reshape(shape)

    history = {}
    run_a_gan(D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss,
              MNISTBatches(dataset, BATCH, 50000), max_iters=2, history=history)  # fmt: skip
    assert len(history["d_loss"]) == 2 and all(np.isfinite(history["g_loss"]))


def test_a_loss_of_many_elements_is_refused_clearly(solution, dataset):
    torch.manual_seed(0)
    D, G, d_loss, _ = build("vanilla", solution)
    with pytest.raises(ValueError, match=r"generator loss must be one number .* got \(128, 1\)"):
        run_a_gan(D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, lambda fake: (fake - 1) ** 2,
                  MNISTBatches(dataset, BATCH, 50000), max_iters=1)  # fmt: skip


def test_progress_grids_use_fixed_noise_and_leave_training_unchanged(solution, dataset):
    """The grids come from the same 16 noise vectors each time; drawing them changes neither the training
    noise nor the weights (the grids' noise has its own random generator)."""
    runs = []
    for show_every in (1, 1000):
        torch.manual_seed(0)
        D, G, d_loss, g_loss = build("vanilla", solution)
        inputs = []
        hook = G.register_forward_hook(lambda module, args, output, seen=inputs: seen.append(args[0].clone()))
        images = run_a_gan(D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss,
                           MNISTBatches(dataset, BATCH, 50000), max_iters=3, show_every=show_every)  # fmt: skip
        hook.remove()
        runs.append((inputs, images, weights(D, G)))
    (shown_inputs, shown, shown_weights), (quiet_inputs, quiet, quiet_weights) = runs
    grid_noise = [z for z in shown_inputs if len(z) == 16]
    assert len(shown) == len(grid_noise) == 3 and len(quiet) == 1
    assert all(torch.equal(z, grid_noise[0]) for z in grid_noise)
    training_noise = [[z for z in inputs if len(z) == BATCH] for inputs in (shown_inputs, quiet_inputs)]
    assert len(training_noise[0]) == 3 and all(map(torch.equal, *training_noise))
    for p, q in zip(shown_weights, quiet_weights, strict=True):
        assert torch.equal(p, q)


def test_run_a_gan_trains_on_the_noise_of_the_sample_noise_it_is_given(solution, dataset):
    """Each iteration calls sample_noise(batch_size, noise_size) once, and G trains on exactly that noise."""
    calls, drawn, seen = [], [], []

    def sample_noise(batch_size, dim):
        calls.append((batch_size, dim))
        drawn.append(torch.rand(batch_size, dim) * 2 - 1)
        return drawn[-1]

    torch.manual_seed(0)
    D, G, d_loss, g_loss = build("vanilla", solution)
    hook = G.register_forward_hook(lambda module, args, output: seen.append(args[0].clone()))
    run_a_gan(D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss,
              MNISTBatches(dataset, BATCH, 50000), max_iters=3, show_every=1000, sample_noise=sample_noise)  # fmt: skip
    hook.remove()
    assert calls == [(BATCH, 96)] * 3
    training_inputs = [z for z in seen if len(z) == BATCH]
    assert len(training_inputs) == 3 and all(map(torch.equal, training_inputs, drawn))


@pytest.mark.parametrize("gan, iters", [("vanilla", 6), ("lsgan", 4), ("dcgan", 2)])
def test_the_references_sample_noise_trains_bit_for_bit_as_the_inline_draw_it_replaced(solution, dataset, gan, iters):
    """The reference's sample_noise draws from torch's global generator exactly as run_a_gan's own inline
    `2 * torch.rand(batch_size, noise_size) - 1` did (and does without a sample_noise): the same losses and
    weights, so nndl2/gan_outputs.png and the calibration stay valid."""
    batches = MNISTBatches(dataset, BATCH, 50000)

    def inline(batch_size, noise_size):  # the expression run_a_gan had inline before it took sample_noise
        return 2 * torch.rand(batch_size, noise_size) - 1

    runs = []
    for noise in (solution.sample_noise, inline, None):
        torch.manual_seed(0)
        D, G, d_loss, g_loss = build(gan, solution)
        history = {}
        run_a_gan(D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss, batches,
                  max_iters=iters, history=history, bfloat16=False, sample_noise=noise)  # fmt: skip
        runs.append((history, weights(D, G), torch.rand(1)))  # the global generator left where it was
    (history, trained, after), *others = runs
    for other_history, other_trained, other_after in others:
        assert other_history == history and len(history["d_loss"]) == iters
        assert all(torch.equal(p, q) for p, q in zip(trained, other_trained, strict=True))
        assert torch.equal(after, other_after)


@pytest.mark.parametrize(
    ("sample_noise", "error", "match"),
    [
        (lambda n, d: torch.rand(n, d + 1), ValueError, r"sample_noise\(128, 96\) must return .* shape \(128, 97\)"),
        (lambda n, d: torch.rand(d, n), ValueError, r"got shape \(96, 128\)"),
        (lambda n, d: np.zeros((n, d)), ValueError, r"got ndarray"),
        (lambda n, d: torch.randint(-1, 2, (n, d)), ValueError, r"floating-point .* dtype torch.int64"),
        (lambda n, d: None, ValueError, r"got NoneType"),
        (lambda n: torch.rand(n, 96), TypeError, r"positional argument"),
    ],
    ids=["wider", "transposed", "numpy", "integers", "none", "one-argument"],
)
def test_a_sample_noise_that_gives_no_noise_batch_stops_training_with_the_reason(
    solution, dataset, sample_noise, error, match
):
    torch.manual_seed(0)
    D, G, d_loss, g_loss = build("vanilla", solution)
    with pytest.raises(error, match=match):
        run_a_gan(D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss,
                  MNISTBatches(dataset, BATCH, 50000), max_iters=1, sample_noise=sample_noise)  # fmt: skip


def test_float64_noise_from_sample_noise_trains(solution, dataset):
    """A sample_noise that returns float64 (right values, another dtype) is still noise: run_a_gan trains on it."""
    history = train(solution, "vanilla", MNISTBatches(dataset, BATCH, 50000), 2,
                    sample_noise=lambda n, d: torch.rand(n, d, dtype=torch.float64) * 2 - 1)[0]  # fmt: skip
    assert len(history["d_loss"]) == 2 and all(np.isfinite(history["g_loss"]))


@pytest.mark.parametrize("gan", ["vanilla", "dcgan"])
def test_run_a_gan_handles_bfloat16_networks(solution, dataset, gan):
    """bfloat16 autocast (GPUs and CPUs with fast bfloat16): float32 losses, history, snapshots and weights."""
    # one iteration: on a CPU without fast bfloat16 (the test still runs there) a DCGAN step takes seconds
    history, images, G = train(solution, gan, MNISTBatches(dataset, BATCH, 50000), 1, show_every=1, bfloat16=True)
    assert len(images) == 1 and all(image.dtype == np.float32 and image.shape == (16, 784) for image in images)
    assert all(np.isfinite(history[key]).all() and len(history[key]) == 1 for key in history)
    assert all(p.dtype == torch.float32 for p in G.parameters())


@pytest.mark.parametrize(
    "fast_bfloat16, argument, expected",
    [
        (False, None, torch.float32),
        (True, None, torch.bfloat16),
        (True, False, torch.float32),
        (False, True, torch.bfloat16),
    ],
)
def test_bfloat16_where_the_cpu_has_it_unless_told(solution, dataset, monkeypatch, fast_bfloat16, argument, expected):
    monkeypatch.setattr(speed, "cpu_has_fast_bfloat16", lambda: fast_bfloat16)
    torch.manual_seed(0)
    D, G, d_loss, g_loss = build("vanilla", solution)
    dtypes, history = [], {}
    G.register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
    run_a_gan(
        D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss,
        MNISTBatches(dataset, BATCH, 50000), max_iters=2, bfloat16=argument, history=history, keep_weights=(2,),
    )  # fmt: skip
    assert dtypes == [expected] * 3  # two training steps and the progress grid of iteration 0
    assert history["kept_weights"]["bfloat16"] == (expected == torch.bfloat16)  # the preview reads how they trained


@pytest.mark.parametrize("gan, kept_after, iters", [("vanilla", (3, 7), 9), ("dcgan", (2, 4), 5)])
def test_the_weights_kept_are_those_of_the_graders_run_stopped_there(solution, dataset, gan, kept_after, iters):
    """The notebook's cells keep G's weights where the grader checks its own run (nndl2.submit.preview_grading judges
    them): a longer run, drawing progress grids at other iterations than the grader's, kept exactly the weights its
    run stopped there ends with, as CPU copies that later training does not change. (The grids move BatchNorm's
    running statistics, which train-mode sampling does not use.)"""
    batches = MNISTBatches(dataset, BATCH, 50000)
    torch.manual_seed(0)
    D, G, d_loss, g_loss = build(gan, solution)
    history = {}
    run_a_gan(D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss, batches, show_every=2,
              max_iters=iters, history=history, sample_noise=solution.sample_noise, bfloat16=False,
              keep_weights=kept_after)  # fmt: skip
    kept = history["kept_weights"]
    assert sorted(kept["after"]) == list(kept_after) and kept["bfloat16"] is False
    for after in kept_after:
        training = {"num_epochs": 10, "max_iters": after}
        _, stopped, _, _ = train_gan(gan, solution, batches, training, 0, show_every=10**9, bfloat16=False)
        assert list(kept["after"][after]) == list(stopped.state_dict())
        for name, value in stopped.named_parameters():
            assert kept["after"][after][name].device.type == "cpu"
            assert torch.equal(kept["after"][after][name], value), (after, name)
    last = dict(G.named_parameters())
    assert not any(torch.equal(kept["after"][kept_after[0]][name], last[name]) for name in last)
    with pytest.raises(ValueError, match="keep_weights needs a history dict"):
        run_a_gan(D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss, batches, max_iters=1,
                  keep_weights=(1,))  # fmt: skip


def test_cpu_bfloat16_detection_matches_the_cpu_flags(solution):
    """On Linux, /proc/cpuinfo's flags say whether the CPU has AVX512-BF16 or AMX-BF16."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next(line for line in cpuinfo if line.startswith("flags")).split()
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags on this system")
    if not hasattr(torch.cpu, "_is_avx512_bf16_supported"):
        pytest.skip("this PyTorch cannot tell; run_a_gan then stays in float32")
    assert speed.cpu_has_fast_bfloat16() == ("avx512_bf16" in flags or "amx_bf16" in flags)


def test_chunk_sampler():
    assert list(ChunkSampler(4, 10)) == [10, 11, 12, 13] and len(ChunkSampler(4, 10)) == 4


def test_run_a_gan_prints_and_snapshots(solution, dataset, capsys):
    torch.manual_seed(0)
    D, G, d_loss, g_loss = build("vanilla", solution)
    history = {}
    images = run_a_gan(
        D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss, MNISTBatches(dataset, BATCH, 1000),
        show_every=3, num_epochs=2, max_iters=10, history=history,
    )  # fmt: skip
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("Iter:")]
    assert [line.split(",")[0] for line in lines] == ["Iter: 0", "Iter: 3", "Iter: 6", "Iter: 9"]
    assert lines[0].endswith("(epoch 1/2)") and lines[-1].endswith("(epoch 2/2)")
    assert len(images) == 4 and all(image.shape == (16, 784) for image in images)
    assert set(history) == {"d_loss", "g_loss", "d_real", "d_fake"} and len(history["d_loss"]) == 10
    assert all(0 <= p <= 1 for p in history["d_real"] + history["d_fake"])
    # 1,000 images = 7 full batches per epoch (the partial 8th is skipped): 2 epochs stop at 10 iterations
    assert np.isclose(history["d_loss"][0], float(lines[0].split("D: ")[1].split(",")[0]), rtol=1e-3)
    # the progress bar stays, with the elapsed time
    assert "10/10 [" in out.replace("\r", "\n").splitlines()[-1] or "10/10 [" in out


def test_on_show_sees_the_generator_at_every_show(solution, dataset):
    torch.manual_seed(0)
    D, G, d_loss, g_loss = build("vanilla", solution)
    seen = []
    run_a_gan(D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss,
              MNISTBatches(dataset, BATCH, 50000), show_every=2, max_iters=5,
              on_show=lambda iteration, generator: seen.append((iteration, generator is G)))  # fmt: skip
    assert seen == [(0, True), (2, True), (4, True)]


# ---------------------------------------------------------------------------
# The grader's run stops when G is good enough (UntilPassing)
# ---------------------------------------------------------------------------


def tiny_gan(solution):
    """A gan module with one-layer networks (train_gan's vanilla GAN in milliseconds) and the solution's losses."""
    return SimpleNamespace(
        discriminator=lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 1)),
        generator=lambda: nn.Sequential(nn.Linear(96, 784), nn.Tanh()),
        discriminator_loss=solution.discriminator_loss,
        generator_loss=solution.generator_loss,
        get_optimizer=solution.get_optimizer,
        sample_noise=solution.sample_noise,
    )


def judged_at(monkeypatch, good_from):
    """Make UntilPassing's evaluation say "good enough" from `good_from` iterations on; returns where it was asked."""
    asked = []

    def good_enough(self):
        asked.append(self.done)
        return self.done >= good_from

    monkeypatch.setattr(UntilPassing, "good_enough", good_enough)
    return asked


def test_training_until_passing_stops_at_the_first_good_checkpoint_as_a_shorter_run_would_end(
    solution, dataset, monkeypatch
):
    gan, batches = tiny_gan(solution), MNISTBatches(dataset, BATCH, 1300)  # 10 full batches and a partial one
    asked = judged_at(monkeypatch, good_from=150)
    budget = {"num_epochs": 30, "max_iters": 200}  # checkpoints at 100, 120, 140, 160 and 180 iterations
    _, G, _, history = train_gan("vanilla", gan, batches, budget, seed=0, show_every=10**9, until_passing=True)
    assert asked == [100, 120, 140, 160]
    assert len(history["d_loss"]) == 160
    _, shorter, _, _ = train_gan("vanilla", gan, batches, {"num_epochs": 30, "max_iters": 160}, 0, show_every=10**9)
    for p, q in zip(G.parameters(), shorter.parameters(), strict=True):
        assert torch.equal(p, q)


def test_training_until_passing_trains_the_whole_budget_when_never_good_enough(solution, dataset, monkeypatch):
    gan, batches = tiny_gan(solution), MNISTBatches(dataset, BATCH, 1280)
    asked = judged_at(monkeypatch, good_from=10**9)
    budget = {"num_epochs": 30, "max_iters": 200}
    _, _, _, history = train_gan("vanilla", gan, batches, budget, seed=0, show_every=10**9, until_passing=True)
    assert asked == [100, 120, 140, 160, 180] and len(history["d_loss"]) == 200
    asked.clear()  # a run shorter than UntilPassing.SHORTEST (the smoke budget) is never evaluated
    _, _, _, history = train_gan("vanilla", gan, batches, {"num_epochs": 1, "max_iters": 3}, 0, until_passing=True)
    assert asked == [] and len(history["d_loss"]) == 3


def test_scoring_at_the_checkpoints_leaves_the_run_as_it_would_be_unscored(solution, dataset, monkeypatch):
    """The grader's run scores G at each checkpoint in a fresh process: the first score loads the classifier, whose
    construction drew its initial weights from torch's global generator, so the run went on from another stream
    than the notebook's cell (which never scores while training), and the weights the cell kept for the preview
    were not the grader's after the first checkpoint. Scoring now draws nothing from the run's stream."""
    gan, batches = tiny_gan(solution), MNISTBatches(dataset, BATCH, 1280)
    monkeypatch.setattr(quality, "_CACHE", {})  # as in the grader's fresh process: nothing loaded yet
    budget = {"num_epochs": 30, "max_iters": 120}  # checkpoints at 60, 72, 84, 96 and 108 iterations: never passed
    _, G, _, history = train_gan("vanilla", gan, batches, budget, seed=0, show_every=10**9, until_passing=True)
    assert len(history["d_loss"]) == 120 and ("classifier", str(quality.CLASSIFIER_PATH)) in quality._CACHE
    _, unscored, _, _ = train_gan("vanilla", gan, batches, budget, seed=0, show_every=10**9)
    for p, q in zip(G.parameters(), unscored.parameters(), strict=True):
        assert torch.equal(p, q)


def test_a_generator_whose_samples_cannot_be_scored_is_not_good_enough_and_trains_on(solution, dataset):
    """A generator without its final Tanh (samples outside [-1, 1]): its checkpoints say "not good enough" instead of
    ending the grader's run with the metrics' ValueError, so it trains the whole budget and the judge decides (on
    the reference architecture holding its weights)."""
    gan = tiny_gan(solution)
    gan.generator = lambda: nn.Sequential(nn.Linear(96, 784))  # no Tanh: samples in [-1.58, 4.13] untrained
    torch.manual_seed(0)
    G = gan.generator()
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]"):  # what the notebook's evaluate says
        quality.evaluate(quality.sample_images(G, n=1000))
    assert not UntilPassing([], G, "vanilla", total=1000).good_enough()
    batches = MNISTBatches(dataset, BATCH, 1280)
    budget = {"num_epochs": 30, "max_iters": 120}  # checkpoints at 60, 72, 84, 96 and 108 iterations
    _, _, _, history = train_gan("vanilla", gan, batches, budget, seed=0, show_every=10**9, until_passing=True)
    assert len(history["d_loss"]) == 120


def test_an_untrained_generator_is_not_good_enough(solution):
    torch.manual_seed(0)
    for name in ("vanilla", "dcgan"):
        _, G, _, _ = build(name, solution)
        assert not UntilPassing([], G, name, total=1000).good_enough()
