"""Tries to change gan.py, nndl2/, the notebook and to add files in /assignment: must fail (read-only)."""

import json as _json
import os as _os


def _probe_tamper_assignment():
    changed = []
    for path in ["gan.py", "nndl2/budget.py", "GANs-PyTorch.ipynb", "new-file.txt", "nndl2/new-file.txt"]:
        try:
            with open(path, "a") as f:
                f.write("\n# tampered\n")
            changed.append(path)
        except OSError:
            pass
    try:
        _os.rename("gan.py", "gan-moved.py")
        changed.append("renamed gan.py")
    except OSError:
        pass
    print("GAN-KIT-PROBE " + _json.dumps({"probe": "tamper_assignment", "changed": changed, "cwd": _os.getcwd()}))


_probe_tamper_assignment()
