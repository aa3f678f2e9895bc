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
"""

import hashlib
import json
import shutil
from pathlib import Path

import torch

from grading.kit import ROOT, digest

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

    def get(self, student, gan, gan_py, into):
        """Copy the kept export of `gan` into folder `into` if its key matches gan.py's; True if it did."""
        export, stamp = self.paths(student, gan)
        if not (export.is_file() and stamp.is_file()):
            return False
        try:
            if json.loads(stamp.read_text()).get("key") != self.key(gan_py, gan):
                return False
        except (OSError, ValueError):
            return False
        shutil.copyfile(export, Path(into) / f"{gan}.npz")
        return True

    def keep(self, student, gan, gan_py, folder):
        """Keep the export `folder`/<gan>.npz of a run that finished on its own (the previous one is replaced)."""
        source = Path(folder) / f"{gan}.npz"
        if not source.is_file():
            return
        export, stamp = self.paths(student, gan)
        export.parent.mkdir(parents=True, exist_ok=True)
        stamp.unlink(missing_ok=True)  # no key beside a half-copied file
        shutil.copyfile(source, export)
        stamp.write_text(json.dumps({"key": self.key(gan_py, gan)}))
