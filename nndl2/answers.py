"""Your answers to Inline Questions 4-6, for the autograder: plain data, written only while autograding.

The autograder never scores anything inside your Python process. It runs your code in a sandbox, and
what your code produced is written as plain files (numpy .npz without pickles, JSON); a separate grader
process, which never runs your code, compares them with the reference. The notebook's part is this:

    save_answers("q4", minmax_value=..., xy_pairs=...)     (the notebook's Inline Question 4-6 cells)
        your answers as JSON values.

The rest (the export of gan.py's functions and the grader's training run of your GANs) is the grader's
agent, nndl2/agent/: you need not read it. When you run the notebook yourself nothing is written
(GAN_KIT_EXPORTS is not set).
"""

import json
import numbers
import os
from pathlib import Path

import numpy as np
import torch

EXPORTS = "GAN_KIT_EXPORTS"  # where save_answers writes (set by the autograder only)
MAX_TEXT = 300  # characters kept of a string answer (and of an exception message, nndl2/agent/export.py)


def plain(value, depth=0):
    """A JSON value for an answer: numbers, booleans, strings, lists; anything else by its type name."""
    if depth > 4:
        return {"unexportable": "nested too deep"}
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if np.isfinite(number) else {"unexportable": repr(number)}
    if isinstance(value, str):
        return {"string": value[:MAX_TEXT]}
    if torch.is_tensor(value) or isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value[:100]]
    return {"unexportable": type(value).__name__}


def save_answers(question, **answers):
    """Write the answers of one Inline Question for the grader (only while autograding; else nothing)."""
    folder = os.environ.get(EXPORTS)
    if not folder:
        return
    path = Path(folder) / f"answers-{question}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({name: plain(value) for name, value in answers.items()}))
