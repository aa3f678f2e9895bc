"""Autograde pass: nbgrader's Execute, with a byte cap per cell, a deadline, and a notebook that survives.

nbgrader 0.9.6 runs Execute inside `nbgrader autograde`; when a preprocessor raises (the kernel died,
a cell could not be interrupted), nbgrader deletes that student's autograded notebook and saves no
grades. Its LimitOutput counts lines, after the fact: one 64 MB line reaches the notebook whole.
This subclass, used in Execute's place:

- caps the bytes of output each cell keeps while the kernel's messages stream in (`max_output_bytes`,
  and `max_notebook_output_bytes` for all cells together):
  text is cut at the cap, later outputs are dropped, errors are always kept (shortened), and the cell
  ends with one note such as "[output truncated at 1 MiB]" (on stderr as well when stderr text was
  dropped, so a test cell that wrote to stderr still counts as failed);
- refuses kernel messages larger than `max_message_bytes` at the ZeroMQ socket, so one huge message
  cannot exhaust the grader's memory (ZeroMQ drops it with the connection, which does not come
  back: the notebook stops there, as below);
- ignores widget (comm) messages: their state would otherwise be written into the notebook;
- stops at a per-notebook `deadline`: no cell runs longer than the time left, and none starts after it;
- when the kernel dies, stays busy after an interrupt, or its output channel is lost, records an
  error on that cell, marks every
  later code cell as not run (with an error output, so no test cell passes unrun), and returns the
  notebook, so nbgrader writes it and its grades;
- writes what it observed (truncations, where it stopped and why) to `observations`, a JSON file the
  grader reads, and quotes the sandbox launcher's outcome (`kernel_outcome`) in the dead kernel's error.
"""

import json
import time
from pathlib import Path

import zmq
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Float, Integer, List, Unicode, default

from grading.course.part2 import NOTEBOOK as PART2_NOTEBOOK

NOT_RUN = "NotRun"
MAX_ERROR_TEXT = 2000  # characters of an error's value, and of each traceback line
MAX_TRACEBACK_LINES = 100


def describe(size):
    for unit, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} bytes"


def payload_size(msg_type, content):
    """Bytes of output a kernel message would add to a cell (0 for messages that add none)."""
    if msg_type == "stream":
        return len(str(content.get("text", "")).encode("utf-8", "surrogatepass"))
    if msg_type in ("display_data", "execute_result", "update_display_data"):
        data = content.get("data") or {}
        size = sum(
            len(v.encode("utf-8", "surrogatepass")) if isinstance(v, str) else len(json.dumps(v)) for v in data.values()
        )
        return size + len(json.dumps(content.get("metadata") or {}))
    if msg_type == "error":
        return sum(
            len(str(part)) for part in [content.get("ename"), content.get("evalue"), *content.get("traceback", [])]
        )
    return 0


def cut_text(text, limit):
    """The longest prefix of `text` whose UTF-8 encoding fits in `limit` bytes."""
    return text.encode("utf-8", "surrogatepass")[: max(limit, 0)].decode("utf-8", "ignore")


def shorten_error(content):
    """An error's content bounded in size (errors are always kept: they decide a test cell's grade)."""
    traceback = [cut_text(str(line), MAX_ERROR_TEXT) for line in content.get("traceback", [])]
    if len(traceback) > MAX_TRACEBACK_LINES:
        half = MAX_TRACEBACK_LINES // 2
        traceback = traceback[:half] + ["... traceback shortened ..."] + traceback[-half:]
    return dict(
        content,
        ename=cut_text(str(content.get("ename", "Error")), 200),
        evalue=cut_text(str(content.get("evalue", "")), MAX_ERROR_TEXT),
        traceback=traceback,
    )


