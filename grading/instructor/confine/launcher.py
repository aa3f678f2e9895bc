"""The trusted launcher: starts one bubblewrap sandbox, holds its limits, and reports what it observed.

    python -I grading/instructor/confine/launcher.py SPEC.json                          # a plain command
    python -I grading/instructor/confine/launcher.py SPEC.json CONNECTION_FILE [ARGS]   # an ipykernel (kernelspec argv)

SPEC.json is written by grading/instructor/confine/sandbox.py into a folder only the grader reads. The
launcher runs outside the sandbox with the grader's rights and the standard library only. It

1. makes a cgroup for the run (or, where it cannot, sets rlimits: grading/instructor/confine/limits.py),
2. starts bwrap with the sandbox's arguments, the synthetic /etc files and, for a kernel, the
   connection file rewritten for the sandbox (its sockets in the sandbox's /run/jupyter tmpfs, reached
   from outside through links to descriptors the launcher holds: `link_sockets`),
3. before any submitted code runs, opens the sandbox's /exports, /tmp and /dev/shm tmpfs mounts
   from outside (/proc/PID/root) and seeds /exports with the host exports folder's files,
4. waits, keeping the first and last `Limits.output` / 2 bytes of the sandbox's stdout and of its
   stderr (untrusted text, for the instructor's eyes only), and kills
   the sandbox at the wall-time limit or when the launcher itself is told to stop; where the spec names
   milestones (files the run writes into /exports one after the other, as the grader's training run writes
   each GAN's export), the wall time is shared among them instead (milestone_deadline), and the run's
   processes get SIGUSR1 a moment before each milestone's deadline (Python's faulthandler, where the run
   registered it, then prints where the run was),
5. copies /exports back to the host folder (regular files and folders only), makes sure no process
   of the sandbox is left, and writes the outcome JSON: exit status, which limits were hit and
   why, peak memory, bytes used. Every reason in it comes from what the launcher observed from
   outside, never from what the sandboxed code printed.

The outcome goes to the path the spec names, atomically; the launcher exits with the sandbox's
exit status (125 when the sandbox could not be started).
"""

import ctypes
import errno
import json
import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file (python -I path/launcher.py): import from the kit
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from grading.instructor.confine import limits as limiting  # noqa: E402
from grading.kit import SKIP_EXIT_GC  # noqa: E402

SOCKETS = "/run/jupyter"  # the kernel's socket folder inside the sandbox
CONNECTION = "/run/jupyter-connection.json"  # its connection file inside the sandbox
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
TMPFS = {"exports": "exports", "tmp": "tmp", "shm": "dev/shm"}  # Limits field: path under the sandbox root
MAX_ENTRIES, MAX_DEPTH = 10_000, 16  # what the launcher walks in a tmpfs (copy, checks)
SETUP_TIMEOUT = 60  # seconds bwrap may take to build the sandbox
DUMP_LEAD = 1.0  # seconds between the SIGUSR1 that asks a milestone run where it is and its deadline's kill
PR_SET_PDEATHSIG = 1
# The kernel's command after its Python: `python -m ipykernel_launcher`, as runpy runs it for -m, that skips the
# interpreter's last garbage collections at exit (grading/kit.py's SKIP_EXIT_GC).
KERNEL = [
    "-c",
    f"{SKIP_EXIT_GC}; import runpy; runpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)",
]
FAILED = 125


def milestone_deadline(reached, count, horizon):
    """When a run with `count` milestones is stopped, in seconds from its start, its first milestones reached at the
    times `reached` (seconds from the start): the time left of `horizon` after the last one reached, shared equally
    by the milestones still to come; after the last milestone, the horizon itself.

    So each milestone gets its share of what is left when the one before it is reached, as the grader's Clock
    gives each GAN's run of its own its share of what is left when it starts (Clock.training): one GAN that
    hangs costs the others time, never the share they would have had in runs of their own."""
    if len(reached) >= count:
        return horizon
    since = reached[-1] if reached else 0.0
    return since + (horizon - since) / (count - len(reached))


class Milestones:
    """The wall time of a run with milestones (`files` under a folder, written one after the other), held as it goes:
    by the launcher for a sandboxed run, by the grader's own loop for an unsandboxed one (autograde.py
    run_with_milestones)."""

    def __init__(self, files, horizon):
        self.files, self.horizon = list(files), horizon
        self.reached = []  # seconds from the start at which each milestone was seen, in order
        self.asked = None  # how many were reached when the run was last asked where it is

    def deadline(self, elapsed, dir_fd):
        """The milestones reached by now (regular files under the folder `dir_fd`, in order; none while there is no
        folder) recorded; the deadline in force, in seconds from the start (milestone_deadline)."""
        while (
            dir_fd is not None
            and len(self.reached) < len(self.files)
            and regular_file_at(dir_fd, self.files[len(self.reached)])
        ):
            self.reached.append(round(elapsed, 3))
        return milestone_deadline(self.reached, len(self.files), self.horizon)

    def ask(self, elapsed, deadline):
        """Whether to ask the run where it is now: once per milestone, DUMP_LEAD before its deadline."""
        if elapsed <= deadline - DUMP_LEAD or self.asked == len(self.reached):
            return False
        self.asked = len(self.reached)
        return True

    def share(self):
        """The wall limit in force (seconds, rounded to 0.1; the whole horizon once every milestone is reached): what
        a run stopped now is said to have had."""
        if len(self.reached) >= len(self.files):
            return round(self.horizon, 1)
        since = self.reached[-1] if self.reached else 0.0
        return round(milestone_deadline(self.reached, len(self.files), self.horizon) - since, 1)


