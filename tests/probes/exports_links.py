"""Leaves links (to /etc/passwd, /proc/1/root, ..) and a FIFO in /exports: only plain files may be copied out."""

import json as _json
import os as _os


def _probe_exports_links():
    made = []
    for name, target in [("passwd-link", "/etc/passwd"), ("up-link", "/proc/1/root"), ("dot-link", "..")]:
        try:
            _os.symlink(target, f"/exports/{name}")
            made.append(name)
        except OSError:
            pass
    try:
        _os.mkfifo("/exports/fifo")
        made.append("fifo")
    except OSError:
        pass
    with open("/exports/regular.txt", "w") as f:
        f.write("regular")
    print("GAN-KIT-PROBE " + _json.dumps({"probe": "exports_links", "made": made}))


_probe_exports_links()
