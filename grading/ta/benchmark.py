"""Time the classic CS231n training loop against the kit's run_a_gan, side by side in one run.

    python -m grading.ta.benchmark                          # CPU: vanilla GAN and DCGAN, 60 iterations each
    python -m grading.ta.benchmark --iters 40 --json        # the last line is one JSON object
    python -m grading.ta.benchmark --device cuda            # on a GPU machine
    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.benchmark --models dcgan --block 5

What is compared, for each GAN (same networks, initialisation, losses and Adam from the reference
solution, same seed, batch 128):

- classic: the CS231n notebook's loop, reproduced in `classic_run_a_gan`: a torchvision DataLoader
  (ToTensor on every PIL image, sampler=ChunkSampler(50000, 0)), the generator run twice per
  iteration (once for the discriminator step, once for the generator step), gradients for D's
  weights computed during the generator step, `.item()` at every show_every.
- kit: nndl2/training.py's run_a_gan on nndl2.data.MNISTBatches (the same batches, kept as one
  uint8 tensor on the device).

What the kit saves per iteration (all within the same algorithm: one D step and one G step per
batch, the same losses and the same Adam update rule):
- the DataLoader's per-image PIL work and, on a GPU, the blocking copy of every batch to the device;
- one generator forward pass (the fake batch of the discriminator step is reused) and the
  discriminator's weight gradients in the generator step: counted with torch.utils.flop_counter,
  1.92 against 2.48 GFLOP per iteration for the vanilla GAN, 19.6 against 24.2 for the DCGAN;
- Adam's per-tensor loop: run_a_gan switches plain Adam optimizers to PyTorch's fused kernel (on a
  CPU the default Adam is a third of the classic vanilla step);
- on hardware with fast bfloat16 (CPUs with AVX512-BF16 or AMX, GPUs of compute capability 8.0+)
  the forward and backward products run in bfloat16, which roughly halves them; weights, Adam and
  the losses stay float32. On a CPU without it (Colab's) the kit computes in float32 and gains
  from the three points above only. Convolutions run channels-last on a CPU, with TF32 and cuDNN
  autotuning on a GPU.
The classic loop gets none of this: it builds its Adam optimizers the same way, through the
solution's get_optimizer, but steps them itself. `--precision float32` holds the kit to float32
to measure what is left without bfloat16.

How it is timed: each loop of each GAN runs in its own fresh worker process (all of them
set up before any timing starts), and for each GAN the classic and the kit worker take turns: the
parent lets one run a block of `--block` iterations while the other waits, then the other,
alternating which goes first (classic, kit, kit, classic, ...). Both therefore see the same machine
load, which matters on a shared CPU. The first block of each worker (`--warmup` iterations) is not
counted; the reported ms/iteration is the median over the remaining blocks (the spread is printed
too). On CUDA every block ends with torch.cuda.synchronize(), so queued GPU work is counted.

Memory, per loop (that is why each runs in a fresh process): on CPU the peak resident set size of the
worker (getrusage ru_maxrss: Python, the parts of PyTorch it touched, the dataset, training), and how
much it grew over the RSS (psutil) measured after setup, just before training: that growth is the
number to compare, the absolute peak also depends on how the worker was started (fork server or
not). On CUDA also torch.cuda.max_memory_allocated: the peak of live tensors while training (models,
optimizer state, the kit's on-device dataset, activations; not the CUDA context nor the caching
allocator's slack).

With --json the last line printed is
{"vanilla": {"classic_ms": .., "kit_ms": .., "ratio": ..}, "dcgan": {...}} with extra keys
(memory, every block's ms/iteration, settings); ratio = kit_ms / classic_ms (below 1: the kit is
faster); paired_ratio = the median over turns of kit block / classic block of the same turn.

On a shared CPU the numbers move with the other processes' load (2 OpenMP threads suffer most when
the cores are oversubscribed; --threads 1 is steadier); compare ratios, not absolute times, and only
between runs on the same kind of machine.
"""

import argparse
import contextlib
import io
import json
import math
import multiprocessing
import statistics
import sys
import time
import traceback

NUM_TRAIN, BATCH_SIZE = 50000, 128
LOOPS = ("classic", "kit")
MODELS = ("vanilla", "dcgan")


