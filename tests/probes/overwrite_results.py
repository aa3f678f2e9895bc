"""Tries to write each of PROBE_PATHS (the grader's results.json, its gradebook...) and to create a file beside
each: must change none of them."""

import json as _json
import os as _os


def _probe_overwrite_results():
    changed = []
    for path in globals().get("PROBE_PATHS", []):
        for target in (path, _os.path.join(_os.path.dirname(path), "forged-by-probe.json")):
            try:
                with open(target, "w") as f:
                    f.write('{"score": 1000, "tests": []}')
                changed.append(target)
            except OSError:
                pass
    print("GAN-KIT-PROBE " + _json.dumps({"probe": "overwrite_results", "changed": changed}))


_probe_overwrite_results()
