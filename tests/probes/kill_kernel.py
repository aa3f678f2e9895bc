"""SIGKILLs its own kernel: an error on that cell, later cells marked not run, notebook and grades still written."""

import os as _os
import signal as _signal

print("GAN-KIT-PROBE kill_kernel", flush=True)
_os.kill(_os.getpid(), _signal.SIGKILL)
