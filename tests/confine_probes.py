"""The probes of tests/probes/ through the sandbox in one confinement mode, each with its verdict.

    python tests/confine_probes.py bwrap|uid [--cgroup auto|off] [PROBE...]   # prints one JSON list
    python tests/confine_probes.py table OUT.md                                 # both modes, a Markdown table

A place like a grader's (a home with a secret key, a course with a gradebook, another student's files, the
solution and results.json, the student's graded folder, MNIST) is made in a world-enterable folder; its
secret parts are made owner-only with sandbox.protect, as the grader does in the uid mode. The uid mode
runs where user namespaces are refused: `table` runs it inside tests/nouserns.py (Docker's seccomp profile
and capabilities), with cgroup "off" (Docker's read-only /sys/fs/cgroup: rlimits only) unless told.

Every probe is bounded: limits are set low, no more memory allocated than the limit checked, every
loop has a time limit, and the only connection goes to a listener on 127.0.0.1 made here.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grading.instructor.confine import launcher, sandbox  # noqa: E402
from grading.instructor.confine.limits import Limits, MiB  # noqa: E402

PROBES = ROOT / "tests" / "probes"
MARK = "GAN-KIT-PROBE "


def probe(name, **settings):
    """The code of tests/probes/<name>.py, with its PROBE_* settings defined first."""
    lines = [f"PROBE_{key.upper()} = {value!r}" for key, value in settings.items()]
    return "\n".join([*lines, (PROBES / f"{name}.py").read_text()])


def report(outcome, name):
    """The JSON line probe `name` printed (None when it was stopped before printing)."""
    for line in outcome.stdout.splitlines():
        if line.startswith(MARK + "{"):
            found = json.loads(line.removeprefix(MARK))
            if found["probe"] == name:
                return found
    return None


SLEEPER = "gan-kit-probe-sleeper"  # the sleepers' name (tests/probes/start_processes.py's PROBE_SLEEPER)


def sleepers(run_users=True, name=SLEEPER):
    """Pids of probe sleepers named `name` alive on this machine: run_users True, those of the uid mode's run users;
    False, the others (the bubblewrap runs', which belong to root). Tests of each mode run beside the other's (xdist
    workers, other developers): each counts its own mode's, and the batch's probe names its sleepers its own way
    (tests/e2e.py), so that the sandbox's tests and the batch's need not share a worker."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/cmdline").read_bytes().startswith(name.encode() + b"\0"):
                uid = os.stat(f"/proc/{entry}").st_uid
                if (launcher.UID_BASE <= uid < launcher.UID_BASE + launcher.UID_SPAN) == run_users:
                    found.append(int(entry))
        except OSError:
            pass
    return found


class Place:
    """A grader's machine in miniature, under a folder every user may enter (as / or /autograder is)."""

    def __init__(self, mode, cgroup="auto"):
        self.mode, self.cgroup = mode, cgroup
        self.top = Path(tempfile.mkdtemp(prefix="gan-kit-place-"))
        os.chmod(self.top, 0o755)
        self.home = self.top / "home" / "grader"
        (self.home / ".ssh").mkdir(parents=True)
        (self.home / ".ssh" / "canary-ssh-key").write_text("CANARY-SSH-SECRET")
        self.course = self.top / "course"
        self.assignment = self.course / "autograded" / "alice" / "GANs-PyTorch"
        (self.assignment / "nndl2").mkdir(parents=True)
        (self.assignment / "gan.py").write_text("x = 1\n")
        (self.assignment / "nndl2" / "budget.py").write_text("BUDGET = 1\n")
        (self.course / "canary-gradebook.db").write_text("CANARY-GRADEBOOK-SECRET")
        (self.course / "autograded" / "bob").mkdir()
        (self.course / "autograded" / "bob" / "canary-bob.txt").write_text("CANARY-BOB-SECRET")
        (self.course / "solution").mkdir()
        (self.course / "solution" / "canary-solution-gan.py").write_text("CANARY-SOLUTION")
        (self.top / "results").mkdir()
        self.results = self.top / "results" / "results.json"
        self.results.write_text('{"score": 0}')
        self.data = self.top / "mnist"
        self.data.mkdir()
        (self.data / "train.bin").write_text("digits")
        self.exports = self.top / "exports"
        keep = sandbox.python_folders()
        for path in (self.home.parent, self.course, self.results.parent):
            sandbox.protect(path, keep=keep)
        self.secrets = [self.home / ".ssh" / "canary-ssh-key", self.course / "canary-gradebook.db"]
        self.secrets += [self.course / "autograded" / "bob" / "canary-bob.txt", self.course / "solution"]
        self.secrets += [self.course / "solution" / "canary-solution-gan.py", self.home]

    def box(self, **limit_values):
        limit_values.setdefault("wall_time", 120)
        return sandbox.Sandbox(
            self.assignment, exports=self.exports, data=self.data, limits=Limits(**limit_values), mode=self.mode,
            cgroup=self.cgroup,
        )  # fmt: skip

    def run(self, code, **limit_values):
        sb = self.box(**limit_values)
        return sandbox.run([sb.layout.python, "-c", code], sb)

    def remove(self):
        shutil.rmtree(self.top, ignore_errors=True)