class LimitedExecute(Execute):
    max_output_bytes = Integer(
        1 << 20, help="Bytes of output a cell keeps (text cut, later outputs dropped; errors always kept)"
    ).tag(config=True)
    max_notebook_output_bytes = Integer(
        32 << 20, help="Bytes of output the whole notebook keeps (a student may add many cells)"
    ).tag(config=True)
    max_message_bytes = Integer(
        128 << 20, help="Largest kernel message accepted (ZMQ_MAXMSGSIZE); ZeroMQ drops larger ones"
    ).tag(config=True)
    deadline = Float(0.0, help="Seconds the whole notebook may run (0: no deadline besides Execute.timeout)").tag(
        config=True
    )
    observations = Unicode("", help="JSON file (grader-only) this pass writes what it observed to").tag(config=True)
    kernel_outcome = Unicode(
        "", help="The sandbox launcher's outcome JSON, quoted in the error of a cell whose kernel died"
    ).tag(config=True)

    unexecuted = List(
        Unicode(), [PART2_NOTEBOOK],
        help="Notebooks (names) never run: their submitted outputs are kept, within the same byte limits",
    ).tag(config=True)  # fmt: skip

    @default("timeout_func")
    def _default_timeout_func(self):
        return self.cell_timeout

    def cell_timeout(self, cell):
        """Execute.timeout, shortened to the time left before the deadline."""
        timeout = self.timeout if self.timeout and self.timeout > 0 else None
        if self.deadline:
            left = max(1, int(self._deadline_at - time.monotonic()))
            timeout = min(timeout, left) if timeout else left
        return timeout

    # -- the notebook ---------------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        self._start = time.monotonic()
        self._deadline_at = self._start + self.deadline if self.deadline else None
        self._stopped = None
        self._received, self._dropped = {}, {}  # cell index -> bytes (all received; dropped)
        self._kept = 0  # bytes of output kept in the whole notebook
        self._dropped_streams = {}  # cell index -> stream names whose text was dropped
        self._comms = 0
        self._executed = 0
        name = (resources or {}).get("unique_key") or "notebook"
        if name in self.unexecuted:
            return self.limit_outputs(nb), resources
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self.write_observations(name, nb)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        make_client = km.client

        def client(**kwargs):  # the client has a zmq context of its own: cap its sockets before they exist
            kc = make_client(**kwargs)
            kc.context.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
            return kc

        km.client = client
        return km

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._stopped:
            return self.not_run(cell), resources
        if self._deadline_at and time.monotonic() >= self._deadline_at:
            self.stop("deadline", index, cell)
            return self.not_run(cell), resources
        started, timeout = time.monotonic(), self.cell_timeout(cell)
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
            self._executed += 1
        except DeadKernelError:
            self._executed += 1
            self.stop("kernel_died", index, cell)
            cell.outputs.append(self.error_output("DeadKernelError", self.death_message()))
        except CellTimeoutError:  # no "idle" on the output channel after the kernel's reply
            self._executed += 1
            if timeout is None or time.monotonic() - started < timeout:
                reason = "output_lost"  # the reply came, the output did not: ZeroMQ refused a message
            else:  # the kernel stayed busy after the timeout's interrupt
                reason = "deadline" if self._deadline_at and time.monotonic() >= self._deadline_at else "unresponsive"
            self.stop(reason, index, cell)
            cell.outputs.append(self.error_output("CellTimeoutError", self.stop_message()))
        self.add_notes(cell, index)
        if self._stopped is None and self._deadline_at and time.monotonic() >= self._deadline_at:
            self.stop("deadline", index, cell)
        return cell, resources

    def limit_outputs(self, nb):
        """A notebook that is not run: its outputs as they are, cut to the same limits as a run's."""
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            kept = []
            for output in cell.get("outputs", []):
                kind = output.get("output_type")
                content = dict(output) if isinstance(output, dict) else {}
                size = payload_size("display_data" if kind == "execute_result" else kind, content)
                received = self._received.get(index, 0)
                self._received[index] = received + size
                room = max(0, min(self.max_output_bytes - received, self.max_notebook_output_bytes - self._kept))
                if kind == "error":
                    output.update(shorten_error(content))
                    self._kept += payload_size("error", output)
                elif size <= room:
                    self._kept += size
                else:
                    partial = kind == "stream" and room > 0
                    self._dropped[index] = self._dropped.get(index, 0) + size - (room if partial else 0)
                    name = output.get("name") if kind == "stream" else "stdout"
                    self._dropped_streams.setdefault(index, set()).add(name)
                    if not partial:
                        continue
                    output["text"] = cut_text(str(output.get("text", "")), room)
                    self._kept += room
                kept.append(output)
            cell.outputs = kept
            self.add_notes(cell, index)
        return nb

    # -- streaming output -----------------------------------------------------------------------
    def process_message(self, msg, cell, cell_index):
        msg_type = msg["msg_type"]
        if msg_type.startswith("comm"):  # widgets are not graded; their state would land in the notebook
            self._comms += 1
            return None
        size = payload_size(msg_type, msg["content"])
        if not size:
            return super().process_message(msg, cell, cell_index)
        received = self._received.get(cell_index, 0)
        self._received[cell_index] = received + size
        room = max(0, min(self.max_output_bytes - received, self.max_notebook_output_bytes - self._kept))
        if msg_type == "error":  # always kept, shortened
            msg = dict(msg, content=shorten_error(msg["content"]))
            self._kept += payload_size("error", msg["content"])
        elif size <= room:
            self._kept += size
        else:
            content, partial = msg["content"], msg_type == "stream" and room > 0
            self._dropped[cell_index] = self._dropped.get(cell_index, 0) + size - (room if partial else 0)
            self._dropped_streams.setdefault(cell_index, set()).add(
                content.get("name") if msg_type == "stream" else "stdout"
            )
            if not partial:
                return None
            msg = dict(msg, content=dict(content, text=cut_text(str(content.get("text", "")), room)))
            self._kept += room
        return super().process_message(msg, cell, cell_index)

    def add_notes(self, cell, index):
        """One truncation note per stream that lost text (stderr too: a test cell's stderr fails it)."""
        if index not in self._dropped:
            return
        if self._kept >= self.max_notebook_output_bytes:
            note = f"\n[output truncated at {describe(self.max_notebook_output_bytes)} for the whole notebook]\n"
        else:
            note = f"\n[output truncated at {describe(self.max_output_bytes)}]\n"
        for name in sorted(self._dropped_streams.get(index, {"stdout"})):
            if name in ("stdout", "stderr"):
                cell.outputs.append(new_output("stream", name=name, text=note))

    # -- stopping -------------------------------------------------------------------------------
    def stop(self, reason, index, cell):
        self._stopped = {
            "reason": reason,
            "cell": index,
            "grade_id": cell.metadata.get("nbgrader", {}).get("grade_id"),
            "elapsed_s": round(time.monotonic() - self._start, 1),
        }
        self.log.warning("Stopped executing at cell %s: %s", index, reason)

    def what_happened(self):
        """The stop, in words: "the kernel died", "the notebook's time limit (600 s) was reached"..."""
        reason = self._stopped["reason"]
        if reason == "deadline":
            return f"the notebook's time limit ({self.deadline:g} s) was reached"
        if reason == "unresponsive":
            return "the kernel did not stop after the cell's time limit"
        if reason == "output_lost":
            return (
                f"the kernel's output stopped arriving (a message over {describe(self.max_message_bytes)} is refused)"
            )
        return "the kernel died"

    def stop_message(self):
        return f"{self.what_happened()} while this cell ran; the cells below were not run"

    def death_message(self):
        reason = ""
        if self.kernel_outcome:
            path, waited = Path(self.kernel_outcome), time.monotonic()
            while not path.exists() and time.monotonic() - waited < 5:  # the launcher writes it as it exits
                time.sleep(0.1)
            try:
                reason = json.loads(path.read_text()).get("reason") or ""
            except (OSError, ValueError):
                reason = ""
        message = self.stop_message()
        return f"{message} ({reason})" if reason else message

    def not_run(self, cell):
        """An unrun code cell: no outputs but an error saying why (so an unrun test earns nothing)."""
        message = f"not run: {self.what_happened()} in cell {self._stopped['cell']}"
        cell.outputs = [self.error_output(NOT_RUN, message)]
        cell.execution_count = None
        return cell

    @staticmethod
    def error_output(ename, evalue):
        return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])

    # -- report -----------------------------------------------------------------------------------
    def write_observations(self, name, nb):
        if not self.observations:
            return
        path = Path(self.observations)
        try:
            observed = json.loads(path.read_text()) if path.exists() else {}
        except ValueError:
            observed = {}
        observed[name] = {
            "code_cells": sum(cell.cell_type == "code" for cell in nb.cells),
            "executed": self._executed,
            "stopped": self._stopped,
            "truncated": [
                {"cell": index, "bytes_received": self._received[index], "bytes_dropped": dropped}
                for index, dropped in sorted(self._dropped.items())
            ],
            "comm_messages_dropped": self._comms,
            "max_output_bytes": self.max_output_bytes,
            "max_notebook_output_bytes": self.max_notebook_output_bytes,
            "bytes_kept": self._kept,
            "deadline_s": self.deadline or None,
            "elapsed_s": round(time.monotonic() - self._start, 1),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(observed, indent=1))
        partial.replace(path)
