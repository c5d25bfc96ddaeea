"""Running a notebook's code in a fresh kernel, one step at a time, with a timeout that kills.

Each step (a cell, or a test's visible or hidden part) runs with a timeout after which the kernel
is killed (a loop that swallows KeyboardInterrupt cannot outlive it); the earlier context and
answer steps are then replayed in a new kernel, so the remaining questions are still graded.
Outputs are capped. Every kernel works in a folder of its own (`Workspace`: the working folder,
the grading files, the connection file and sockets) and, unless the instructor explicitly
accepts the risk, in a bubblewrap sandbox around that folder (sandbox.py). Its environment is an
allow-list that tells `lessons_lib.selfcheck` which run this is ("reference" or "answers") and
where to write; hidden tests run in a copy of the notebook's namespace (`isolated`), so nothing
they define is left for later answer cells.
"""

from __future__ import annotations

import contextlib
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lessons_lib.course.model import (
    CONTEXT_TIMEOUT_S,
    ERROR_LIMIT,
    KERNEL_START_TIMEOUT_S,
    OUTPUT_LIMIT,
    Assignment,
    Step,
)
from lessons_lib.course.sandbox import (
    LIBRARY_PARENT,
    Isolation,
    prepare_root,
    sandbox_command,
    sandbox_environment,
)
from lessons_lib.selfcheck import GRADING_DIR_ENV, GRADING_MODE_ENV

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class CellRun:
    """What running one step gave: status "ok", "error", "timeout", "died" or "skipped"."""

    status: str
    error: str = ""
    traceback: str = ""
    output: str = ""
    output_chars: int = 0


class _CappedText:
    """The first `limit` characters of a stream of text, and how long the stream was."""

    def __init__(self, limit: int):
        self.limit, self.parts, self.kept, self.total = limit, [], 0, 0

    def add(self, text: str) -> None:
        if self.kept < self.limit:
            part = text[: self.limit - self.kept]
            self.parts.append(part)
            self.kept += len(part)
        self.total += len(text)

    def text(self) -> str:
        return "".join(self.parts)


@dataclass(frozen=True)
class Workspace:
    """The one folder a kernel may write: `work` (its working folder, with the grading files in
    `work/.grading`) and `.runtime` (its connection file and sockets)."""

    root: Path
    mode: str  # "reference" or "answers": what lessons_lib.selfcheck records
    isolation: Isolation

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def grading(self) -> Path:
        return self.work / ".grading"

    def scrub(self, text: str) -> str:
        """text without the paths of the grading machine (the workspace, the course checkout, the
        Python environment, the grader's home), for the feedback."""
        paths = {str(self.root): "<workspace>", str(LIBRARY_PARENT): "<course>", sys.prefix: "<python>",
                 sys.base_prefix: "<python>", sys.exec_prefix: "<python>", str(Path.home()): "~"}
        for path in sorted(paths, key=len, reverse=True):
            if len(path) > 1:
                text = text.replace(path, paths[path])
        return text

    def environment(self) -> dict[str, str]:
        """The kernel's whole environment: an allow-list, nothing of the grader's."""
        return sandbox_environment(self.root, {GRADING_MODE_ENV: self.mode, GRADING_DIR_ENV: str(self.grading)})


@contextlib.contextmanager
def workspace(assignment: Assignment, mode: str, isolation: Isolation,
              files: dict[str, bytes] | None = None) -> Iterator[Workspace]:
    """A new workspace with the assignment's data files and `files` (relative path -> bytes) in
    `work`; removed, with whatever the kernel left there, when the block ends."""
    with tempfile.TemporaryDirectory(prefix=f"lessons-{mode}-") as folder:
        place = Workspace(Path(folder), mode, isolation)
        (place.root / ".runtime").mkdir()
        place.grading.mkdir(parents=True)
        copy_assignment_files(assignment, place.work)
        for relative, data in (files or {}).items():
            target = place.work / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        yield place


def _kernel_manager(place: Workspace):
    """A KernelManager that talks over Unix sockets in the workspace and, when sandboxed, starts
    the kernel inside bwrap."""
    from jupyter_client.manager import KernelManager

    class WorkspaceKernelManager(KernelManager):
        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            command = super().format_kernel_cmd(extra_arguments)
            if not place.isolation.sandboxed:
                return command
            prepare_root(place.root)  # after the connection file is written: the kernel must read it
            return sandbox_command(command, place.root, place.environment(), place.isolation.limits)

    name = f"kernel-{uuid.uuid4().hex[:12]}"
    runtime = place.root / ".runtime"
    # ipc (Unix sockets in the workspace) crosses the sandbox's network namespace; no other
    # kernel can reach them, as no other sandbox sees this folder
    return WorkspaceKernelManager(kernel_name="python3", transport="ipc", ip=str(runtime / name),
                                  connection_file=str(runtime / f"{name}.json"))


