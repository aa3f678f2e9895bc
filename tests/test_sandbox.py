"""The sandbox (grading/instructor/confine/sandbox.py, launcher.py, limits.py) and the autograde passes that go with it.

Probe submissions (tests/probes/, each a snippet a student could append to gan.py) run through the
sandbox as plain commands and, for the kernel, through nbclient and nbgrader with the sandbox's
kernelspec. Every probe is bounded: limits are set low for the test (never more memory allocated
than the limit checked), every connection and loop has a timeout, and nothing leaves 127.0.0.1.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import confine_probes
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell
from traitlets.config import Config

from grading.course import NBGRADER, nbgrader
from grading.course.preprocessors.limited_execute import LimitedExecute, cut_text
from grading.course.preprocessors.sanitize_notebook import SanitizeNotebook, clean_output, inert_markdown
from grading.course.preprocessors.scrub_host_details import ScrubHostDetails
from grading.instructor.autograde import WATCHDOG
from grading.instructor.confine import launcher, limits, sandbox
from grading.instructor.confine.limits import GiB, KiB, Limits, MiB
from grading.kit import NBGRADER_CONFIG, SKIP_EXIT_GC, SOURCE_NOTEBOOK

probe, report = confine_probes.probe, confine_probes.report  # a probe's code, and the JSON line it printed

UNAVAILABLE = sandbox.unavailable_reason()
needs_bwrap = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"no sandbox here: {UNAVAILABLE}")


def cgroups_work():
    if UNAVAILABLE:
        return False
    cgroup, _ = limits.create_cgroup(Limits())
    if cgroup is None:
        return False
    cgroup.remove()
    return True


CGROUPS = cgroups_work()
needs_cgroups = pytest.mark.skipif(not CGROUPS, reason="this account cannot make a cgroup with memory and pids")
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


@pytest.fixture
def place(tmp_path):
    """A grader's machine in miniature: a home with secrets, a course with a student's graded folder."""
    home = tmp_path / "home" / "grader"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "canary-ssh-key").write_text("CANARY-SSH-SECRET")
    course = tmp_path / "course"
    assignment = course / "autograded" / "alice" / "GANs-PyTorch"
    (assignment / "nndl2").mkdir(parents=True)
    (assignment / "gan.py").write_text("x = 1\n")
    (assignment / "nndl2" / "budget.py").write_text("BUDGET = 1\n")
    (course / "canary-gradebook.db").write_text("CANARY-GRADEBOOK-SECRET")
    (course / "autograded" / "bob").mkdir()
    (course / "autograded" / "bob" / "canary-bob.txt").write_text("CANARY-BOB-SECRET")
    data = tmp_path / "mnist"
    data.mkdir()
    (data / "train.bin").write_text("digits")
    return {"home": home, "course": course, "assignment": assignment, "data": data, "exports": tmp_path / "exports"}


def box(place, **limit_values):
    return sandbox.Sandbox(
        place["assignment"], exports=place["exports"], data=place["data"], limits=Limits(**limit_values)
    )


def run_probe(place, name, settings=None, sandbox_options=None, **limit_values):
    limit_values.setdefault("wall_time", 120)
    sb = box(place, **limit_values)
    for key, value in (sandbox_options or {}).items():
        setattr(sb, key, value)
    outcome = sandbox.run([sb.layout.python, "-c", probe(name, **(settings or {}))], sb)
    return outcome, report(outcome, name)


def sleepers():
    """Pids of probe sleepers (tests/probes/start_processes.py) of bubblewrap runs alive on this machine."""
    return confine_probes.sleepers(run_users=False)


# -- refusing where it cannot run --------------------------------------------------------------
def test_require_says_how_to_install_bubblewrap_or_opt_out(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)  # not root: no uid mode either
    assert sandbox.unavailable_reason() == "bubblewrap (bwrap) is not installed"
    assert "needs the grader to run as root" in sandbox.uid_unavailable_reason()
    with pytest.raises(sandbox.SandboxUnavailable) as error:
        sandbox.require()
    assert "apt-get install bubblewrap" in str(error.value) and "--sandbox off" in str(error.value)


@pytest.mark.skipif(os.geteuid() != 0 or not sys.platform.startswith("linux"), reason="the uid mode needs root")
def test_root_without_bubblewrap_gets_the_uid_mode(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    assert sandbox.choose() == ("uid", "bubblewrap (bwrap) is not installed") and sandbox.require() == "uid"


def test_require_refuses_off_linux(monkeypatch):
    monkeypatch.setattr(sandbox.sys, "platform", "darwin")
    assert sandbox.unavailable_reason() == "bubblewrap needs Linux (this is darwin)"


# -- the arguments (no bwrap needed) -----------------------------------------------------------
def test_arguments_isolate_everything_and_bind_only_neutral_paths(place):
    sb = box(place)
    args = sb.args()
    for flag in ["--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"]:
        assert flag in args
    assert (
        args[args.index("--hostname") + 1] == "sandbox"
        and ["--dev", "/dev"] == args[args.index("--dev") : args.index("--dev") + 2]
    )
    assert (
        "--bind" not in args and "--dev-bind" not in args and "--dev-bind-try" not in args
    )  # nothing writable, no devices
    destinations = [args[i + 2] for i, a in enumerate(args) if a in ("--ro-bind", "--ro-bind-try")]
    allowed = ("/usr", "/etc/", "/opt/python", "/opt/venv", "/assignment", "/data", "/bin", "/sbin", "/lib")
    assert all(d.startswith(allowed) for d in destinations), destinations
    sizes = {args[i + 3]: int(args[i + 1]) for i, a in enumerate(args) if a == "--size"}
    assert sizes == {"/dev/shm": 256 * MiB, "/tmp": 512 * MiB, "/exports": 128 * MiB, "/run/jupyter": 64 * KiB}
    assert all("/etc/shadow" not in a for a in args)
    files = sb.files()
    assert set(files) >= {"/etc/passwd", "/etc/group", "/etc/hosts"} and "root" not in files["/etc/passwd"]
    for text in [*files.values(), *sb.environment().values()]:
        assert str(Path.home()) not in text and str(place["course"]) not in text


def test_python_environment_appears_at_neutral_paths(place):
    layout = box(place).layout
    if sys.prefix != sys.base_prefix:  # a venv (as ./kit setup makes): rebuilt at /opt/venv
        assert layout.python == "/opt/venv/bin/python" and (f"{sys.prefix}/lib", "/opt/venv/lib") in layout.binds
        assert layout.files["/opt/venv/pyvenv.cfg"].startswith("home = /")
    for value in [layout.python, *layout.files.values(), *layout.env.values(), *(d for _, d in layout.binds)]:
        assert sys.prefix not in value and sys.base_prefix not in value


def test_more_folders_only_at_free_top_level_paths(place):
    for inside in ["/usr/x", "/exports", "/etc", "relative", "/a/b", "/home"]:
        with pytest.raises(ValueError):
            sandbox.Sandbox(place["assignment"], binds={inside: place["data"]})
    args = sandbox.Sandbox(place["assignment"], binds={"/replay": place["data"]}).args()
    assert ["--ro-bind", str(place["data"]), "/replay"] == args[args.index("/replay") - 2 : args.index("/replay") + 1]


def test_gpu_nodes_are_bound_only_when_asked(tmp_path, place):
    for name in ["nvidia0", "nvidia1", "nvidiactl", "null"]:
        (tmp_path / name).touch()
    args = sandbox.gpu_args(dev=tmp_path)
    pairs = {args[i + 1] for i, a in enumerate(args) if a == "--dev-bind-try"}
    assert {"/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm"} <= pairs and "/dev/null" not in pairs
    assert not any("nvidia" in a for a in box(place).args())
    gpu = sandbox.Sandbox(place["assignment"], gpu=True).args()
    assert "/dev/nvidiactl" in gpu and gpu.index("/dev/nvidiactl") < gpu.index(
        "/dev/shm"
    )  # before /dev turns read-only


def test_the_graders_processes_skip_the_garbage_collections_at_exit():
    """nbgrader, the sandboxed exports and the sandboxed kernel run SKIP_EXIT_GC first: it freezes the garbage
    collector after every other exit handler, which skips the interpreter's last collections (with torch loaded,
    1.4 s of a kernel's 2 s shutdown)."""
    assert NBGRADER[2].startswith(SKIP_EXIT_GC) and WATCHDOG.startswith(SKIP_EXIT_GC)
    kernel = launcher.KERNEL[1]
    assert kernel.startswith(SKIP_EXIT_GC) and "run_module('ipykernel_launcher', run_name='__main__'" in kernel
    frozen_at_exit = "import atexit, gc; atexit.register(lambda: print(gc.get_freeze_count() > 0)); "  # runs last
    for code, expected in ((frozen_at_exit, "False"), (frozen_at_exit + SKIP_EXIT_GC, "True")):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
        assert (done.stdout, done.stderr) == (expected + "\n", "")


