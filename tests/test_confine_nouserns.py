"""The uid mode: confinement where bubblewrap cannot create namespaces (Gradescope, Docker, Kubernetes).

The machine's refusal is played by tests/nouserns.py (Docker's default seccomp refusals of unshare, setns,
mount and clone with CLONE_NEW* flags, Docker's capability set) inside a bubblewrap mount namespace that
shows the Python installation readable by every user (as Gradescope's /autograder/venv and /usr are).
There bwrap fails with "No permissions to create new namespace", the kit picks the uid mode by itself,
and the probes of tests/probes/ (tests/confine_probes.py) are refused or bounded; Gradescope's
run_autograder grades the reference (with a probe appended) on an /autograder-shaped folder.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grading.instructor.confine import launcher, sandbox
from grading.instructor.outputs import gradescope

sys.path.insert(0, str(Path(__file__).parent))
import confine_probes  # noqa: E402
import nouserns  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
needs_root = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0 or os.uname().machine != "x86_64"
    or not shutil.which("bwrap") or not shutil.which("setpriv"),
    reason="needs root on x86_64 Linux with bwrap and setpriv (to play a container without user namespaces)",
)  # fmt: skip


def inside(code, timeout=300):
    """Run Python `code` (with the kit importable) where user namespaces are refused; its stdout."""
    argv = nouserns.outer([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{code}"],
                          sandbox.python_folders())  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# -- no namespaces needed ------------------------------------------------------------------------
def test_the_uid_mode_says_how_it_holds_each_limit():
    from grading.instructor.confine import limits

    said = limits.enforcement("rlimit", "uid")
    assert set(said) == set(limits.enforcement("rlimit")) and "own user id" in said["processes"]
    assert "0.25 s" in said["tmp"] and "RLIMIT_DATA" in said["memory"]


def test_translate_maps_sandbox_paths_and_leaves_the_rest():
    mapping = {"/exports": "/tmp/run/exports", "/opt/venv": "/srv/venv", "/opt/venv/lib": "/elsewhere"}
    assert launcher.translate("/opt/venv/bin:/usr/bin:/exports", mapping) == "/srv/venv/bin:/usr/bin:/tmp/run/exports"
    assert launcher.translate("/opt/venv/lib/x", mapping) == "/elsewhere/x"  # the longest match
    assert launcher.translate("/exportsX/a", mapping) == "/exportsX/a"
    assert launcher.translate("a:/exports/b", mapping, split=False) == "a:/exports/b"


def test_protect_makes_folders_owner_only_but_keeps_the_way_to_python(tmp_path):
    (tmp_path / "top" / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "top" / "source" / "grading").mkdir(parents=True)
    (tmp_path / "top" / "results.json").write_text("{}")
    for path in (tmp_path / "top", tmp_path / "top" / "venv", tmp_path / "top" / "source"):
        path.chmod(0o755)
    sandbox.protect(tmp_path / "top", keep=[tmp_path / "top" / "venv"])
    mode = {p: (tmp_path / "top" / p).stat().st_mode & 0o777 for p in ("", "venv", "source", "results.json")}
    assert mode == {"": 0o711, "venv": 0o755, "source": 0o700, "results.json": 0o600}
    sandbox.protect(None)  # nothing to protect (no submissions folder)


def test_disk_usage_counts_what_is_below_and_too_many_entries_as_full(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.bin").write_bytes(b"x" * 100_000)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert 100_000 <= launcher.disk_usage(fd) < 200_000
        monkeypatch.setattr(launcher, "MAX_ENTRIES", 1)  # two entries: a large file could hide behind many small
        assert launcher.disk_usage(fd) == launcher.FULL
    finally:
        os.close(fd)


@needs_root
def test_kill_uid_kills_every_process_of_the_user_and_counts_them():
    uid = launcher.UID_BASE + launcher.UID_SPAN - 2
    sleepers = [subprocess.Popen(["sleep", "60"], user=uid, group=uid, extra_groups=[]) for _ in range(3)]
    deadline = time.monotonic() + 10
    while len(launcher.uid_pids(uid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert launcher.kill_uid(uid) == 3
    assert [p.wait(timeout=10) for p in sleepers] == [-signal.SIGKILL] * 3 and launcher.uid_pids(uid) == set()


@needs_root
def test_sweep_kills_the_processes_of_a_run_whose_launcher_is_gone():
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid no launcher has now
    uid = launcher.UID_BASE + gone.pid
    sleeper = subprocess.Popen(["sleep", "60"], user=uid, group=uid, extra_groups=[])
    try:
        assert uid in launcher.sweep_orphans()
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
    finally:
        sleeper.kill()


# -- where user namespaces are refused -----------------------------------------------------------
@needs_root
def test_bubblewrap_fails_there_and_the_kit_picks_the_uid_mode():
    out = inside("import json; from grading.instructor.confine import sandbox; print(json.dumps(sandbox.choose()))")
    mode, why = json.loads(out.strip().splitlines()[-1])
    assert mode == "uid" and "No permissions to create new namespace" in why
    assert sandbox.choose()[0] == "bwrap"  # here, outside, bubblewrap still works (the bubblewrap mode's tests)


CONFINED = [name for name in confine_probes.CASES if name not in ("connect_localhost", "proc")]


@needs_root
def test_probes_are_refused_or_bounded_in_the_uid_mode():
    rows = {row["probe"]: row for row in confine_probes.uid_rows(list(confine_probes.CASES))}
    failed = {name: rows[name]["result"] for name in CONFINED if not rows[name]["ok"]}
    assert failed == {}
    assert "0 of 6 secrets" in rows["read_canaries"]["result"] and "0 alive" in rows["start_processes"]["result"]
    assert "mechanism rlimit" in rows["allocate_memory"]["result"]  # Docker's read-only cgroups: rlimits only
    # What the mode cannot confine, as the README and every row's note say:
    assert rows["connect_localhost"]["result"].startswith("connected") and not rows["proc"]["ok"]
    assert "network" in sandbox.UID_NOTE and "/proc" in sandbox.UID_NOTE


@needs_root
def test_a_kernel_runs_as_the_runs_user_over_its_sockets(tmp_path):
    """nbclient drives a sandboxed kernel in the uid mode: code runs, as another user, in the run's folder."""
    code = f"""
import json, os
from pathlib import Path
import nbformat
from jupyter_client import KernelManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook
from grading.instructor.confine import sandbox
from grading.instructor.confine.limits import Limits
top = Path({str(tmp_path)!r}) / "place"
(top / "a").mkdir(parents=True)
box = sandbox.Sandbox(top / "a", exports=top / "e", limits=Limits(wall_time=120))
kernel = sandbox.write_kernelspec(top / "jupyter", box, top / "kernel.outcome.json")
os.environ["JUPYTER_PATH"] = str(kernel.jupyter_dir)
nb = new_notebook(cells=[new_code_cell("import os; print(os.getuid(), os.getcwd().endswith('/assignment'))")])
km = KernelManager(**kernel.kernel_manager_options())
NotebookClient(nb, timeout=60, startup_timeout=60, km=km).execute()
km.shutdown_kernel()  # nbclient leaves a kernel manager it was given running
kernel.cleanup()
import time
deadline = time.monotonic() + 20
while not kernel.outcome.exists() and time.monotonic() < deadline:
    time.sleep(0.1)
print(json.dumps({{"mode": box.mode, "out": nb.cells[0].outputs[0]["text"],
                  "outcome": json.loads(kernel.outcome.read_text())["confinement"]}}))
"""
    tmp_path.chmod(0o700)
    found = json.loads(inside(code).strip().splitlines()[-1])
    uid, in_assignment = found["out"].split()
    assert found["mode"] == found["outcome"] == "uid" and int(uid) >= launcher.UID_BASE and in_assignment == "True"


