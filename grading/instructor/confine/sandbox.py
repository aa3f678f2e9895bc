"""Run untrusted student code in a bubblewrap sandbox: a Jupyter kernel for nbgrader, or a plain command.

Inside, the file system is an empty read-only root with only what grading needs, each at a neutral
path (no path of the grader's appears):

    /usr, /bin, /lib...    the system, read-only; in /etc only the dynamic linker's cache, fonts,
                           alternatives and synthetic passwd/group/hosts/nsswitch.conf (no secrets)
    /opt/python, /opt/venv the Python environment (base installation and venv), read-only
    /assignment            the student's graded folder, read-only, the working directory
    /data                  MNIST, read-only (MNIST_ROOT=/data)
    /grading, /replay      more read-only folders the caller names (Sandbox.binds): the grader's settings
                           file, the training runs the notebook replays
    /exports               a tmpfs of Limits.exports bytes, seeded from and copied back to a host
                           folder (GAN_KIT_EXPORTS=/exports): the only place whose files outlive the run
    /tmp, /dev/shm         private tmpfs mounts, sized by Limits.tmp and Limits.shm
    /run/jupyter           a small tmpfs for a kernel's sockets (kernels only)
    /dev, /proc            a private /dev (null, zero, urandom...; GPU nodes only with gpu=True) and
                           a /proc that shows the sandbox's processes only

It has its own user, pid, ipc, uts (host name "sandbox"), network (loopback only) and cgroup
namespaces, no capabilities, no further user namespaces, a scrubbed environment, and dies with
its launcher. Limits (grading/instructor/confine/limits.py) are held by a small trusted launcher
(grading/instructor/confine/launcher.py) that runs outside, and that writes what it observed to an
outcome JSON only the grader reads.

Two uses:
- `run(argv, sandbox)` runs a command (e.g. python -m nndl2.agent.export) and returns an `Outcome`.
- `write_kernelspec(jupyter_dir, sandbox, outcome)` writes a kernelspec whose argv is the launcher
  around ipykernel, for `nbgrader autograde`. Without a network the kernel talks to nbgrader over
  Unix sockets: jupyter_client's ipc transport, configured by `Kernel.nbgrader_args`.

Where bubblewrap cannot create namespaces (Docker's default seccomp profile: Gradescope, Kubernetes) but
the grader is root, `choose()` picks the uid mode instead (Sandbox.mode "uid", launcher.UidLaunch): the
same spec, run without namespaces as an unprivileged user id of the run's own, in a run folder of copies,
with the sandbox paths above translated to it; UID_NOTE says what it cannot confine (the network, /proc,
the world-readable file system), and `protect()` makes the grader's files owner-only first.

`require()` returns the mode, or refuses, with a message saying how to install bubblewrap or opt out,
where neither can run. This module is standard library only.
"""

import dataclasses
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grading.instructor.confine import launcher
from grading.instructor.confine.limits import Limits

KERNEL_NAME = "gan-kit-sandbox"
LAUNCHER = Path(launcher.__file__).resolve()
ASSIGNMENT, EXPORTS, DATA = "/assignment", "/exports", "/data"
PYTHON_HOME, VENV = "/opt/python", "/opt/venv"
HOSTNAME, USER, UID, GID = "sandbox", "sandbox", 1000, 1000
PATH = "/usr/local/bin:/usr/bin:/bin"
SOCKETS_SIZE = 64 * 1024  # the kernel's socket tmpfs: sockets take no space, this bounds anything else
GPU_DEVICES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset", "/dev/nvidia-caps")
RESERVED = {
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/opt",
    "/proc",
    "/dev",
    "/tmp",
    "/run",
}
RESERVED |= {ASSIGNMENT, EXPORTS, DATA, "/sys", "/root", "/home"}  # places the sandbox fills, or none may see
SUN_PATH_MAX = 107  # bytes of a Unix socket path (sockaddr_un.sun_path, minus its NUL)
REQUIRED_OPTIONS = ("--size", "--info-fd", "--ro-bind-data", "--remount-ro", "--unshare-user", "--die-with-parent")