class Kernel:
    """A fresh Python kernel in a workspace, whose output goes nowhere but to the grader, killed when done."""

    def __init__(self, place: Workspace):
        self.place = place
        self.manager = _kernel_manager(place)
        # the kernel's own stdout/stderr (not the cells' output) could flood the grader's terminal
        self.manager.start_kernel(cwd=str(place.work), env=place.environment(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = self.manager.client()
        self.client.start_channels()
        try:
            self.client.wait_for_ready(timeout=KERNEL_START_TIMEOUT_S)
        except RuntimeError:
            self.close()
            raise

    def run(self, code: str, timeout: float) -> CellRun:
        """Execute code; stop waiting (the caller must then close the kernel) after timeout seconds."""
        msg_id = self.client.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + timeout
        output = _CappedText(OUTPUT_LIMIT)
        error = traceback = ""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return CellRun("timeout", output=self.place.scrub(output.text()), output_chars=output.total)
            try:
                msg = self.client.get_iopub_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not self.manager.is_alive():
                    return CellRun("died", output=self.place.scrub(output.text()), output_chars=output.total)
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                output.add(str(content.get("text", "")))
            elif kind == "error":
                error = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"[:ERROR_LIMIT]
                traceback = _ANSI.sub("", "\n".join(content.get("traceback", [])))[-ERROR_LIMIT:]
            elif kind == "status" and content.get("execution_state") == "idle":
                status = "error" if error else "ok"
                scrub = self.place.scrub
                return CellRun(status, scrub(error), scrub(traceback), scrub(output.text()), output.total)

    def close(self) -> None:
        """Kill the kernel (and whatever it started) at once."""
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def execute_steps(steps: Sequence[Step], place: Workspace, timeout: float) -> list[CellRun]:
    """Run the steps in order in one kernel; after a timeout or a crash, go on in a new kernel.

    The new kernel first replays the context and answer steps that ran before, so that later
    questions find the imports and functions they need; the step that hung is not replayed.
    """
    runs: list[CellRun] = []
    kernel: Kernel | None = None
    try:
        for index, step in enumerate(steps):
            if step.kind == "hidden" and runs[-1].status in ("timeout", "died"):
                # the function already hung (or killed the kernel) on the visible tests
                runs.append(CellRun("skipped", "your function did not return from a visible test"))
                continue
            if kernel is None:
                kernel = Kernel(place)
                if not _replay(kernel, steps[:index], runs, timeout):
                    reason = "the cells before it could not be run again after a timeout"
                    runs.extend(CellRun("skipped", reason) for _ in steps[index:])
                    break
            runs.append(kernel.run(step.source, _limit(step, timeout)))
            if runs[-1].status in ("timeout", "died"):
                kernel.close()
                kernel = None
    finally:
        if kernel is not None:
            kernel.close()
    return runs


def _replay(kernel: Kernel, steps: Sequence[Step], runs: Sequence[CellRun], timeout: float) -> bool:
    """Run again the context and answer steps that finished; False if one of them hangs now."""
    for step, run in zip(steps, runs, strict=True):
        if step.kind in ("context", "answer") and run.status in ("ok", "error"):
            if kernel.run(step.source, _limit(step, timeout)).status in ("timeout", "died"):
                return False
    return True


def _limit(step: Step, timeout: float) -> float:
    """The time a step may take: the cell timeout, or more for the instructor's context cells."""
    return max(timeout, CONTEXT_TIMEOUT_S) if step.kind == "context" else timeout


def isolated(source: str) -> str:
    """Code that runs source in a copy of the notebook's namespace: nothing it defines leaks out.

    Hidden tests define helpers (reference functions, inputs); later answer cells must not find them.
    """
    return f"exec(compile({source!r}, '<hidden tests>', 'exec'), dict(globals()))"


def copy_assignment_files(assignment: Assignment, workdir: Path) -> None:
    """Data files next to the solution notebook, so that relative paths work (never notebooks)."""
    for path in assignment.path.parent.iterdir():
        if path.is_file() and path.suffix != ".ipynb":
            shutil.copyfile(path, workdir / path.name)