PROBE_GAN = """

# -- a probe appended to the reference: it must learn nothing and change nothing --
import json as _probe_json
import os as _probe_os

_probe_found = {{"readable": [], "changed": []}}
for _probe_path in {secrets!r}:
    try:
        with open(_probe_path, "rb") as _probe_file:
            _probe_found["readable"].append([_probe_path, _probe_file.read(40).decode(errors="replace")])
    except OSError:
        pass
for _probe_path in {writable!r}:
    try:
        with open(_probe_path, "w") as _probe_file:
            _probe_file.write('{{"score": 1000, "tests": []}}')
        _probe_found["changed"].append(_probe_path)
    except OSError:
        pass
print("GAN-KIT-PROBE " + _probe_json.dumps(_probe_found), flush=True)
for _probe_number in range(3):  # detached sleepers: none may outlive the run
    if _probe_os.fork() == 0:
        try:
            _probe_os.setsid()
            _probe_os.execv("/bin/sleep", ["gan-kit-probe-sleeper", "300"])
        finally:
            _probe_os._exit(1)
try:  # 80 MiB, past the 64 MiB file size limit: cut, and the row says so
    with open(_probe_os.path.join(_probe_os.environ["GAN_KIT_EXPORTS"], "big.bin"), "wb") as _probe_file:
        for _probe_number in range(80):
            _probe_file.write(bytes(1 << 20))
except OSError:
    pass
"""