def test_limits_reject_nonsense():
    with pytest.raises(ValueError):
        Limits(memory=0)
    with pytest.raises(ValueError):
        Limits(processes=4)
    assert Limits.from_json(Limits(memory=GiB).to_json()) == Limits(memory=GiB)


def test_cgroup_v2_goes_beside_the_launcher_under_a_delegating_ancestor(tmp_path):
    root = tmp_path / "cgroup"
    scope = root / "user.slice" / "user-1000.slice" / "app.scope"
    scope.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    (root / "user.slice" / "cgroup.subtree_control").write_text("memory pids\n")
    (root / "user.slice" / "user-1000.slice" / "cgroup.subtree_control").write_text("cpu\n")  # memory not delegated
    group = limits.CgroupV2(
        "gan-kit-1-2", Limits(memory=GiB, processes=99), root, {"": "/user.slice/user-1000.slice/app.scope"}
    )
    assert group.dir == root / "user.slice" / "gan-kit-1-2"
    assert (group.dir / "memory.max").read_text() == str(GiB) and (group.dir / "pids.max").read_text() == "99"
    (root / "user.slice" / "cgroup.subtree_control").write_text("cpu\n")
    with pytest.raises(OSError):
        limits.CgroupV2("gan-kit-1-3", Limits(), root, {"": "/user.slice/user-1000.slice/app.scope"})


def test_rlimit_mode_counts_the_threads_the_user_runs_already(tmp_path):
    for pid, uid, threads in [(1, 0, 1), (20, 1000, 3), (31, 1000, 40), (42, 1001, 7)]:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "status").write_text(
            f"Name:\tx\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nThreads:\t{threads}\n"
        )
    (tmp_path / "self").mkdir()
    assert limits.user_tasks(1000, tmp_path) == 43 and limits.user_tasks(0, tmp_path) == 1


