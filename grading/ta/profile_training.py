"""Where the grader's training run of a submission spends its time (issue 20: profile before cutting).

    python -m grading.ta.profile_training                      # float32, 1 thread (the grader's), 30 iterations
    python -m grading.ta.profile_training --precision auto     # bfloat16 autocast where the CPU is fast at it
    python -m grading.ta.profile_training --iters 10 --json    # the last line is one JSON object

For each of the notebook's GANs, built from the reference solution exactly as the grader builds a
submission's (nndl2/agent/training.py's build_gan, nndl2/training.py's run_a_gan, the solution's optimizers and losses):

- the arithmetic of one training iteration, counted with torch.utils.flop_counter (matrix products and
  convolutions, forward and backward; what the rest costs is not arithmetic but memory traffic);
- the time of one iteration (the median over blocks of iterations, after warm-up iterations), and from
  it the achieved GFLOP/s;
- this CPU's float32 (or bfloat16) matrix-product rate on the same threads, measured here on a
  1024 x 1024 x 1024 product: the "peak" the achieved rate is compared with (a measured ceiling, not the
  data sheet's);
- the operators that take the time, from torch.profiler (self CPU time of each, summed over its calls),
  grouped as matrix products, convolutions, the optimizer, and the rest (element-wise, reductions,
  copies, autograd bookkeeping);
- the autograde budget's iterations (nndl2/budget.py) times the time per iteration: the projected training
  time of one submission, GAN by GAN.

The data are random digits of the notebook's shape (the time of an iteration does not depend on the
pixels); MNIST is not needed. Timings move with the machine's load: run it on an idle machine and compare
the shares and rates, not absolute times between machines.
"""

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time

import torch

GROUPS = (
    ("matrix products", ("addmm", "mm", "bmm", "matmul", "linear")),
    ("convolutions", ("convolution", "conv", "mkldnn_convolution", "_convolution")),
    ("pooling and batch norm", ("max_pool", "native_batch_norm", "batch_norm", "_batch_norm")),
    ("optimizer", ("adam", "_fused_adam", "optimizer.step")),
)


def group_of(op_name):
    name = op_name.removeprefix("aten::").lower()
    for group, prefixes in GROUPS:
        if any(name == prefix or name.startswith(prefix) for prefix in prefixes):
            return group
    return "other"


def matmul_peak(dtype, seconds=1.0, size=1024):
    """GFLOP/s of repeated size^3 matrix products on this CPU and torch's threads (a measured ceiling)."""
    a, b = torch.rand(size, size, dtype=dtype), torch.rand(size, size, dtype=dtype)
    torch.mm(a, b)  # warm-up: oneDNN picks its kernel
    rates, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(rates) < 3:
        t = time.perf_counter()
        torch.mm(a, b)
        rates.append(2 * size**3 / (time.perf_counter() - t) / 1e9)
    return max(rates)


