"""The evidence for the grader's --alike (grading/instructor/judging/trained.py Alike), made again on this machine.

    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.alike                       # everything, one process
    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.alike --share 1/2 &         # or half of it in each of two
    MNIST_ROOT=/tmp/mnist-mlx python -m grading.ta.alike --share 2/2
    python -m grading.ta.alike --report-only                        # REPORT and the styles' files again, from DATA

--alike hands a submission's GAN a trusted training run when the submission's probe (G's weights after grading/kit.py
ALIKE_PROBE iterations of the grader's run) equals that run's probe bit for bit. The trusted runs are the reference
solution's and those of the corpus styles (tests/corpus: correct gan.py files in the styles CS231n students write)
whose GANs train otherwise than the reference's: the first style with each other probe stands for it, and this command
writes those styles' gan.py files for the grader (grading/kit.py ALIKE_STYLES; the grader probes them again on its own
CPU and trains a style's GAN only once some submission's probe is that style's). It rests on two claims, which this
command checks on the corpus (the styles and their single-fault mutants) at the autograde budget as the grader trains
(float32, one thread, the grader's seed):

- a probe that equals a trusted run's means the whole run does: for every file whose probe equals the
  reference's or a style's that stands for it, the whole run (until it passes, as the grader's) is trained and
  compared with that file's whole run, bit for bit (G's weights, the losses of every iteration, the iterations);
- a bug shows in the probe: every mutant whose bug is in a function a GAN's training calls (nndl2/items.py
  Gan.functions) has a probe for that GAN that no trusted run has, so that GAN trains itself (the GANs its bug
  ruins or degrades, `spoils` and `watch` in tests/corpus/index.py, among them).

Each result is kept as JSON in --cache under the file's text and what it was made with (a stale one is never used);
DATA (grading/ta/alike.json) is written from the cache, REPORT (alike.md) and the styles' files from DATA. Tests read
them.
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
from grading.kit import ALIKE_STYLES, GRADING, KIT_DATA, SOLUTION_GAN, import_file, weights_digest, write_atomically
from grading.ta.seed_distributions import loader, mnist_root
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
    from grading.ta.make_outputs import TRAINED_BY

    files = [*TRAINED_BY, KIT_DATA / "agent" / "export.py"]
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
    """DATA's content: for every file and GAN its probe, and its whole run where the probe is a trusted one's."""
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
    for name, gan in pairs:  # every process needs the trusted files' probes; each trains its share of the rest
        if (name, gan) in mine or found[name][1] in ("reference", "style"):
            digest = result(name, gan, "probe", lambda name=name, gan=gan: probe(module(name), gan, batches()))
            text, kind, claims, function = found[name]
            files.setdefault(
                name, {"kind": kind, "claims": claims, "function": function, "code": code(text), "gans": {}}
            )
            files[name]["gans"][gan] = {"probe": digest}
    for name, gan in pairs:
        if (name, gan) in mine and files[name]["gans"][gan]["probe"] in trusted(files, gan):
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


def trusted(files, gan):
    """{probe: the file that stands for it}: the probes of `gan` whose runs the grader hands on, the reference's and
    each style's that no file before it has (files in DATA's order: the reference, then the styles by name)."""
    found = {}
    for name, f in files.items():
        if f["kind"] in ("reference", "style") and f["gans"][gan]["probe"] is not None:
            found.setdefault(f["gans"][gan]["probe"], name)
    return found


def followers(files, gan):
    """{file: the trusted file whose probe of `gan` it has}, the files that stand for a probe left out."""
    stands = trusted(files, gan)
    return {
        name: stands[f["gans"][gan]["probe"]]
        for name, f in files.items()
        if f["gans"][gan]["probe"] in stands and stands[f["gans"][gan]["probe"]] != name
    }


def alike_files(files, gan):
    """The files (not the reference) whose probe of `gan` is the reference's."""
    return [name for name, source in followers(files, gan).items() if source == "reference"]


def styles(files):
    """{style: [GANs]}: the styles that stand for a probe (trusted), with those GANs: the grader's ALIKE_STYLES."""
    found = {}
    for gan in GANS:
        for name in trusted(files, gan).values():
            if name != "reference":
                found.setdefault(name, []).append(gan)
    return found


def whose(name):
    return "the reference's" if name == "reference" else f"{name}'s"


