"""Smoke test of `python -m grading.ta.benchmark`: it runs end to end and its --json line parses.

Only the plumbing is checked (a couple of iterations on synthetic digits); never the timings.
"""

import json
import subprocess
import sys

from grading.kit import ROOT
from grading.ta.benchmark import PacedLoader


def test_benchmark_json_smoke(mnist_synthetic):
    command = [sys.executable, "-m", "grading.ta.benchmark", "--iters", "2", "--block", "1", "--warmup", "1"]
    command += ["--root", str(mnist_synthetic), "--json", "--threads", "1", "--precision", "float32"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    results = json.loads(lines[-1])
    assert set(results) == {"vanilla", "dcgan"}
    for model, r in results.items():
        for key in ("classic_ms", "kit_ms", "ratio"):
            assert isinstance(r[key], float) and r[key] > 0, (model, key)
        assert r["iters"] == 2 and r["device"] == "cpu" and r["kit_precision"] == "float32"
        assert r["classic_peak_rss_mib"] > 0 and r["kit_peak_rss_mib"] > 0
    assert "the kit computes in float32" in lines[0]
    assert any(line.startswith("vanilla:") for line in lines) and any("ratio kit/classic" in line for line in lines)


def test_paced_loader_pauses_between_blocks():
    batches = [(list(range(n)), None) for n in (4, 4, 2)]  # two full batches of 4, then a partial one
    pauses = []
    paced = PacedLoader(batches, batch_size=4, warmup=1, block=2, blocks=2, pause=pauses.append)
    sizes = [len(x) for x, _ in paced]
    # 1 warmup + 2 blocks of 2 = 5 full batches, cycling through the loader (partial ones pass through).
    assert sizes == [4, 4, 2, 4, 4, 2, 4]
    assert pauses == [False, False, False, True]  # start, after the warmup, after block 1, end of run
