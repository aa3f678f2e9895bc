"""Connects to 127.0.0.1:PROBE_PORT, a listener on the grader's host: must fail, and see only 'lo'."""

import json as _json
import socket as _socket


def _probe_connect_localhost():
    port, result = int(globals().get("PROBE_PORT", 0)), "no port given"
    if port:
        connection = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        connection.settimeout(3)
        try:
            connection.connect(("127.0.0.1", port))
            connection.sendall(b"hello from the sandbox\n")
            result = "connected"
        except OSError as error:
            result = f"refused: {error}"
        finally:
            connection.close()
    interfaces = [name for _, name in _socket.if_nameindex()]
    print("GAN-KIT-PROBE " + _json.dumps({"probe": "connect_localhost", "result": result, "interfaces": interfaces}))


_probe_connect_localhost()