def test_each_mode_says_what_it_enforces():
    assert "RLIMIT_DATA" in limits.enforcement("rlimit")["memory"]
    assert "OOM" in limits.enforcement("cgroup-v1")["memory"] and "pids" in limits.enforcement("cgroup-v2")["processes"]


def test_reasons_come_from_observations():
    outcome = {
        "error": None,
        "limits": Limits(memory=512 * MiB, wall_time=60).to_json(),
        "limits_hit": ["memory", "file_size"],
        "killed_by_launcher": None,
        "signal": 9,
    }
    assert launcher.reason(outcome) == "memory limit (512 MiB) reached; file size limit (64 MiB) reached"
    outcome.update(limits_hit=[], signal=11)
    assert launcher.reason(outcome) == "killed by signal 11 (SIGSEGV)"
    outcome.update(limits_hit=["wall_time"], killed_by_launcher="wall_time", signal=9)
    assert launcher.reason(outcome) == "wall time limit (60 s) reached"
    outcome.update(limits_hit=[], killed_by_launcher="SIGTERM", signal=9)
    assert launcher.reason(outcome) == ""


# -- probes through the sandbox -----------------------------------------------------------------
@needs_bwrap
def test_nothing_of_the_home_folder_or_the_course_is_visible(place):
    secrets = [place["home"] / ".ssh" / "canary-ssh-key", place["course"] / "canary-gradebook.db"]
    secrets += [place["course"] / "autograded" / "bob" / "canary-bob.txt", place["home"]]
    outcome, found = run_probe(place, "read_canaries", {"paths": [str(p) for p in secrets]})
    assert outcome.ok, outcome.reason or outcome.stderr
    assert found["readable"] == [] and found["found"] == []
    assert "CANARY" not in outcome.stdout


@needs_bwrap
def test_no_connection_to_a_listener_on_the_hosts_loopback(place):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.2)
    accepted, done = [], threading.Event()

    def accept():
        while not done.is_set():
            try:
                accepted.append(listener.accept())
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        outcome, found = run_probe(place, "connect_localhost", {"port": listener.getsockname()[1]})
    finally:
        done.set()
        thread.join(timeout=15)
        listener.close()
    assert found["result"].startswith("refused") and found["interfaces"] == ["lo"]
    assert accepted == []


@needs_bwrap
def test_dev_shm_is_private_to_each_sandbox(place):
    _, first = run_probe(place, "shm_marker")
    _, second = run_probe(place, "shm_marker")
    assert first == {"probe": "shm_marker", "found": [], "wrote": True} and second["found"] == []
    assert not Path("/dev/shm/gan-kit-probe-marker").exists()


@needs_bwrap
@needs_cgroups
def test_memory_limit_kills_with_a_reason_in_cgroup_mode(place):
    outcome, found = run_probe(place, "allocate_memory", {"memory_cap": 512 * MiB}, memory=512 * MiB)
    assert found is None  # killed before it could report
    assert outcome.mode.startswith("cgroup") and outcome.limits_hit == ["memory"]
    assert outcome.reason == "memory limit (512 MiB) reached" and outcome.signal == signal.SIGKILL
    assert 256 * MiB < outcome.peak_memory <= 512 * MiB
    assert "allocated 256 MiB" in outcome.stdout


@needs_bwrap
def test_memory_limit_in_rlimit_mode_fails_allocations(place):
    outcome, found = run_probe(place, "allocate_memory", {"memory_cap": 256 * MiB}, {"cgroup": "off"}, memory=256 * MiB)
    assert outcome.mode == "rlimit" and outcome.exit_code == 0
    assert found["result"] == "MemoryError" and found["allocated"] < 256 * MiB


@needs_bwrap
@needs_cgroups
def test_process_limit_refuses_forks_and_no_process_outlives_the_run(place):
    outcome, found = run_probe(place, "start_processes", {"processes": 200}, processes=64)
    assert 0 < found["started"] < 64 and found["error"]
    assert outcome.limits_hit == ["processes"] and outcome.data["leftover_processes"] == 0
    assert sleepers() == []


@needs_bwrap
def test_file_size_and_tmpfs_sizes_bound_what_is_written(place):
    outcome, found = run_probe(
        place, "write_files", {"file_bytes": 32 * MiB}, file_size=20 * MiB, exports=24 * MiB, tmp=16 * MiB
    )
    assert found["big"] == [20 * MiB, "File too large"]
    assert found["/exports"] == [0, "No space left on device"] and found["/tmp"] == [1, "No space left on device"]
    assert sorted(outcome.limits_hit) == ["exports", "file_size", "tmp"]
    copied = {p.name: p.stat().st_size for p in place["exports"].iterdir()}
    assert copied["big.bin"] == 20 * MiB and sum(copied.values()) <= 24 * MiB


@needs_bwrap
def test_the_graders_environment_is_invisible(place, monkeypatch):
    monkeypatch.setenv("GAN_KIT_PROBE_SECRET", "token-8f1e2d")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    sb = box(place, wall_time=60)
    sb.env, sb.pass_env = {"GAN_KIT_BUDGET": "smoke"}, ("NBGRADER_EXECUTION",)
    outcome = sandbox.run([sb.layout.python, "-c", probe("environment")], sb)
    found = report(outcome, "environment")
    assert "token-8f1e2d" not in outcome.stdout and found["host"] == "sandbox" and found["uid"] == sandbox.UID
    assert found["env"]["GAN_KIT_BUDGET"] == "smoke" and found["env"]["NBGRADER_EXECUTION"] == "autograde"
    assert found["env"]["HOME"] == "/tmp" and found["env"]["MNIST_ROOT"] == "/data"
    assert set(found["env"]) == set(sb.environment()) | {"NBGRADER_EXECUTION", "PWD"}