def what(outcome):
    """The launcher's observation in a few words."""
    parts = [f"mechanism {outcome.mode}"]
    if outcome.reason:
        parts.append(outcome.reason)
    return ", ".join(parts)


# A run with three milestones (the grader's training run writes a/, b/, c/ as it trains each GAN): c's file
# comes first (out of order: not yet a milestone), a's after a moment, then the run hangs in stuck_in_b. With a
# horizon of MILESTONE_HORIZON s, a's share is a third of it; b's is half of what is left after a was seen.
MILESTONE_HORIZON = 6.0
MILESTONE_RUN = """
import faulthandler, os, signal, time
faulthandler.register(signal.SIGUSR1, all_threads=True)  # as the grader's watchdog does
exports = os.environ["GAN_KIT_EXPORTS"]
def write(name):
    os.makedirs(f"{exports}/{name}", exist_ok=True)
    with open(f"{exports}/{name}/{name}.npz", "w") as f:
        f.write(name)
def stuck_in_b():
    while True:
        time.sleep(0.05)
def stuck_in_a_child():  # a process the run started: it inherits the handler, but is not asked
    while True:
        time.sleep(0.05)
if os.fork() == 0:
    stuck_in_a_child()
write("c")
time.sleep(0.3)
write("a")
stuck_in_b()
"""


# Every milestone reached at once, then a hang with no handler for SIGUSR1: stopped at the horizon, never by the
# signal (the launcher asks only processes that listen).
UNASKED_HORIZON = 3.0
UNASKED_RUN = """
import os, time
exports = os.environ["GAN_KIT_EXPORTS"]
for name in "abc":
    os.makedirs(f"{exports}/{name}", exist_ok=True)
    open(f"{exports}/{name}/{name}.npz", "w").close()
while True:
    time.sleep(0.05)
"""


def milestone_run(place, code=MILESTONE_RUN, horizon=MILESTONE_HORIZON):
    """`code` in `place`'s sandbox with milestones a, b and c: its Outcome."""
    sb = place.box(wall_time=horizon)
    return sandbox.run([sb.layout.python, "-c", code], sb, milestones=["a/a.npz", "b/b.npz", "c/c.npz"])


def check_unasked_run(outcome):
    """UNASKED_RUN's outcome: stopped at the horizon by its wall time, which the reason names, not by SIGUSR1."""
    assert len(outcome.data["milestones"]) == 3 and outcome.data["signal"] != 10, outcome.data
    assert outcome.limits_hit == ["wall_time"] and outcome.data["wall_limit"] == UNASKED_HORIZON
    assert outcome.reason == f"wall time limit ({UNASKED_HORIZON:g} s) reached"
    assert UNASKED_HORIZON - 0.05 < outcome.wall_s < UNASKED_HORIZON + 1.5


def check_milestone_run(outcome, exports):
    """The run was stopped at b's deadline, after b's share, with where it was printed by its SIGUSR1 handler;
    `exports` (the run's host exports folder) has what it wrote."""
    (seen,) = outcome.data["milestones"]  # a only: c came before b, and b never did
    assert 0.25 < seen < MILESTONE_HORIZON / 3, outcome.data  # after c, before a's own deadline
    assert outcome.limits_hit == ["wall_time"] and outcome.data["killed_by_launcher"] == "wall_time"
    deadline = launcher.milestone_deadline([seen], 3, MILESTONE_HORIZON)
    assert abs(outcome.data["wall_limit"] - (deadline - seen)) < 0.06, (outcome.data, deadline)
    assert deadline - 0.05 < outcome.wall_s < min(deadline + 1.5, MILESTONE_HORIZON), (outcome.wall_s, deadline)
    assert outcome.reason == f"wall time limit ({outcome.data['wall_limit']:g} s) reached"
    assert "in stuck_in_b" in outcome.stderr, outcome.stderr[-2000:]  # the dump SIGUSR1 asked for
    assert "stuck_in_a_child" not in outcome.stderr and outcome.stderr.count("Current thread 0x") == 1
    assert sorted(os.listdir(exports)) == ["a", "c"]


