"""At autograde, in the notebook's kernel: the grader's training run, replayed in the notebook's training cells.

The grader trains your GANs itself, outside the notebook (nndl2/agent/export.py train). When it runs the
notebook, it points the name `run_a_gan` at `replayer(<gan>)` before each training cell (and back at
nndl2.training.run_a_gan after it), so the cell shows that run instead of training a second time.
"""

import json
import os
import textwrap
from pathlib import Path

import numpy as np
import torch

REPLAY = "GAN_KIT_REPLAY"  # the grader's training run, replayed into the notebook at autograde


def handed_on(meta):
    """(whose weights it held, whose run it is) for an export the grader handed on with --alike (a correct solution's
    run that this gan.py's followed bit for bit: "alike" in its description); None for this gan.py's own run."""
    if "alike" not in meta:
        return None
    if "alike_style" in meta:
        return "the weights of a correct solution written in another common style", "that solution's"
    return "the reference solution's weights", "the reference's"


def replayer(name):
    """At autograde: a stand-in for run_a_gan that replays the grader's training run of GAN `name`.

    It loads the grader's trained weights into the G it is given (built by your gan.py in the cell, as
    in the grader's run; D stays as built), fills `history`, and returns the run's progress grids, so
    the notebook shows exactly the generators that were graded without training them twice.
    """

    def replay(D, G, D_solver, G_solver, discriminator_loss, generator_loss, loader_train, history=None, **_):
        path = Path(os.environ[REPLAY]) / name / f"{name}.npz"
        if not path.exists():
            raise RuntimeError(f"the grader's training run has no {name} GAN (it stopped before; see the feedback)")
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            if "error" in meta:
                raise RuntimeError(f"training failed in the grader's run: {meta['error']}: {meta.get('message', '')}")
            with torch.no_grad():
                for index, (_, p) in enumerate(G.named_parameters()):
                    p.copy_(torch.from_numpy(data[f"g_p{index}"]).to(p.dtype))
            if history is not None:
                for key in ("d_loss", "g_loss", "d_real", "d_fake"):
                    history.setdefault(key, []).extend(data[f"history_{key}"].tolist())
            images = list(data["images"])
        trained = f"{meta['iterations']:,} iterations, " if "iterations" in meta else ""
        handed = handed_on(meta)
        if handed:  # the grader's --alike: a correct solution's run, which this gan.py's followed bit for bit
            held, its = handed
            print(textwrap.fill(
                f"Autograde: after the first {meta['alike']} iterations of the grader's training run of your gan.py, "
                f"this GAN's generator held {held} bit for bit, so the grader went on with {its} training run "
                f"({trained}{meta['budget']} budget), shown here.", width=100,
            ))  # fmt: skip
        else:
            print(f"Autograde: this is the grader's own training run of your gan.py ({trained}{meta['budget']} "
                  "budget),")  # fmt: skip
            print("shown here instead of training a second time.")
        print("Inline Questions 1-3 are graded from exactly this generator; the grader stops training as soon as")
        print("its samples meet the thresholds.")
        return images

    return replay