@needs_root
@pytest.mark.slow
def test_run_autograder_in_the_uid_mode_grades_the_reference_and_refuses_its_probe(tmp_path, mnist_real, request):
    """Gradescope's run_autograder where namespaces are refused: the reference (with a probe that reads the
    solution and the metadata, writes results.json, leaves detached processes and writes a file past the size
    limit) earns its points, each test in the rubric's order with the judge's sentence; the probe gets nothing, and
    the limit it hit is in the output. (tests/test_gradescope.py grades the release with bubblewrap.)"""
    import jsonschema
    from test_gradescope import AUTOGRADED, META, SCHEMA, container

    from grading.course.items import TITLES
    from grading.instructor.judging.judge import QUALITY_ITEMS
    from grading.kit import SOLUTION_GAN
    from grading.ta.examples import answered_notebook

    autograder = gradescope.build(tmp_path / "autograder.zip", budget="smoke", threads=1)
    top = Path(tempfile.mkdtemp(prefix="gan-kit-gradescope-"))
    top.chmod(0o755)  # every user may enter, as /autograder's parent: the uid mode must keep the grader's files
    request.addfinalizer(lambda: shutil.rmtree(top, ignore_errors=True))
    root = top / "autograder"
    secrets = [root / "source" / "grading" / "course" / "solution" / "gan.py", root / "source" / "gan.py"]
    secrets += [root / "submission_metadata.json", root / "grading" / "course" / "gradebook.db"]
    writable = [root / "results" / "results.json", root / "results" / "forged.json"]
    probe = PROBE_GAN.format(secrets=[str(p) for p in secrets], writable=[str(p) for p in writable])
    gan = SOLUTION_GAN.read_text() + probe
    assert container(top, autograder, gan, answered_notebook(), META) == root
    env = {"GAN_KIT_PYTHON": sys.executable, "GAN_KIT_AUTOGRADER_ROOT": str(root), "MNIST_ROOT": str(mnist_real)}
    code = (
        f"import os, subprocess; os.environ.update({env!r})\n"
        f"script = {str(root / 'source' / 'run_autograder')!r}\n"
        "done = subprocess.run(['bash', script], capture_output=True, text=True)\n"
        "print(done.returncode); print(done.stderr[-3000:])"
    )
    out = inside(code, timeout=1500)
    assert out.splitlines()[0] == "0", out
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    tests = {test["name"]: test for test in results["tests"]}
    assert list(tests) == [TITLES[grade_id] for grade_id in AUTOGRADED]  # hand-graded items are not in it
    for grade_id in AUTOGRADED:
        test = tests[TITLES[grade_id]]
        quality = grade_id in QUALITY_ITEMS  # Inline Questions 1-3 fail at the smoke budget
        assert test["score"] == (0 if quality else test["max_score"]) and test["output"].endswith(".")
        assert test["status"] == ("failed" if quality else "passed")
    assert "recognizable" in tests[TITLES["test_inline_q1"]]["output"]  # the judge's sentence, with its metrics
    assert results["score"] == len(AUTOGRADED) - 3, results
    assert results["output"].startswith("Sandbox: confined without user namespaces") and "network" in results["output"]
    assert "- the grader's run of gan.py's functions: file size limit (64 MiB) reached" in results["output"]
    assert confine_probes.sleepers(run_users=True) == []  # the probe's detached processes died with each run
    logs = {p.name: p.read_text() for p in (root / "grading" / "work").glob("*/*.log")}
    reports = {name: [json.loads(line.removeprefix("GAN-KIT-PROBE ")) for line in log.splitlines()
                      if line.startswith("GAN-KIT-PROBE {")] for name, log in logs.items()}  # fmt: skip
    for name in ("functions.log", "training.log"):  # the export, then the training run
        assert reports.get(name), (name, sorted(logs))
    assert all(r == {"readable": [], "changed": []} for rs in reports.values() for r in rs), reports
    assert not (root / "results" / "forged.json").exists()
    stranger = launcher.UID_BASE + launcher.UID_SPAN - 3  # any other user: the modes the grader left keep it out
    for command in (["cat", str(secrets[0])], ["cat", str(writable[0])], ["touch", str(writable[1])]):
        assert subprocess.run(command, user=stranger, group=stranger, extra_groups=[], capture_output=True).returncode
    assert run_users() == [] and not [p for p in os.listdir("/tmp") if p.startswith("gan-kit-uid-")]