# -- the cases: each returns (refused or bounded?, what happened) -------------------------------------
def case_read_canaries(place):
    outcome = place.run(probe("read_canaries", paths=[str(p) for p in place.secrets]))
    found = report(outcome, "read_canaries") or {"readable": ["(no report)"], "found": []}
    ours = [p for p in found["found"] if str(place.top) in p]
    secret_read = [r[0] for r in found["readable"] if str(r[0]).startswith(str(place.top))]
    ok = not secret_read and not ours and "CANARY" not in outcome.stdout
    text = f"{len(secret_read)} of {len(place.secrets)} secrets (home key, gradebook, other student, solution) read"
    return ok, f"{text}; {len(ours)} of their names seen"


def case_overwrite_results(place):
    outcome = place.run(probe("overwrite_results", paths=[str(place.results)]))
    found = report(outcome, "overwrite_results") or {"changed": ["(no report)"]}
    ok = found["changed"] == [] and place.results.read_text() == '{"score": 0}'
    return ok, f"results.json and a file beside it: {len(found['changed'])} written"


def case_tamper_assignment(place):
    outcome = place.run(probe("tamper_assignment"))
    found = report(outcome, "tamper_assignment") or {"changed": ["(no report)"]}
    ok = found["changed"] == [] and (place.assignment / "gan.py").read_text() == "x = 1\n"
    return ok, f"graded folder: {len(found['changed'])} changes"


def case_environment(place):
    os.environ["GAN_KIT_PROBE_SECRET"] = "token-8f1e2d"
    try:
        outcome = place.run(probe("environment"))
    finally:
        del os.environ["GAN_KIT_PROBE_SECRET"]
    found = report(outcome, "environment") or {}
    ok = "token-8f1e2d" not in outcome.stdout and found.get("uid") not in (None, 0)
    return ok, f"grader's variable {'seen' if 'token-8f1e2d' in outcome.stdout else 'not seen'}, uid {found.get('uid')}"


def case_start_processes(place):
    outcome = place.run(probe("start_processes", processes=200), processes=64)
    found = report(outcome, "start_processes") or {"started": None}
    time.sleep(0.5)
    left = sleepers(run_users=place.mode == "uid")
    ok = found["started"] is not None and found["started"] < 64 and not left
    return ok, f"{found['started']} of 200 forks, {len(left)} alive after the run; {what(outcome)}"


def case_allocate_memory(place):
    outcome = place.run(probe("allocate_memory", memory_cap=512 * MiB), memory=384 * MiB)
    found = report(outcome, "allocate_memory")
    if found is None:
        return "memory" in outcome.limits_hit, f"killed before 512 MiB; {what(outcome)}"
    ok = found["result"] == "MemoryError" and found["allocated"] < 384 * MiB
    return ok, f"{found['result']} after {found['allocated'] // MiB} MiB (limit 384 MiB); {what(outcome)}"


def case_write_files(place):
    outcome = place.run(probe("write_files", file_bytes=32 * MiB), file_size=20 * MiB, exports=24 * MiB, tmp=16 * MiB)
    found = report(outcome, "write_files") or {}
    big = found.get("big")
    copied = sum(p.stat().st_size for p in place.exports.iterdir()) if place.exports.is_dir() else 0
    hit = set(outcome.limits_hit)
    cut = big == [20 * MiB, "File too large"] or (big is None and "file_size" in hit)
    ok = cut and {"exports", "tmp"} & hit and copied <= 64 * MiB
    size = f"{big[0] // MiB} MiB" if big else "20 MiB (the run was stopped before it reported)"
    return bool(ok), f"file cut at {size}; exports copied {copied // MiB} MiB; {what(outcome)}"


def case_wall_time(place):
    outcome = place.run(probe("busy_loop", spin_seconds=60), wall_time=3)
    ok = outcome.limits_hit == ["wall_time"] and outcome.wall_s < 15
    return ok, f"stopped after {outcome.wall_s:.1f} s; {what(outcome)}"


def case_shm_marker(place):
    place.run(probe("shm_marker"))
    outcome = place.run(probe("shm_marker"))
    found = report(outcome, "shm_marker") or {"found": ["(no report)"]}
    ok = "gan-kit-probe-marker" not in found["found"] and not Path("/dev/shm/gan-kit-probe-marker").exists()
    return ok, "an earlier run's /dev/shm marker " + ("seen" if not ok else "not seen, none left after the run")


def case_exports_links(place):
    outcome = place.run(probe("exports_links"))
    copied = sorted(p.name for p in place.exports.iterdir()) if place.exports.is_dir() else []
    ok = copied == ["regular.txt"] and len(outcome.exports["skipped"]) == 4
    return ok, f"copied out: {copied}; skipped {len(outcome.exports['skipped'])} links and FIFOs"


def case_connect_localhost(place):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.2)
    accepted, done = [], threading.Event()

    def accept():
        while not done.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        outcome = place.run(probe("connect_localhost", port=listener.getsockname()[1]))
    finally:
        done.set()
        thread.join(timeout=15)
        listener.close()
        for connection in accepted:
            connection.close()
    found = report(outcome, "connect_localhost") or {"result": "(no report)", "interfaces": []}
    ok = not accepted and found["result"].startswith("refused")
    return ok, f"{found['result'].split(':')[0]} (interfaces: {', '.join(found['interfaces'])})"