@contextlib.contextmanager
def quiet_stderr():
    """The profiler's C++ side logs its start and stop on file descriptor 2: keep them off the report."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def random_batches(n, batch_size=128):
    """n batches of random 'digits' in [0, 1], shaped as MNISTBatches yields them."""
    generator = torch.Generator().manual_seed(0)
    return [(torch.rand(batch_size, 1, 28, 28, generator=generator), None) for _ in range(n)]


def setup(gan_name, solution):
    from nndl2.agent.training import build_gan

    torch.manual_seed(0)
    D, G, d_loss, g_loss = build_gan(gan_name, solution)
    return D, G, solution.get_optimizer(D), solution.get_optimizer(G), d_loss, g_loss


def train(parts, batches, bfloat16, solution, **kwargs):
    from nndl2.training import run_a_gan

    D, G, D_solver, G_solver, d_loss, g_loss = parts
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # progress bar, logs
        run_a_gan(
            D, G, D_solver, G_solver, d_loss, g_loss, batches, show_every=10**9, num_epochs=1,
            bfloat16=bfloat16, sample_noise=solution.sample_noise, **kwargs,
        )  # fmt: skip


def profile_gan(gan_name, solution, iters, warmup, bfloat16):
    from torch.profiler import ProfilerActivity, profile
    from torch.utils.flop_counter import FlopCounterMode

    from nndl2.budget import iterations

    parts = setup(gan_name, solution)
    counter = FlopCounterMode(display=False)
    with counter:
        train(parts, random_batches(1), bfloat16, solution)
    flops = counter.get_total_flops()

    train(parts, random_batches(warmup), bfloat16, solution)
    block = max(1, iters // 5)
    times = []
    for _ in range(max(1, iters // block)):
        batches = random_batches(block)
        start = time.perf_counter()
        train(parts, batches, bfloat16, solution)
        times.append((time.perf_counter() - start) / block)
    seconds = statistics.median(times)

    with quiet_stderr(), profile(activities=[ProfilerActivity.CPU]) as prof:
        train(parts, random_batches(block), bfloat16, solution)
    shares = {}
    for event in prof.key_averages():
        group = group_of(event.key)
        shares[group] = shares.get(group, 0.0) + event.self_cpu_time_total
    total = sum(shares.values()) or 1.0
    top = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:6]
    budget_iters = iterations(gan_name, "autograde")
    return {
        "gflop_per_iter": flops / 1e9,
        "ms_per_iter": seconds * 1e3,
        "ms_spread": [min(times) * 1e3, max(times) * 1e3],
        "gflops": flops / seconds / 1e9,
        "shares": {group: shares.get(group, 0.0) / total for group, _ in GROUPS + (("other", ()),)},
        "top_ops": [(e.key, e.self_cpu_time_total / total) for e in top],
        "budget_iters": budget_iters,
        "budget_seconds": budget_iters * seconds,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=30, help="timed iterations per GAN (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations first (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the grader's runs)")
    parser.add_argument("--gans", default="vanilla,lsgan,dcgan", help="comma-separated (default: all three)")
    parser.add_argument(
        "--precision", choices=["float32", "auto"], default="float32",
        help="float32 (default: Colab's CPUs, the T4, CPUs without fast bfloat16) or run_a_gan's automatic choice",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="end with one line of JSON")
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--iters and --threads must be at least 1, --warmup at least 0")
    from grading.kit import load_solution
    from nndl2.agent.training import GANS
    from nndl2.speed import bfloat16_is_fast

    gans = [g.strip() for g in args.gans.split(",") if g.strip()]
    unknown = [g for g in gans if g not in GANS]
    if unknown:
        parser.error(f"unknown GAN {unknown[0]!r}: choose from {', '.join(GANS)}")
    torch.set_num_threads(args.threads)
    bfloat16 = False if args.precision == "float32" else None
    fast = bfloat16 is None and bfloat16_is_fast("cpu")
    precision = "bfloat16 autocast" if fast else "float32"
    peak = matmul_peak(torch.bfloat16 if fast else torch.float32)
    print(f"CPU, {args.threads} thread(s), {precision}; measured matrix-product peak {peak:.0f} GFLOP/s")
    solution, results = load_solution(), {}
    for name in gans:
        r = profile_gan(name, solution, args.iters, args.warmup, bfloat16)
        r["share_of_peak"] = r["gflops"] / peak
        results[name] = r
        shares = ", ".join(f"{group} {share:.0%}" for group, share in r["shares"].items())
        top = ", ".join(f"{op} {share:.0%}" for op, share in r["top_ops"])
        print(
            f"{name}: {r['gflop_per_iter']:.2f} GFLOP/iteration, {r['ms_per_iter']:.0f} ms/iteration "
            f"({r['ms_spread'][0]:.0f}-{r['ms_spread'][1]:.0f}), {r['gflops']:.0f} GFLOP/s = "
            f"{r['share_of_peak']:.0%} of the peak; autograde budget {r['budget_iters']} iterations = "
            f"{r['budget_seconds']:.0f} s\n    time by kind: {shares}\n    top operators: {top}"
        )
    total = sum(r["budget_seconds"] for r in results.values())
    flops = sum(r["gflop_per_iter"] * r["budget_iters"] for r in results.values())
    print(
        f"the autograde budget's training: {flops / 1e3:.2f} TFLOP, {total:.0f} s here "
        f"({flops / total:.0f} GFLOP/s); at this machine's measured peak it would take {flops / peak:.0f} s"
    )
    if args.json:
        summary = {"threads": args.threads, "precision": precision, "peak_gflops": peak, "budget_seconds": total}
        print(json.dumps({"gans": results, **summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