def test_milestones_share_the_wall_time_and_ask_where_a_hang_is_in_the_uid_mode():
    """As tests/test_sandbox.py checks with bubblewrap: the run's processes are found by their user id. The second
    run's exports are seeded with the first's, folders in folders, given to the run's user (the uid mode once failed
    to start there: it changed their owners after closing the folders it had walked)."""
    code = (
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "import confine_probes\n"
        "place = confine_probes.Place('uid', 'off')\n"
        "try:\n"
        "    confine_probes.check_milestone_run(confine_probes.milestone_run(place), place.exports)\n"
        "    run, horizon = confine_probes.UNASKED_RUN, confine_probes.UNASKED_HORIZON\n"
        "    confine_probes.check_unasked_run(confine_probes.milestone_run(place, run, horizon))\n"
        "finally:\n"
        "    place.remove()\n"
        "print('checked')\n"
    )
    assert inside(code, timeout=120).strip().splitlines()[-1] == "checked"
    assert run_users() == []


def run_users():
    """User ids of the uid mode's runs that still have processes on this machine."""
    found = set()
    for entry in os.listdir("/proc"):
        try:
            uid = int(Path(f"/proc/{entry}/status").read_text().split("Uid:")[1].split()[0])
        except (OSError, IndexError, ValueError):
            continue
        if launcher.UID_BASE <= uid < launcher.UID_BASE + launcher.UID_SPAN:
            found.add(uid)
    return sorted(found)


STOPPED = """
import json, os, signal, subprocess, sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from confine_probes import Place, probe, sleepers
from grading.instructor.confine import launcher, sandbox
place = Place("uid", "off")
sb = place.box(wall_time=60)
spec, outcome = place.top / "spec.json", place.top / "outcome.json"
code = probe("start_processes", processes=5) + "\\nimport time; time.sleep(60)"
spec.write_text(json.dumps(sb.spec(outcome, command=[sb.layout.python, "-c", code])))
process = subprocess.Popen([sys.executable, "-I", str(sandbox.LAUNCHER), str(spec)], stdout=subprocess.DEVNULL)
deadline = time.monotonic() + 30
while len(sleepers(run_users=True)) < 5 and time.monotonic() < deadline:
    time.sleep(0.1)
started = len(sleepers(run_users=True))
process.send_signal({how})
process.wait(timeout=30)
time.sleep(1)
after_stop = len(sleepers(run_users=True))
left = [p.name for p in Path("/tmp").glob("gan-kit-uid-*") if p.stat().st_gid == launcher.UID_BASE + process.pid]
swept = launcher.sweep_orphans()
time.sleep(0.5)
left_after = [p.name for p in Path("/tmp").glob("gan-kit-uid-*") if p.stat().st_gid == launcher.UID_BASE + process.pid]
reported = json.loads(outcome.read_text()) if outcome.exists() else None
after_sweep = len(sleepers(run_users=True))
print(json.dumps({{"started": started, "after_stop": after_stop, "after_sweep": after_sweep, "swept": swept,
                  "folders": [len(left), len(left_after)],
                  "reported": reported and [reported["killed_by_launcher"], reported["reason"]]}}))
place.remove()
"""