def classic_run_a_gan(
    D,
    G,
    D_solver,
    G_solver,
    discriminator_loss,
    generator_loss,
    loader_train,
    show_every=250,
    batch_size=128,
    noise_size=96,
    num_epochs=10,
    sample_noise=None,
    device="cpu",
):
    """The CS231n notebook's training loop, kept as it was (x.to(device) instead of x.type(dtype))."""
    images = []
    iter_count = 0
    for _ in range(num_epochs):
        for x, _ in loader_train:
            if len(x) != batch_size:
                continue
            D_solver.zero_grad()
            real_data = x.to(device)
            logits_real = D(2 * (real_data - 0.5))

            g_fake_seed = sample_noise(batch_size, noise_size).to(device)
            fake_images = G(g_fake_seed).detach()
            logits_fake = D(fake_images.view(batch_size, 1, 28, 28))

            d_total_error = discriminator_loss(logits_real, logits_fake)
            d_total_error.backward()
            D_solver.step()

            G_solver.zero_grad()
            g_fake_seed = sample_noise(batch_size, noise_size).to(device)
            fake_images = G(g_fake_seed)

            gen_logits_fake = D(fake_images.view(batch_size, 1, 28, 28))
            g_error = generator_loss(gen_logits_fake)
            g_error.backward()
            G_solver.step()

            if iter_count % show_every == 0:
                print(f"Iter: {iter_count}, D: {d_total_error.item():.4}, G:{g_error.item():.4}")
                imgs_numpy = fake_images.data.cpu().numpy()
                images.append(imgs_numpy[0:16])
            iter_count += 1
    return images


class PacedLoader:
    """
    The batches of `loader`, cycling through it, until `warmup + blocks * block` full batches have been
    handed out; before the first full batch and after every block, `pause(end_of_run)` is called (the
    worker reports the block's time there and waits for its next turn).
    """

    def __init__(self, loader, batch_size, warmup, block, blocks, pause):
        self.loader, self.batch_size, self.pause = loader, batch_size, pause
        self.boundaries = [0] + [warmup + i * block for i in range(blocks + 1)]
        self.total = self.boundaries[-1]

    def __len__(self):
        return self.total  # run_a_gan only uses it for its progress bar

    def __iter__(self):
        full = 0
        boundaries = set(self.boundaries)
        while True:
            for x, y in self.loader:
                if len(x) == self.batch_size:
                    if full in boundaries:
                        self.pause(full == self.total)
                    if full == self.total:
                        return
                    full += 1
                yield x, y


def _rss_bytes():
    import psutil

    return psutil.Process().memory_info().rss


