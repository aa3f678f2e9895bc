"""The grader's trained GANs, kept between gradings so that an unchanged gan.py is not trained again.

Almost all of a submission's grading time is the grader's training run of its three GANs. What that run
produces is fixed by what goes into it: the bytes of gan.py, the provided package nndl2/ (the training loop,
the budget, the thresholds it stops at), the MNIST files, the budget, the device, the precision
(Settings.training()), the threads and PyTorch's version. `Kept` stores each GAN's export (the `<gan>.npz` the
sandboxed run wrote) under a key made of exactly those, one per student and GAN (a newer gan.py replaces it),
and hands it back when the key matches. So a re-grade after a change to the judge, the points, the answers,
the feedback or the time limits (anything in grading/) trains nothing; a change to nndl2/ or to the student's
gan.py trains again. A kept export is judged as a fresh one is: it is the output of the same sandboxed run,
and the judge trusts neither.

Only runs that finished on their own are kept (a run stopped by its time limit or by the sandbox is
not). Disk: the generators' weights in float32, about 8 MB for each fully connected GAN and 26 MB
for the DCGAN, so about 42 MB per student (13 GB for 300 students) under `<out>/trained/`; delete
the folder to free it (the next grading trains again).

`Alike` (--alike, below) goes further for a new gan.py: a GAN that trains bit for bit as the reference
solution's (or a correct solution's in another common style) for its first iterations goes on with that solution's
run, trained once.
"""

import hashlib
import json
import shutil
from pathlib import Path

import torch

from grading.kit import ALIKE_PROBE, ALIKE_STYLES, ROOT, SOLUTION_GAN, digest, weights_digest, write_atomically
from nndl2.agent.export import save_npz  # how an export is written (the judge reads it as it reads any)

PACKAGE = ROOT / "nndl2"


class Kept:
    """Trained GANs under `root`/<student>/<gan>.npz, each beside <gan>.json holding the key it was made with."""

    def __init__(self, root, budget, threads, mnist_root=None):
        data = Path(mnist_root) / "MNIST" / "raw" if mnist_root else None
        self.root = Path(root)
        self.settings = json.dumps(
            {
                "budget": budget,
                "threads": threads,
                "torch": torch.__version__,
                # the provided package, its downloaded MNIST left out (the data is the next entry)
                "package": digest([PACKAGE], skip=("__pycache__", "MNIST")),
                "data": digest([data]) if data and data.is_dir() else str(mnist_root),
            },
            sort_keys=True,
        )

    def key(self, gan_py, gan):
        """The key of GAN `gan` trained with the gan.py at path `gan_py`."""
        return hashlib.sha256(self.settings.encode() + gan.encode() + b"\0" + Path(gan_py).read_bytes()).hexdigest()

    def paths(self, student, gan):
        folder = self.root / student
        return folder / f"{gan}.npz", folder / f"{gan}.json"

    def get(self, student, gan, gan_py, into, alike=()):
        """Copy the kept export of `gan` into folder `into` if its key matches gan.py's; True if it did. A trusted
        solution's run handed to this gan.py (Alike) only while that solution is among `alike` (the Alike.id of the
        solutions --alike hands on now; none when it is off: then every GAN trains)."""
        export, stamp = self.paths(student, gan)
        if not (export.is_file() and stamp.is_file()):
            return False
        try:
            kept = json.loads(stamp.read_text())
            if kept.get("key") != self.key(gan_py, gan) or (kept.get("alike") and kept["alike"] not in alike):
                return False
        except (OSError, ValueError, AttributeError):
            return False
        shutil.copyfile(export, Path(into) / f"{gan}.npz")
        return True

    def keep(self, student, gan, gan_py, folder, alike=None):
        """Keep the export `folder`/<gan>.npz of a run that finished on its own (the previous one is replaced);
        `alike`: it is the run of that trusted solution (its Alike.id), handed to this gan.py."""
        source = Path(folder) / f"{gan}.npz"
        if not source.is_file():
            return
        export, stamp = self.paths(student, gan)
        export.parent.mkdir(parents=True, exist_ok=True)
        stamp.unlink(missing_ok=True)  # no key beside a half-copied file
        shutil.copyfile(source, export)
        stamp.write_text(json.dumps({"key": self.key(gan_py, gan)} | ({"alike": alike} if alike else {})))


# -- GANs that train as a trusted solution's ------------------------------------------------------------------

PROBE = ALIKE_PROBE  # the iterations a probe trains, per GAN (grading/kit.py)
REFERENCE = "reference-solution"  # the reference's own work folder under Alike.root (no student's key)
ALIKE_BATCH = 10  # --alike auto: on for a batch of at least this many submissions (the reference trains first)


def trusted():
    """{name: gan.py}: the solutions whose runs --alike hands on, the reference first, then the correct gan.py files
    in other common styles (grading/kit.py ALIKE_STYLES, written with their evidence by grading/ta/alike.py)."""
    styles = sorted(ALIKE_STYLES.glob("*.py.txt"))
    return {REFERENCE: SOLUTION_GAN} | {path.name.removesuffix(".py.txt"): path for path in styles}


