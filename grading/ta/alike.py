"""The evidence for the grader's --alike (grading/instructor/judging/trained.py Alike), made again on this machine.

    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.alike                       # everything, one process
    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.alike --share 1/2 &         # or half of it in each of two
    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.alike --share 2/2
    python -m grading.ta.alike --report-only                                   # REPORT again, from DATA

--alike hands a submission's GAN the reference solution's training run when the submission's probe (G's weights
after grading/kit.py ALIKE_PROBE iterations of the grader's run) equals the reference's bit for bit. It rests on two
claims, which this command checks on the corpus (tests/corpus: the styles CS231n students write, and their single-fault
mutants) at the autograde budget as the grader trains (float32, one thread, the grader's seed):

- a probe that equals the reference's means the whole run does: for every file whose probe equals the
  reference's, the whole run (until it passes, as the grader's) is trained and compared with the reference's
  whole run, bit for bit (G's weights, the losses of every iteration, the iterations);
- a bug shows in the probe: every mutant whose bug is in a function a GAN's training calls (nndl2/items.py
  Gan.functions) has another probe for that GAN, so that GAN trains itself (the GANs its bug ruins or degrades,
  `spoils` and `watch` in tests/corpus/index.py, among them).

Each result is kept as JSON in --cache under the file's text and what it was made with (a stale one is never used);
DATA (grading/ta/alike.json) is written from the cache, and REPORT (alike.md) from DATA. Tests read them.
"""

import argparse
import functools
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from grading.kit import ALIKE_PROBE as PROBE
from grading.kit import GRADING, KIT_DATA, SOLUTION_GAN, import_file, weights_digest
from grading.ta.seed_distributions import loader, mnist_root, write_atomically
from grading.ta.trajectories import mutant_claims
from nndl2.agent.export import save_probe, train_probe
from nndl2.agent.training import GANS, train_gan
from nndl2.budget import BUDGETS, SEED
from nndl2.items import GANS as ITEM_GANS

REPORT = GRADING / "ta" / "alike.md"
DATA = GRADING / "ta" / "alike.json"
DEFAULT_CACHE = Path(os.environ.get("GANKIT_CACHE", Path.home() / ".cache" / "gankit")) / "alike"
BUDGET = "autograde"


def sources():
    """{name: (gan.py text, kind, {gan: claim}, function)}: the reference, the corpus styles and mutants (claims: a
    mutant's `spoils` and `watch` GANs, "ruins" or "open"; function: the one its bug is in)."""
    from tests.corpus import STYLES, mutant_gan, style_gan
    from tests.corpus.index import MUTANTS

    found = {"reference": (SOLUTION_GAN.read_text(), "reference", {}, None)}
    for path in sorted(STYLES.glob("*.py.txt")):
        name = path.name.removesuffix(".py.txt")
        found[name] = (style_gan(name), "style", {}, None)
    for m in MUTANTS:
        found[f"{m['style']}-{m['function']}"] = (mutant_gan(m["style"], m["function"]), "mutant", mutant_claims(m),
                                                  m["function"])  # fmt: skip
    return found


def code(text):
    """A digest of `text`'s code, docstrings and comments left out (make_outputs.code_only: they train nothing)."""
    from grading.ta.make_outputs import code_only

    return hashlib.sha256(code_only(text).encode()).hexdigest()[:12]


def made_with():
    """What every result depends on besides the file: the budget, the probes, the training code (nndl2's, as
    make_outputs lists it, and the probe's export), the data, PyTorch and the CPU."""
    from grading.ta.make_outputs import TRAINING_CODE

    files = [path for path in TRAINING_CODE if path != SOLUTION_GAN] + [KIT_DATA / "agent" / "export.py"]
    training = hashlib.sha256("".join(code(path.read_text()) for path in files).encode()).hexdigest()[:12]
    return {"budget": BUDGET, "probe": PROBE, "training_code": training, "mnist_root": mnist_root(),
            "torch": torch.__version__, "cpu": torch.backends.cpu.get_cpu_capability(), "precision": "float32",
            "threads": 1}  # fmt: skip