INSTALL_HINT = (
    "Install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap) "
    "on a Linux machine whose kernel allows user namespaces (Debian before 11: sysctl "
    "kernel.unprivileged_userns_clone=1; Ubuntu 24.04 and later restrict them with AppArmor: the bubblewrap "
    "package's bwrap profile must be loaded), or grade without the sandbox with --sandbox off: student code "
    "then runs with your account's rights and can read and send anything your account can."
)


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot confine student code on this machine; the message says what to do."""


def bwrap():
    """Path of the bwrap executable, or None."""
    return shutil.which("bwrap")


def unavailable_reason():
    """None when bwrap can build the sandbox here, else why not (one sentence)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    path = bwrap()
    if not path:
        return "bubblewrap (bwrap) is not installed"
    usage = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30)
    missing = [option for option in REQUIRED_OPTIONS if option not in usage.stdout]
    if missing:
        return f"{path} is too old: it lacks {', '.join(missing)} (bubblewrap 0.8 has them)"
    probe = [path, "--unshare-all", "--unshare-user", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc"]
    probe += ["--dev", "/dev", "--size", "65536", "--tmpfs", "/tmp", "true"]
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "bwrap did not start a trivial sandbox within 60 s"
    if result.returncode != 0:
        return f"bwrap cannot create its namespaces here ({result.stderr.strip() or result.returncode})"
    return None


def uid_unavailable_reason():
    """None when the uid mode can run here (root, allowed to switch to an unused user id), else why not."""
    if not sys.platform.startswith("linux"):
        return f"the uid mode needs Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "the uid mode needs the grader to run as root (as it does in Gradescope's and Docker's containers)"
    uid = launcher.UID_BASE + launcher.UID_SPAN - 1  # never a launcher's: pids stay below UID_SPAN - 1
    try:
        result = subprocess.run(["true"], user=uid, group=uid, extra_groups=[], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        return f"cannot switch to an unprivileged user id here ({error})"
    if result.returncode != 0:
        return f"a process switched to user id {uid} failed (exit {result.returncode})"
    return None


def choose():
    """("bwrap", None) where bubblewrap can build the sandbox; ("uid", why bubblewrap cannot) where only the
    uid mode can run (root without user namespaces: Gradescope, Docker, Kubernetes); SandboxUnavailable (with
    how to install bubblewrap, or opt out) where neither can."""
    reason = unavailable_reason()
    if reason is None:
        return "bwrap", None
    why_not = uid_unavailable_reason()
    if why_not is None:
        return "uid", reason
    raise SandboxUnavailable(f"Cannot sandbox student code: {reason}; {why_not}. {INSTALL_HINT}")


confinement = functools.lru_cache(choose)  # what Sandbox(mode="auto") uses: decided once per process


def require():
    """The confinement mode this machine allows ("bwrap" or "uid"); see choose()."""
    return choose()[0]


# What each mode guarantees and cannot, in words: the README, each row of the weaker mode, Gradescope's output.
UID_NOTE = (
    "confined without user namespaces (uid mode: bubblewrap cannot create namespaces on this machine): the code "
    "ran as an unprivileged user id of its own, with no capabilities, limits on memory, processes, file sizes, "
    "disk and time, and every process killed at the end; it could not read or write the grader's files. This "
    "mode cannot isolate the network (connections to other machines and to the grader's loopback services are "
    "possible), nor hide the machine's processes and command lines (/proc), the world-readable system files or "
    "the shared /tmp and /dev/shm (emptied of its files after each run)"
)


def protect(path, keep=()):
    """Make `path` readable and writable by its owner only (folders 0700, files 0600), except on the way to the
    `keep` folders (e.g. the Python environment), which stay as they are: the folders above them become 0711
    (entered, not listed) and their other entries are protected in turn. For the uid mode, run as root."""
    if path is None:
        return
    path = Path(path)
    if not path.exists() or path.is_symlink():
        return
    keep = [Path(k).resolve() for k in keep]
    resolved = path.resolve()
    if any(k == resolved for k in keep):
        return
    if not any(k.is_relative_to(resolved) for k in keep):
        os.chmod(path, 0o700 if path.is_dir() else 0o600)
        return
    os.chmod(path, 0o711)
    for child in path.iterdir():
        protect(child, keep)


def python_folders(python=None):
    """The folders of the Python environment a run needs (to keep readable)."""
    info = _python_info(python or sys.executable)
    return [p for p in {info["prefix"], info["base_prefix"]} if not _system(p)]


# -- the Python environment inside -------------------------------------------------------------
@dataclass(frozen=True)
class PythonLayout:
    """How an interpreter's installation appears in the sandbox."""

    python: str  # the interpreter's path inside
    binds: tuple  # (host path, sandbox path), read-only
    symlinks: tuple  # (target, sandbox path)
    files: dict  # sandbox path: content
    env: dict  # variables it needs inside (PATH prefix, LD_LIBRARY_PATH)
    host_paths: tuple  # the host paths it came from (for the output scrubber)
    hosts: dict = field(default_factory=dict)  # {sandbox folder: host folder} (/opt/venv, /opt/python): the uid mode


# Run in the interpreter to describe (in this process when it is this one): standard library only.
DESCRIBE_INTERPRETER = """
import json, os, sys, sysconfig
info = {
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "executable": os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
    "shared": bool(sysconfig.get_config_var("Py_ENABLE_SHARED")),
    "libdir": sysconfig.get_config_var("LIBDIR"),
}
"""


def _python_info(python):
    if Path(python).resolve() == Path(sys.executable).resolve():
        scope = {}
        exec(DESCRIBE_INTERPRETER, scope)
        return scope["info"]
    code = DESCRIBE_INTERPRETER + "print(json.dumps(info))"
    out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


def _system(path):
    """True for paths the sandbox's /usr already shows at the same place."""
    return Path(path) == Path("/usr") or Path(path).is_relative_to("/usr")


def python_layout(python=None):
    """The binds, links and files that make `python` (default: this interpreter) run inside."""
    info = _python_info(python or sys.executable)
    base, prefix, executable = Path(info["base_prefix"]), Path(info["prefix"]), Path(info["executable"])
    binds, symlinks, files, env = [], [], {}, {}
    base_inside = base if _system(base) else Path(PYTHON_HOME)
    if not _system(base):
        binds.append((str(base), PYTHON_HOME))
    if executable.is_relative_to(base):
        exe_inside = base_inside / executable.relative_to(base)
    elif _system(executable):
        exe_inside = executable
    else:
        raise ValueError(f"the interpreter {executable} is outside its installation {base}: cannot map it")
    libdir = info.get("libdir")
    if info.get("shared") and libdir and not _system(base) and Path(libdir).is_relative_to(base):
        env["LD_LIBRARY_PATH"] = str(base_inside / Path(libdir).relative_to(base))  # its RUNPATH names the host path
    if prefix != base:  # a venv: rebuilt at /opt/venv around its lib/ folder
        binds.append((str(prefix / "lib"), f"{VENV}/lib"))
        if (prefix / "lib64").is_dir() and not (prefix / "lib64").is_symlink():
            binds.append((str(prefix / "lib64"), f"{VENV}/lib64"))
        else:
            symlinks.append(("lib", f"{VENV}/lib64"))
        config = {}
        for line in (prefix / "pyvenv.cfg").read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                config[key.strip()] = value.strip()
        system_site = config.get("include-system-site-packages", "false")
        files[f"{VENV}/pyvenv.cfg"] = f"home = {exe_inside.parent}\ninclude-system-site-packages = {system_site}\n"
        for name in ("python", "python3", exe_inside.name):
            symlinks.append((str(exe_inside), f"{VENV}/bin/{name}"))
        python_inside, bin_dir = f"{VENV}/bin/python", f"{VENV}/bin"
    else:
        python_inside, bin_dir = str(exe_inside), str(exe_inside.parent)
    env["PATH"] = f"{bin_dir}:{PATH}" if not _system(bin_dir) else PATH
    hosts = tuple(sorted({str(prefix), str(base)} - {"/usr"}, key=len, reverse=True))
    folders = {} if _system(base) else {PYTHON_HOME: str(base)}
    if prefix != base:
        folders[VENV] = str(prefix)
    return PythonLayout(python_inside, tuple(binds), tuple(dict.fromkeys(symlinks)), files, env, hosts, folders)


# -- the sandbox ----------------------------------------------------------------------------------
@dataclass
class Sandbox:
    """What one submission's sandbox shows and allows. Paths are host paths."""

    assignment: Path  # the graded folder: read-only at /assignment, the working directory
    exports: Path | None = None  # receives /exports at the end (seeded from it at the start)
    data: Path | None = None  # MNIST folder: read-only at /data
    binds: dict = field(default_factory=dict)  # more read-only folders: {sandbox path: host path}, e.g. /replay
    env: dict = field(default_factory=dict)  # extra variables inside (GAN_KIT_SETTINGS...)
    pass_env: tuple = ()  # variables copied from the launcher's environment when set (NBGRADER_EXECUTION)
    limits: Limits = field(default_factory=Limits)
    gpu: bool = False  # bind the NVIDIA device nodes (untested on GPU hardware)
    python: str | None = None  # interpreter whose environment is bound (default: this one)
    cgroup: str = "auto"  # "auto": a cgroup where this account can make one, else rlimits; "off": rlimits
    mode: str = "auto"  # "bwrap", "uid" (no namespaces: an unprivileged user id), "auto": bwrap where it runs
    scratch: str | None = None  # uid mode: where run folders are made (default: the system's temporary folder)

    def __post_init__(self):
        self.assignment = Path(self.assignment).resolve()
        self.exports = Path(self.exports).resolve() if self.exports else None
        self.data = Path(self.data).resolve() if self.data else None
        if not self.assignment.is_dir():
            raise ValueError(f"the assignment folder {self.assignment} does not exist")
        if self.data and not self.data.is_dir():
            raise ValueError(f"the data folder {self.data} does not exist")
        self.binds = {str(inside): Path(host).resolve() for inside, host in self.binds.items()}
        for inside, host in self.binds.items():
            if not inside.startswith("/") or inside.rstrip("/").count("/") != 1 or inside.rstrip("/") in RESERVED:
                raise ValueError(f"Sandbox.binds: {inside} is not a free top-level path (like /replay)")
            if not host.exists():
                raise ValueError(f"Sandbox.binds: {host} does not exist")
        if self.cgroup not in ("auto", "off"):
            raise ValueError(f"Sandbox.cgroup is 'auto' or 'off', not {self.cgroup!r}")
        if self.mode == "auto":
            self.mode = confinement()[0]
        if self.mode not in ("bwrap", "uid"):
            raise ValueError(f"Sandbox.mode is 'auto', 'bwrap' or 'uid', not {self.mode!r}")
        self.layout = python_layout(self.python)

    def args(self):
        """bwrap's static arguments: namespaces, the root, the mounts (the launcher adds the rest)."""
        limits = self.limits
        args = ["--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"]
        args += ["--hostname", HOSTNAME, "--uid", str(UID), "--gid", str(GID)]
        if _supports("--disable-userns"):
            args.append("--disable-userns")
        args += ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            path = Path("/") / name
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "fonts"):  # no secrets in these
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        if self.gpu:
            args += gpu_args()
        args += ["--size", str(limits.shm), "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
        args += ["--size", str(limits.tmp), "--tmpfs", "/tmp", "--size", str(limits.exports), "--tmpfs", EXPORTS]
        args += ["--size", str(SOCKETS_SIZE), "--tmpfs", launcher.SOCKETS]
        for host, inside in self.layout.binds:
            args += ["--ro-bind", host, inside]
        for target, link in self.layout.symlinks:
            args += ["--symlink", target, link]
        args += ["--ro-bind", str(self.assignment), ASSIGNMENT]
        if self.data:
            args += ["--ro-bind", str(self.data), DATA]
        for inside, host in sorted(self.binds.items()):
            args += ["--ro-bind", str(host), inside]
        return args + ["--chdir", ASSIGNMENT]

    def files(self):
        """Synthetic files bound read-only (the launcher writes them through memfds)."""
        return {
            "/etc/passwd": f"{USER}:x:{UID}:{GID}:{USER}:/tmp:/usr/sbin/nologin\n",
            "/etc/group": f"{USER}:x:{GID}:\n",
            "/etc/hosts": f"127.0.0.1 localhost {HOSTNAME}\n::1 localhost\n",
            "/etc/hostname": f"{HOSTNAME}\n",
            "/etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
            **self.layout.files,
        }

    def environment(self):
        """The complete environment inside: nothing of the grader's but what is named here."""
        env = {
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "USER": USER,
            "LOGNAME": USER,
            "LANG": "C.UTF-8",
            "MPLCONFIGDIR": "/tmp/matplotlib",
            "IPYTHONDIR": "/tmp/ipython",
            "JUPYTER_CONFIG_DIR": "/tmp/jupyter",
            "JUPYTER_DATA_DIR": "/tmp/jupyter/data",
            "JUPYTER_RUNTIME_DIR": "/tmp/jupyter/runtime",
            "PYTHONDONTWRITEBYTECODE": "1",
            "GAN_KIT_EXPORTS": EXPORTS,
            **self.layout.env,
        }
        if self.data:
            env["MNIST_ROOT"] = DATA
        return {**env, **{str(k): str(v) for k, v in self.env.items()}}

    def spec(self, outcome, command=None, kernel=None):
        """The launcher's instructions (JSON-ready)."""
        return {
            "bwrap": bwrap() or "bwrap",
            "args": self.args(),
            "files": self.files(),
            "env": self.environment(),
            "pass_env": list(self.pass_env),
            "python": self.layout.python,
            "command": command,
            "kernel": kernel,
            "exports": str(self.exports) if self.exports else None,
            "limits": self.limits.to_json(),
            "cgroup": self.cgroup,
            "outcome": str(outcome),
            "confinement": self.mode,
            "paths": self.paths(),
            "python_paths": self.layout.hosts,
            "scratch": self.scratch,
        }

    def paths(self):
        """{sandbox path: host path} of the read-only folders (the uid mode copies them into its run folder)."""
        paths = {ASSIGNMENT: str(self.assignment)}
        if self.data:
            paths[DATA] = str(self.data)
        return {**paths, **{inside: str(host) for inside, host in sorted(self.binds.items())}}

    def host_paths(self):
        """Host paths a scrubber should hide if they ever reach an output (they should not)."""
        paths = [*self.layout.host_paths, str(self.assignment)]
        paths += [str(p) for p in (self.exports, self.data, *self.binds.values()) if p]
        return paths


@functools.lru_cache
def _supports(option):
    path = bwrap()
    if not path:
        return False
    usage = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30)
    return option in usage.stdout


def gpu_args(dev=Path("/dev")):
    """The NVIDIA device nodes and the /sys entries CUDA reads (bound only when training on a GPU)."""
    args = []
    nodes = sorted(str(Path("/dev") / p.name) for p in Path(dev).glob("nvidia[0-9]*"))
    for node in [*GPU_DEVICES, *nodes]:
        args += ["--dev-bind-try", node, node]
    return args + ["--ro-bind-try", "/sys", "/sys"]


# -- outcomes ------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What the launcher observed about one run (see launcher.py); `reason` is empty for a clean run."""

    started: bool
    error: str | None  # grader-side failure to start the sandbox
    mode: str | None  # "cgroup-v1", "cgroup-v2" or "rlimit"
    exit_code: int | None
    signal: int | None
    limits_hit: list
    reason: str
    peak_memory: int | None
    wall_s: float | None
    stdout: str
    stderr: str
    exports: dict
    data: dict  # the whole outcome JSON

    @property
    def ok(self):
        return self.error is None and self.exit_code == 0 and not self.limits_hit

    @classmethod
    def read(cls, path):
        data = json.loads(Path(path).read_text())
        names = [f for f in cls.__dataclass_fields__ if f != "data"]
        return cls(**{name: data.get(name) for name in names}, data=data)


def run(argv, sandbox, outcome=None, timeout=None, milestones=()):
    """Run `argv` in `sandbox` (working directory /assignment) and return its Outcome.

    `outcome`: where the outcome JSON goes (default: a temporary file, removed). `timeout`: seconds
    (default: sandbox.limits.wall_time); the launcher kills the sandbox when it passes. `milestones`: files
    (paths under /exports) the command writes one after the other: the wall time is then shared among them
    (launcher.milestone_deadline), and the outcome says when each was seen and the share it was stopped at.
    """
    if not argv:
        raise ValueError("run: empty command")
    limits = sandbox.limits
    if timeout is not None:
        limits = dataclasses.replace(limits, wall_time=timeout)
        sandbox = dataclasses.replace(sandbox, limits=limits)
    with tempfile.TemporaryDirectory(prefix="gan-kit-run-") as tmp:
        result = Path(outcome) if outcome else Path(tmp) / "outcome.json"
        result.unlink(missing_ok=True)  # never read an earlier run's outcome
        spec = Path(tmp) / "spec.json"
        spec.write_text(
            json.dumps({**sandbox.spec(result, command=[str(a) for a in argv]), "milestones": list(milestones)})
        )
        grace = (limits.wall_time or 0) + 120 if limits.wall_time else None
        process = subprocess.run(
            [sys.executable, "-I", str(LAUNCHER), str(spec)],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=grace,
        )  # fmt: skip
        if not result.exists():
            raise RuntimeError(f"the sandbox launcher wrote no outcome (exit {process.returncode}): {process.stderr}")
        return Outcome.read(result)


# -- the kernel ----------------------------------------------------------------------------------
@dataclass
class Kernel:
    """A sandboxed kernelspec on disk, and what nbgrader (or nbclient) needs to use it."""

    name: str
    jupyter_dir: Path  # put it on JUPYTER_PATH for the nbgrader process
    socket_dir: Path  # where nbgrader's side of the kernel's Unix sockets lives
    outcome: Path  # the launcher's outcome JSON, written when the kernel ends

    @property
    def ip(self):
        return str(self.socket_dir / "kernel")

    def nbgrader_args(self):
        """Command-line options for `nbgrader autograde` that run the notebook in this kernel."""
        return [f"--Execute.kernel_name={self.name}", "--KernelManager.transport=ipc", f"--KernelManager.ip={self.ip}"]

    def kernel_manager_options(self):
        """Keyword arguments for jupyter_client's KernelManager (nbclient without nbgrader)."""
        return {"kernel_name": self.name, "transport": "ipc", "ip": self.ip}

    def cleanup(self):
        shutil.rmtree(self.socket_dir, ignore_errors=True)


def write_kernelspec(jupyter_dir, sandbox, outcome, name=KERNEL_NAME):
    """Write kernels/<name>/ under `jupyter_dir` (and the launcher's spec beside kernel.json).

    The kernel's sockets are links in a fresh private folder under the system's temporary folder
    (Unix socket paths are limited to 107 bytes). Call Kernel.cleanup() after grading.
    """
    spec_dir = Path(jupyter_dir).resolve() / "kernels" / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    socket_dir = Path(tempfile.mkdtemp(prefix="gan-kit-kernel-"))
    if len(str(socket_dir / "kernel-65535")) > SUN_PATH_MAX:
        raise ValueError(f"the socket folder {socket_dir} is too long for Unix sockets: set TMPDIR to a short path")
    kernel = {"python": sandbox.layout.python, "socket_dir": str(socket_dir)}
    Path(outcome).unlink(missing_ok=True)  # the launcher writes it when this kernel ends
    launch = spec_dir / "sandbox.json"
    launch.write_text(json.dumps(sandbox.spec(Path(outcome).resolve(), kernel=kernel), indent=1))
    kernelspec = {
        "argv": [sys.executable, "-I", str(LAUNCHER), str(launch), "{connection_file}"],
        "display_name": "Python 3 (GAN kit sandbox)",
        "language": "python",
        "interrupt_mode": "message",  # no signal reaches the kernel through bwrap: interrupt over the control socket
        "env": {},
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(kernelspec, indent=1))
    return Kernel(name, Path(jupyter_dir).resolve(), socket_dir, Path(outcome).resolve())