PROC_CODE = """
import json, os
pids = [p for p in os.listdir('/proc') if p.isdigit()]
seen = 0
for p in pids:
    try:
        seen += bool(open(f'/proc/{p}/cmdline', 'rb').read())
    except OSError:
        pass
print('GAN-KIT-PROBE ' + json.dumps({'probe': 'proc', 'pids': len(pids), 'cmdlines': seen}))
"""


def case_proc(place):
    outcome = place.run(PROC_CODE)
    found = report(outcome, "proc") or {"pids": "?", "cmdlines": "?"}
    ok = isinstance(found["pids"], int) and found["pids"] <= 5
    return ok, f"{found['pids']} processes visible in /proc, {found['cmdlines']} command lines readable"


CASES = {
    "read_canaries": ("secrets, another student's files, the solution", case_read_canaries),
    "overwrite_results": ("overwrite results.json / forge one beside it", case_overwrite_results),
    "tamper_assignment": ("change the graded folder", case_tamper_assignment),
    "environment": ("the grader's environment variables", case_environment),
    "start_processes": ("200 detached processes (limit 64)", case_start_processes),
    "allocate_memory": ("allocate 512 MiB (limit 384 MiB)", case_allocate_memory),
    "write_files": ("a 32 MiB file (limit 20 MiB), fill exports (24 MiB) and tmp (16 MiB)", case_write_files),
    "busy_loop": ("spin 60 s ignoring SIGINT (wall time 3 s)", case_wall_time),
    "shm_marker": ("a marker in /dev/shm for the next run", case_shm_marker),
    "exports_links": ("links and a FIFO in the exports", case_exports_links),
    "connect_localhost": ("connect to a listener on the grader's 127.0.0.1", case_connect_localhost),
    "proc": ("other processes in /proc", case_proc),
}


def run_cases(mode, names, cgroup="auto"):
    rows = []
    for name in names:
        place = Place(mode, cgroup)
        try:
            start = time.monotonic()
            ok, text = CASES[name][1](place)
            rows.append({"probe": name, "ok": bool(ok), "result": text, "seconds": round(time.monotonic() - start, 1)})
        except Exception as error:  # a row, not a crash: the table says what failed
            rows.append({"probe": name, "ok": False, "result": f"error: {type(error).__name__}: {error}"})
        finally:
            place.remove()
    return rows


def in_nouserns(argv):
    """argv run as tests/nouserns.py runs it (Docker's seccomp profile and capabilities)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import nouserns

    return nouserns.outer(argv, sandbox.python_folders())


def uid_rows(names, cgroup="off", timeout=900):
    argv = in_nouserns([sys.executable, "-I", __file__, "uid", "--cgroup", cgroup, *names])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"the uid-mode probes failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(out):
    names = list(CASES)
    bwrap = {row["probe"]: row for row in run_cases("bwrap", names)} if sandbox.unavailable_reason() is None else {}
    uid = {row["probe"]: row for row in uid_rows(names)}
    lines = [
        "# Probe table: bubblewrap mode vs uid mode (no user namespaces)",
        "",
        f"Generated by `python tests/confine_probes.py table` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "bubblewrap mode: this machine, as root, cgroup where it can make one. uid mode: the same probes inside",
        "tests/nouserns.py (Docker's default seccomp refusals of unshare/clone(CLONE_NEW*)/mount, Docker's",
        "capability set), where bwrap fails ('No permissions to create new namespace') and the kit picks the uid",
        "mode; cgroup off there (Docker's /sys/fs/cgroup is read-only: rlimits only).",
        "",
        "| probe | what it tries | bubblewrap mode | uid mode (no user namespaces) |",
        "|---|---|---|---|",
    ]

    def cell(row):
        if not row:
            return "not run"
        return f"{'refused/bounded' if row['ok'] else '**NOT confined**'}: {row['result']}".replace("|", "/")

    for name in names:
        lines.append(f"| {name} | {CASES[name][0]} | {cell(bwrap.get(name))} | {cell(uid.get(name))} |")
    Path(out).write_text("\n".join(lines) + "\n")
    return bwrap, uid


def main(argv):
    if argv[0] == "table":
        table(argv[1])
        print(Path(argv[1]).read_text())
        return 0
    mode, rest, cgroup = argv[0], argv[1:], "auto"
    if rest[:1] == ["--cgroup"]:
        cgroup, rest = rest[1], rest[2:]
    print(json.dumps(run_cases(mode, rest or list(CASES), cgroup)))
    launcher.sweep_orphans()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
