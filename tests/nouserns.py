"""Run a command the way Docker's default profile runs a container's processes: no namespaces, fewer capabilities.

    python tests/nouserns.py COMMAND [ARGS...]

As root, it installs a seccomp filter like Docker's default one for the calls that bubblewrap needs (unshare,
setns, mount, umount2, pivot_root and clone with any CLONE_NEW* flag refused with EPERM; clone3 refused with
ENOSYS so that the C library falls back to clone, as Docker does), then runs COMMAND under `setpriv` with
Docker's default capability bounding set. Every process COMMAND starts inherits both. Used by
tests/test_confine_nouserns.py to check that the kit picks the uid mode where bubblewrap cannot run.

`outer(argv)` wraps argv in a bubblewrap mount namespace first (root, no user namespace) in which /root is
an empty folder except for the Python installation and the kit's venvs, so that the Python environment is
readable by other users, as it is in Gradescope's container (/autograder/venv, /usr).
"""

import ctypes
import os
import struct
import sys
from pathlib import Path

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
AUDIT_ARCH_X86_64 = 0xC000003E
NR = {"unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "clone": 56, "clone3": 435}
CLONE_NEW = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
EPERM, ENOSYS = 1, 38
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
LD, JEQ, AND, RET = 0x20, 0x15, 0x54, 0x06
DOCKER_CAPS = (
    "chown,dac_override,fowner,fsetid,kill,setgid,setuid,setpcap,net_bind_service,net_raw,sys_chroot,mknod,"
    "audit_write,setfcap"
)


def program():
    """The BPF program (x86_64): Docker's refusals of the namespace calls."""
    insns = [
        (LD, 0, 0, 4),  # arch
        (JEQ, 1, 0, AUDIT_ARCH_X86_64),
        (RET, 0, 0, ALLOW),
        (LD, 0, 0, 0),  # syscall number
    ]
    for name in ("unshare", "setns", "mount", "umount2", "pivot_root"):
        insns += [(JEQ, 0, 1, NR[name]), (RET, 0, 0, ERRNO | EPERM)]
    insns += [(JEQ, 0, 1, NR["clone3"]), (RET, 0, 0, ERRNO | ENOSYS)]
    insns += [
        (JEQ, 0, 4, NR["clone"]),
        (LD, 0, 0, 16),  # args[0], low 32 bits: the flags
        (AND, 0, 0, CLONE_NEW),
        (JEQ, 1, 0, 0),
        (RET, 0, 0, ERRNO | EPERM),
        (RET, 0, 0, ALLOW),
    ]
    return b"".join(struct.pack("HBBI", *insn) for insn in insns), len(insns)


def install():
    code, count = program()
    buffer = ctypes.create_string_buffer(code)

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Prog(count, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def outer(argv, python_folders):
    """argv in a mount namespace where /root shows only `python_folders` (those under /root)."""
    args = ["bwrap", "--dev-bind", "/", "/", "--perms", "0711", "--tmpfs", "/root"]
    for folder in python_folders:
        if str(folder).startswith("/root/"):
            for parent in reversed(Path(folder).parents):
                if parent.is_relative_to("/root") and parent != Path("/root"):
                    args += ["--perms", "0755", "--dir", str(parent)]
            args += ["--ro-bind", str(folder), str(folder)]
    return [*args, "--", sys.executable, "-I", os.path.abspath(__file__), *argv]


def main(argv):
    install()
    os.execvp("setpriv", ["setpriv", f"--bounding-set=-all,+{DOCKER_CAPS.replace(',', ',+')}", "--", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
