"""The resource limits of one sandboxed run, and the two ways Linux lets the kit enforce them.

A submission's processes are limited in memory, number of processes, bytes per file and bytes
written to each writable place (/exports, /tmp, /dev/shm), and wall time. Which mechanism holds
a limit depends on what the grader's account may do:

- cgroup mode (root on a cgroup v1 or v2 machine, or a user given a delegated cgroup v2 subtree):
  the sandbox runs in a cgroup of its own (v1: under the launcher's; v2: beside it, under the
  nearest ancestor that delegates memory and pids), whose `memory` limit counts
  every process of the submission together, page cache and tmpfs pages included, and whose `pids`
  limit counts its processes and threads. Hitting either is observed from the cgroup's counters
  (an OOM kill, a refused fork).
- rlimit mode (no writable cgroup, typically a non-root user on a machine without delegation):
  RLIMIT_DATA caps each process's private writable address space (not their sum, and torch's
  libraries reserve about 0.8 GB of it on import), RLIMIT_NPROC caps the threads of the grader's
  user id at what it runs at launch plus `processes` (so the grader's other processes started
  meanwhile count too; root is exempt), and hitting either shows only as a failed allocation or
  fork inside the sandbox, which the grader cannot tell from the student's own errors.

In the sandbox's uid mode (no namespaces: grading/instructor/confine/launcher.py's UidLaunch) the run has a user id of
its own, so RLIMIT_NPROC counts exactly its processes, and its folders are on a disk, not sized tmpfs mounts:
the launcher measures them instead (enforcement(mode, "uid")).

Both modes set RLIMIT_FSIZE (no file larger than `file_size`, writes past it fail with EFBIG) and
RLIMIT_CORE 0, and size the sandbox's tmpfs mounts (/exports, /tmp, /dev/shm): what is written
there cannot exceed their sizes. This module is standard library only: the launcher imports it
before any third-party code could be trusted.
"""

import os
import resource
import signal
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "gan-kit-"  # the kit's cgroups: gan-kit-<launcher pid>-<start time>


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use. Sizes in bytes, times in seconds (None: no limit)."""

    memory: int = 4 * GiB  # every process together (cgroup) or each process (RLIMIT_DATA)
    processes: int = 256  # processes and threads (cgroup pids), or threads beyond the user's at launch (RLIMIT_NPROC)
    file_size: int = 64 * MiB  # the largest file any process may write (RLIMIT_FSIZE)
    exports: int = 128 * MiB  # size of the /exports tmpfs, copied to the host folder at the end
    tmp: int = 512 * MiB  # size of the private /tmp tmpfs
    shm: int = 256 * MiB  # size of the private /dev/shm tmpfs
    wall_time: float | None = None  # seconds from start to kill
    output: int = 1 * MiB  # bytes of the sandbox's stdout and of its stderr the grader keeps (each)

    def __post_init__(self):
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None and (not isinstance(value, int | float) or value <= 0):
                raise ValueError(f"Limits.{field.name} must be a positive number, not {value!r}")
        if self.processes < 8:
            raise ValueError("Limits.processes below 8 leaves bubblewrap no room to start the sandbox")

    def to_json(self):
        return asdict(self)

    @classmethod
    def from_json(cls, data):
        return cls(**data)


def describe(size):
    """A byte count for people: 4 GiB, 512 MiB, 900 KiB, 12 bytes."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if size >= unit:
            return f"{size / unit:g} {name}" if size % unit == 0 else f"{size / unit:.1f} {name}"
    return f"{size} bytes"


# -- rlimits: set in the launcher's child between fork and exec of bwrap -------------------------
def user_tasks(uid=None, proc=Path("/proc")):
    """Threads (what RLIMIT_NPROC counts) the user `uid` (default: this one) runs now."""
    uid = os.getuid() if uid is None else uid
    count = 0
    for status in proc.glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"])
        except (OSError, KeyError, ValueError):
            pass
    return count


