"""Forks PROBE_PROCESSES (200) detached sleepers: refused past the process limit; none may outlive the run."""

import json as _json
import os as _os


def _probe_start_processes():
    wanted, started, error = int(globals().get("PROBE_PROCESSES", 200)), 0, None
    for _ in range(wanted):
        try:
            pid = _os.fork()
        except OSError as failure:
            error = str(failure)
            break
        if pid == 0:  # the child: leave the session and sleep under a name the grader's test looks for
            try:
                _os.setsid()
                _os.execv("/bin/sleep", ["gan-kit-probe-sleeper", "300"])
            finally:
                _os._exit(1)
        started += 1
    print("GAN-KIT-PROBE " + _json.dumps({"probe": "start_processes", "started": started, "error": error}))


_probe_start_processes()
