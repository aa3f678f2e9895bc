"""Allocates touched memory in 64 MiB steps up to PROBE_MEMORY_CAP (1 GiB): the memory limit must stop it."""

import json as _json


def _probe_allocate_memory():
    cap, step, held = int(globals().get("PROBE_MEMORY_CAP", 1 << 30)), 64 << 20, []
    try:
        while (len(held) + 1) * step <= cap:
            block = bytearray(step)
            block[::4096] = b"x" * len(block[::4096])  # touch every page
            held.append(block)
            print(f"allocated {len(held) * 64} MiB", flush=True)
        result = "reached the cap"
    except MemoryError:
        result = "MemoryError"
    allocated = len(held) * step
    del held
    print("GAN-KIT-PROBE " + _json.dumps({"probe": "allocate_memory", "result": result, "allocated": allocated}))


_probe_allocate_memory()
