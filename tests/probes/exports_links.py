"""Leaves links (to /etc/passwd, /proc/1/root, ..) and a FIFO in /exports ($GAN_KIT_EXPORTS): only plain files
may be copied out."""

import json as _json
import os as _os


def _probe_exports_links():
    made, exports = [], _os.environ.get("GAN_KIT_EXPORTS", "/exports")
    for name, target in [("passwd-link", "/etc/passwd"), ("up-link", "/proc/1/root"), ("dot-link", "..")]:
        try:
            _os.symlink(target, f"{exports}/{name}")
            made.append(name)
        except OSError:
            pass
    try:
        _os.mkfifo(f"{exports}/fifo")
        made.append("fifo")
    except OSError:
        pass
    with open(f"{exports}/regular.txt", "w") as f:
        f.write("regular")
    print("GAN-KIT-PROBE " + _json.dumps({"probe": "exports_links", "made": made}))


_probe_exports_links()