@needs_root
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_nothing_outlives_a_stopped_uid_launcher(how):
    found = json.loads(inside(STOPPED.format(tests=str(HERE), how=int(how))).strip().splitlines()[-1])
    assert found["started"] == 5 and found["after_sweep"] == 0
    if how == signal.SIGTERM:  # the launcher killed its user's processes itself and reported a clean stop
        assert found["after_stop"] == 0 and found["reported"] == ["SIGTERM", ""] and found["folders"] == [0, 0]
    else:  # SIGKILL: its detached processes live on until the next launcher (or a sweep) kills them
        assert found["reported"] is None and len(found["swept"]) == 1 and found["folders"] == [1, 0]


def test_every_row_and_results_json_say_what_the_uid_mode_cannot_confine():
    from grading.instructor.autograde import graded_items, row_reason

    items = graded_items()
    result = {"scores": {g: p for g, p, _ in items}, "messages": {}, "reason": "", "confinement_note": sandbox.UID_NOTE}
    assert row_reason(result, items) == sandbox.UID_NOTE
    output = gradescope.results_json(result, items, "visible", 1)["output"]
    assert output == f"Sandbox: {sandbox.UID_NOTE}."
    result["reason"] = "a note"
    assert gradescope.results_json(result, items, "visible", 1)["output"].endswith("Notes from the grader:\n- a note")
    assert row_reason({**result, "confinement_note": ""}, items) == "a note"  # bubblewrap: no note


KERNEL_DEADLINE = """
import json, time
from pathlib import Path
import nbformat
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config
from grading.course.preprocessors.limited_execute import LimitedExecute
from grading.instructor.confine import sandbox
from grading.instructor.confine.limits import Limits
sys.path.insert(0, {tests!r})
from confine_probes import probe, sleepers
top = Path({top!r})
(top / "a").mkdir(parents=True)
box = sandbox.Sandbox(top / "a", exports=top / "e", limits=Limits(wall_time=120))
kernel = sandbox.write_kernelspec(top / "jupyter", box, top / "kernel.outcome.json")
import os
os.environ["JUPYTER_PATH"] = str(kernel.jupyter_dir)
config = Config()
config.KernelManager.transport, config.KernelManager.ip = "ipc", kernel.ip
cells = [probe("start_processes", processes=3), probe("busy_loop"), "1 + 1"]
nb = new_notebook(cells=[new_code_cell(source) for source in cells])
execute = LimitedExecute(config=config, kernel_name=kernel.name, timeout=60, deadline=5,
                         observations=str(top / "observations.json"), kernel_outcome=str(kernel.outcome))
start = time.monotonic()
try:
    nb, _ = execute.preprocess(nb, {{"metadata": {{"path": str(top / "a")}}, "unique_key": "probe"}})
finally:
    kernel.cleanup()
seconds = time.monotonic() - start
deadline = time.monotonic() + 20
while not kernel.outcome.exists() and time.monotonic() < deadline:
    time.sleep(0.1)
outcome = json.loads(kernel.outcome.read_text())
print(json.dumps({{"seconds": seconds, "stop": json.loads((top / "observations.json").read_text())["probe"],
                  "not_run": nb.cells[2].outputs[0].evalue,
                  "confinement": outcome["confinement"], "sleepers": len(sleepers(run_users=True))}}))
"""


@needs_root
@pytest.mark.slow
def test_the_deadline_stops_a_uid_kernel_that_ignores_interrupts_and_its_processes(tmp_path):
    tmp_path.chmod(0o700)
    code = "import sys\n" + KERNEL_DEADLINE.format(tests=str(HERE), top=str(tmp_path / "place"))
    found = json.loads(inside(code).strip().splitlines()[-1])
    assert found["confinement"] == "uid" and found["seconds"] < 60 and found["sleepers"] == 0
    assert found["stop"]["stopped"]["reason"] == "deadline" and found["not_run"].startswith("not run: the notebook's")