def probe_digest(path):
    """The digest of the probe at `path` (grading/kit.py weights_digest); None when there is none or it is malformed."""
    from grading.instructor.judging import judge, verdict

    try:
        meta, arrays = judge.load_export(path)
    except verdict.ExportError:
        return None
    return weights_digest(meta.get("iterations"), arrays)


class Alike:
    """A trusted solution's own training runs (`trusted()`: the reference's, or a style's), for submissions whose
    GANs train bit for bit as they do.

    The grader trains the reference solution before a batch, as it trains a submission (sandboxed, the same
    settings), and keeps, per GAN, its export and the digest of G's weights after PROBE iterations
    (`<root>/<settings>/<gan>.npz`, `<gan>.json`). For a style it first keeps the probe's digest alone, and trains the
    GAN's run once a submission's probe has that digest. A submission's GAN that trains to exactly those weights (its
    probe: a sandboxed run of PROBE iterations) is handed that export instead of training the whole budget: the
    training steps that follow start from the same weights, optimizer state and random numbers, so the run would go
    on as the solution's did, unless gan.py's code does something else later in the run (a branch on the iteration
    count or on values not yet met). That assumption is what this mode rests on; the evidence for it is in
    grading/ta/alike.md. Only trusted solutions' runs are ever kept here: a submission's run is never handed to
    another submission.
    """

    def __init__(self, root, kept, name=REFERENCE, gan_py=SOLUTION_GAN):
        # its key: the trained GANs' (Kept), the CPU's kernels (another CPU may compute other bits), the solution
        text = Path(gan_py).read_text()
        made_of = json.dumps([kept.settings, torch.backends.cpu.get_cpu_capability(), text, PROBE])
        self.name, self.gan_py = name, Path(gan_py)
        self.whose = "the reference solution's" if name == REFERENCE else f"the {name} style's"  # in the grader's log
        self.id = hashlib.sha256(made_of.encode()).hexdigest()[:16]  # what a run handed on is kept under (Kept)
        self.root = Path(root) / "alike" / self.id

    def paths(self, gan):
        return self.root / f"{gan}.npz", self.root / f"{gan}.json"

    def stamp(self, gan):
        """What was kept of the solution's probe of `gan` ({"probe": digest, "iterations": n}, "run": true beside its
        export), or None when there is none for the probes in force."""
        export, stamp = self.paths(gan)
        try:
            kept = json.loads(stamp.read_text())
            if kept["iterations"] != PROBE[gan] or not isinstance(kept["probe"], str):
                return None
            return kept | {"run": export.is_file() and kept.get("run") is True}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def digest(self, gan):
        """The digest of the solution's probe of `gan`, or None when none is kept."""
        return (self.stamp(gan) or {}).get("probe")

    def has_run(self, gan):
        """Whether the solution's run of `gan` is kept (beside its probe's digest)."""
        return (self.stamp(gan) or {}).get("run", False)

    def note(self, gan, probe):
        """Keep the digest of the solution's probe of `gan` alone (its run trains when a submission's probe is it)."""
        digest = probe_digest(probe)
        if digest is None:
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = json.dumps({"probe": digest, "iterations": PROBE[gan]})
        write_atomically(self.paths(gan)[1], lambda partial: partial.write_text(stamp))
        return True

    def forget(self, gan):
        """Drop what is kept of `gan` (before its run is trained again: an old probe must not stand for it)."""
        for path in self.paths(gan):
            path.unlink(missing_ok=True)

    def keep(self, gan, probe, export):
        """Keep the solution's export of `gan` (a run that ended well) beside its probe's digest; False (nothing kept)
        when the probe is malformed, or is not the one noted before. The noted digest stands meanwhile, for the
        threads reading it."""
        digest, noted = probe_digest(probe), self.digest(gan)
        if digest is None or noted not in (None, digest):
            return False
        target, stamp = self.paths(gan)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, lambda partial: shutil.copyfile(export, partial))
        kept = json.dumps({"probe": digest, "iterations": PROBE[gan], "run": True})
        write_atomically(stamp, lambda partial: partial.write_text(kept))
        return True

    def get(self, gan, digest, into):
        """Copy the solution's export of `gan` into `into`/<gan>.npz if `digest` (a submission's probe's) is its
        probe's, its description marked as this solution's run; True if it did."""
        from grading.instructor.judging import judge

        kept = self.stamp(gan)
        if kept is None or not kept["run"] or digest is None or digest != kept["probe"]:
            return False
        meta, arrays = judge.load_export(self.paths(gan)[0])
        # marked as the solution's run, for the replay and the feedback to say so
        marks = {"alike": kept["iterations"]} | ({} if self.name == REFERENCE else {"alike_style": self.name})
        save_npz(Path(into) / f"{gan}.npz", meta | marks, arrays)
        return True
