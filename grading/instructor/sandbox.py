"""Run a student's kernel in a bubblewrap sandbox during autograde.

Student code is untrusted. Inside the sandbox the whole file system is read-only, /tmp is empty
and private, and the folders that hold what a submission must not see are replaced by empty
ones: the kit's repository (reference solution, source notebook), the working course (gradebook
with the hidden tests) and the batch's folders (other students' submissions and results). Only
the submission's own autograde folder is writable. The kernel's processes die with it.

The sandbox is a Jupyter kernelspec whose command starts ipykernel under `bwrap`; nbgrader is
pointed at it with --Execute.kernel_name. Without bwrap (not Linux, not installed) autograde
still works when asked to, but unsandboxed.
"""

import json
import shutil
import sys
from pathlib import Path

KERNEL_NAME = "gan-kit-sandbox"


def bwrap():
    """Path of the bwrap executable, or None."""
    return shutil.which("bwrap")


def sandbox_works():
    """True when bwrap can start a process here (user namespaces may be disabled)."""
    import subprocess

    if not bwrap():
        return False
    probe = [bwrap(), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def plain_command(argv, workdir, writable, hidden, readable=()):
    """`argv` run in the sandbox with `workdir` as its working directory; `writable` folders stay writable."""
    command = kernel_command(workdir, hidden, readable)
    command = command[: command.index("{connection_file}") - 1]  # up to the connection file's bind
    for path in writable:
        command += ["--bind", str(path), str(path)]
    return [*command, "--chdir", str(workdir), *argv]


def kernel_command(workdir, hidden, readable=(), python=sys.executable):
    """The sandboxed ipykernel command: `workdir` writable, `hidden` emptied, `readable` re-exposed."""
    command = [bwrap(), "--die-with-parent", "--unshare-pid", "--ro-bind", "/", "/", "--dev-bind", "/dev", "/dev"]
    command += ["--proc", "/proc", "--tmpfs", "/tmp"]
    for path in hidden:
        command += ["--tmpfs", str(path)]
    prefix = Path(sys.prefix).resolve()
    emptied = [Path("/tmp"), *(Path(h).resolve() for h in hidden)]
    for path in [*readable, prefix]:  # the Python environment and the data must stay visible
        if any(Path(path).resolve().is_relative_to(h) for h in emptied):
            command += ["--ro-bind", str(path), str(path)]
    command += ["--bind", str(workdir), str(workdir)]
    # Jupyter fills in {connection_file} in every argument: the kernel sees that one file.
    command += ["--ro-bind", "{connection_file}", "{connection_file}"]
    # In its own PID namespace the kernel cannot see the pid Jupyter gives it to watch, and would
    # take its parent for dead: it need not watch, bwrap's --die-with-parent ends it with nbgrader.
    return command + [
        "/usr/bin/env",
        "-u",
        "JPY_PARENT_PID",
        python,
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
    ]


def write_kernelspec(jupyter_dir, workdir, hidden, readable=(), writable=()):
    """Write kernels/<KERNEL_NAME>/kernel.json under `jupyter_dir` (put it on JUPYTER_PATH)."""
    spec_dir = Path(jupyter_dir) / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    argv = kernel_command(workdir, hidden, readable)
    at = argv.index("/usr/bin/env")
    for path in writable:
        argv[at:at] = ["--bind", str(path), str(path)]
    spec = {
        "argv": argv,
        "display_name": "Python 3 (GAN kit sandbox)",
        "language": "python",
        # The file system is read-only: caches go to the private /tmp.
        "env": {"HOME": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return KERNEL_NAME