def probe(module, gan, batches):
    """The digest of G's weights after PROBE[gan] iterations of the grader's run (as its probe exports them)."""
    history = train_probe(module, gan, batches, BUDGET, PROBE[gan])
    with tempfile.TemporaryDirectory() as tmp:  # as the probe writes it, and as the grader reads it
        save_probe(Path(tmp) / "probe.npz", history, PROBE[gan])
        with np.load(Path(tmp) / "probe.npz", allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        return weights_digest(json.loads(str(arrays.pop("__meta__")))["iterations"], arrays)


def whole(module, gan, batches):
    """The grader's whole run of `gan` (until it passes, at most the budget): (iterations, its digest: G's weights,
    every iteration's losses and D's beliefs)."""
    _, G, _, history = train_gan(gan, module, batches, BUDGETS[BUDGET][gan], SEED, until_passing=True, bfloat16=False)
    sha = hashlib.sha256()
    for tensor in G.state_dict().values():
        sha.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        sha.update(np.asarray(history[key], dtype=np.float64).tobytes())
    return len(history["d_loss"]), sha.hexdigest()[:16]


def cached(cache, made, text, gan, what, make=None):
    """make()'s JSON result for (file text, GAN, what), kept in `cache` under everything it depends on (`made`:
    made_with()) (make None: the kept one, or LookupError)."""
    key = hashlib.sha256(json.dumps([text, gan, what, made]).encode()).hexdigest()[:16]
    path = cache / f"{gan}-{what}-{key}.json"
    if not path.exists():
        if make is None:
            raise LookupError(f"{gan} {what}")
        value = make()
        write_atomically(path, lambda partial: partial.write_text(json.dumps(value)))
    return json.loads(path.read_text())


def measure(cache, share=(1, 1), only_cached=False):
    """DATA's content: for every file and GAN its probe, and its whole run where the probe is the reference's."""
    found, made, modules = sources(), made_with(), {}
    batches = functools.cache(loader)  # loaded once, and only if something trains
    torch.set_num_threads(1)

    def module(name):
        if name not in modules:
            path = cache / "sources" / f"{name}-{hashlib.sha256(found[name][0].encode()).hexdigest()[:12]}.py"
            if not path.exists():
                write_atomically(path, lambda partial: partial.write_text(found[name][0]))
            modules[name] = import_file(path, f"alike_{len(modules)}")
        return modules[name]

    def result(name, gan, what, make):
        return cached(cache, made, found[name][0], gan, what, None if only_cached else make)

    index, count = share
    pairs = [(name, gan) for name in found for gan in GANS]
    mine = {pair for number, pair in enumerate(pairs) if number % count == index - 1}
    files = {}
    for name, gan in pairs:  # every process needs the reference's probes; each trains its share of the rest
        if (name, gan) in mine or name == "reference":
            digest = result(name, gan, "probe", lambda name=name, gan=gan: probe(module(name), gan, batches()))
            text, kind, claims, function = found[name]
            files.setdefault(
                name, {"kind": kind, "claims": claims, "function": function, "code": code(text), "gans": {}}
            )
            files[name]["gans"][gan] = {"probe": digest}
    for name, gan in pairs:
        if (name, gan) in mine and files[name]["gans"][gan]["probe"] == files["reference"]["gans"][gan]["probe"]:
            iterations, digest = result(
                name, gan, "whole", lambda name=name, gan=gan: whole(module(name), gan, batches())
            )
            files[name]["gans"][gan].update(iterations=iterations, run=digest)
    return files


def complete(cache):
    """Every share's results, read from the cache (None when some are missing)."""
    try:
        return measure(cache, only_cached=True)
    except LookupError:
        return None


def alike_files(files, gan):
    """The files (not the reference) whose probe of `gan` is the reference's."""
    reference = files["reference"]["gans"][gan]["probe"]
    return [name for name, f in files.items() if name != "reference" and f["gans"][gan]["probe"] == reference]


def problems(files):
    """What would make --alike wrong on the corpus: a probe like the reference's with another whole run, or a
    mutant's bug, in a function a GAN's training calls, that does not show in that GAN's probe."""
    found = []
    for gan in GANS:
        run = files["reference"]["gans"][gan]["run"]
        for name in alike_files(files, gan):
            f = files[name]
            if f["gans"][gan].get("run") != run:
                found.append(f"{name}: its {gan} probe is the reference's, its whole run is not")
            if f["kind"] == "mutant" and (f["function"] in ITEM_GANS[gan].functions or gan in f["claims"]):
                found.append(f"{name}: its bug in {f['function']} does not show in the {gan} probe")
    return found


def report(data):
    """REPORT's text, from DATA."""
    files, made = data["files"], data["made_with"]
    reference = files["reference"]["gans"]
    probes = ", ".join(f"{gan} {n}" for gan, n in made["probe"].items())
    lines = [
        "# --alike: GANs that train as the reference's",
        "",
        "Generated by `python -m grading.ta.alike` from `alike.json` (do not edit by hand; how it is made is in the "
        "command's docstring).",
        "",
        f"- Made with: the {made['budget']} budget, probes of {probes} iterations, {made['precision']}, "
        f"{made['threads']} thread, MNIST from {made['mnist_root']}, PyTorch {made['torch']}, "
        f"CPU kernels {made['cpu']}.",
        "- A probe: G's weights after that many iterations of the grader's run (seed as the grader's). A whole run: "
        "the grader's run until it passes (at most the budget); the same means G's weights, every iteration's losses "
        "and D's beliefs, and the iterations, bit for bit.",
        "",
        "## Files whose probe is the reference's: is the whole run the reference's?",
        "",
        "| GAN | the reference's whole run | files with its probe | of them, with its whole run |",
        "|---|---|---|---|",
    ]
    for gan in GANS:
        alike = alike_files(files, gan)
        same = [name for name in alike if files[name]["gans"][gan].get("run") == reference[gan]["run"]]
        lines.append(f"| {gan} | {reference[gan]['iterations']} iterations | {len(alike)} | {len(same)} |")
    lines += ["", "## Mutants: a bug shows in the probe", "",
              "| mutant | GANs whose training calls its function | it ruins or degrades | with the reference's probe |",
              "|---|---|---|---|"]  # fmt: skip
    for name, f in files.items():
        if f["kind"] == "mutant":
            calls = ", ".join(gan for gan in GANS if f["function"] in ITEM_GANS[gan].functions)
            claims = ", ".join(f"{gan} ({claim})" for gan, claim in f["claims"].items()) or "none"
            alike = [gan for gan in GANS if name in alike_files(files, gan)]
            lines.append(f"| {name} | {calls} | {claims} | {', '.join(alike) or 'none'} |")
    lines += ["", "## Every file's probes", "", f"| file | kind | {' | '.join(GANS)} |", "|---|---|---|---|---|"]
    for name, f in files.items():
        cells = []
        for gan in GANS:
            digest = f["gans"][gan]["probe"]
            cells.append(
                "no probe" if digest is None else "reference's" if digest == reference[gan]["probe"] else digest[:12]
            )
        lines.append(f"| {name} | {f['kind']} | {' | '.join(cells)} |")
    lines += ["", "## Problems", ""] + ([f"- {problem}" for problem in problems(files)] or ["None."])
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--share", default="1/1", help="K/N: the K-th of N shares of the work (one process each)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--report-only", action="store_true", help=f"write {REPORT.name} again from {DATA.name} alone")
    args = parser.parse_args(argv)
    if args.report_only:
        write_atomically(REPORT, lambda partial: partial.write_text(report(json.loads(DATA.read_text()))))
        print(f"wrote {REPORT}")
        return 0
    index, _, count = args.share.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        parser.error(f"--share {args.share}: K/N with 1 <= K <= N")
    measure(args.cache, (int(index), int(count)))
    files = complete(args.cache)
    if files is None:
        print("this share is done; DATA is written when every share is (run the others)")
        return 0
    data = {"made_with": made_with(), "files": files}
    write_atomically(DATA, lambda partial: partial.write_text(json.dumps(data, indent=1) + "\n"))
    write_atomically(REPORT, lambda partial: partial.write_text(report(data)))
    print(f"wrote {DATA} and {REPORT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