def catches(pid, sig):
    """Whether process `pid` has a handler for signal `sig` (its SigCgt mask in /proc): only those are asked where
    they are, since a signal without a handler would end the process (SIGUSR1's default action)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (int(sig) - 1) & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def started(pid):
    """When process `pid` started (clock ticks since boot; /proc/PID/stat's 22nd field), then its pid: the order of
    the run's processes (a pid alone can wrap)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rpartition(b")")[2].split()[19]), pid
    except (OSError, ValueError, IndexError):
        return float("inf"), pid


def regular_file_at(dir_fd, relative):
    """Whether `relative` (a/b/c) under the folder `dir_fd` is a regular file, following no link on the way."""
    *folders, name = relative.split("/")
    fds = []
    try:
        for folder in folders:
            fds.append(os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fds[-1] if fds else dir_fd))
        st = os.stat(name, dir_fd=fds[-1] if fds else dir_fd, follow_symlinks=False)
        return stat.S_ISREG(st.st_mode)
    except OSError:
        return False
    finally:
        for fd in fds:
            os.close(fd)


class LaunchError(Exception):
    """The sandbox could not be started: a grader-side problem, reported in the outcome's `error`."""


def die_with_parent(sig):
    """Ask the kernel to send `sig` to this process when its parent exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")


def memfd(name, content):
    """An anonymous in-memory file holding `content`, read from its start (bwrap's --ro-bind-data copies it)."""
    fd = os.memfd_create(name, 0)  # not close-on-exec: bwrap reads it
    os.write(fd, content.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class Capped:
    """The first and the last `limit` // 2 bytes of a stream, and how many bytes came in all."""

    def __init__(self, limit):
        self.half, self.head, self.tail, self.total = limit // 2, bytearray(), bytearray(), 0

    def add(self, chunk):
        self.total += len(chunk)
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail = (self.tail + chunk)[-self.half :] if chunk else self.tail

    def text(self):
        dropped = self.total - len(self.head) - len(self.tail)
        middle = f"\n[... {dropped} bytes not kept ...]\n".encode() if dropped else b""
        return bytes(self.head + middle + self.tail).decode("utf-8", errors="replace")


class Launch:
    def __init__(self, spec, rest):
        self.spec = spec
        self.limits = limiting.Limits.from_json(spec["limits"])
        self.rest = rest
        self.stop = None  # why the launcher was asked to stop, if it was
        self.fds = {}  # Limits field -> O_DIRECTORY fd on that tmpfs of the sandbox
        self.cgroup = None
        self.namespace = None  # inode of the sandbox's pid namespace
        self.sockets = []  # (host link, socket name in /run/jupyter) of a kernel
        self.linked = {}  # host link -> O_PATH fd on the kernel's socket
        self.pid = None  # the sandbox's first process, as the launcher sees it
        files = spec.get("milestones") or []  # files under /exports, in the order they come
        self.milestones = Milestones(files, self.limits.wall_time) if files else None
        self.outcome = {
            "started": False,
            "error": None,
            "mode": None,
            "exit_code": None,
            "signal": None,
            "killed_by_launcher": None,
            "milestones": self.milestones.reached if files else [],  # when each was seen (Milestones.reached)
            "wall_limit": None,  # with milestones: the share of the wall time in force when the run was stopped
            "limits_hit": [],
            "reason": "",
            "peak_memory": None,
            "peak_memory_of": None,
            "wall_s": None,
            "leftover_processes": 0,
            "pid_namespace": None,
            "exports": {"files": 0, "bytes": 0, "skipped": []},
            "used": {},
            "stdout": "",
            "stderr": "",
            "stdout_bytes": 0,
            "stderr_bytes": 0,
            "limits": self.limits.to_json(),
            "cgroup_unavailable": None,
            "confinement": "bwrap",
        }

    # -- setup -------------------------------------------------------------------------------
    def command(self):
        """bwrap's argument list after the spec's static part, and the fds bwrap must inherit."""
        args, keep = [], []
        for dest, content in self.spec["files"].items():
            fd = memfd(Path(dest).name, content)
            keep.append(fd)
            args += ["--ro-bind-data", str(fd), dest]
        kernel = self.spec.get("kernel")
        if kernel:
            if not self.rest:
                raise LaunchError("a kernel launch needs the connection file argument ({connection_file})")
            connection_file, extra = self.rest[0], self.rest[1:]
            info = json.loads(Path(connection_file).read_text())
            if info.get("transport") != "ipc":
                raise LaunchError(
                    "the sandboxed kernel has no network: start it with --KernelManager.transport=ipc "
                    f"(the connection file says transport={info.get('transport')!r})"
                )
            ip = Path(info["ip"])
            if ip.parent.resolve() != Path(kernel["socket_dir"]).resolve():
                raise LaunchError(
                    f"the kernel's sockets must be in {kernel['socket_dir']} (set --KernelManager.ip="
                    f"{kernel['socket_dir']}/kernel); the connection file puts them at {ip}"
                )
            # The kernel binds its sockets in its own small tmpfs; nbgrader reaches them through links
            # the launcher makes once they exist (link_sockets): no host folder is writable inside.
            self.sockets = [(ip.parent / f"{ip.name}-{info[port]}", f"{ip.name}-{info[port]}") for port in PORTS]
            inside = dict(info, ip=f"{SOCKETS}/{ip.name}")
            fd = memfd("connection.json", json.dumps(inside))
            keep.append(fd)
            args += ["--ro-bind-data", str(fd), CONNECTION]
            command = [kernel["python"], *KERNEL, "-f", CONNECTION, *extra]
        else:
            if self.rest:
                raise LaunchError(f"unexpected arguments for a plain command: {self.rest}")
            command = self.spec["command"]
        return args, keep, command

    def environment(self):
        env = dict(self.spec["env"])
        for name in self.spec.get("pass_env", []):
            if name in os.environ:
                env[name] = os.environ[name]
        return env

    # -- the run -------------------------------------------------------------------------------
    def run(self):
        start = time.monotonic()
        try:
            self._run(start)
        except LaunchError as error:
            self.outcome["error"] = str(error)
        except Exception as error:  # a bug or an unexpected system error: still an outcome for the grader
            self.outcome["error"] = f"launcher failure: {type(error).__name__}: {error}"
        finally:
            self.outcome["wall_s"] = round(time.monotonic() - start, 3)
            for fd in self.fds.values():
                os.close(fd)
            self.fds = {}
            if self.cgroup is not None:
                self.cgroup.remove()
            for link, fd in self.linked.items():
                os.close(fd)
                if link.is_symlink():
                    link.unlink()
            self.linked = {}
        self.outcome["reason"] = reason(self.outcome)
        write_json(self.spec["outcome"], self.outcome)
        if self.outcome["error"]:
            print(f"gan-kit sandbox launcher: {self.outcome['error']}", file=sys.stderr)
            return FAILED
        code = self.outcome["exit_code"]
        return code if code is not None and code >= 0 else FAILED

    def _run(self, start):
        args, keep, command = self.command()
        if self.spec.get("cgroup", "auto") == "auto":
            self.cgroup, why_not = limiting.create_cgroup(self.limits)
            self.outcome["cgroup_unavailable"] = why_not
        self.outcome["mode"] = self.cgroup.mode if self.cgroup else "rlimit"
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        info_r, info_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        # The sandbox's first process: tell the launcher the mounts are ready, wait for its go, exec.
        shim = (
            f"import os, sys; os.write({ready_w}, b'r'); os.read({go_r}, 1); os.close({ready_w}); os.close({go_r}); "
            "os.execvp(sys.argv[1], sys.argv[1:])"
        )
        argv = [self.spec["bwrap"], *self.spec["args"], *args, "--remount-ro", "/", "--info-fd", str(info_w)]
        argv += ["--", self.spec["python"], "-I", "-S", "-c", shim, *command]
        procs = self.cgroup.procs_files() if self.cgroup else []
        limits, cgroup = self.limits, self.cgroup
        already = 0 if cgroup else limiting.user_tasks()

        def child():  # between fork and exec of bwrap: join the cgroup, set the rlimits
            os.setpgid(0, 0)  # signals for the launcher's process group (Jupyter's) are the launcher's to handle
            die_with_parent(signal.SIGKILL)
            for path in procs:
                with open(path, "w") as f:
                    f.write(str(os.getpid()))
            limiting.set_rlimits(limits, cgroup, already)

        try:
            process = subprocess.Popen(
                argv, env=self.environment(), stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w,
                pass_fds=(ready_w, go_r, info_w, *keep), preexec_fn=child,
            )  # fmt: skip
        except OSError as error:
            raise LaunchError(f"cannot start bwrap: {error}") from error
        finally:
            for fd in (ready_w, go_r, info_w, out_w, err_w, *keep):
                os.close(fd)
        stdout, stderr = Capped(self.limits.output), Capped(self.limits.output)
        try:
            pid = self.setup(process, info_r, ready_r, go_w, err_r)
            self.outcome["started"] = True
            self.wait(process, start, {out_r: stdout, err_r: stderr})
        finally:
            for fd in (info_r, ready_r, go_w, out_r, err_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            if process.poll() is None:
                self.kill(process)
            process.wait()
            self.outcome["stdout"], self.outcome["stdout_bytes"] = stdout.text(), stdout.total
            self.outcome["stderr"], self.outcome["stderr_bytes"] = stderr.text(), stderr.total
        self.finish(process, pid)

    def setup(self, process, info_r, ready_r, go_w, err_r):
        """Wait until bwrap has built the sandbox, open its tmpfs mounts, seed /exports, then let it go."""
        deadline = time.monotonic() + SETUP_TIMEOUT
        info = read_until_eof(info_r, deadline)
        ready = read_some(ready_r, deadline)
        if ready != b"r":
            if process.poll() is None:
                self.kill(process)
            process.wait()
            message = read_until_eof(err_r, time.monotonic() + 5).decode(errors="replace").strip()[-2000:]
            raise LaunchError(
                f"bwrap could not build the sandbox (exit status {process.returncode}): {message or 'no message'}"
            )
        pid = json.loads(info)["child-pid"]
        self.namespace = self.outcome["pid_namespace"] = json.loads(info).get("pid-namespace")
        for field, path in TMPFS.items():
            self.fds[field] = os.open(f"/proc/{pid}/root/{path}", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        exports = self.spec.get("exports")
        if exports and Path(exports).is_dir():
            try:
                copy_tree_in(Path(exports), self.fds["exports"])
            except OSError as error:
                raise LaunchError(f"cannot copy {exports} into the sandbox's /exports: {error}") from error
        self.pid = pid
        os.write(go_w, b"g\n")
        return pid

    def socket_path(self, name):
        """The host path of the kernel's socket `name` (through the sandbox's root)."""
        return f"/proc/{self.pid}/root{SOCKETS}/{name}"

    def link_sockets(self):
        """Once the kernel has bound a socket, let nbgrader reach it; True when all are linked.

        Each link in the host's socket folder points at /proc/<launcher>/fd/N, an O_PATH descriptor the
        launcher opened on the socket itself (not following links) before any submitted code ran:
        whatever that code later does to /run/jupyter, nbgrader's connections can only reach the
        kernel's own sockets, never a path the sandbox names.
        """
        for link, name in self.sockets:
            if link in self.linked:
                continue
            try:
                fd = os.open(self.socket_path(name), os.O_PATH | os.O_NOFOLLOW)
            except OSError:
                continue  # not bound yet
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
                raise LaunchError(f"{SOCKETS}/{name} in the sandbox is not a socket")
            self.linked[link] = fd
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(f"/proc/{os.getpid()}/fd/{fd}")
        return len(self.linked) == len(self.sockets)

    def wait(self, process, start, streams):
        """Relay nothing, keep the capped output, enforce the wall time, obey a stop request."""
        selector = selectors.DefaultSelector()
        for fd in streams:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        wall = self.limits.wall_time
        exited_at, linked = None, not self.sockets
        while selector.get_map():
            if not linked and process.poll() is None:
                linked = self.link_sockets()
                if not linked and time.monotonic() - start > SETUP_TIMEOUT:
                    self.kill(process)
                    raise LaunchError(f"the kernel did not bind its sockets within {SETUP_TIMEOUT} s")
            for key, _ in selector.select(timeout=0.2 if linked else 0.02):
                try:
                    chunk = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if chunk:
                    streams[key.fd].add(chunk)
                else:
                    selector.unregister(key.fd)
            self.check(process)
            if process.poll() is None:
                elapsed = time.monotonic() - start
                limit = self.milestones.deadline(elapsed, self.fds.get("exports")) if self.milestones else wall
                if self.stop and self.outcome["killed_by_launcher"] is None:
                    self.outcome["killed_by_launcher"] = self.stop
                    self.kill(process)
                elif limit and elapsed > limit and self.outcome["killed_by_launcher"] is None:
                    self.outcome["killed_by_launcher"] = "wall_time"
                    if self.milestones:
                        self.outcome["wall_limit"] = self.milestones.share()
                    self.kill(process)
                elif limit and self.milestones and self.milestones.ask(elapsed, limit):
                    self.ask_where()
            else:
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > 2:  # everything in the sandbox is gone with bwrap
                    break
        selector.close()

    def ask_where(self):
        """SIGUSR1, once per milestone, to the run's first process that has a handler for it (the command: where it
        registered faulthandler for it, Python prints its threads' tracebacks to stderr, and the grader reads where a
        hang was from them). Processes it started are left alone: they inherit the handler, and their dumps would
        say where they were instead; a process without one would end (SIGUSR1's default action)."""
        listening = [pid for pid in self.processes() if catches(pid, signal.SIGUSR1)]
        if listening:
            try:
                os.kill(min(listening, key=started), signal.SIGUSR1)
            except OSError:
                pass

    def processes(self):
        """Pids of the run's live processes."""
        return self.in_namespace()

    def check(self, process):
        """Called on every turn of the wait loop (uid mode polls the disk used)."""

    def kill(self, process):
        try:
            process.kill()  # bwrap; --die-with-parent takes the sandbox's pid 1, and its namespace, with it
        except OSError:
            pass
        limiting.kill_all(self.cgroup)

    # -- after the run ------------------------------------------------------------------------
    def record_run(self, process, signal_codes):
        """The outcome's exit code or signal, leftover processes, wall time and memory: what both modes share.

        signal_codes: the command reports one killed by signal N as exit code 128 + N (bwrap does).
        """
        outcome = self.outcome
        code = process.returncode
        if code < 0:  # the launcher's child itself was killed (by the launcher)
            outcome["signal"] = -code
        else:
            outcome["exit_code"] = code
            if signal_codes and code > 128 and code - 128 < signal.NSIG:
                outcome["signal"] = code - 128
        outcome["leftover_processes"] = self.leftovers()
        hit = outcome["limits_hit"]
        if outcome["killed_by_launcher"] == "wall_time":
            hit.append("wall_time")
        if self.cgroup is not None:
            stats = self.cgroup.stats()
            outcome["peak_memory"], outcome["peak_memory_of"] = stats["peak_memory"], "all processes (cgroup)"
            if stats["oom_kills"]:
                hit.append("memory")
            if stats["pids_refused"]:
                hit.append("processes")
        else:
            from resource import RUSAGE_CHILDREN, getrusage

            outcome["peak_memory"] = getrusage(RUSAGE_CHILDREN).ru_maxrss * 1024
            outcome["peak_memory_of"] = "the largest process (ru_maxrss)"

    def finish(self, process, pid):
        outcome = self.outcome
        self.record_run(process, signal_codes=True)
        hit = outcome["limits_hit"]
        largest = 0
        for field, fd in self.fds.items():
            st = os.fstatvfs(fd)
            used = (st.f_blocks - st.f_bfree) * st.f_frsize
            outcome["used"][field] = used
            if st.f_bavail == 0:
                hit.append(field)
            largest = max(largest, largest_file(fd))
        self.end_of_run(largest)  # /exports is a tmpfs of limits.exports bytes: nothing more to bound

    def end_of_run(self, largest, exports_limit=None):
        """What every mode does last: the largest file and the output against their limits, then the exports
        copied out (at most `exports_limit` bytes)."""
        outcome, limits = self.outcome, self.limits
        if largest >= limits.file_size:
            outcome["limits_hit"].append("file_size")
        if outcome["stdout_bytes"] > limits.output or outcome["stderr_bytes"] > limits.output:
            outcome["limits_hit"].append("output")
        exports = self.spec.get("exports")
        if exports:
            outcome["exports"] = copy_tree_out(self.fds["exports"], Path(exports), limit=exports_limit)

    def leftovers(self):
        """Kill and count processes of the sandbox still alive after bwrap ended (there should be none)."""
        # When bwrap's pid 1 dies the kernel kills the rest of its pid namespace: give it a moment.
        deadline = time.monotonic() + 2
        while self.in_namespace() and time.monotonic() < deadline:
            time.sleep(0.02)
        left = self.in_namespace() | (self.cgroup.pids() if self.cgroup else set())
        return limiting.kill_pids(left)

    def in_namespace(self):
        """Pids of live (not zombie) processes in the sandbox's pid namespace."""
        found = set()
        if not self.namespace:
            return found
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry}/ns/pid").st_ino != self.namespace:
                    continue
                with open(f"/proc/{entry}/stat", "rb") as f:
                    state = f.read().rpartition(b")")[2].split()[0]
            except (OSError, IndexError):
                continue
            if state not in (b"Z", b"X"):  # a zombie is dead already, waiting for its new parent to reap it
                found.add(int(entry))
        return found


# -- uid mode: no namespaces, an unprivileged user id of the run's own ------------------------
UID_BASE = 1_900_000_000  # a run's user and group id: UID_BASE + the launcher's pid (unique while it runs)
UID_SPAN = 1 << 22  # pid_max's largest value
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock")  # world-writable: cleaned of its files
FULL = float("inf")  # the size of a folder with more entries than the launcher walks: counted as full
USAGE_EVERY = 0.25  # seconds between two measures of the disk the run uses
KILL_ROUNDS = 50  # kill_uid's bounded loop
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER = 38, 24, 36
CAP_LAST = 63


def uid_pids(uid, proc="/proc"):
    """Pids of live (not zombie) processes whose real, effective or saved user id is `uid`."""
    found = set()
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
            uids = {int(u) for u in fields["Uid"].split()[:3]}
            if uid in uids and fields["State"].split()[0] not in ("Z", "X"):
                found.add(int(entry))
        except (OSError, KeyError, ValueError, IndexError):
            continue
    return found


def kill_uid(uid, rounds=KILL_ROUNDS):
    """SIGKILL every process of `uid`: a child turned into `uid` sends kill(-1), which reaches all of that user's
    processes at once (a fork bomb cannot outrun it); repeated while any is seen, at most `rounds` times.
    Returns how many processes were seen at first."""
    first = None
    for _ in range(rounds):
        left = uid_pids(uid)
        first = len(left) if first is None else first
        if not left:
            break
        pid = os.fork()
        if pid == 0:  # only system calls here: the caller may have threads
            try:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.02)
    return first or 0


def _launcher_alive(uid, proc="/proc"):
    try:
        return b"launcher" in Path(f"{proc}/{uid - UID_BASE}/cmdline").read_bytes()
    except OSError:
        return False


def sweep_orphans(proc="/proc", scratch=None):
    """Kill the processes of run user ids whose launcher is gone (a launcher killed with SIGKILL), and remove
    their files in the shared temporary folders and their run folders; returns those user ids."""
    orphans = set()
    for entry in os.listdir(proc):
        try:
            with open(f"{proc}/{entry}/status") as f:
                line = next(line for line in f if line.startswith("Uid:"))
            uid = int(line.split()[1])
        except (OSError, StopIteration, ValueError, IndexError):
            continue
        if UID_BASE <= uid < UID_BASE + UID_SPAN and not _launcher_alive(uid, proc):
            orphans.add(uid)
    for uid in orphans:
        kill_uid(uid)
    scratch = Path(scratch or tempfile.gettempdir())
    for folder in scratch.glob("gan-kit-uid-*"):
        try:
            gid = folder.lstat().st_gid  # a run folder belongs to root and the run's group
        except OSError:
            continue
        if UID_BASE <= gid < UID_BASE + UID_SPAN and not _launcher_alive(gid, proc) and not folder.is_symlink():
            orphans.add(gid)
            shutil.rmtree(folder, ignore_errors=True)
    for folder in SHARED_TMP:
        for name in top_entries(folder):
            path = f"{folder}/{name}"
            try:
                owner = os.lstat(path).st_uid
            except OSError:
                continue
            if UID_BASE <= owner < UID_BASE + UID_SPAN and not _launcher_alive(owner, proc):
                orphans.add(owner)
                remove(path)
    return sorted(orphans)


def remove(path):
    """Remove a file, a link or a folder and what it holds; one already gone is fine."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def disk_usage(dir_fd, budget=None, depth=0):
    """Bytes of the blocks used under `dir_fd` while the run may still change it: an entry that vanishes is
    skipped (a run cannot hide its files by renaming them), and more than MAX_ENTRIES entries or MAX_DEPTH
    levels count as FULL (a run cannot hide a large file behind many small ones)."""
    budget = budget if budget is not None else [MAX_ENTRIES]
    if depth > MAX_DEPTH:
        return FULL
    total = 0
    try:
        names = os.listdir(dir_fd)
    except OSError:
        return 0
    for name in names:
        budget[0] -= 1
        if budget[0] < 0:
            return FULL
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            continue
        total += st.st_blocks * 512
        if stat.S_ISDIR(st.st_mode):
            try:
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError:
                continue
            try:
                total += disk_usage(sub, budget, depth + 1)
            finally:
                os.close(sub)
    return total


def translate(value, mapping, split=True):
    """`value` with each sandbox path (a key of `mapping`, or a path below it) replaced by its host path;
    `split`: a colon-separated list (PATH)."""
    parts = value.split(":") if split else [value]
    for index, part in enumerate(parts):
        for inside in sorted(mapping, key=len, reverse=True):
            if part == inside or part.startswith(inside + "/"):
                parts[index] = mapping[inside] + part[len(inside) :]
                break
    return ":".join(parts)


def copy_readonly(src, dest):
    """`src` (a host file or folder the grader trusts) at `dest`, root-owned and read-only to others:
    folders 0755, files hard-linked when already world-readable (same file system), else copied 0644."""
    src, dest = Path(src), Path(dest)
    st = src.lstat()
    if stat.S_ISDIR(st.st_mode):
        dest.mkdir(mode=0o755)
        os.chmod(dest, 0o755)
        for child in sorted(src.iterdir()):
            copy_readonly(child, dest / child.name)
    elif stat.S_ISREG(st.st_mode):
        if st.st_mode & 0o004 and st.st_uid == 0:
            try:
                os.link(src, dest)
                return
            except OSError:
                pass
        with open(src, "rb") as f, open(dest, "xb") as out:
            while chunk := f.read(1 << 20):
                out.write(chunk)
        os.chmod(dest, 0o644)


def drop_privileges(uid, gid):
    """In the child before exec: no capabilities (bounding set, then setuid), no supplementary groups,
    no new privileges (setuid files and file capabilities do nothing), killed with the launcher."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(CAP_LAST + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # fails harmlessly past the kernel's last capability
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # root to non-root: the permitted and effective capabilities are cleared
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    die_with_parent(signal.SIGKILL)  # after the change of credentials, which clears it


class UidLaunch(Launch):
    """The uid mode, for machines where bubblewrap cannot create namespaces (Docker's default seccomp
    profile, Kubernetes pods) but the launcher runs as root: the command runs as a user id of its own
    (UID_BASE + the launcher's pid), in a root-owned run folder only that user's group may enter:

        assignment/, data/, <bind>/   copies (or hard links) of the graded folder, MNIST and the other read-only
                                      folders: root-owned, read-only to the run
        exports/, tmp/, sockets/      owned by the run's user: /exports, HOME and TMPDIR, a kernel's sockets

    Sandbox paths in the environment and the command (/assignment, /exports, /data, /tmp, /opt/venv...) are
    translated to these. Limits: rlimits (RLIMIT_NPROC counts exactly this run, its user being its own),
    a cgroup where the launcher can make one, the disk the run uses measured every second (killed past the
    sizes of /exports and /tmp), and the wall time. At the end every process of the user is killed, its files
    in the shared temporary folders removed and the run folder deleted.
    """

    def __init__(self, spec, rest):
        super().__init__(spec, rest)
        self.uid = self.gid = UID_BASE + os.getpid()
        self.base = None
        self.last_usage = 0.0
        self.outcome.update({"confinement": "uid", "uid": self.uid})

    def socket_path(self, name):
        return str(self.base / "sockets" / name)

    def _run(self, start):
        if os.geteuid() != 0:
            raise LaunchError("the uid mode needs the launcher to run as root")
        sweep_orphans()
        if uid_pids(self.uid):
            raise LaunchError(f"user id {self.uid} already runs processes")
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of the run become the launcher's, not init's
        spec, uid, gid = self.spec, self.uid, self.gid
        self.base = base = Path(tempfile.mkdtemp(prefix="gan-kit-uid-", dir=spec.get("scratch")))
        os.chown(base, 0, gid)
        os.chmod(base, 0o710)  # only the run's group may enter (not the other runs' users)
        mapping = {}
        for inside, host in spec["paths"].items():
            target = base / inside.strip("/").replace("/", "-")
            copy_readonly(host, target)
            mapping[inside] = str(target)
        for inside, name in (("/exports", "exports"), ("/tmp", "tmp"), (SOCKETS, "sockets")):
            (base / name).mkdir(mode=0o700)
            os.chown(base / name, uid, gid)
            mapping[inside] = str(base / name)
        mapping.update(spec["python_paths"])
        for field, name in (("exports", "exports"), ("tmp", "tmp")):
            self.fds[field] = os.open(base / name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        exports = spec.get("exports")
        if exports and Path(exports).is_dir():
            try:
                copy_tree_in(Path(exports), self.fds["exports"])
            except OSError as error:
                raise LaunchError(f"cannot copy {exports} into the run's exports folder: {error}") from error
            for dir_fd, name, _, _ in _entries(self.fds["exports"]):  # each folder's fd is open only while walked
                os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
        command = self.uid_command(mapping)
        env = {name: translate(value, mapping) for name, value in self.environment().items()}
        if spec.get("cgroup", "auto") == "auto":
            self.cgroup, why_not = limiting.create_cgroup(self.limits)
            self.outcome["cgroup_unavailable"] = why_not
        self.outcome["mode"] = self.cgroup.mode if self.cgroup else "rlimit"
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        procs, limits, cgroup = self.cgroup.procs_files() if self.cgroup else [], self.limits, self.cgroup

        def child():  # between fork and exec: a session of its own, the cgroup, the rlimits, then the user
            os.setsid()
            for path in procs:
                with open(path, "w") as f:
                    f.write(str(os.getpid()))
            limiting.set_rlimits(limits, cgroup, already=0)  # RLIMIT_NPROC: the run's user runs nothing yet
            os.umask(0o077)
            drop_privileges(uid, gid)

        try:
            process = subprocess.Popen(
                command, env=env, cwd=mapping.get("/assignment", str(base / "tmp")), stdin=subprocess.DEVNULL,
                stdout=out_w, stderr=err_w, preexec_fn=child,
            )  # fmt: skip
        except OSError as error:
            raise LaunchError(
                f"cannot start {command[0]} as user id {uid}: {error} (the Python environment must be readable "
                "by every user: chmod -R a+rX on it and its parent folders)"
            ) from error
        finally:
            os.close(out_w)
            os.close(err_w)
        self.outcome["started"] = True
        self.pid = process.pid
        stdout, stderr = Capped(self.limits.output), Capped(self.limits.output)
        try:
            self.wait(process, start, {out_r: stdout, err_r: stderr})
        finally:
            for fd in (out_r, err_r):
                os.close(fd)
            if process.poll() is None:
                self.kill(process)
            process.wait()
            self.outcome["stdout"], self.outcome["stdout_bytes"] = stdout.text(), stdout.total
            self.outcome["stderr"], self.outcome["stderr_bytes"] = stderr.text(), stderr.total
        self.finish(process, process.pid)

    def uid_command(self, mapping):
        kernel = self.spec.get("kernel")
        if not kernel:
            if self.rest:
                raise LaunchError(f"unexpected arguments for a plain command: {self.rest}")
            return [translate(arg, mapping, split=False) for arg in self.spec["command"]]
        _, keep, _ = self.command()  # checks the connection file, sets self.sockets
        for fd in keep:
            os.close(fd)
        info = json.loads(Path(self.rest[0]).read_text())
        connection = self.base / "connection.json"
        connection.write_text(json.dumps(dict(info, ip=str(self.base / "sockets" / Path(info["ip"]).name))))
        os.chown(connection, self.uid, self.gid)
        os.chmod(connection, 0o400)
        python = translate(kernel["python"], mapping, split=False)
        return [python, *KERNEL, "-f", str(connection), *self.rest[1:]]

    def check(self, process):
        """Every second: the disk the run uses in its exports and temporary folders; killed past their sizes."""
        if time.monotonic() - self.last_usage < USAGE_EVERY or process.poll() is not None:
            return
        self.last_usage = time.monotonic()
        over = [field for field, used in self.usage().items() if used > getattr(self.limits, field)]
        if over and self.outcome["killed_by_launcher"] is None:
            self.outcome["limits_hit"].extend(over)
            self.outcome["killed_by_launcher"] = "disk"
            self.kill(process)

    def usage(self):
        """Bytes used: {"exports": ..., "tmp": its tmp folder, "shm": its files in the shared folders}."""
        used = {field: disk_usage(fd) for field, fd in self.fds.items()}
        used["shm"] = sum(size for _, size in self.shared_files())
        return used

    def shared_files(self):
        """(path, bytes) of the run user's entries at the top of the shared temporary folders."""
        found = []
        for folder in SHARED_TMP:
            for name in top_entries(folder):
                try:
                    st = os.stat(f"{folder}/{name}", follow_symlinks=False)
                except OSError:
                    continue
                if st.st_uid != self.uid:
                    continue
                size = st.st_blocks * 512
                if stat.S_ISDIR(st.st_mode):  # what is inside counts too (never following a link)
                    try:
                        fd = os.open(f"{folder}/{name}", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
                    except OSError:
                        fd = None
                    if fd is not None:
                        try:
                            size += disk_usage(fd)
                        finally:
                            os.close(fd)
                found.append((f"{folder}/{name}", size))
        return found

    def processes(self):
        return set(uid_pids(self.uid))

    def kill(self, process):
        try:
            process.kill()
        except OSError:
            pass
        kill_uid(self.uid)
        limiting.kill_all(self.cgroup)

    def leftovers(self):
        left = kill_uid(self.uid)
        while True:  # reap what was reparented to the launcher (a child subreaper)
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        return left

    def finish(self, process, pid):
        outcome, limits = self.outcome, self.limits
        self.record_run(process, signal_codes=False)  # the command itself: a signal is a negative code
        hit = outcome["limits_hit"]
        used = self.usage()
        outcome["used"] = {field: None if size == FULL else size for field, size in used.items()}  # None: too many
        for field, size in used.items():
            if size >= getattr(limits, field) and field not in hit:
                hit.append(field)
        self.end_of_run(max([largest_file(fd) for fd in self.fds.values()] + [0]), exports_limit=limits.exports)

    def run(self):
        try:
            return super().run()
        finally:
            self.clean()

    def clean(self):
        """Remove the run folder and the run user's files in the shared temporary folders (no process is left)."""
        kill_uid(self.uid)
        for path, _ in self.shared_files():
            remove(path)
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)


# -- reasons -----------------------------------------------------------------------------------
def reason(outcome):
    """Why the run ended badly, in one line, from the observations only ("" when it did not).

    A stop the grader asked for (Jupyter ending a kernel that did not exit on its shutdown request,
    Ctrl-C) is no fault of the submission: it is in `killed_by_launcher`, not in the reason.
    """
    if outcome["error"]:
        return f"sandbox error: {outcome['error']}"
    limits = outcome["limits"]
    size = limiting.describe
    texts = {
        "memory": f"memory limit ({size(limits['memory'])}) reached",
        "processes": f"process limit ({limits['processes']}) reached",
        "wall_time": f"wall time limit ({outcome.get('wall_limit') or limits['wall_time']:g} s) reached"
        if limits["wall_time"]
        else "",
        "exports": f"/exports full ({size(limits['exports'])})",
        "tmp": f"/tmp full ({size(limits['tmp'])})",
        "shm": f"/dev/shm full ({size(limits['shm'])})",
        "file_size": f"file size limit ({size(limits['file_size'])}) reached",
        "output": f"more than {size(limits['output'])} of output",
    }
    parts = [texts[name] for name in outcome["limits_hit"]]
    stop = outcome["killed_by_launcher"]  # "wall_time", or the signal the grader stopped the launcher with
    sig = outcome["signal"]
    if sig and not stop and "memory" not in outcome["limits_hit"]:
        try:
            parts.append(f"killed by signal {sig} ({signal.Signals(sig).name})")
        except ValueError:
            parts.append(f"killed by signal {sig}")
    return "; ".join(parts)


# -- tmpfs walking: never follows a link the sandbox made ------------------------------------
def _entries(dir_fd, depth=0, budget=None):
    """(parent dir fd, name, lstat) for each entry under `dir_fd`, depth first, at most MAX_ENTRIES."""
    budget = budget if budget is not None else [MAX_ENTRIES]
    if depth > MAX_DEPTH:
        return
    for name in sorted(os.listdir(dir_fd)):
        if budget[0] <= 0:
            return
        budget[0] -= 1
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        yield dir_fd, name, st, depth
        if stat.S_ISDIR(st.st_mode):
            sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            try:
                yield from _entries(sub, depth + 1, budget)
            finally:
                os.close(sub)


def largest_file(dir_fd):
    try:
        return max((st.st_size for _, _, st, _ in _entries(dir_fd) if stat.S_ISREG(st.st_mode)), default=0)
    except OSError:
        return 0


def top_entries(folder):
    """The first MAX_ENTRIES names at the top of `folder` (none when it cannot be listed)."""
    try:
        return os.listdir(folder)[:MAX_ENTRIES]
    except OSError:
        return []


def copy_tree_out(dir_fd, dest, relative=Path(), depth=0, report=None, limit=None):
    """Replace the contents of `dest` by the regular files and folders under `dir_fd`; list what was skipped.
    `limit`: at most that many bytes in all (the uid mode's exports folder is on a disk, not a sized tmpfs)."""
    if report is None:
        report = {"files": 0, "bytes": 0, "skipped": [], "budget": [MAX_ENTRIES], "room": [limit]}
    if depth == 0:
        dest.mkdir(parents=True, exist_ok=True)
        for old in dest.iterdir():
            if old.is_dir() and not old.is_symlink():
                _rmtree(old)
            else:
                old.unlink()
    for name in sorted(os.listdir(dir_fd)):
        if report["budget"][0] <= 0 or depth > MAX_DEPTH:
            report["skipped"].append(f"{relative / name} (more than {MAX_ENTRIES} entries or {MAX_DEPTH} levels)")
            break
        report["budget"][0] -= 1
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            try:
                (dest / name).mkdir()
                copy_tree_out(sub, dest / name, relative / name, depth + 1, report)
            finally:
                os.close(sub)
        elif stat.S_ISREG(st.st_mode) and report["room"][0] is not None and st.st_size > report["room"][0]:
            report["skipped"].append(
                f"{relative / name} (past the exports limit of {report['room'][0] + report['bytes']} bytes)"
            )
        elif stat.S_ISREG(st.st_mode):
            src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
            try:
                with open(src, "rb", closefd=False) as f, open(dest / name, "xb") as out:
                    while chunk := f.read(1 << 20):
                        out.write(chunk)
                        report["bytes"] += len(chunk)
                        if report["room"][0] is not None:
                            report["room"][0] -= len(chunk)
                report["files"] += 1
            finally:
                os.close(src)
        else:
            report["skipped"].append(f"{relative / name} (not a regular file or folder)")
    if depth == 0:
        del report["budget"], report["room"]
    return report


def copy_tree_in(src, dir_fd):
    """Copy the regular files and folders under host folder `src` into the (still empty) tmpfs `dir_fd`."""
    for entry in sorted(src.iterdir()):
        st = entry.lstat()
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(entry.name, dir_fd=dir_fd)
            sub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            try:
                copy_tree_in(entry, sub)
            finally:
                os.close(sub)
        elif stat.S_ISREG(st.st_mode):
            out = os.open(entry.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=dir_fd)
            with open(out, "wb") as f, open(entry, "rb") as data:
                while chunk := data.read(1 << 20):
                    f.write(chunk)


def _rmtree(path):
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            _rmtree(child)
        else:
            child.unlink()
    path.rmdir()


# -- small helpers -----------------------------------------------------------------------------
def read_until_eof(fd, deadline):
    data = b""
    while chunk := read_some(fd, deadline):
        data += chunk
    return data


def read_some(fd, deadline):
    """os.read with a deadline; b"" at EOF or when the deadline passes."""
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    try:
        while time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, min(1.0, deadline - time.monotonic()))):
                try:
                    return os.read(fd, 4096)
                except OSError as error:
                    if error.errno in (errno.EAGAIN, errno.EINTR):
                        continue
                    raise
        return b""
    finally:
        selector.close()


def write_json(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1))
    partial.replace(path)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    die_with_parent(signal.SIGTERM)  # nbgrader (or the caller of sandbox.run) gone: clean up, then go
    if os.getppid() == 1:
        return FAILED
    spec = json.loads(Path(argv[0]).read_text())
    launch = (UidLaunch if spec.get("confinement") == "uid" else Launch)(spec, argv[1:])

    def on_signal(signum, frame):
        launch.stop = signal.Signals(signum).name

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    return launch.run()


if __name__ == "__main__":
    sys.exit(main())