@needs_bwrap
def test_exports_are_seeded_and_copied_back_as_plain_files_only(place):
    place["exports"].mkdir()
    (place["exports"] / "seed.txt").write_text("from an earlier step")
    code = probe("exports_links") + "\nprint(open('/exports/seed.txt').read(), open('/replay/train.bin').read())"
    sb = box(place, wall_time=60)
    sb.binds = {"/replay": place["data"]}
    outcome = sandbox.run([sb.layout.python, "-c", code], sb)
    assert "from an earlier step digits" in outcome.stdout
    assert sorted(p.name for p in place["exports"].iterdir()) == ["regular.txt", "seed.txt"]
    skipped = outcome.exports["skipped"]
    assert sorted(s.split(" ")[0] for s in skipped) == ["dot-link", "fifo", "passwd-link", "up-link"]


@needs_bwrap
def test_the_graded_folder_is_read_only(place):
    outcome, found = run_probe(place, "tamper_assignment")
    assert found == {"probe": "tamper_assignment", "changed": [], "cwd": "/assignment"}
    assert (place["assignment"] / "gan.py").read_text() == "x = 1\n"


@needs_bwrap
def test_wall_time_kills_the_run(place):
    sb = box(place, wall_time=2)
    outcome = sandbox.run(["sleep", "60"], sb)
    assert outcome.limits_hit == ["wall_time"] and outcome.data["killed_by_launcher"] == "wall_time"
    assert outcome.reason == "wall time limit (2 s) reached"


@needs_bwrap
def test_milestones_share_the_wall_time_and_ask_where_a_hang_is_before_the_kill():
    """A run with milestones (the grader's training run of several GANs) is stopped at the deadline of the first
    milestone it does not reach: its share of what was left when the one before was reached. A file written out of
    order is no milestone yet. Before the kill, SIGUSR1 makes the run's faulthandler print where it hangs."""
    place = confine_probes.Place("bwrap")
    try:
        confine_probes.check_milestone_run(confine_probes.milestone_run(place), place.exports)
        # Every milestone (seeded from the first run's exports, folders in folders), then a hang that does not
        # listen for SIGUSR1.
        unasked = confine_probes.milestone_run(place, confine_probes.UNASKED_RUN, confine_probes.UNASKED_HORIZON)
        confine_probes.check_unasked_run(unasked)
    finally:
        place.remove()


@pytest.mark.parametrize(
    "reached, deadline", [([], 2.0), ([0.5], 0.5 + 5.5 / 2), ([0.5, 1.0], 6.0), ([0.5, 1.0, 1.5], 6.0)]
)
def test_each_milestone_gets_its_share_of_what_is_left_when_the_one_before_is_reached(reached, deadline):
    """The rule of the grader's Clock for runs of their own (Clock.training), here for three GANs in one run."""
    assert launcher.milestone_deadline(reached, 3, 6.0) == pytest.approx(deadline)


@needs_bwrap
def test_a_failed_start_is_a_grader_error(place):
    sb = box(place, wall_time=30)
    shutil.rmtree(place["data"])  # gone between the Sandbox and the run: bwrap cannot bind it
    outcome = sandbox.run(["true"], sb)
    assert not outcome.started and "bwrap could not build the sandbox" in outcome.error and "mnist" in outcome.error


