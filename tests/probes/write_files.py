"""Writes a 256 MiB file, then fills /exports and /tmp (PROBE_FILL_FOLDERS): writes stop at the file size limit
or a full tmpfs. tmpfs pages count as the sandbox's memory. The folders are $GAN_KIT_EXPORTS and $TMPDIR
(/exports and /tmp in bubblewrap) and keep their names in the report."""

import json as _json
import os as _os


def _probe_write(path, size):
    written, chunk = 0, b"x" * (1 << 20)
    try:
        with open(path, "wb") as f:
            while written < size:
                f.write(chunk)
                f.flush()
                written += len(chunk)
        return written, "complete"
    except OSError as error:
        return _os.path.getsize(path) if _os.path.exists(path) else 0, error.strerror


def _probe_write_files():
    report = {"probe": "write_files"}
    places = {"/exports": _os.environ.get("GAN_KIT_EXPORTS", "/exports"), "/tmp": _os.environ.get("TMPDIR", "/tmp")}
    report["big"] = _probe_write(f"{places['/exports']}/big.bin", int(globals().get("PROBE_FILE_BYTES", 256 << 20)))
    for folder in globals().get("PROBE_FILL_FOLDERS", ("/exports", "/tmp")):
        for number in range(64):  # 64 x 16 MiB at most
            size, how = _probe_write(f"{places.get(folder, folder)}/fill-{number}.bin", 16 << 20)
            if how != "complete":
                report[folder] = [number, how]
                break
    print("GAN-KIT-PROBE " + _json.dumps(report))


_probe_write_files()
