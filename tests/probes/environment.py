"""Prints its environment, host name and uid: only the sandbox's own variables, host 'sandbox'."""

import json as _json
import os as _os
import socket as _socket


def _probe_environment():
    report = {"probe": "environment", "env": dict(_os.environ), "host": _socket.gethostname(), "uid": _os.getuid()}
    print("GAN-KIT-PROBE " + _json.dumps(report))


_probe_environment()
