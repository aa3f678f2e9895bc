"""Ignores SIGINT and spins (PROBE_SPIN_SECONDS, 3600): a time limit must stop it, the notebook still written."""

import signal as _signal
import time as _time

_signal.signal(_signal.SIGINT, _signal.SIG_IGN)
print("GAN-KIT-PROBE busy_loop", flush=True)
_probe_end = _time.monotonic() + float(globals().get("PROBE_SPIN_SECONDS", 3600))
while _time.monotonic() < _probe_end:
    pass