def set_rlimits(limits, cgroup, already=0):
    """Apply the per-process limits; RLIMIT_DATA and RLIMIT_NPROC only where no cgroup holds them.

    RLIMIT_NPROC counts every thread of the user, so it is set to `already` (what the user runs now,
    user_tasks()) plus Limits.processes.
    """
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size, limits.file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cgroup is None:
        resource.setrlimit(resource.RLIMIT_DATA, (limits.memory, limits.memory))
        nproc = already + limits.processes
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


# -- cgroups -----------------------------------------------------------------------------------
def own_cgroups(proc_cgroup="/proc/self/cgroup"):
    """{controller or "" (v2): path} of the calling process, from /proc/self/cgroup."""
    found = {}
    for line in Path(proc_cgroup).read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep(parent):
    """Remove empty cgroups that an earlier launcher, killed before it could clean up, left in `parent`."""
    try:
        children = list(parent.glob(PREFIX + "*"))
    except OSError:
        return
    for child in children:
        pid = child.name[len(PREFIX) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                child.rmdir()  # fails, harmlessly, while processes are still in it
            except OSError:
                pass


def _write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def _read_int(path):
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _counter(path, key):
    """The value of `key` in a flat-keyed cgroup file (memory.oom_control, pids.events...)."""
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return None


class CgroupV1:
    """One child cgroup in the memory and pids hierarchies of cgroup v1 (hybrid machines)."""

    mode = "cgroup-v1"

    def __init__(self, name, limits, root=CGROUP_ROOT, own=None):
        own = own if own is not None else own_cgroups()
        self.dirs = {}
        try:
            for controller in ("memory", "pids"):
                if controller not in own or not (root / controller).is_dir():
                    raise OSError(f"no cgroup v1 {controller} hierarchy")
                parent = root / controller / own[controller].lstrip("/")
                _sweep(parent)
                path = parent / name
                path.mkdir()
                self.dirs[controller] = path
            memory, pids = self.dirs["memory"], self.dirs["pids"]
            _write(memory / "memory.limit_in_bytes", limits.memory)
            if (memory / "memory.memsw.limit_in_bytes").exists():  # no swapping past the limit either
                _write(memory / "memory.memsw.limit_in_bytes", limits.memory)
            _write(pids / "pids.max", limits.processes)
        except OSError:
            self.remove()
            raise

    def procs_files(self):
        return [path / "cgroup.procs" for path in self.dirs.values()]

    def stats(self):
        memory, pids = self.dirs["memory"], self.dirs["pids"]
        return {
            "oom_kills": _counter(memory / "memory.oom_control", "oom_kill"),
            "peak_memory": _read_int(memory / "memory.max_usage_in_bytes"),
            "pids_refused": _counter(pids / "pids.events", "max"),
        }

    def pids(self):
        found = set()
        for path in self.procs_files():
            try:
                found.update(int(p) for p in path.read_text().split())
            except OSError:
                pass
        return found

    def remove(self):
        for path in self.dirs.values():
            _rmdir(path)
        self.dirs = {}


class CgroupV2:
    """One child cgroup in the unified hierarchy, under the nearest ancestor that delegates memory and pids."""

    mode = "cgroup-v2"

    def __init__(self, name, limits, root=CGROUP_ROOT, own=None):
        own = own if own is not None else own_cgroups()
        if "" not in own or not (root / "cgroup.controllers").exists():
            raise OSError("no cgroup v2 unified hierarchy")
        # A cgroup with processes in it cannot hand controllers to children (the "no internal
        # processes" rule), so the new cgroup goes beside the launcher's, or higher up.
        current = root / own[""].lstrip("/")
        candidates = [current] if current == root else [p for p in current.parents if p.is_relative_to(root)]
        self.dir = None
        for parent in candidates:
            try:
                enabled = (parent / "cgroup.subtree_control").read_text().split()
            except OSError:
                continue
            if {"memory", "pids"} <= set(enabled) and os.access(parent, os.W_OK):
                _sweep(parent)
                try:
                    (parent / name).mkdir()
                except OSError:
                    continue
                self.dir = parent / name
                break
        if self.dir is None:
            raise OSError("no writable cgroup v2 ancestor with the memory and pids controllers")
        try:
            _write(self.dir / "memory.max", limits.memory)
            if (self.dir / "memory.swap.max").exists():
                _write(self.dir / "memory.swap.max", 0)
            _write(self.dir / "pids.max", limits.processes)
        except OSError:
            self.remove()
            raise

    def procs_files(self):
        return [self.dir / "cgroup.procs"]

    def stats(self):
        return {
            "oom_kills": _counter(self.dir / "memory.events", "oom_kill"),
            "peak_memory": _read_int(self.dir / "memory.peak"),  # Linux 5.19 and later
            "pids_refused": _counter(self.dir / "pids.events", "max"),
        }

    def pids(self):
        try:
            return {int(p) for p in (self.dir / "cgroup.procs").read_text().split()}
        except OSError:
            return set()

    def remove(self):
        if self.dir is not None:
            _rmdir(self.dir)
        self.dir = None


def _rmdir(path):
    """Remove a cgroup; its last processes may take a moment to be released after SIGKILL."""
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def create_cgroup(limits, root=CGROUP_ROOT):
    """A CgroupV1/CgroupV2 holding `limits`, or (None, why not) where this account cannot make one."""
    name = f"{PREFIX}{os.getpid()}-{time.monotonic_ns()}"
    errors = []
    for kind in (CgroupV2, CgroupV1):
        try:
            return kind(name, limits, root), None
        except OSError as error:
            errors.append(f"{kind.mode}: {error}")
    return None, "; ".join(errors)


def kill_all(cgroup):
    """SIGKILL every process still in the cgroup; returns how many there were."""
    return 0 if cgroup is None else kill_pids(cgroup.pids())


def kill_pids(pids):
    """SIGKILL each of `pids` (one already gone is skipped); returns how many there were."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(pids)


def enforcement(mode, confinement="bwrap"):
    """What each limit means in `mode` ("cgroup-v1", "cgroup-v2" or "rlimit") under `confinement` ("bwrap", or
    "uid": no namespaces, a user id of the run's own, folders on a disk), in words (README, outcome)."""
    if confinement == "uid":
        disk = "measured every 0.25 s on the disk, the run killed past it (observed; a fast writer overshoots)"
        uid = {
            "exports": f"size of the exports folder: {disk}; at most this much is copied back",
            "tmp": f"size of its tmp folder (HOME, TMPDIR): {disk}",
            "shm": f"its files in the shared /tmp, /var/tmp, /dev/shm: {disk}",
        }
        result = {**enforcement(mode), **uid}
        if mode == "rlimit":
            result["processes"] = "RLIMIT_NPROC on the run's own user id: exactly its processes and threads "
            result["processes"] += "(not observable)"
        return result
    common = {
        "file_size": "RLIMIT_FSIZE: a write past it fails with EFBIG (observed: a file of exactly that size)",
        "exports": "size of the /exports tmpfs (observed: the tmpfs full at the end)",
        "tmp": "size of the /tmp tmpfs (observed: the tmpfs full at the end)",
        "shm": "size of the /dev/shm tmpfs (observed: the tmpfs full at the end)",
        "wall_time": "the launcher kills the sandbox (observed by the launcher)",
        "output": "the launcher keeps that many bytes of stdout and of stderr",
    }
    if mode == "rlimit":
        return {
            "memory": "RLIMIT_DATA per process (private writable address space; not observable)",
            "processes": "RLIMIT_NPROC: the grader's user id may run this many threads more than at launch "
            "(root exempt; not observable)",
            **common,
        }
    return {
        "memory": f"{mode} memory limit on all processes together, tmpfs pages included (observed: an OOM kill)",
        "processes": f"{mode} pids limit on processes and threads (observed: a refused fork)",
        **common,
    }
