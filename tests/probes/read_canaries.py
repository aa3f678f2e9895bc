"""Searches for files named *canary* and reads PROBE_PATHS and known secrets: must find and read nothing."""

import json as _json
import os as _os
import time as _time


def _probe_read_canaries():
    paths = list(globals().get("PROBE_PATHS", []))
    paths += ["/etc/shadow", "/etc/passwd-", "/root/.ssh/id_rsa", "/root/.bash_history", "/home", "/root"]
    readable = []
    for path in paths:
        try:
            if _os.path.isdir(path):
                readable.append([path, sorted(_os.listdir(path))[:20]])
            else:
                with open(path, "rb") as f:
                    readable.append([path, f.read(200).decode(errors="replace")])
        except OSError:
            pass
    found, seen, start = [], 0, _time.monotonic()
    skip = {"/proc", "/sys", "/dev", "/usr", "/opt/venv/lib", "/opt/python/lib"}
    for root, dirs, files in _os.walk("/"):
        dirs[:] = [d for d in dirs if _os.path.join(root, d) not in skip]
        seen += len(dirs) + len(files)
        found += [_os.path.join(root, name) for name in files + dirs if "canary" in name.lower()]
        if seen > 50_000 or _time.monotonic() - start > 10:
            break
    print("GAN-KIT-PROBE " + _json.dumps({"probe": "read_canaries", "readable": readable, "found": found}))


_probe_read_canaries()
