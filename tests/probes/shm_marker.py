"""Lists /dev/shm, then leaves a marker there: must find no earlier submission's marker (private /dev/shm)."""

import json as _json
import os as _os


def _probe_shm_marker():
    try:
        found = sorted(_os.listdir("/dev/shm"))
    except OSError as error:
        found = [f"cannot list: {error}"]
    try:
        with open("/dev/shm/gan-kit-probe-marker", "w") as f:
            f.write("left by an earlier submission")
        wrote = True
    except OSError:
        wrote = False
    print("GAN-KIT-PROBE " + _json.dumps({"probe": "shm_marker", "found": found, "wrote": wrote}))


_probe_shm_marker()
