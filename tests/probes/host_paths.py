"""Prints /proc/self/mountinfo, /proc/1/cmdline and its fds: host path names there must be scrubbed from outputs."""

import json as _json
import os as _os


def _probe_host_paths():
    report = {"probe": "host_paths"}
    for path in ("/proc/self/mountinfo", "/proc/1/cmdline"):
        try:
            with open(path, "rb") as f:
                report[path] = f.read(20000).decode(errors="replace").replace("\0", " ")
        except OSError as error:
            report[path] = f"unreadable: {error}"
    fds = {}
    for fd in _os.listdir("/proc/self/fd"):
        try:
            fds[fd] = _os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    report["fds"] = fds
    print("GAN-KIT-PROBE " + _json.dumps(report))


_probe_host_paths()