@needs_bwrap
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_nothing_outlives_a_stopped_launcher(place, tmp_path, how):
    sb = box(place, wall_time=60)
    spec, outcome = tmp_path / "spec.json", tmp_path / "outcome.json"
    code = probe("start_processes", processes=5) + "\nimport time; time.sleep(60)"
    spec.write_text(json.dumps(sb.spec(outcome, command=[sb.layout.python, "-c", code])))
    process = subprocess.Popen([sys.executable, "-I", str(sandbox.LAUNCHER), str(spec)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(sleepers()) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(sleepers()) == 5
    process.send_signal(how)
    process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while sleepers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sleepers() == []
    if how == signal.SIGTERM:  # the launcher cleaned up and reported: the grader's stop, no fault of the code
        reported = json.loads(outcome.read_text())
        assert reported["killed_by_launcher"] == "SIGTERM" and reported["reason"] == ""


@needs_bwrap
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to switch to nobody")
def test_unprivileged_user_gets_rlimit_mode(tmp_path):
    """As nobody (no cgroup, no root), with the system Python: rlimits hold processes and memory."""
    system_python = "/usr/bin/python3"
    root = Path(__file__).resolve().parent.parent
    if not Path(system_python).exists() or not os.access(root, os.R_OK | os.X_OK):
        pytest.skip("needs /usr/bin/python3")
    work = Path(subprocess.check_output(["mktemp", "-d", "/tmp/gan-kit-nobody-XXXXXX"], text=True).strip())
    try:
        (work / "assignment").mkdir()
        os.chmod(work, 0o777)
        # A copy of the grading package nobody can read (the checkout may sit below a folder only root enters).
        kit = work / "kit"
        shutil.copytree(root / "grading", kit / "grading", ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(["chmod", "-R", "a+rX", str(kit)], check=True)
        code = f"""
import json, sys
sys.path.insert(0, {str(kit)!r})
from grading.instructor.confine import sandbox
from grading.instructor.confine.limits import Limits, MiB
sb = sandbox.Sandbox({str(work / "assignment")!r}, exports={str(work / "exports")!r},
                     limits=Limits(processes=32, memory=256 * MiB, wall_time=60), python={system_python!r})
results = {{}}
for name, code in {{"procs": {probe("start_processes", processes=200)!r},
                    "memory": {probe("allocate_memory", memory_cap=256 * MiB)!r}}}.items():
    outcome = sandbox.run([{system_python!r}, "-c", code], sb)
    results[name] = [outcome.mode, outcome.stdout.splitlines()[-1], outcome.data["leftover_processes"]]
print(json.dumps(results))
"""
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", system_python, "-I", "-c", code],
            capture_output=True, text=True, timeout=120, cwd=work,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        found = json.loads(result.stdout)
        procs = json.loads(found["procs"][1].removeprefix("GAN-KIT-PROBE "))
        memory = json.loads(found["memory"][1].removeprefix("GAN-KIT-PROBE "))
        assert found["procs"][0] == found["memory"][0] == "rlimit"
        assert procs["started"] < 32 and procs["error"] and found["procs"][2] == 0
        assert memory["result"] == "MemoryError"
        assert sleepers() == []
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- the kernel -----------------------------------------------------------------------------------
def execute(place, tmp_path, cells, monkeypatch, deadline=0.0, options=None, **limit_values):
    """Run `cells` with LimitedExecute in the sandbox's kernel: (notebook, observations, kernel outcome)."""
    limit_values.setdefault("wall_time", 300)
    kernel = sandbox.write_kernelspec(tmp_path / "jupyter", box(place, **limit_values), tmp_path / "kernel.json")
    monkeypatch.setenv("JUPYTER_PATH", str(kernel.jupyter_dir))
    config = Config()
    config.KernelManager.transport, config.KernelManager.ip = "ipc", kernel.ip
    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    execute = LimitedExecute(
        config=config, kernel_name=kernel.name, timeout=60, deadline=deadline,
        observations=str(tmp_path / "observations.json"), kernel_outcome=str(kernel.outcome),
        **(options or {}),
    )  # fmt: skip
    try:
        nb, _ = execute.preprocess(nb, {"metadata": {"path": str(place["assignment"])}, "unique_key": "probe"})
    finally:
        kernel.cleanup()
    observed = json.loads((tmp_path / "observations.json").read_text())["probe"]
    deadline_at = time.monotonic() + 10
    while not kernel.outcome.exists() and time.monotonic() < deadline_at:
        time.sleep(0.1)
    return nb, observed, json.loads(kernel.outcome.read_text())


@needs_bwrap
@pytest.mark.slow
def test_kernel_runs_confined_and_a_64_mb_line_is_cut_at_the_cap(place, tmp_path, monkeypatch):
    cells = ["import os, socket; print(socket.gethostname(), os.getcwd())", probe("long_line"), "1 + 1"]
    nb, observed, outcome = execute(place, tmp_path, cells, monkeypatch)
    assert nb.cells[0].outputs[0].text == "sandbox /assignment\n"
    texts = [o.text for o in nb.cells[1].outputs]
    assert len(texts[0].encode()) == MiB and texts[0].startswith("GAN-KIT-PROBE long_line xxx")
    assert texts[1:] == ["\n[output truncated at 1 MiB]\n"]
    assert nb.cells[2].outputs[0].data["text/plain"] == "2"
    assert observed["truncated"] == [{"cell": 1, "bytes_received": (64 << 20) + 25, "bytes_dropped": (63 << 20) + 25}]
    assert observed["stopped"] is None and observed["executed"] == 3
    assert outcome["started"] and outcome["reason"] == "" and outcome["leftover_processes"] == 0


@needs_bwrap
@pytest.mark.slow
def test_nbgraders_socket_links_cannot_be_redirected_by_the_kernel(place, tmp_path, monkeypatch):
    """The kernel swaps its socket for a link to a host socket: connections through the links still reach only it."""
    trap = socket.socket(socket.AF_UNIX)
    trap.bind(str(tmp_path / "host.sock"))  # a service on the grader's machine
    trap.listen(8)
    trap.settimeout(0.1)
    kernel = sandbox.write_kernelspec(tmp_path / "jupyter", box(place, wall_time=120), tmp_path / "kernel.json")
    monkeypatch.setenv("JUPYTER_PATH", str(kernel.jupyter_dir))
    host = str(tmp_path / "host.sock")
    swap = f"import os\nos.unlink('/run/jupyter/kernel-1')\nos.symlink({host!r}, '/run/jupyter/kernel-1')"
    nb = new_notebook(cells=[new_code_cell(swap), new_code_cell("import time\ntime.sleep(3)")])
    config = Config()
    config.KernelManager.transport, config.KernelManager.ip = "ipc", kernel.ip
    done, trapped, reached = threading.Event(), [], []

    def knock():  # what a reconnecting client would do, all through the run
        while not done.is_set():
            probe_socket = socket.socket(socket.AF_UNIX)
            try:
                probe_socket.connect(str(kernel.socket_dir / "kernel-1"))
                reached.append(os.stat(kernel.socket_dir / "kernel-1").st_ino)
            except OSError:
                pass
            finally:
                probe_socket.close()
            try:
                connection, _ = trap.accept()
                connection.close()
                trapped.append(True)
                return
            except TimeoutError:
                pass

    thread = threading.Thread(target=knock)
    thread.start()
    try:
        LimitedExecute(config=config, kernel_name=kernel.name, timeout=60).preprocess(nb, {"unique_key": "swap"})
    finally:
        done.set()
        thread.join(timeout=15)
        trap.close()
        kernel.cleanup()
    assert nb.cells[0].outputs == [] and reached  # the swap ran, and the links were used during the run
    assert trapped == [] and len(set(reached)) == 1  # always the kernel's own socket, never the host's


@needs_bwrap
@pytest.mark.slow
def test_the_whole_notebook_has_an_output_cap_too(place, tmp_path, monkeypatch):
    cells = ["print('a' * 700_000)"] * 2 + [
        "from IPython.display import display; display({'text/plain': 'x'}, raw=True)"
    ]
    options = {"max_output_bytes": MiB, "max_notebook_output_bytes": MiB}
    nb, observed, _ = execute(place, tmp_path, cells, monkeypatch, options=options)
    assert nb.cells[0].outputs[0].text == "a" * 700_000 + "\n"
    assert [len(o.text) for o in nb.cells[1].outputs] == [MiB - 700_001, 52]
    assert (
        nb.cells[1].outputs[1].text
        == nb.cells[2].outputs[0].text
        == "\n[output truncated at 1 MiB for the whole notebook]\n"
    )
    assert len(nb.cells[2].outputs) == 1 and observed["bytes_kept"] == MiB


@needs_bwrap
@pytest.mark.slow
def test_a_message_over_the_zeromq_cap_never_reaches_memory_and_stops_the_notebook(place, tmp_path, monkeypatch):
    cells = ["print('x' * (4 << 20))", "print('after')"]
    nb, observed, _ = execute(place, tmp_path, cells, monkeypatch, options={"max_message_bytes": 2 * MiB})
    lost = "the kernel's output stopped arriving (a message over 2 MiB is refused)"
    assert [(o.output_type, o.evalue) for o in nb.cells[0].outputs] == [("error", f"{lost} while this cell ran; "
                                                                         "the cells below were not run")]  # fmt: skip
    assert nb.cells[1].outputs[0].evalue == f"not run: {lost} in cell 0"
    assert observed["stopped"]["reason"] == "output_lost"


@needs_bwrap
@pytest.mark.slow
def test_a_dead_kernel_leaves_the_notebook_with_the_later_cells_not_run(place, tmp_path, monkeypatch):
    nb, observed, outcome = execute(place, tmp_path, ["x = 1", probe("kill_kernel"), "x + 1", "print(x)"], monkeypatch)
    died = nb.cells[1].outputs[-1]
    assert died.ename == "DeadKernelError" and died.evalue.startswith("the kernel died while this cell ran")
    for cell in nb.cells[2:]:
        assert [(o.output_type, o.ename, o.evalue) for o in cell.outputs] == [
            ("error", "NotRun", "not run: the kernel died in cell 1")
        ]
    assert observed["stopped"]["reason"] == "kernel_died" and observed["stopped"]["cell"] == 1
    assert outcome["signal"] == signal.SIGKILL


@needs_bwrap
@needs_cgroups
@pytest.mark.slow
def test_a_kernel_killed_by_the_memory_limit_says_so(place, tmp_path, monkeypatch):
    cells = [probe("allocate_memory", memory_cap=512 * MiB), "1 + 1"]
    nb, observed, outcome = execute(place, tmp_path, cells, monkeypatch, memory=512 * MiB)
    assert nb.cells[0].outputs[-1].evalue == (
        "the kernel died while this cell ran; the cells below were not run (memory limit (512 MiB) reached)"
    )
    assert outcome["limits_hit"] == ["memory"] and observed["stopped"]["reason"] == "kernel_died"


@needs_bwrap
@pytest.mark.slow
def test_the_deadline_stops_a_kernel_that_ignores_interrupts(place, tmp_path, monkeypatch):
    nb, observed, outcome = execute(place, tmp_path, [probe("busy_loop"), "1 + 1"], monkeypatch, deadline=3)
    assert nb.cells[0].outputs[-1].ename == "CellTimeoutError"
    assert nb.cells[1].outputs[0].evalue == "not run: the notebook's time limit (3 s) was reached in cell 0"
    assert observed["stopped"]["reason"] == "deadline"
    assert outcome["leftover_processes"] == 0


@needs_bwrap
@pytest.mark.slow
def test_nbgrader_autograde_runs_in_the_sandbox_with_the_kits_config(tmp_path, monkeypatch):
    """The kit's nbgrader_config.py, a tiny course, and `nbgrader autograde` with Kernel.nbgrader_args()."""
    monkeypatch.setenv("GAN_KIT_PROBE_SECRET", "token-5c9a7b")

    def meta(grade_id, points=0, solution=False, grade=False):
        return {"nbgrader": {"grade_id": grade_id, "grade": grade, "solution": solution, "locked": not solution,
                             "points": points, "schema_version": 3, "task": False}}  # fmt: skip

    cells = [
        new_code_cell("import socket\nhost = socket.gethostname()", metadata=meta("setup")),
        new_code_cell("assert host == 'sandbox'", metadata=meta("test_host", 1, grade=True)),
        new_code_cell("### BEGIN SOLUTION\nanswer = 1\n### END SOLUTION", metadata=meta("answer", solution=True)),
        new_code_cell("assert answer == 1", metadata=meta("test_answer", 1, grade=True)),
        new_markdown_cell("YOUR ANSWER HERE", metadata=meta("essay", 1, solution=True, grade=True)),
        new_code_cell("### BEGIN SOLUTION\npass\n### END SOLUTION", metadata=meta("crash", solution=True)),
        new_code_cell("assert True", metadata=meta("test_unrun", 1, grade=True)),
    ]
    course = tmp_path / "course"
    (course / "source" / "GANs-PyTorch").mkdir(parents=True)
    shutil.copy(NBGRADER_CONFIG, course / "nbgrader_config.py")
    nbformat.write(new_notebook(cells=cells), course / "source" / "GANs-PyTorch" / "GANs-PyTorch.ipynb")
    db = f"--db=sqlite:///{course / 'gradebook.db'}"
    nbgrader(course, "generate_assignment", "GANs-PyTorch", "--force", db, timeout=300)
    submitted = nbformat.read(course / "release" / "GANs-PyTorch" / "GANs-PyTorch.ipynb", as_version=4)
    submitted.cells[2].source = "\n".join(
        ["answer = 1", probe("active_output"), probe("host_paths"), probe("long_line")]
    )
    submitted.cells[4].source = "<script>alert(1)</script> see [this](javascript:alert(1)) token-5c9a7b"
    submitted.cells[5].source = probe("kill_kernel")
    (course / "submitted" / "alice" / "GANs-PyTorch").mkdir(parents=True)
    nbformat.write(submitted, course / "submitted" / "alice" / "GANs-PyTorch" / "GANs-PyTorch.ipynb")

    folder = course / "autograded" / "alice" / "GANs-PyTorch"
    folder.mkdir(parents=True)
    sb = sandbox.Sandbox(folder, exports=tmp_path / "exports", limits=Limits(wall_time=300))
    kernel = sandbox.write_kernelspec(tmp_path / "kernels" / "alice", sb, tmp_path / "kernel-outcome.json")
    monkeypatch.setenv("JUPYTER_PATH", str(kernel.jupyter_dir))
    observations = tmp_path / "observations.json"
    args = [*kernel.nbgrader_args(), f"--LimitedExecute.observations={observations}"]
    args += [f"--LimitedExecute.kernel_outcome={kernel.outcome}", "--LimitedExecute.deadline=240"]
    try:
        result = nbgrader(course, "autograde", "GANs-PyTorch", "--student=alice", "--force", db, *args, timeout=600)
    finally:
        kernel.cleanup()
    assert result.returncode == 0, result.stdout + result.stderr

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        grades = {g.name: g.auto_score for g in gradebook.find_submission("GANs-PyTorch", "alice").notebooks[0].grades}
    # no test cell is scored by its outputs in the kernel: only the judge's verdicts score (none given here)
    assert [grades[g] for g in ("test_host", "test_answer", "test_unrun")] == [None, None, None]

    graded = (folder / "GANs-PyTorch.ipynb").read_text()
    notebook = nbformat.reads(graded, as_version=4)
    failed = [any(output.output_type == "error" for output in cell.get("outputs", [])) for cell in notebook.cells]
    assert (failed[1], failed[3], failed[6]) == (False, False, True)  # in the sandbox; its answer; never reached
    mimetypes = {m for cell in notebook.cells for o in cell.get("outputs", []) for m in o.get("data", {})}
    assert mimetypes <= {"text/plain", "image/png", "image/jpeg"}
    assert "<script" not in notebook.cells[4].source and "](javascript" not in notebook.cells[4].source
    assert "[output truncated at 1 MiB]" in graded and len(graded) < 3 * MiB
    assert "<COURSE>/autograded/alice/GANs-PyTorch /assignment" in graded  # mountinfo, scrubbed
    assert str(tmp_path) not in graded and str(Path.home()) not in graded and sys.prefix not in graded
    assert "token-5c9a7b" not in json.dumps([c.get("outputs") for c in notebook.cells])
    assert json.loads(observations.read_text())["GANs-PyTorch"]["stopped"]["reason"] == "kernel_died"

    feedback = nbgrader(course, "generate_feedback", "GANs-PyTorch", "--student=alice", "--force", db, timeout=300)
    assert feedback.returncode == 0, feedback.stdout + feedback.stderr
    html = (course / "feedback" / "alice" / "GANs-PyTorch" / "GANs-PyTorch.html").read_text()
    assert "&lt;IPython.core.display.Javascript object&gt;" in html and "text/markdown output not shown" in html
    for active in ["document.title='GAN-KIT-PROBE-XSS'</script>", "<img src=x", "<script>alert(1)", 'href="javascript']:
        assert active not in html  # only escaped, in the cell's source


# -- the passes on their own (no kernel) --------------------------------------------------------
@pytest.mark.parametrize(
    "source, expected",
    [
        ("<script>alert(1)</script>", "< script>alert(1)< /script>"),
        ("<img src=x onerror=alert(1)>", "< img src=x onerror=alert(1)>"),
        ("<!-- x --> <?php ?> <http://a>", "< !-- x --> < ?php ?> < http://a>"),
        ("[x](javascript:alert(1))", "[x]\\(javascript:alert(1))"),
        ("[x]( JaVa\tScRiPt:alert(1))", "[x]\\( JaVa\tScRiPt:alert(1))"),
        ("[x](java\\script:alert(1))", "[x]\\(java\\script:alert(1))"),
        ("![i](data:image/svg+xml;base64,AAAA)", "![i]\\(data:image/svg+xml;base64,AAAA)"),
        ("[x]: vbscript:msgbox\n\n[x]", "\\[x]: vbscript:msgbox\n\n[x]"),
        ("[x](jav&#x61;script:1) &amp; &lt;", "[x](jav&amp;#x61;script:1) &amp;amp; &amp;lt;"),
        ("[ok](https://cs231n.github.io) and [mail](mailto:a@b.c) and ![a](attachment:a.png)", None),
        ("$a < b$ and $p<q$ and x &= y", "$a < b$ and $p< q$ and x &= y"),
    ],
)
def test_markdown_is_made_inert(source, expected):
    assert inert_markdown(source) == (source if expected is None else expected)


def test_the_courses_own_markdown_is_left_as_it_is():
    markdown = [c.source for c in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells if c.cell_type == "markdown"]
    assert markdown and [inert_markdown(source) for source in markdown] == markdown


def test_outputs_keep_only_text_and_real_images():
    html = new_output("display_data", data={"text/html": "<script>x</script>", "application/javascript": "x"})
    assert clean_output(html).data == {"text/plain": "[application/javascript, text/html output not shown]"}
    image = new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"},
                       metadata={"image/png": {"width": 10, "height": "1 onerror=alert(1)"}})  # fmt: skip
    kept = clean_output(image)
    assert kept.data == {"image/png": PNG, "text/plain": "<Figure>"} and kept.metadata == {"image/png": {"width": 10}}
    fake = new_output(
        "display_data", data={"image/png": "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "image/svg+xml": "<svg/>"}
    )
    assert clean_output(fake).data == {"text/plain": "[image/png, image/svg+xml output not shown]"}
    assert clean_output({"output_type": "stream", "name": "<b>", "text": ["a", "b"]}) == {
        "output_type": "stream", "name": "stdout", "text": "ab"
    }  # fmt: skip
    result = clean_output({"output_type": "execute_result", "execution_count": "<x>", "data": {"text/plain": "1"}})
    assert result.execution_count is None
    assert clean_output({"output_type": "unknown"}) is None


def test_notebook_metadata_raw_cells_and_attachments_are_cleaned():
    nb = new_notebook(
        cells=[
            new_raw_cell("<script>alert(1)</script>", metadata={"raw_mimetype": "text/html"}),
            new_markdown_cell(
                "![a](attachment:a.png)",
                attachments={"a.png": {"image/png": PNG}, "b.svg": {"image/svg+xml": "<svg/>"}},
            ),
            new_code_cell("1", metadata={"tags": ["ok-tag", '"><script>']}),
        ],
        metadata={
            "widgets": {"state": {}},
            "title": "</title><script>",
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
        },
    )
    nb, _ = SanitizeNotebook().preprocess(nb, {})
    assert nb.cells[0].source == "&lt;script&gt;alert(1)&lt;/script&gt;" and "raw_mimetype" not in nb.cells[0].metadata
    assert nb.cells[1].attachments == {"a.png": {"image/png": PNG}}
    assert nb.cells[2].metadata.tags == ["ok-tag", "script"]
    assert nb.metadata == {"kernelspec": {"name": "python3", "display_name": "Python 3"}}


def test_scrubber_hides_grader_paths_host_name_and_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GAN_KIT_PROBE_TOKEN", "token-3e4f5a6b")
    monkeypatch.chdir(tmp_path)
    host = socket.gethostname()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # the sandbox gets it anyway: kept
    text = f"{Path.home()}/x {sys.prefix}/lib {tmp_path}/gradebook.db token-3e4f5a6b on {host}; schost{host}"
    text += " token-3e4f5a6bc autograde autograded"
    outputs = [
        new_output("stream", name="stdout", text=text),
        new_output("error", ename="E", evalue=text, traceback=[text]),
    ]
    nb = new_notebook(cells=[new_code_cell("", outputs=outputs)])
    scrubber = ScrubHostDetails(paths=[str(tmp_path / "nothing")])
    nb, _ = scrubber.preprocess(nb, {})
    cleaned = nb.cells[0].outputs[0].text
    assert str(Path.home()) not in cleaned and sys.prefix not in cleaned and str(tmp_path) not in cleaned
    assert (
        "token-3e4f5a6b " not in cleaned and "<$GAN_KIT_PROBE_TOKEN>" in cleaned and "<COURSE>/gradebook.db" in cleaned
    )
    assert cleaned.endswith(" token-3e4f5a6bc autograde autograded")  # whole words and names only
    assert nb.cells[0].outputs[1].evalue == cleaned and nb.cells[0].outputs[1].traceback == [cleaned]
    if len(host) >= 3:
        assert "on <HOST>;" in cleaned and f"schost{host}" in cleaned  # whole words only


def test_text_is_cut_on_a_character_boundary():
    assert cut_text("é" * 10, 5) == "éé" and cut_text("abc", 0) == "" and cut_text("abc", 10) == "abc"
    assert re.fullmatch(r"x{10}", cut_text("x" * 20, 10))


@needs_bwrap
def test_overhead_tool_times_each_command_both_ways(monkeypatch, capsys):
    from grading.instructor.confine import sandbox_overhead

    monkeypatch.setattr(sandbox_overhead, "COMMANDS", {"python -c pass": "pass", "import torch": "import sys"})
    results = sandbox_overhead.measure(repeat=1, log=None)
    assert set(results) == {"python -c pass", "import torch"}
    assert all(plain > 0 and boxed > 0 for plain, boxed in results.values())
    monkeypatch.setattr(sandbox_overhead, "measure", lambda repeat, log: results)
    sandbox_overhead.main([])
    added = results["import torch"][1] - results["import torch"][0]
    assert f"per submission (3 sandboxed runs of student code): about {3 * added:+.1f} s" in capsys.readouterr().out