def _peak_rss_bytes():
    """Peak resident set size of this process (None where getrusage is unavailable)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _worker(conn, model, loop, device, root, warmup, block, blocks, seed, threads, bfloat16):
    """One training loop in its own process: set up, then train one block per 'go' from the parent."""
    try:
        import torch

        from grading.kit import load_solution
        from grading.ta.reference_gans import build
        from nndl2.data import ChunkSampler, MNISTBatches, load_mnist, mnist_root
        from nndl2.speed import bfloat16_is_fast
        from nndl2.training import run_a_gan

        if threads:
            torch.set_num_threads(threads)
        gan = load_solution()
        device = torch.device(device)
        torch.manual_seed(seed)
        D, G, d_loss, g_loss = build(model, gan)
        D, G = D.to(device), G.to(device)
        D_solver, G_solver = gan.get_optimizer(D), gan.get_optimizer(G)
        dataset = load_mnist(root, download=False)
        if loop == "classic":
            from torch.utils.data import DataLoader

            loader = DataLoader(dataset, batch_size=BATCH_SIZE, sampler=ChunkSampler(NUM_TRAIN, 0))
        else:
            loader = MNISTBatches(dataset, BATCH_SIZE, NUM_TRAIN, start=0, device=device)

        cuda = device.type == "cuda"
        clock = {}

        def pause(end_of_run):
            if cuda:
                torch.cuda.synchronize(device)  # count the GPU work queued during the block
            now = time.perf_counter()
            if "start" in clock:
                conn.send(("block", now - clock["start"]))
            if not end_of_run:
                conn.recv()  # our turn again
                clock["start"] = time.perf_counter()

        paced = PacedLoader(loader, BATCH_SIZE, warmup, block, blocks, pause)
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        fast = bfloat16_is_fast(device) if bfloat16 is None else bfloat16  # None: run_a_gan's own choice
        ready = {
            "rss_before": _rss_bytes(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "precision": "bfloat16 autocast" if fast and loop == "kit" else "float32",
        }
        conn.send(("ready", dict(ready, root=str(mnist_root(root)))))
        # The loops print every show_every iterations (and the kit shows a progress bar): swallow it.
        with contextlib.redirect_stdout(io.StringIO()):
            if loop == "classic":
                classic_run_a_gan(D, G, D_solver, G_solver, d_loss, g_loss, paced, num_epochs=1,
                                  sample_noise=gan.sample_noise, device=device)  # fmt: skip
            else:
                run_a_gan(D, G, D_solver, G_solver, d_loss, g_loss, paced, num_epochs=1, bfloat16=bfloat16)
        memory = {"peak_rss": _peak_rss_bytes(), "rss_after": _rss_bytes()}
        if cuda:
            memory["cuda_peak"] = torch.cuda.max_memory_allocated(device)
        conn.send(("done", memory))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _receive(conn, expected, who):
    kind, value = conn.recv()
    if kind == "error":
        raise RuntimeError(f"the {who} worker failed:\n{value}")
    if kind != expected:
        raise RuntimeError(f"the {who} worker sent {kind!r}, expected {expected!r}")
    return value


def _start_workers(models, device, root, warmup, block, blocks, seed, threads, bfloat16):
    """One spawned worker per (model, loop), all set up before any timing starts."""
    # Fresh processes: clean memory peaks, nothing inherited from this one (never a CUDA context). Where
    # it exists, a fork server imports PyTorch once and forks every worker from that clean state, which
    # saves each worker the import (seconds of CPU); elsewhere every worker starts from scratch.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["torch", "torchvision.datasets", "grading.ta.reference_gans", "nndl2.data"])
    else:
        context = multiprocessing.get_context("spawn")
    workers = {}
    for model in models:
        for loop in LOOPS:
            parent, child = context.Pipe()
            args = (child, model, loop, device, root, warmup, block, blocks, seed, threads, bfloat16)
            process = context.Process(target=_worker, args=args, daemon=True)
            process.start()
            child.close()
            workers[model, loop] = (process, parent)
    return workers


def _take_turns(model, workers, blocks, block):
    """Let the classic and the kit worker of `model` train one block at a time, alternating who goes first."""
    times = {loop: [] for loop in LOOPS}
    for turn in range(blocks + 1):  # turn 0: the warmup block, not counted
        for loop in LOOPS if turn % 2 == 0 else LOOPS[::-1]:
            conn = workers[model, loop][1]
            conn.send("go")
            seconds = _receive(conn, "block", f"{model}/{loop}")
            if turn > 0:
                times[loop].append(1000 * seconds / block)
    return times


def _summary(times, info, device, blocks, block, warmup):
    """The result dict of one GAN: medians and spreads of ms/iteration, memory, settings."""
    mib = 1 / 2**20
    result = {}
    for loop in LOOPS:
        ms = times[loop]
        result[f"{loop}_ms"] = round(statistics.median(ms), 2)
        result[f"{loop}_ms_min"] = round(min(ms), 2)
        result[f"{loop}_ms_max"] = round(max(ms), 2)
        result[f"{loop}_blocks_ms"] = [round(t, 1) for t in ms]
        memory = info[loop]
        if memory.get("peak_rss") is not None:
            result[f"{loop}_peak_rss_mib"] = round(memory["peak_rss"] * mib, 1)
            result[f"{loop}_rss_growth_mib"] = round((memory["peak_rss"] - memory["rss_before"]) * mib, 1)
        if "cuda_peak" in memory:
            result[f"{loop}_cuda_peak_mib"] = round(memory["cuda_peak"] * mib, 1)
    result["ratio"] = round(result["kit_ms"] / result["classic_ms"], 3)
    # The same comparison turn by turn (each kit block against the classic block next to it):
    # less sensitive to the machine's load drifting during the run.
    per_turn = [kit / classic for kit, classic in zip(times["kit"], times["classic"], strict=True)]
    result["paired_ratio"] = round(statistics.median(per_turn), 3)
    result.update(iters=blocks * block, block=block, warmup=warmup, device=device, threads=info["kit"]["threads"])
    result["kit_precision"] = info["kit"]["precision"]
    return result


def compare(
    models, device="cpu", root=None, iters=60, block=5, warmup=5, seed=0, threads=None, bfloat16=None, out=print
):
    """
    Time the classic loop against the kit's on each GAN in `models`; returns {model: result dict}.
    bfloat16 goes to the kit's run_a_gan (None: its own choice for the device).
    """
    blocks = max(1, math.ceil(iters / block))
    workers = _start_workers(models, device, root, warmup, block, blocks, seed, threads, bfloat16)
    results = {}
    try:
        info = {key: _receive(conn, "ready", "/".join(key)) for key, (_, conn) in workers.items()}
        first = info[models[0], "kit"]
        out(
            f"torch {first['torch']}, device {device}, torch threads: {first['threads']}, MNIST from {first['root']};"
            f" the kit computes in {first['precision']}"
        )
        for model in models:
            started = time.perf_counter()
            times = _take_turns(model, workers, blocks, block)
            for loop in LOOPS:
                info[model, loop].update(_receive(workers[model, loop][1], "done", f"{model}/{loop}"))
            loops = {loop: info[model, loop] for loop in LOOPS}
            results[model] = _summary(times, loops, device, blocks, block, warmup)
            out(report(model, results[model]) + f"\n  ({time.perf_counter() - started:.0f} s)")
    except BaseException:  # a worker failed, or Ctrl-C: stop the others too
        for process, _ in workers.values():
            process.terminate()
        raise
    finally:
        for process, conn in workers.values():
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()
            conn.close()
    return results


def report(model, r):
    """Human-readable lines for one GAN's results."""
    lines = [f"{model}: {r['iters']} iterations per loop in blocks of {r['block']} (+{r['warmup']} warmup)"]
    for loop in LOOPS:
        line = (
            f"  {loop:8s} {r[f'{loop}_ms']:8.1f} ms/iter (median; blocks {r[f'{loop}_ms_min']:.1f}"
            f"-{r[f'{loop}_ms_max']:.1f})"
        )
        if f"{loop}_peak_rss_mib" in r:
            peak, growth = r[f"{loop}_peak_rss_mib"], r[f"{loop}_rss_growth_mib"]
            line += f"  peak RSS {peak:.0f} MiB (+{growth:.0f} while training)"
        if f"{loop}_cuda_peak_mib" in r:
            line += f"  CUDA peak {r[f'{loop}_cuda_peak_mib']:.0f} MiB"
        lines.append(line)
    lines.append(
        f"  ratio kit/classic: {r['ratio']:.3f}  (speed-up x{1 / r['ratio']:.2f}; median of the per-turn ratios"
        f" {r['paired_ratio']:.3f})"
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=60, help="timed iterations per loop and GAN (default 60)")
    parser.add_argument("--block", type=int, default=5, help="iterations per turn (default 5)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed iterations first (default 5)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: vanilla,dcgan")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--root", default=None, help="MNIST folder (default: $MNIST_ROOT, else nndl2/)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads in both workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--precision",
        choices=["auto", "float32", "bfloat16"],
        default="auto",
        help="the kit's arithmetic (default auto: bfloat16 autocast where the hardware is fast at it)",
    )
    parser.add_argument("--json", action="store_true", help="end with one line of JSON")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for model in models:
        if model not in MODELS:
            parser.error(f"unknown model {model!r}: choose from {', '.join(MODELS)}")
    if args.iters < 1 or args.block < 1 or args.warmup < 1:
        parser.error("--iters, --block and --warmup must be at least 1")
    block = min(args.block, args.iters)

    def out(text):
        print(text, flush=True)

    bfloat16 = {"auto": None, "float32": False, "bfloat16": True}[args.precision]
    results = compare(
        models, args.device, args.root, args.iters, block, args.warmup, args.seed, args.threads, bfloat16, out
    )
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