def problems(files):
    """What would make --alike wrong on the corpus: a probe like a trusted run's with another whole run (or a
    trusted run with none), or a mutant's bug, in a function a GAN's training calls, that does not show in that
    GAN's probe."""
    found = []
    for gan in GANS:
        for source in dict.fromkeys(trusted(files, gan).values()):
            if files[source]["gans"][gan].get("run") is None:
                found.append(f"{source}: its {gan} probe is handed on, and its whole run was not trained")
        for name, source in followers(files, gan).items():
            f = files[name]
            if f["gans"][gan].get("run") != files[source]["gans"][gan].get("run"):
                found.append(f"{name}: its {gan} probe is {whose(source)}, its whole run is not")
            if f["kind"] == "mutant" and (f["function"] in ITEM_GANS[gan].functions or gan in f["claims"]):
                found.append(f"{name}: its bug in {f['function']} does not show in the {gan} probe")
    return found


def style_file(name, text):
    """The text of ALIKE_STYLES/<name>.py.txt: the style's gan.py as the evidence trained it, under a header."""
    header = (
        f"# Generated by `python -m grading.ta.alike` from tests/corpus/styles/{name}.py.txt (do not edit by\n"
        "# hand): a correct gan.py in a common style whose GANs train otherwise than the reference solution's; the\n"
        "# grader's --alike hands its runs to submissions that train as it does (grading/instructor/judging/\n"
        "# trained.py, which stages it as gan.py; stored as .txt so that no tool takes it for the kit's code).\n"
    )
    return header + text


def write_styles(files):
    """ALIKE_STYLES: one file per style that stands for a probe (styles), nothing else."""
    wanted = {f"{name}.py.txt": style_file(name, sources()[name][0]) for name in styles(files)}
    ALIKE_STYLES.mkdir(exist_ok=True)
    for path in ALIKE_STYLES.iterdir():
        if path.name not in wanted:
            path.unlink()
    for name, text in wanted.items():
        if not (ALIKE_STYLES / name).is_file() or (ALIKE_STYLES / name).read_text() != text:
            write_atomically(ALIKE_STYLES / name, lambda partial, text=text: partial.write_text(text))


def report(data):
    """REPORT's text, from DATA."""
    files, made = data["files"], data["made_with"]
    probes = ", ".join(f"{gan} {n}" for gan, n in made["probe"].items())
    lines = [
        "# --alike: GANs that train as a trusted solution's (the reference's, or a style's)",
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
        "## Files whose probe is a trusted run's: is the whole run that run's?",
        "",
        "The trusted runs: the reference's, and for each other probe of a style the first style with it (the grader's "
        "`grading/instructor/judging/alike_styles/`).",
        "",
        "| GAN | trusted run | its whole run | other files with its probe | of them, with its whole run |",
        "|---|---|---|---|---|",
    ]
    for gan in GANS:
        follow = followers(files, gan)
        for source in dict.fromkeys(trusted(files, gan).values()):
            alike = [name for name, of in follow.items() if of == source]
            run = files[source]["gans"][gan]
            same = [name for name in alike if run.get("run") and files[name]["gans"][gan].get("run") == run["run"]]
            whole = f"{run['iterations']} iterations" if run.get("run") else "not trained"
            lines.append(f"| {gan} | {source} | {whole} | {len(alike)} | {len(same)} |")
    lines += ["", "## Mutants: a bug shows in the probe", "",
              "| mutant | GANs whose training calls its function | it ruins or degrades | with a trusted run's probe |",
              "|---|---|---|---|"]  # fmt: skip
    for name, f in files.items():
        if f["kind"] == "mutant":
            calls = ", ".join(gan for gan in GANS if f["function"] in ITEM_GANS[gan].functions)
            claims = ", ".join(f"{gan} ({claim})" for gan, claim in f["claims"].items()) or "none"
            alike = [f"{gan} ({whose(followers(files, gan)[name])})" for gan in GANS if name in followers(files, gan)]
            lines.append(f"| {name} | {calls} | {claims} | {', '.join(alike) or 'none'} |")
    lines += ["", "## Every file's probes", "", f"| file | kind | {' | '.join(GANS)} |", "|---|---|---|---|---|"]
    for name, f in files.items():
        cells = []
        for gan in GANS:
            digest, stands = f["gans"][gan]["probe"], trusted(files, gan)
            cells.append("no probe" if digest is None else whose(stands[digest]) if digest in stands else digest[:12])
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
        data = json.loads(DATA.read_text())
        write_atomically(REPORT, lambda partial: partial.write_text(report(data)))
        write_styles(data["files"])
        print(f"wrote {REPORT} and {ALIKE_STYLES}")
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
    write_styles(files)
    print(f"wrote {DATA}, {REPORT} and {ALIKE_STYLES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
