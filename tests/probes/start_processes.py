"""Forks PROBE_PROCESSES (200) detached sleepers named PROBE_SLEEPER (gan-kit-probe-sleeper): refused past the process
limit; none may outlive the run. A test that counts them gives them a name of its own (tests/confine_probes.py)."""

import json as _json
import os as _os


def _probe_start_processes():
    wanted, started, error = int(globals().get("PROBE_PROCESSES", 200)), 0, None
    name = str(globals().get("PROBE_SLEEPER", "gan-kit-probe-sleeper"))
    for _ in range(wanted):
        try:
            pid = _os.fork()
        except OSError as failure:
            error = str(failure)
            break
        if pid == 0:  # the child: leave the session and sleep under a name the grader's test looks for
            try:
                _os.setsid()
                _os.execv("/bin/sleep", [name, "300"])
            finally:
                _os._exit(1)
        started += 1
    print("GAN-KIT-PROBE " + _json.dumps({"probe": "start_processes", "started": started, "error": error}))


_probe_start_processes()
